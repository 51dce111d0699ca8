/**
 * Flow recovery (RFC 5626 §4.2.1, RFC 5627): a confirmed call outlives its socket for the
 * tenant's grace period, and the same device takes it back on its next flow.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { Sim, DOMAIN } from '../support/sim.js';
import { TestUA, asRequest, asResponse, describe as what, methodOf, statusOf, webrtcSdp, type UaDialog } from '../support/ua.js';
import { header } from '../../sip/message/message.js';
import { nextDeadline } from '../../sip/index.js';

let sim: Sim;
let alice: TestUA;
let bob: TestUA;
let a: string;
let b: string;

function register(ua: TestUA): string {
  const conn = sim.connect(ua.user);
  sim.send(conn, ua.register().text);
  const [answer] = sim.take(conn);
  expect(statusOf(answer!)).toBe(200);
  return conn;
}

beforeEach(() => {
  sim = new Sim();
  for (const u of ['alice', 'bob']) sim.addUser(u);
  alice = new TestUA('alice', DOMAIN, 'a1a1a1a1-0000-4000-8000-000000000001');
  bob = new TestUA('bob', DOMAIN, 'b0b0b0b0-0000-4000-8000-000000000002');
  a = register(alice);
  b = register(bob);
});

/** Alice calls bob and he answers: both UA dialogs. */
function connect(): { ad: UaDialog; bd: UaDialog } {
  const invite = alice.invite('bob');
  sim.send(a, invite.text);
  sim.take(a);
  const [atBob] = sim.take(b);
  sim.send(b, bob.respond(atBob!, 200, { toTag: 'bobtag', body: webrtcSdp({ session: '42' }) }));
  const [ok] = sim.take(a);
  expect(what(ok!)).toBe('200 INVITE');
  const ad = alice.dialogAsCaller(invite, ok!);
  sim.send(a, alice.inDialog(ad, 'ACK').text);
  expect(sim.take(b).map(what)).toEqual(['ACK']);
  return { ad, bd: bob.dialogAsCallee(atBob!, 'bobtag') };
}

const grace = (): number => sim.policy.flowGraceMs;

describe('a dropped socket holds its calls', () => {
  it('sends nothing to the peer and keeps both sides of the call', () => {
    connect();
    sim.close(b);
    expect(sim.take(a)).toEqual([]);
    expect(sim.state('bob').dialogs[0]).toMatchObject({ state: 'held', conn: null, instance: `<urn:uuid:${bob.instance}>` });
    expect(sim.state('alice').dialogs[0]).toMatchObject({ state: 'confirmed' });
    // The grace period is something the object must wake for: the peer waits on it.
    expect(nextDeadline(sim.state('bob'))).toBe(sim.now + grace());
  });

  it('still fails a ringing branch at once: only answered calls are held', () => {
    const invite = alice.invite('bob');
    sim.send(a, invite.text);
    sim.take(a);
    sim.take(b);
    sim.close(b);
    expect(sim.take(a).map(what)).toEqual(['480 INVITE']);
  });

  it('still CANCELs a caller’s pending INVITE at once', () => {
    sim.send(a, alice.invite('bob').text);
    sim.take(a);
    sim.take(b);
    sim.close(a);
    expect(sim.take(b).map(what)).toEqual(['CANCEL']);
  });

  it('sends BYE with a Reason when the grace period runs out, and not before', () => {
    connect();
    sim.close(b);
    sim.advance(grace() - 1);
    expect(sim.take(a)).toEqual([]);
    sim.advance(1);
    const [bye] = sim.take(a);
    expect(methodOf(bye!)).toBe('BYE');
    expect(header(asRequest(bye!), 'reason')).toBe(`SIP;cause=480;text="Connection lost, not recovered within ${grace() / 1000} s"`);
    sim.send(a, alice.respond(bye!, 200));
    expect(sim.state('bob').dialogs[0]).toMatchObject({ state: 'ended', endReason: 'not-recovered' });
    expect(sim.state('alice').dialogs[0]).toMatchObject({ state: 'ended' });
  });

  it('ends calls at once when the tenant gives no grace', () => {
    sim.policy = { ...sim.policy, flowGraceMs: 0 };
    connect();
    sim.close(b);
    expect(sim.take(a).map(what)).toEqual(['BYE']);
  });

  it('ends calls at once when the service closed the socket for good', () => {
    connect();
    sim.close(b, true);
    expect(sim.take(a).map(what)).toEqual(['BYE']);
  });
});

describe('the device comes back', () => {
  it('takes its held call onto the new flow when it registers the same instance', () => {
    const { ad, bd } = connect();
    sim.close(b);
    sim.advance(5_000);
    const b2 = register(bob);
    expect(sim.state('bob').dialogs[0]).toMatchObject({ state: 'confirmed', conn: b2 });
    // The peer's in-dialog request reaches the new socket…
    sim.send(a, alice.inDialog(ad, 'INVITE', { body: webrtcSdp({ session: '43' }) }).text);
    expect(sim.take(a).map(what)).toEqual(['100 INVITE']);
    const [reinvite] = sim.take(b2);
    expect(methodOf(reinvite!)).toBe('INVITE');
    sim.send(b2, bob.respond(reinvite!, 200, { toTag: 'bobtag', body: webrtcSdp({ session: '44' }) }));
    expect(sim.take(a).map(what)).toEqual(['200 INVITE']);
    // …and the device's own requests reach the peer: the call ends normally.
    sim.send(b2, bob.inDialog(bd, 'BYE').text);
    const [bye] = sim.take(a);
    expect(methodOf(bye!)).toBe('BYE');
    sim.send(a, alice.respond(bye!, 200));
    expect(sim.take(b2).map(what)).toEqual(['200 BYE']);
    expect(sim.state('bob').dialogs[0]).toMatchObject({ state: 'ended', endReason: 'callee-bye' });
  });

  it('nothing happens when the grace would have run out after it came back', () => {
    connect();
    sim.close(b);
    const b2 = register(bob);
    sim.advance(grace() + 1);
    expect(sim.take(a)).toEqual([]);
    expect(sim.take(b2)).toEqual([]);
    expect(sim.state('bob').dialogs[0]).toMatchObject({ state: 'confirmed', conn: b2 });
  });

  it('an ICE restart re-INVITE from the device on its new socket recovers the call without a REGISTER', () => {
    const { bd } = connect();
    sim.close(b);
    const b2 = sim.connect('bob');
    const restart = webrtcSdp({ session: '45' });
    sim.send(b2, bob.inDialog(bd, 'INVITE', { body: restart }).text);
    expect(sim.take(b2).map(what)).toEqual(['100 INVITE']);
    const [atAlice] = sim.take(a);
    expect(methodOf(atAlice!)).toBe('INVITE');
    expect(asRequest(atAlice!).body).toBe(restart);
    sim.send(a, alice.respond(atAlice!, 200, { body: webrtcSdp({ session: '46' }) }));
    expect(sim.take(b2).map(what)).toEqual(['200 INVITE']);
    expect(sim.state('bob').dialogs[0]).toMatchObject({ state: 'confirmed', conn: b2 });
  });

  it('another device of the user registering does not take the call', () => {
    connect();
    sim.close(b);
    const other = new TestUA('bob', DOMAIN, 'c0c0c0c0-0000-4000-8000-000000000003');
    register(other);
    expect(sim.state('bob').dialogs[0]).toMatchObject({ state: 'held' });
  });

  it('an un-REGISTER of the instance does not take the call', () => {
    connect();
    sim.close(b);
    const b2 = sim.connect('bob');
    sim.send(b2, bob.register({ expires: 0 }).text);
    expect(statusOf(sim.take(b2)[0]!)).toBe(200);
    expect(sim.state('bob').dialogs[0]).toMatchObject({ state: 'held' });
  });
});

describe('make-before-break', () => {
  it('moves the call to the newer flow of the same instance, and the old close ends nothing', () => {
    const { ad } = connect();
    const b2 = register(bob);
    expect(sim.state('bob').dialogs[0]).toMatchObject({ state: 'confirmed', conn: b2 });
    sim.send(a, alice.inDialog(ad, 'UPDATE', { body: webrtcSdp({ session: '47' }) }).text);
    expect(sim.take(b)).toEqual([]);
    expect(sim.take(b2).map(what)).toEqual(['UPDATE']);
    sim.close(b);
    sim.advance(grace() + 1);
    expect(sim.take(a).filter((t) => !t.startsWith('SIP/2.0'))).toEqual([]);
    expect(sim.state('bob').dialogs[0]).toMatchObject({ state: 'confirmed', conn: b2 });
  });
});

describe('the peer while the device is away', () => {
  it('its BYE is answered 200 on the device’s behalf and ends the call; the device then gets 481', () => {
    const { ad, bd } = connect();
    sim.close(b);
    sim.send(a, alice.inDialog(ad, 'BYE').text);
    expect(sim.take(a).map(what)).toEqual(['200 BYE']);
    expect(sim.state('bob').dialogs[0]).toMatchObject({ state: 'ended', endReason: 'caller-bye' });
    expect(nextDeadline(sim.state('bob'))).toBeNull();
    const b2 = register(bob);
    sim.send(b2, bob.inDialog(bd, 'INVITE', { body: webrtcSdp({ session: '48' }) }).text);
    expect(sim.take(b2).map(what)).toEqual(['481 INVITE']);
  });

  it('its re-INVITE waits for the device and reaches it on its new socket; the answer comes back', () => {
    const { ad } = connect();
    sim.close(b);
    const offer = webrtcSdp({ session: '49' });
    sim.send(a, alice.inDialog(ad, 'INVITE', { body: offer }).text);
    expect(sim.take(a).map(what)).toEqual(['100 INVITE']);
    expect(sim.state('bob').dialogs[0]).toMatchObject({ state: 'held' });
    sim.advance(3_000);
    const b2 = sim.connect('bob');
    sim.send(b2, bob.register().text);
    const [ok, reinvite] = sim.take(b2);
    expect(what(ok!)).toBe('200 REGISTER');
    expect(methodOf(reinvite!)).toBe('INVITE');
    expect(asRequest(reinvite!).body).toBe(offer);
    sim.send(b2, bob.respond(reinvite!, 200, { body: webrtcSdp({ session: '50' }) }));
    expect(sim.take(a).map(what)).toEqual(['200 INVITE']);
    expect(sim.state('bob').dialogs[0]!.waiting).toEqual([]);
  });

  it('at most two of its requests wait; the next gets 480 with a Retry-After of the grace left', () => {
    const { ad } = connect();
    sim.close(b);
    sim.advance(10_000);
    sim.send(a, alice.inDialog(ad, 'INVITE', { body: webrtcSdp({ session: '51' }) }).text);
    sim.send(a, alice.inDialog(ad, 'INFO', { body: 'x', headers: [] }).text);
    expect(sim.take(a).map(what)).toEqual(['100 INVITE']);
    sim.send(a, alice.inDialog(ad, 'UPDATE', { body: webrtcSdp({ session: '52' }) }).text);
    const [refused] = sim.take(a);
    const res = asResponse(refused!);
    expect([res.status, res.reason]).toEqual([480, 'Device Reconnecting']);
    expect(header(res, 'retry-after')).toBe(String((grace() - 10_000) / 1000));
    expect(sim.state('bob').dialogs[0]).toMatchObject({ state: 'held' });
  });

  it('what waits is answered 480 when the grace runs out, before the BYE', () => {
    const { ad } = connect();
    sim.close(b);
    sim.send(a, alice.inDialog(ad, 'INVITE', { body: webrtcSdp({ session: '53' }) }).text);
    sim.take(a);
    sim.advance(grace());
    const got = sim.take(a);
    expect(got.map(what)).toEqual(['480 INVITE', 'BYE']);
    expect(asResponse(got[0]!).reason).toBe('Device Did Not Reconnect');
  });

  it('its BYE answers a waiting re-INVITE 487 (§15.1.2)', () => {
    const { ad } = connect();
    sim.close(b);
    sim.send(a, alice.inDialog(ad, 'INVITE', { body: webrtcSdp({ session: '54' }) }).text);
    sim.take(a);
    sim.send(a, alice.inDialog(ad, 'BYE').text);
    expect(sim.take(a).map(what).sort()).toEqual(['200 BYE', '487 INVITE']);
    expect(sim.state('bob').dialogs[0]).toMatchObject({ state: 'ended' });
  });
});

describe('the user is deleted or disabled while the device is away', () => {
  it('end-held sends BYE for each held call at once', () => {
    connect();
    sim.close(b);
    sim.input('bob', { type: 'end-held' });
    const [bye] = sim.take(a);
    expect(methodOf(bye!)).toBe('BYE');
    expect(header(asRequest(bye!), 'reason')).toMatch(/cause=480/);
    expect(sim.state('bob').dialogs[0]).toMatchObject({ state: 'ended', endReason: 'connection-lost' });
  });
});

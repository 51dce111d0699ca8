/**
 * Flow recovery over real WebSockets (RFC 5626 §4.2.1): a call whose socket closes is held
 * for the tenant's grace period and goes on when the same device comes back on a new socket.
 */
import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { Phone, addUser, api, newTenant, type TestTenant } from './helpers.js';
import { asRequest, bodyOf, webrtcSdp, type UaDialog } from '../support/ua.js';
import { header } from '../../sip/message/message.js';
import { LiveState } from '../../durable-objects/user/live-state.js';
import type { UserStore } from '../../durable-objects/user/store.js';

const T = (id: string) => `/v1/tenants/${id}`;
const stubOf = (tenant: string, user: string) => env.USERS.get(env.USERS.idFromName(`${tenant}/${user}`));

/** alice and bob, each a device with its own +sip.instance, registered and in an answered call. */
async function call(limits: Record<string, unknown> = {}): Promise<{ t: TestTenant; alice: Phone; bob: Phone; ad: UaDialog; bd: UaDialog }> {
  const t = await newTenant(limits);
  await addUser(t, 'alice');
  await addUser(t, 'bob');
  const alice = await Phone.connect(t, 'alice', { instance: 'a1a1a1a1-0000-4000-8000-00000000000a' });
  const bob = await Phone.connect(t, 'bob', { instance: 'b0b0b0b0-0000-4000-8000-00000000000b' });
  await alice.register();
  await bob.register();
  const invite = alice.ua.invite('bob');
  alice.sock.send(invite.text);
  const atBob = await bob.sock.next('INVITE');
  bob.sock.send(bob.ua.respond(atBob, 200, { toTag: 'bt', body: webrtcSdp({ session: '1' }) }));
  const ad = alice.ua.dialogAsCaller(invite, await alice.sock.next('200 INVITE'));
  alice.sock.send(alice.ua.inDialog(ad, 'ACK').text);
  await bob.sock.next('ACK');
  return { t, alice, bob, ad, bd: bob.ua.dialogAsCallee(atBob, 'bt') };
}

async function callStates(t: TestTenant, user: string): Promise<string[]> {
  const snap = await api('GET', `${T(t.id)}/users/${user}`, { token: t.apiKey });
  return snap.body.calls.map((c: { state: string }) => c.state);
}

/** A re-INVITE from `from` reaches `to` and is answered there; returns the answer's SDP as `from` saw it. */
async function reinvite(from: Phone, fd: UaDialog, to: Phone, session: string): Promise<string> {
  const offer = webrtcSdp({ session });
  from.sock.send(from.ua.inDialog(fd, 'INVITE', { body: offer }).text);
  const at = await to.sock.next('INVITE');
  expect(bodyOf(at)).toBe(offer);
  const answer = webrtcSdp({ session: `${session}9` });
  to.sock.send(to.ua.respond(at, 200, { body: answer }));
  const ok = await from.sock.next('200 INVITE');
  from.sock.send(from.ua.inDialog(fd, 'ACK').text);
  await to.sock.next('ACK');
  return bodyOf(ok);
}

describe('a socket that drops mid-call', () => {
  it('holds the call: no BYE, and the same device re-registering on a new socket takes it back both ways', async () => {
    const { t, alice, bob, ad, bd } = await call();
    bob.sock.close();
    await alice.sock.quiet(500, 'BYE');
    expect(await callStates(t, 'bob')).toEqual(['held']);
    expect(await callStates(t, 'alice')).toEqual(['confirmed']);

    const bob2 = await bob.reopen(t);
    const regAt = Date.now();
    await bob2.register();
    expect(await callStates(t, 'bob')).toEqual(['confirmed']);
    // The peer's re-INVITE reaches the new socket; the device's own ICE restart reaches the peer.
    expect(await reinvite(alice, ad, bob2, '2')).toBe(webrtcSdp({ session: '29' }));
    expect(await reinvite(bob2, bd, alice, '3')).toBe(webrtcSdp({ session: '39' }));
    expect(Date.now() - regAt).toBeLessThan(2_000);
    // The call ends as any other, and its record is one answered call.
    bob2.sock.send(bob2.ua.inDialog(bd, 'BYE').text);
    alice.sock.send(alice.ua.respond(await alice.sock.next('BYE'), 200));
    await bob2.sock.next('200 BYE');
    const history = await api('GET', `${T(t.id)}/users/bob/calls`, { token: t.apiKey });
    expect(history.body.calls.map((c: { state: string; endReason: string }) => [c.state, c.endReason])).toEqual([['ended', 'callee-bye']]);
  });

  it('a device that does not come back: BYE with a Reason when the grace period runs out, not before', async () => {
    const { t, alice, bob } = await call({ flowGraceSeconds: 1 });
    const closed = Date.now();
    bob.sock.close();
    await alice.sock.quiet(600, 'BYE');
    const bye = await alice.sock.next('BYE', 5_000);
    expect(Date.now() - closed).toBeGreaterThanOrEqual(1_000);
    expect(header(asRequest(bye), 'reason')).toBe('SIP;cause=480;text="Connection lost, not recovered within 1 s"');
    alice.sock.send(alice.ua.respond(bye, 200));
    const history = await api('GET', `${T(t.id)}/users/bob/calls`, { token: t.apiKey });
    expect(history.body.calls.map((c: { state: string; endReason: string }) => [c.state, c.endReason])).toEqual([['ended', 'not-recovered']]);
  });

  it('a tenant with no grace ends the call at once', async () => {
    const { alice, bob } = await call({ flowGraceSeconds: 0 });
    bob.sock.close();
    expect(header(asRequest(await alice.sock.next('BYE')), 'reason')).toMatch(/Connection lost/);
  });

  it('make-before-break: a newer socket of the same device takes the call, and the old one’s close ends nothing', async () => {
    const { t, alice, bob, ad } = await call({ flowGraceSeconds: 1 });
    const bob2 = await bob.reopen(t);
    await bob2.register();
    alice.sock.send(alice.ua.inDialog(ad, 'UPDATE', { body: webrtcSdp({ session: '5' }) }).text);
    const update = await bob2.sock.next('UPDATE');
    bob2.sock.send(bob2.ua.respond(update, 200, { body: webrtcSdp({ session: '6' }) }));
    await alice.sock.next('200 UPDATE');
    await bob.sock.quiet(100, 'UPDATE');
    bob.sock.close();
    // Past the grace period: still nothing for alice, and the call is up on bob's new socket.
    await alice.sock.quiet(1_500, 'BYE');
    expect(await callStates(t, 'bob')).toEqual(['confirmed']);
    expect(await reinvite(alice, ad, bob2, '7')).toBe(webrtcSdp({ session: '79' }));
  });

  it('the peer hangs up while the device is away: its BYE is answered 200, and the device’s return finds 481', async () => {
    const { t, alice, bob, ad, bd } = await call();
    bob.sock.close();
    await new Promise((r) => setTimeout(r, 100));
    alice.sock.send(alice.ua.inDialog(ad, 'BYE').text);
    await alice.sock.next('200 BYE');
    const bob2 = await bob.reopen(t);
    await bob2.register();
    bob2.sock.send(bob2.ua.inDialog(bd, 'INVITE', { body: webrtcSdp({ session: '8' }) }).text);
    await bob2.sock.next('481 INVITE');
    expect(await callStates(t, 'bob')).toEqual([]);
  });

  it('a re-INVITE from the peer while the device is away waits for it, and reaches its new socket', async () => {
    const { t, alice, bob, ad } = await call();
    bob.sock.close();
    await new Promise((r) => setTimeout(r, 100));
    const offer = webrtcSdp({ session: '9' });
    alice.sock.send(alice.ua.inDialog(ad, 'INVITE', { body: offer }).text);
    await alice.sock.next('100 INVITE');
    await alice.sock.quiet(300, 'SIP/2.0 4');
    expect(await callStates(t, 'bob')).toEqual(['held']);
    const bob2 = await bob.reopen(t);
    await bob2.register();
    const at = await bob2.sock.next('INVITE');
    expect(bodyOf(at)).toBe(offer);
    bob2.sock.send(bob2.ua.respond(at, 200, { body: webrtcSdp({ session: '99' }) }));
    expect(bodyOf(await alice.sock.next('200 INVITE'))).toBe(webrtcSdp({ session: '99' }));
  });

  it('a held call outlives the eviction of its object: kept in kv and read back as a new object would', async () => {
    const { t, alice, bob, ad } = await call();
    bob.sock.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(await callStates(t, 'bob')).toEqual(['held']);
    await runInDurableObject(stubOf(t.id, 'bob'), (obj) => {
      const o = obj as unknown as { live: LiveState; book: ConstructorParameters<typeof LiveState>[0]; store: UserStore };
      o.live.unload();
      // What the constructor does after an eviction: the held calls come from kv.
      o.live = new LiveState(o.book, o.store, o.store.load().held);
    });
    const bob2 = await bob.reopen(t);
    await bob2.register();
    expect(await reinvite(alice, ad, bob2, '4')).toBe(webrtcSdp({ session: '49' }));
    await alice.sock.quiet(100, 'BYE');
  });

  it('a user deleted while its device is away: the held call ends with BYE at once', async () => {
    const { t, alice, bob } = await call();
    bob.sock.close();
    await new Promise((r) => setTimeout(r, 100));
    expect((await api('DELETE', `${T(t.id)}/users/bob`, { token: t.apiKey })).status).toBe(200);
    expect(header(asRequest(await alice.sock.next('BYE')), 'reason')).toMatch(/cause=480/);
  });

  it('a user disabled mid-call: its socket closes for good and the call ends with BYE, not held', async () => {
    const { t, alice } = await call();
    expect((await api('PUT', `${T(t.id)}/users/bob`, { body: { enabled: false }, token: t.apiKey })).status).toBe(200);
    await alice.sock.next('BYE');
    expect(await callStates(t, 'bob')).toEqual([]);
  });
});

describe('the flowGraceSeconds limit', () => {
  it('is refused outside 0–300 or when not an integer (pushWaitSeconds outside 0–60), and the tenant keeps what it had', async () => {
    const t = await newTenant({ flowGraceSeconds: 12 });
    for (const bad of [-1, 301, 1.5, '30']) {
      const res = await api('PATCH', T(t.id), { body: { limits: { flowGraceSeconds: bad } }, token: t.apiKey });
      expect(res.status, String(bad)).toBe(400);
      expect(res.body.error).toBeTruthy();
    }
    for (const bad of [-1, 61, 2.5]) expect((await api('PATCH', T(t.id), { body: { limits: { pushWaitSeconds: bad } }, token: t.apiKey })).status, `push ${bad}`).toBe(400);
    const after = await api('GET', T(t.id), { token: t.apiKey });
    expect(after.body.limits.flowGraceSeconds).toBe(12);
    expect(after.body.limits.pushWaitSeconds).toBe(10);
  });
});

describe('a temporary GRUU (RFC 5627 §3.2) over real sockets', () => {
  it('is issued at REGISTER without naming the user, and an INVITE to it rings that device', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    await addUser(t, 'bob');
    const alice = await Phone.connect(t, 'alice');
    await alice.register();
    const bob = await Phone.connect(t, 'bob', { instance: 'b0b0b0b0-0000-4000-8000-0000000000bb' });
    const ok = await bob.register();
    const temp = /temp-gruu="([^"]+)"/.exec(ok)?.[1];
    expect(temp).toMatch(/^sip:tgr~[0-9a-f]+@/);
    expect(temp).not.toContain('bob');
    alice.sock.send(alice.ua.request('INVITE', temp!, { body: webrtcSdp() }).text);
    const at = await bob.sock.next('INVITE');
    expect(asRequest(at).uri).toBe(bob.ua.contactUri);
    // Another tenant's objects cannot open it.
    const other = await newTenant();
    await addUser(other, 'eve');
    const eve = await Phone.connect(other, 'eve');
    await eve.register();
    eve.sock.send(eve.ua.request('INVITE', temp!.replace(/@[^;]+/, `@${other.domain}`), { body: webrtcSdp() }).text);
    await eve.sock.next('404 INVITE');
  });
});

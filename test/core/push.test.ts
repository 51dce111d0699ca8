/**
 * Push wake-up (RFC 8599): a device that registered push parameters is woken when a
 * request comes for it with no socket, and the request waits for it to register.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { Sim, DOMAIN } from '../support/sim.js';
import { TestUA, asResponse, describe as what, methodOf, statusOf } from '../support/ua.js';
import { nextDeadline } from '../../sip/index.js';

let sim: Sim;
let alice: TestUA;
let bob: TestUA;
let a: string;

const ENDPOINT = 'https://push.example.net/wpush/v2/gAAAAABk';
const KEYS = 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM:tBHItJI5svbpez7KI4CCXg';
const pushContact = `;pn-provider=webpush;pn-prid="${ENDPOINT}";pn-param="${KEYS}"`;

function register(ua: TestUA, contactParams = '', expires?: number): string {
  const conn = sim.connect(ua.user);
  sim.send(conn, ua.register({ contactParams, expires }).text);
  expect(what(sim.take(conn)[0]!)).toBe('200 REGISTER');
  return conn;
}

beforeEach(() => {
  sim = new Sim();
  for (const u of ['alice', 'bob']) sim.addUser(u);
  alice = new TestUA('alice', DOMAIN);
  bob = new TestUA('bob', DOMAIN, 'b0b0b0b0-0000-4000-8000-0000000000b0');
  a = register(alice);
});

describe('a push binding', () => {
  it('is kept from a REGISTER with pn-provider, pn-prid and pn-param, and outlives its socket', () => {
    const b = register(bob, pushContact);
    expect(sim.state('bob').push).toMatchObject([{ id: `<urn:uuid:${bob.instance}>`, provider: 'webpush', prid: ENDPOINT, param: KEYS }]);
    sim.close(b);
    expect(sim.state('bob').bindings).toEqual([]);
    expect(sim.state('bob').push).toHaveLength(1);
  });

  it('goes with an un-REGISTER, a refresh without push parameters, or a wildcard', () => {
    register(bob, pushContact);
    register(bob, pushContact, 0);
    expect(sim.state('bob').push).toEqual([]);
    register(bob, pushContact);
    register(bob, '');
    expect(sim.state('bob').push).toEqual([]);
  });

  it('refuses malformed push parameters with 400 and keeps what it had', () => {
    register(bob, pushContact);
    const before = sim.state('bob').push;
    for (const [params, reason] of [
      [';pn-provider=carrier-pigeon;pn-prid=abc', /pn-provider/],
      [';pn-provider=webpush', /pn-prid/],
      [`;pn-provider=webpush;pn-prid="http://evil.example/x";pn-param="${KEYS}"`, /https endpoint/],
      [`;pn-provider=webpush;pn-prid="${ENDPOINT}";pn-param="only-one-key"`, /p256dh:auth/],
      [`;pn-provider=apns;pn-prid="${'a'.repeat(1100)}"`, /at most 1024/],
    ] as const) {
      const c = sim.connect('bob');
      sim.send(c, bob.register({ contactParams: params }).text);
      const res = asResponse(sim.take(c)[0]!);
      expect(res.status, params).toBe(400);
      expect(res.reason).toMatch(reason);
    }
    expect(sim.state('bob').push).toBe(before);
  });
});

describe('an INVITE for a user whose devices all sleep', () => {
  beforeEach(() => {
    const b = register(bob, pushContact);
    sim.close(b);
  });

  it('pushes to each sleeping device and waits; the device registers and the INVITE reaches it', () => {
    const invite = alice.invite('bob');
    sim.send(a, invite.text);
    expect(sim.take(a).map(what)).toEqual(['100 INVITE']);
    expect(sim.pushes).toHaveLength(1);
    expect(JSON.parse(sim.pushes[0]!.payload)).toEqual({ type: 'call', from: 'alice', callId: invite.callId });
    expect(sim.pushes[0]!.ttlSeconds).toBe(10);
    expect(nextDeadline(sim.state('bob'))).toBe(sim.now + 10_000);
    sim.advance(2_000);
    const b2 = sim.connect('bob');
    sim.send(b2, bob.register({ contactParams: pushContact }).text);
    const [ok, atBob] = sim.take(b2);
    expect(what(ok!)).toBe('200 REGISTER');
    expect(methodOf(atBob!)).toBe('INVITE');
    sim.send(b2, bob.respond(atBob!, 180, { toTag: 'bt' }));
    expect(sim.take(a).map(what)).toEqual(['180 INVITE']);
    expect(sim.state('bob').wakes).toEqual([]);
  });

  it('answers 480 when no device registers in time, and not before', () => {
    sim.send(a, alice.invite('bob').text);
    sim.take(a);
    sim.advance(9_999);
    expect(sim.take(a)).toEqual([]);
    sim.advance(1);
    const [res] = sim.take(a);
    expect(statusOf(res!)).toBe(480);
    expect(res).toMatch(/the device did not wake/);
  });

  it('a CANCEL while it waits: 200 to the CANCEL and 487 to the INVITE, and a later REGISTER delivers nothing', () => {
    const invite = alice.invite('bob');
    sim.send(a, invite.text);
    sim.take(a);
    sim.send(a, alice.cancel(invite));
    expect(sim.take(a).map(what).sort()).toEqual(['200 CANCEL', '487 INVITE']);
    const b2 = register(bob, pushContact);
    expect(sim.take(b2)).toEqual([]);
  });

  it('a MESSAGE waits too; an OPTIONS does not wake anyone', () => {
    sim.send(a, alice.request('MESSAGE', `sip:bob@${DOMAIN}`, { body: 'hi', contentType: 'text/plain', contact: null }).text);
    expect(sim.pushes.map((p) => JSON.parse(p.payload).type)).toEqual(['message']);
    sim.send(a, alice.request('OPTIONS', `sip:bob@${DOMAIN}`, { contact: null }).text);
    expect(sim.take(a).map(what)).toEqual(['480 OPTIONS']);
    expect(sim.pushes).toHaveLength(1);
  });

  it('a provider that says the device is gone removes its binding; the next INVITE gets 480 at once', () => {
    sim.input('bob', { type: 'push-gone', id: `<urn:uuid:${bob.instance}>` });
    expect(sim.state('bob').push).toEqual([]);
    sim.send(a, alice.invite('bob').text);
    expect(sim.take(a).map(what)).toEqual(['100 INVITE', '480 INVITE']);
  });

  it('a device gone while its INVITE waits: the INVITE is answered 480 at once, not at the end of the wait', () => {
    sim.send(a, alice.invite('bob').text);
    expect(sim.take(a).map(what)).toEqual(['100 INVITE']);
    sim.input('bob', { type: 'push-gone', id: `<urn:uuid:${bob.instance}>` });
    expect(sim.take(a).map(what)).toEqual(['480 INVITE']);
    expect(sim.state('bob').wakes).toEqual([]);
  });

  it('waits are bounded: past maxForks an INVITE is answered 480 at once', () => {
    sim.policy = { ...sim.policy, maxForks: 2 };
    for (let i = 0; i < 3; i++) sim.send(a, alice.invite('bob').text);
    expect(sim.take(a).filter((t) => !t.startsWith('SIP/2.0 100')).map(what)).toEqual(['480 INVITE']);
    expect(sim.state('bob').wakes).toHaveLength(2);
  });

  it('a device with a socket is rung as before, and nobody is pushed', () => {
    const b2 = register(bob, pushContact);
    sim.send(a, alice.invite('bob').text);
    expect(sim.take(b2).map(what)).toEqual(['INVITE']);
    expect(sim.pushes).toEqual([]);
  });
});

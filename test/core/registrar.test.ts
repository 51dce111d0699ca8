import { beforeEach, describe, expect, it } from 'vitest';
import { Sim, DOMAIN } from '../support/sim.js';
import { TestUA, asResponse, statusOf } from '../support/ua.js';
import { contacts, integerHeader } from '../../sip/message/headers.js';
import { header, headerLines } from '../../sip/message/message.js';
import { getParam } from '../../sip/message/grammar.js';
import { lostConnections, nextDeadline } from '../../sip/index.js';

let sim: Sim;
beforeEach(() => {
  sim = new Sim();
  sim.addUser('alice');
});

function registered(text: string) {
  const res = asResponse(text);
  const list = contacts(res);
  return list === '*' || list === null ? [] : list.map((c) => ({ uri: c.uriText, expires: Number(getParam(c.params, 'expires')), params: c.params }));
}

describe('registrar (RFC 3261 §10.3)', () => {
  it('binds a Contact to the socket and lists it with its remaining expiry', () => {
    const conn = sim.connect('alice');
    const ua = new TestUA('alice', DOMAIN);
    sim.send(conn, ua.register({ expires: 300 }).text);
    const [res] = sim.take(conn);
    expect(statusOf(res!)).toBe(200);
    expect(registered(res!)).toEqual([expect.objectContaining({ uri: ua.contactUri, expires: 300 })]);
    expect(sim.state('alice').bindings[0]).toMatchObject({ conn, contact: ua.contactUri });
  });

  it('defaults to 600 s, clamps above 3600 s and refuses below 60 s with Min-Expires', () => {
    const conn = sim.connect('alice');
    const ua = new TestUA('alice', DOMAIN);
    sim.send(conn, ua.register().text);
    expect(registered(sim.take(conn)[0]!)[0]!.expires).toBe(600);
    sim.send(conn, ua.register({ expires: 86400 }).text);
    expect(registered(sim.take(conn)[0]!)[0]!.expires).toBe(3600);
    sim.send(conn, ua.register({ expires: 30 }).text);
    const [brief] = sim.take(conn);
    expect(statusOf(brief!)).toBe(423);
    expect(header(asResponse(brief!), 'min-expires')).toBe('60');
    // The failed refresh left the binding as it was.
    expect(sim.state('alice').bindings).toHaveLength(1);
    expect(sim.state('alice').bindings[0]!.expiresAt).toBe(sim.now + 3600_000);
  });

  it('the Contact expires parameter wins over the Expires header', () => {
    const conn = sim.connect('alice');
    const ua = new TestUA('alice', DOMAIN);
    sim.send(conn, ua.register({ expires: 900, contactParams: ';expires=120' }).text);
    expect(registered(sim.take(conn)[0]!)[0]!.expires).toBe(120);
  });

  it('Expires: 0 removes one binding; Contact: * with Expires: 0 removes them all', () => {
    const c1 = sim.connect('alice');
    const c2 = sim.connect('alice');
    const ua1 = new TestUA('alice', DOMAIN);
    const ua2 = new TestUA('alice', DOMAIN);
    sim.send(c1, ua1.register().text);
    sim.take(c1);
    sim.send(c2, ua2.register().text);
    expect(registered(sim.take(c2)[0]!)).toHaveLength(2);
    sim.send(c1, ua1.register({ expires: 0 }).text);
    expect(registered(sim.take(c1)[0]!).map((b) => b.uri)).toEqual([ua2.contactUri]);
    sim.send(c2, ua1.register({ wildcard: true, expires: 0 }).text);
    expect(statusOf(sim.take(c2)[0]!)).toBe(200);
    expect(sim.state('alice').bindings).toHaveLength(0);
  });

  it('Contact: * with any other expiry is a 400', () => {
    const conn = sim.connect('alice');
    const ua = new TestUA('alice', DOMAIN);
    sim.send(conn, ua.register().text);
    sim.take(conn);
    sim.send(conn, ua.register({ wildcard: true, expires: 60 }).text);
    const [res] = sim.take(conn);
    expect(statusOf(res!)).toBe(400);
    expect(asResponse(res!).reason).toMatch(/Wildcard/);
    expect(sim.state('alice').bindings).toHaveLength(1);
  });

  it('a REGISTER for another user is 403', () => {
    const conn = sim.connect('alice');
    sim.send(conn, new TestUA('alice', DOMAIN).register({ user: 'bob' }).text);
    expect(statusOf(sim.take(conn)[0]!)).toBe(403);
    expect(sim.state('alice').bindings).toHaveLength(0);
  });

  it('an RFC 5626 instance re-registering from a new socket replaces its old binding (no ghost)', () => {
    const c1 = sim.connect('alice');
    const ua = new TestUA('alice', DOMAIN, '0004a58a-1c37-42e8-ac6e-cb3e984e8e8c');
    sim.send(c1, ua.register().text);
    sim.take(c1);
    // The page reloads: a new socket, a new contact, a new Call-ID, the same instance.
    const c2 = sim.connect('alice');
    const reloaded = new TestUA('alice', DOMAIN, '0004a58a-1c37-42e8-ac6e-cb3e984e8e8c');
    sim.send(c2, reloaded.register().text);
    const [res] = sim.take(c2);
    const list = registered(res!);
    expect(list).toHaveLength(1);
    expect(list[0]!.uri).toBe(reloaded.contactUri);
    expect(getParam(list[0]!.params, 'pub-gruu')).toBe(`sip:alice@${DOMAIN};gr=urn:uuid:0004a58a-1c37-42e8-ac6e-cb3e984e8e8c`);
    expect(headerLines(asResponse(res!), 'require')).toEqual(['outbound']);
    expect(sim.state('alice').bindings[0]!.conn).toBe(c2);
  });

  it('holds at most maxDevices devices per user', () => {
    sim.policy = { ...sim.policy, maxDevices: 2 };
    const conns = [0, 1, 2].map(() => sim.connect('alice'));
    const statuses = conns.map((c) => {
      sim.send(c, new TestUA('alice', DOMAIN).register().text);
      return statusOf(sim.take(c)[0]!);
    });
    expect(statuses).toEqual([200, 200, 403]);
    expect(sim.state('alice').bindings).toHaveLength(2);
  });

  it('refuses an out-of-order REGISTER of the same Call-ID (§10.3 step 7)', () => {
    const conn = sim.connect('alice');
    const ua = new TestUA('alice', DOMAIN);
    sim.send(conn, ua.register({ cseq: 5 }).text);
    sim.take(conn);
    sim.send(conn, ua.register({ cseq: 4 }).text);
    expect(statusOf(sim.take(conn)[0]!)).toBe(500);
  });

  it('expires bindings lazily, at the next input, and loses them at once when the socket closes', () => {
    const c1 = sim.connect('alice');
    const c2 = sim.connect('alice');
    sim.send(c1, new TestUA('alice', DOMAIN).register({ expires: 60 }).text);
    sim.send(c2, new TestUA('alice', DOMAIN).register({ expires: 120 }).text);
    // Nobody waits for a binding's expiry: it sets no alarm.
    expect(nextDeadline(sim.state('alice'))).toBeNull();
    sim.advance(61_000);
    sim.timer('alice');
    expect(sim.state('alice').bindings.map((b) => b.conn)).toEqual([c2]);
    sim.close(c2);
    expect(sim.state('alice').bindings).toHaveLength(0);
  });

  it('names the connections the state holds that are not live (a close never seen)', () => {
    const c1 = sim.connect('alice');
    const c2 = sim.connect('alice');
    sim.send(c1, new TestUA('alice', DOMAIN).register().text);
    sim.send(c2, new TestUA('alice', DOMAIN).register().text);
    expect(lostConnections(sim.state('alice'), new Set([c1, c2]))).toEqual([]);
    expect(lostConnections(sim.state('alice'), new Set([c1]))).toEqual([c2]);
    expect(lostConnections(sim.state('alice'), new Set())).toEqual([c1, c2]);
  });

  it('a query REGISTER without Contact lists the bindings', () => {
    const conn = sim.connect('alice');
    const ua = new TestUA('alice', DOMAIN);
    sim.send(conn, ua.register().text);
    sim.take(conn);
    const q = ua.request('REGISTER', `sip:${DOMAIN}`, { to: `<${ua.aor}>`, contact: null, callId: ua.regCallId });
    sim.send(conn, q.text);
    const [res] = sim.take(conn);
    expect(registered(res!)).toHaveLength(1);
    expect(integerHeader(asResponse(res!), 'content-length')).toBe(0);
  });

  it('an unsupported Require gets 420 naming it in Unsupported', () => {
    const conn = sim.connect('alice');
    sim.send(conn, new TestUA('alice', DOMAIN).register({ headers: ['Require: foo, gruu'] }).text);
    const [res] = sim.take(conn);
    expect(statusOf(res!)).toBe(420);
    expect(header(asResponse(res!), 'unsupported')).toBe('foo');
  });
});

import { beforeEach, describe, expect, it } from 'vitest';
import { Sim, DOMAIN } from '../support/sim.js';
import { TestUA, asResponse, describe as what, statusOf } from '../support/ua.js';
import { challenges, computeHa1, createNonce, expectedResponse, parseDigestCredentials } from '../../sip/auth/digest.js';
import { header, headerLines } from '../../sip/message/message.js';

let sim: Sim;
beforeEach(() => {
  sim = new Sim();
  sim.addUser('alice', 'alice-pw');
  sim.addUser('bob', 'bob-pw');
});

/** Answers a challenge like JsSIP: the last challenge header, MD5, qop=auth. */
function answer(reqText: string, challengeText: string, user: string, password: string, o: { nc?: string; username?: string } = {}): string {
  const res = asResponse(challengeText);
  const name = res.status === 401 ? 'www-authenticate' : 'proxy-authenticate';
  const offers = headerLines(res, name);
  const offer = offers[offers.length - 1]!;
  const nonce = /nonce="([^"]+)"/.exec(offer)![1]!;
  const uri = reqText.split(' ')[1]!;
  const method = reqText.split(' ')[0]!;
  const nc = o.nc ?? '00000001';
  const username = o.username ?? user;
  const creds = parseDigestCredentials(`Digest username="${username}", realm="${DOMAIN}", nonce="${nonce}", uri="${uri}", response="x", qop=auth, nc=${nc}, cnonce="abc"`)!;
  const response = expectedResponse(creds, method, computeHa1('MD5', user, DOMAIN, password));
  const auth = `${res.status === 401 ? 'Authorization' : 'Proxy-Authorization'}: Digest username="${username}", realm="${DOMAIN}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=${nc}, cnonce="abc"`;
  return reqText.replace(/\r\n\r\n/, `\r\n${auth}\r\n\r\n`);
}

describe('digest authentication in the engine (RFC 3261 §22)', () => {
  it('challenges REGISTER with 401 and binds the socket to the user once answered', () => {
    const conn = sim.connect('alice', null);
    const ua = new TestUA('alice', DOMAIN);
    const reg = ua.register().text;
    sim.send(conn, reg);
    const [challenge] = sim.take(conn);
    expect(statusOf(challenge!)).toBe(401);
    expect(headerLines(asResponse(challenge!), 'www-authenticate').map((v) => /algorithm=([\w-]+)/.exec(v)![1])).toEqual(['SHA-256', 'MD5']);
    sim.send(conn, answer(reg, challenge!, 'alice', 'alice-pw'));
    expect(what(sim.take(conn)[0]!)).toBe('200 REGISTER');
    expect(sim.connAuth.get(conn)).toBe('digest');
    // Bound: the next request is not challenged (it is relayed; bob has no device).
    sim.send(conn, ua.request('OPTIONS', `sip:bob@${DOMAIN}`).text);
    expect(sim.take(conn).map(what)).toEqual(['480 OPTIONS']);
  });

  it('challenges an INVITE on an unauthenticated socket with 407 Proxy-Authenticate', () => {
    const conn = sim.connect('alice', null);
    const ua = new TestUA('alice', DOMAIN);
    const invite = ua.invite('bob').text;
    sim.send(conn, invite);
    const [challenge] = sim.take(conn);
    expect(statusOf(challenge!)).toBe(407);
    expect(headerLines(asResponse(challenge!), 'proxy-authenticate')).toHaveLength(2);
    sim.send(conn, answer(invite, challenge!, 'alice', 'alice-pw'));
    expect(sim.take(conn).map(what)).toEqual(['100 INVITE', '480 INVITE']);
  });

  it('refuses a digest username other than the socket’s user with 403', () => {
    const conn = sim.connect('alice', null);
    const reg = new TestUA('alice', DOMAIN).register().text;
    sim.send(conn, reg);
    const [challenge] = sim.take(conn);
    sim.send(conn, answer(reg, challenge!, 'bob', 'bob-pw', { username: 'bob' }));
    const [res] = sim.take(conn);
    expect(statusOf(res!)).toBe(403);
    expect(sim.connAuth.get(conn)).toBe(null);
  });

  it('marks a nonce older than five minutes stale, and accepts a nonce only on the socket it was issued to (no replay)', () => {
    const conn = sim.connect('alice', null);
    const ua = new TestUA('alice', DOMAIN);
    const reg = ua.register().text;
    sim.send(conn, reg);
    const [challenge] = sim.take(conn);
    sim.now += 6 * 60_000;
    sim.send(conn, answer(reg, challenge!, 'alice', 'alice-pw'));
    const [stale] = sim.take(conn);
    expect(statusOf(stale!)).toBe(401);
    expect(header(asResponse(stale!), 'www-authenticate')).toContain('stale=true');
    const fresh = answer(reg, stale!, 'alice', 'alice-pw');
    sim.send(conn, fresh);
    const got = sim.take(conn);
    expect(got.map(what), got.join('\n')).toEqual(['200 REGISTER']);
    // The same answer replayed on another socket, even with a higher nonce count, is refused
    // with a fresh challenge: the nonce was issued to the first socket (RFC 7616 §5.11).
    const other = sim.connect('alice', null);
    sim.send(other, fresh);
    expect(statusOf(sim.take(other)[0]!)).toBe(401);
    sim.send(other, answer(reg.replace('CSeq: 1 REGISTER', 'CSeq: 2 REGISTER'), stale!, 'alice', 'alice-pw', { nc: '00000002' }));
    const replayed = sim.take(other)[0]!;
    expect(statusOf(replayed)).toBe(401);
    expect(header(asResponse(replayed), 'www-authenticate')).not.toContain('stale');
    expect(sim.connAuth.get(other)).toBe(null);
    // Its own challenge signs it in.
    sim.send(other, answer(reg.replace('CSeq: 1 REGISTER', 'CSeq: 3 REGISTER'), replayed, 'alice', 'alice-pw'));
    expect(what(sim.take(other)[0]!)).toBe('200 REGISTER');
  });

  it('refuses a forged nonce with a fresh challenge', () => {
    const conn = sim.connect('alice', null);
    const reg = new TestUA('alice', DOMAIN).register().text;
    const forged = `SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/WSS x;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\nWWW-Authenticate: ${challenges(DOMAIN, createNonce('not-the-secret', sim.now, 'salt', conn), false)[1]}\r\n\r\n`;
    sim.send(conn, answer(reg, forged, 'alice', 'alice-pw'));
    const [res] = sim.take(conn);
    expect(statusOf(res!)).toBe(401);
    expect(header(asResponse(res!), 'www-authenticate')).not.toContain('stale');
  });

  it('answers a disabled user’s right password, and a user without one, exactly as a wrong password (no oracle)', () => {
    const shape = (text: string) => {
      const r = asResponse(text);
      return { status: r.status, reason: r.reason, stale: /stale=true/i.test(text), names: r.headers.map((h) => h.name).sort() };
    };
    const attempt = (user: string, password: string) => {
      const conn = sim.connect(user, null);
      const reg = new TestUA(user, DOMAIN).register().text;
      sim.send(conn, reg);
      const [challenge] = sim.take(conn);
      sim.send(conn, answer(reg, challenge!, user, password));
      return shape(sim.take(conn)[0]!);
    };
    sim.addUser('carol', 'carol-pw');
    const wrong = attempt('carol', 'not-her-password');
    expect(wrong).toMatchObject({ status: 401, stale: false });
    sim.credentials.set('alice', { ...sim.credentials.get('alice')!, enabled: false });
    expect(attempt('alice', 'alice-pw')).toEqual(wrong);
    sim.credentials.set('bob', { ha1Md5: null, ha1Sha256: null, enabled: true });
    expect(attempt('bob', '')).toEqual(wrong);
  });
});

import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PASSWORD, Phone, addUser, api, newTenant, withDigest, what } from './helpers.js';
import { asResponse, statusOf } from '../support/ua.js';
import { contacts } from '../../sip/message/headers.js';
import { headerLines } from '../../sip/message/message.js';

afterEach(() => {
  vi.useRealTimers();
});

const stubOf = (tenant: string, user: string) => env.USERS.get(env.USERS.idFromName(`${tenant}/${user}`));

describe('registrar over real WebSockets', () => {
  it('challenges REGISTER with 401 offering SHA-256 then MD5, and accepts the digest answer', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    const p = await Phone.connect(t, 'alice', { token: false });
    const sent = p.ua.register();
    p.sock.send(sent.text);
    const challengeText = await p.sock.next('401 REGISTER');
    const challenge = asResponse(challengeText);
    const offers = headerLines(challenge, 'www-authenticate');
    expect(offers).toHaveLength(2);
    expect(offers[0]).toContain('algorithm=SHA-256');
    expect(offers[1]).toMatch(new RegExp(`^Digest realm="${t.domain}", nonce="[^"]+", algorithm=MD5, qop="auth"$`));
    p.sock.send(withDigest(sent, challengeText, 'alice', PASSWORD, { algorithm: 'SHA-256' }));
    expect(what(await p.sock.next((x) => x.includes('REGISTER')))).toBe('200 REGISTER');
  });

  it('registers, refreshes and unregisters; the API shows the live registration', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    const p = await Phone.connect(t, 'alice');
    const first = await p.register({ expires: 300 });
    expect(contacts(asResponse(first))).toHaveLength(1);
    const user = await api('GET', `/v1/tenants/${t.id}/users/alice`, { token: t.apiKey });
    expect(user.body.registrations).toEqual([expect.objectContaining({ contact: p.ua.contactUri })]);
    await p.register({ expires: 600 });
    p.sock.send(p.ua.register({ expires: 0 }).text);
    const gone = asResponse(await p.sock.next('200 REGISTER'));
    expect(contacts(gone)).toEqual([]);
    expect((await api('GET', `/v1/tenants/${t.id}/users/alice`, { token: t.apiKey })).body.registrations).toEqual([]);
  });

  it('expires a binding lazily: no alarm and no write for it, and past its expiry it is neither listed nor reached', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    await addUser(t, 'bob');
    const p = await Phone.connect(t, 'alice');
    const bob = await Phone.connect(t, 'bob');
    await bob.register();
    const before = Date.now();
    await p.register({ expires: 60 });
    const stub = stubOf(t.id, 'alice');
    // Nobody waits for an expiry (RFC 3261 §10.3): it costs no alarm of its own.
    expect(await runInDurableObject(stub, (_obj, state) => state.storage.getAlarm())).toBeNull();
    expect((await api('GET', `/v1/tenants/${t.id}/users/alice`, { token: t.apiKey })).body.registrations).toHaveLength(1);
    // Past the expiry, the next event that runs anyway finds it gone.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(before + 61_000);
    try {
      expect((await api('GET', `/v1/tenants/${t.id}/users/alice`, { token: t.apiKey })).body.registrations).toEqual([]);
      const invite = bob.ua.invite('alice');
      bob.sock.send(invite.text);
      expect(what(await bob.sock.next((m) => /^SIP\/2\.0 [2-6]/.test(m)))).toBe('480 INVITE');
    } finally {
      vi.useRealTimers();
    }
  });

  it('loses a socket’s bindings at once when it closes', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    const p = await Phone.connect(t, 'alice');
    await p.register();
    p.sock.close();
    await new Promise((r) => setTimeout(r, 100));
    expect((await api('GET', `/v1/tenants/${t.id}/users/alice`, { token: t.apiKey })).body.registrations).toEqual([]);
  });

  it('refuses a wrong password with a fresh challenge and a replayed nonce count', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    const p = await Phone.connect(t, 'alice', { token: false });
    const sent = p.ua.register();
    p.sock.send(sent.text);
    const challenge = await p.sock.next('401 REGISTER');
    p.sock.send(withDigest(sent, challenge, 'alice', 'wrong-password'));
    expect(statusOf(await p.sock.next('401 REGISTER'))).toBe(401);
    const good = withDigest(sent, challenge, 'alice', PASSWORD, { cseq: sent.cseq + 5 });
    p.sock.send(good);
    await p.sock.next('200 REGISTER');
    // The same nonce count again is a replay.
    const other = await Phone.connect(t, 'alice', { token: false });
    other.sock.send(good.replace(/CSeq: \d+/, 'CSeq: 99'));
    expect(statusOf(await other.sock.next('401 REGISTER'))).toBe(401);
  });
});

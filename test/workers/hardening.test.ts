/**
 * Hostile clients through the real edge (issue 11): each test is named for what it proves.
 * The unauthenticated socket's 30 s, in real time, is in unauthenticated.test.ts.
 */
import { CALL_SILENCE_MS, PROBE_TIMEOUT_MS } from '../../sip/registrar/liveness.js';
import { env, exports } from 'cloudflare:workers';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BASE, PASSWORD, Phone, Socket, addUser, api, callInProgress, newTenant, registeredPair, tokenFor, upgrade, what, withDigest, type TestTenant } from './helpers.js';
import { TestUA, asRequest, asResponse } from '../support/ua.js';
import { header, headerLines } from '../../sip/message/message.js';
import { createApp } from '../../worker/app.js';

afterEach(() => {
  vi.useRealTimers();
});

const T = (id: string) => `/v1/tenants/${id}`;

/** An upgrade as Cloudflare's edge hands it over, naming the client's address. */
function upgradeFrom(path: string, ip: string, extra: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(`${BASE}${path}`, { headers: { Upgrade: 'websocket', 'Sec-WebSocket-Protocol': 'sip', 'CF-Connecting-IP': ip, ...extra } });
}

async function openFrom(path: string, ip: string): Promise<Socket> {
  const res = await upgradeFrom(path, ip);
  expect(res.status).toBe(101);
  return Socket.wrap(res.webSocket!);
}

/** REGISTER on a fresh socket with digest; returns the final status. */
async function digestRegister(sock: Socket, ua: TestUA, password: string): Promise<number> {
  const sent = ua.register();
  sock.send(sent.text);
  const challenge = await sock.next((x) => what(x).endsWith('REGISTER'));
  if (asResponse(challenge).status !== 401) return asResponse(challenge).status;
  sock.send(withDigest(sent, challenge, ua.user, password));
  return asResponse(await sock.next((x) => what(x).endsWith('REGISTER'))).status;
}

describe('1. what one user can make its object hold is bounded', () => {
  it('a header line past 4 KiB gets 513, a Request-URI past 1 KiB gets 414, a display name past 256 gets 400', async () => {
    const { t, alice } = await registeredPair();
    alice.sock.send(alice.ua.invite('bob', { from: `"${'x'.repeat(50_000)}" <sip:alice@${t.domain}>` }).text);
    // The answer echoes the From as RFC 3261 §8.2.6 says; its status line is what matters.
    expect((await alice.sock.next((x) => x.startsWith('SIP/2.0 513'))).split('\r\n')[0]).toBe('SIP/2.0 513 Header Section Too Large');
    alice.sock.send(alice.ua.invite('bob', { from: `"${'x'.repeat(5_000)}" <sip:alice@${t.domain}>` }).text);
    expect((await alice.sock.next((x) => x.startsWith('SIP/2.0 513'))).split('\r\n')[0]).toBe('SIP/2.0 513 Header Too Long: From');
    alice.sock.send(alice.ua.request('OPTIONS', `sip:bob@${t.domain};x=${'y'.repeat(1100)}`, { to: `<sip:bob@${t.domain}>` }).text);
    expect(asResponse(await alice.sock.next((x) => x.startsWith('SIP/2.0 414'))).status).toBe(414);
    alice.sock.send(alice.ua.invite('bob', { from: `"${'n'.repeat(300)}" <sip:alice@${t.domain}>` }).text);
    expect((await alice.sock.next((x) => x.startsWith('SIP/2.0 400'))).split('\r\n')[0]).toBe('SIP/2.0 400 From Display Name Too Long');
    // The socket and the user are fine afterwards.
    alice.sock.send(alice.ua.request('OPTIONS', `sip:${t.domain}`).text);
    expect(what(await alice.sock.next('200 OPTIONS'))).toBe('200 OPTIONS');
  });

  it('a caller past maxCallsPerUser gets 503 with Retry-After; a callee past maxPendingRequestsPerUser answers 486', async () => {
    // Eight places for bob's incoming requests, two of them for any one caller.
    const { t, alice, bob } = await registeredPair({ maxCallsPerUser: 3, maxPendingRequestsPerUser: 8 });
    await addUser(t, 'carol');
    const carol = await Phone.connect(t, 'carol');
    await carol.register();
    // bob never answers: two INVITEs ring him, the third finds his object full.
    for (let i = 0; i < 2; i++) {
      alice.sock.send(alice.ua.invite('bob').text);
      await bob.sock.next('INVITE');
    }
    alice.sock.send(alice.ua.invite('bob').text);
    expect(what(await alice.sock.next((x) => x.startsWith('SIP/2.0 486')))).toBe('486 INVITE');
    // alice's own calls: two live, one just refused, the fourth is past her cap.
    alice.sock.send(alice.ua.invite('carol').text);
    await carol.sock.next('INVITE');
    const refused = alice.ua.invite('carol');
    alice.sock.send(refused.text);
    const busy = asResponse(await alice.sock.next((x) => x.startsWith('SIP/2.0 503')));
    expect(busy.reason).toBe('Too Many Calls In Progress');
    expect(header(busy, 'retry-after')).toBe('5');
    await carol.sock.quiet(200, 'INVITE');
  });

  it('a caller flooding a user takes a quarter of its places at most: others still reach it, and it still calls out', async () => {
    const { t, alice, bob } = await registeredPair({ maxPendingRequestsPerUser: 8 });
    await addUser(t, 'carol');
    const carol = await Phone.connect(t, 'carol');
    await carol.register();
    for (let i = 0; i < 2; i++) {
      alice.sock.send(alice.ua.invite('bob').text);
      await bob.sock.next('INVITE');
    }
    for (let i = 0; i < 5; i++) alice.sock.send(alice.ua.invite('bob').text);
    for (let i = 0; i < 5; i++) await alice.sock.next((x) => x.startsWith('SIP/2.0 486'));
    // carol still rings bob, and bob, with calls ringing him, calls carol.
    carol.sock.send(carol.ua.invite('bob').text);
    await bob.sock.next('INVITE');
    bob.sock.send(bob.ua.invite('carol').text);
    expect(what(await carol.sock.next('INVITE'))).toBe('INVITE');
  });
});

describe('2. sockets that never authenticate cannot lock the user out', () => {
  it('ten of them from one address: five are let in, the rest get 429 too_many_pending_sockets', async () => {
    const t = await newTenant();
    await addUser(t, 'victim');
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await upgradeFrom(`/sip/${t.id}/victim`, '203.0.113.7')).status);
    expect(statuses.filter((s) => s === 101)).toHaveLength(5);
    const refused = await upgradeFrom(`/sip/${t.id}/victim`, '203.0.113.7');
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ error: { code: 'too_many_pending_sockets' } });
  });

  it('twenty of them from twenty addresses: the real user still connects and registers, by token and by digest', async () => {
    const t = await newTenant({ maxSocketsPerUser: 2 });
    await addUser(t, 'victim');
    const squatters: Socket[] = [];
    for (let i = 0; i < 20; i++) squatters.push(await openFrom(`/sip/${t.id}/victim`, `198.51.100.${i + 1}`));
    // By digest from an address of its own: the oldest squatter made room.
    const mine = await openFrom(`/sip/${t.id}/victim`, '192.0.2.50');
    expect(await digestRegister(mine, new TestUA('victim', t.domain), PASSWORD)).toBe(200);
    // By token: squatters never count against the signed-in cap.
    const phone = await Phone.connect(t, 'victim');
    await phone.register();
    expect(squatters.filter((s) => s.closed !== null).length).toBeGreaterThanOrEqual(1);
  });

  it('X-Forwarded-For never names the client: it does not widen the per-address cap', async () => {
    const t = await newTenant();
    await addUser(t, 'victim');
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await upgradeFrom(`/sip/${t.id}/victim`, '203.0.113.9', { 'X-Forwarded-For': `10.0.0.${i}` })).status);
    expect(statuses).toEqual([101, 101, 101, 101, 101, 429, 429, 429]);
  });
});

describe('4. two devices of one user sign in at the same moment', () => {
  it('ten devices registering at once each get a nonce of their own and 200', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    const devices = await Promise.all(Array.from({ length: 10 }, (_, i) => openFrom(`/sip/${t.id}/alice`, `192.0.2.${i + 1}`)));
    const uas = devices.map(() => new TestUA('alice', t.domain));
    const sent = uas.map((ua) => ua.register());
    devices.forEach((d, i) => d.send(sent[i]!.text));
    const challenges = await Promise.all(devices.map((d) => d.next('401 REGISTER')));
    const nonces = challenges.map((c) => /nonce="([^"]+)"/.exec(c)![1]);
    expect(new Set(nonces).size).toBe(10);
    devices.forEach((d, i) => d.send(withDigest(sent[i]!, challenges[i]!, 'alice', PASSWORD)));
    const finals = await Promise.all(devices.map((d) => d.next((x) => what(x).endsWith('REGISTER'))));
    expect(finals.map(what)).toEqual(Array(10).fill('200 REGISTER'));
  });
});

describe('5. tokens can be revoked', () => {
  async function withToken() {
    const t = await newTenant();
    await addUser(t, 'alice');
    const token = await tokenFor(t, 'alice');
    const path = `/sip/${t.id}/alice?token=${encodeURIComponent(token)}`;
    expect((await upgrade(path)).status).toBe(101);
    return { t, token, path };
  }
  const ice = (t: TestTenant, token: string) => createApp().fetch(new Request(`${BASE}${T(t.id)}/ice-servers`, { headers: { Authorization: `Bearer ${token}` } }), env);

  it('a password change, a disable, a delete and re-create, and a key rotation each end the old tokens (WebSocket and ICE)', async () => {
    const changes: Array<(t: TestTenant) => Promise<unknown>> = [
      (t) => api('PUT', `${T(t.id)}/users/alice`, { body: { password: 'another-password-1' }, token: t.apiKey }),
      (t) => api('PUT', `${T(t.id)}/users/alice`, { body: { enabled: false }, token: t.apiKey }),
      async (t) => {
        await api('DELETE', `${T(t.id)}/users/alice`, { token: t.apiKey });
        await addUser(t, 'alice');
      },
      (t) => api('POST', `${T(t.id)}/api-keys`, { token: t.apiKey }),
    ];
    for (const change of changes) {
      const { t, token, path } = await withToken();
      expect((await ice(t, token)).status).toBe(200);
      await change(t);
      const res = await upgrade(path);
      expect(res.status).toBe(401);
      expect((await ice(t, token)).status).toBe(401);
    }
  });

  it('the revoke endpoint closes the sockets its tokens opened and leaves digest sockets open', async () => {
    const { t, path } = await withToken();
    const tokenSock = await Socket.open(path);
    const digest = await openFrom(`/sip/${t.id}/alice`, '192.0.2.9');
    expect(await digestRegister(digest, new TestUA('alice', t.domain), PASSWORD)).toBe(200);
    const r = await api('POST', `${T(t.id)}/users/alice/tokens/revoke`, { token: t.apiKey });
    expect(r.status).toBe(200);
    expect(await tokenSock.waitClosed()).toMatchObject({ code: 1008, reason: 'token revoked' });
    expect((await upgrade(path)).status).toBe(401);
    digest.send(new TestUA('alice', t.domain).request('OPTIONS', `sip:${t.domain}`).text);
    expect(what(await digest.next('200 OPTIONS'))).toBe('200 OPTIONS');
    // A token issued after the revocation works.
    expect((await upgrade(`/sip/${t.id}/alice?token=${encodeURIComponent(await tokenFor(t, 'alice'))}`)).status).toBe(101);
    expect((await api('POST', `${T(t.id)}/users/nobody/tokens/revoke`, { token: t.apiKey })).status).toBe(404);
  });
});

describe('8. a response is accepted only where its request went', () => {
  it('a forged response from an unauthenticated socket, or from another socket of the user, never reaches the sender', async () => {
    const { t, alice, bob } = await registeredPair();
    const message = bob.ua.request('MESSAGE', `sip:alice@${t.domain}`, { body: 'hi', contentType: 'text/plain' });
    bob.sock.send(message.text);
    const atAlice = await alice.sock.next('MESSAGE');
    const forged = alice.ua.respond(atAlice, 200, { toTag: 'forged' });
    const stranger = await openFrom(`/sip/${t.id}/alice`, '203.0.113.66');
    stranger.send(forged);
    const sibling = await Phone.connect(t, 'alice');
    sibling.sock.send(forged);
    await bob.sock.quiet(300, '200');
    alice.sock.send(alice.ua.respond(atAlice, 200, { toTag: 'real' }));
    const ok = await bob.sock.next('200 MESSAGE');
    expect(ok).toContain('tag=real');
  });
});

describe('9. caller identity is the socket’s, and the service asserts it', () => {
  it('a From at another domain is refused 403; client identity headers are dropped and P-Asserted-Identity added', async () => {
    const { t, alice, bob } = await registeredPair();
    await api('PUT', `${T(t.id)}/users/alice`, { body: { displayName: 'Alice Example' }, token: t.apiKey });
    // The user's object learns the display name when the tenant pushes it.
    alice.sock.send(alice.ua.invite('bob', { from: `"Carol (CEO)" <sip:alice@evil.example>` }).text);
    const refused = asResponse(await alice.sock.next((x) => x.startsWith('SIP/2.0 403')));
    expect(refused.reason).toBe('From does not match the authenticated user');
    const invite = alice.ua.invite('bob', {
      from: `"Carol (CEO)" <sip:alice@${t.domain}>`,
      headers: [`P-Asserted-Identity: <sip:ceo@${t.domain}>`, `Remote-Party-ID: <sip:ceo@${t.domain}>;party=calling`, `P-Preferred-Identity: <sip:ceo@${t.domain}>`],
    });
    alice.sock.send(invite.text);
    const atBob = asRequest(await bob.sock.next('INVITE'));
    expect(headerLines(atBob, 'remote-party-id')).toEqual([]);
    expect(headerLines(atBob, 'p-preferred-identity')).toEqual([]);
    expect(headerLines(atBob, 'p-asserted-identity')).toEqual([`"Alice Example" <sip:alice@${t.domain}>`]);
    // The display name is the caller's to choose.
    expect(header(atBob, 'from')).toContain('"Carol (CEO)"');
  });
});

describe('10. password guessing is throttled without locking the real user out', () => {
  it('an address with five wrong answers is refused 503 even with the right one; another address still signs in', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    const guesser = await openFrom(`/sip/${t.id}/alice`, '203.0.113.20');
    const ua = new TestUA('alice', t.domain);
    for (let i = 0; i < 5; i++) expect(await digestRegister(guesser, ua, `guess-${i}`)).toBe(401);
    const sent = ua.register();
    guesser.send(sent.text);
    const challenge = await guesser.next('401 REGISTER');
    guesser.send(withDigest(sent, challenge, 'alice', PASSWORD));
    const locked = asResponse(await guesser.next((x) => what(x).endsWith('REGISTER')));
    expect(locked.status).toBe(503);
    expect(locked.reason).toBe('Too Many Failed Attempts');
    expect(Number(header(locked, 'retry-after'))).toBeGreaterThanOrEqual(60);
    const real = await openFrom(`/sip/${t.id}/alice`, '192.0.2.77');
    expect(await digestRegister(real, new TestUA('alice', t.domain), PASSWORD)).toBe(200);
  });

  it('a distributed guess (50 failures from ten addresses) locks out new addresses, never one the user signed in from', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    const home = await openFrom(`/sip/${t.id}/alice`, '192.0.2.1');
    expect(await digestRegister(home, new TestUA('alice', t.domain), PASSWORD)).toBe(200);
    home.close();
    for (let a = 0; a < 10; a++) {
      const sock = await openFrom(`/sip/${t.id}/alice`, `203.0.113.${100 + a}`);
      for (let i = 0; i < 5; i++) expect(await digestRegister(sock, new TestUA('alice', t.domain), `guess-${a}-${i}`)).toBe(401);
      sock.close();
    }
    const stranger = await openFrom(`/sip/${t.id}/alice`, '198.51.100.200');
    expect(await digestRegister(stranger, new TestUA('alice', t.domain), PASSWORD)).toBe(503);
    const back = await openFrom(`/sip/${t.id}/alice`, '192.0.2.1');
    expect(await digestRegister(back, new TestUA('alice', t.domain), PASSWORD)).toBe(200);
  });

  it('login has its own budget, answers a disabled user as a wrong password, and locks a guessed user per address', async () => {
    const t = await newTenant();
    await addUser(t, 'alice', { password: 'alice-password' });
    await addUser(t, 'dora', { password: 'dora-password', enabled: false });
    const app = createApp();
    const login = (ip: string, user: string, password: string) =>
      app.fetch(new Request(`${BASE}${T(t.id)}/login`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'CF-Connecting-IP': ip }, body: JSON.stringify({ user, password }) }), env);
    const wrong = await login('192.0.2.30', 'alice', 'nope');
    const disabled = await login('192.0.2.31', 'dora', 'dora-password');
    expect(wrong.status).toBe(401);
    expect(disabled.status).toBe(401);
    expect(await disabled.json()).toEqual(await wrong.json());
    // Guessing alice from one address: locked after five (429 too_many_failures), others unaffected.
    const ip = `198.51.100.${Math.floor(Math.random() * 200) + 20}`;
    for (let i = 0; i < 5; i++) expect((await login(ip, 'alice', `guess-${i}`)).status).toBe(401);
    const lockedOut = await login(ip, 'alice', 'alice-password');
    expect(lockedOut.status).toBe(429);
    expect(await lockedOut.json()).toMatchObject({ error: { code: 'too_many_failures' } });
    expect((await login('192.0.2.32', 'alice', 'alice-password')).status).toBe(200);
    // The address's own login budget runs out (30 a minute), its admin calls do not.
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await login(ip, 'alice', 'x')).status);
    expect(statuses).toContain(429);
    const admin = await app.fetch(new Request(`${BASE}${T(t.id)}`, { headers: { Authorization: 'Bearer test-admin-token', 'CF-Connecting-IP': ip } }), env);
    expect(admin.status).toBe(200);
  });
});

/** Fires the object's alarm with the clock at `at` (the clock stays there until `vi.useRealTimers`). */
async function alarmAt(stub: DurableObjectStub, at: number): Promise<void> {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(at);
  await runInDurableObject(stub, (_o, state) => state.storage.setAlarm(at - 1));
  await runDurableObjectAlarm(stub);
}

describe('7. a frozen peer is noticed', () => {
  it('a party silent in a call is probed with OPTIONS, closed when it does not answer, and the other side gets BYE', async () => {
    const { t, alice, bob } = await callInProgress();
    const stub = env.USERS.get(env.USERS.idFromName(`${t.id}/bob`));
    const start = Date.now();
    await alarmAt(stub, start + CALL_SILENCE_MS + 1_000);
    vi.useRealTimers();
    const probe = asRequest(await bob.sock.next('OPTIONS'));
    expect(header(probe, 'via')).toMatch(/branch=z9hG4bK-sb~g/);
    // bob stays silent: ten seconds later his flow is dead.
    await alarmAt(stub, start + CALL_SILENCE_MS + PROBE_TIMEOUT_MS + 2_000);
    vi.useRealTimers();
    expect((await bob.sock.waitClosed()).code).toBe(1001);
    // His binding goes with the flow; his call is held for the device to come back (30 s)…
    const snap = await api('GET', `${T(t.id)}/users/bob`, { token: t.apiKey });
    expect(snap.body.registrations).toEqual([]);
    expect(snap.body.calls.map((c: { state: string }) => c.state)).toEqual(['held']);
    await alice.sock.quiet(200, 'BYE');
    // …and it does not: the other side gets BYE when the grace period runs out.
    await alarmAt(stub, start + CALL_SILENCE_MS + PROBE_TIMEOUT_MS + 2_000 + 30_000);
    vi.useRealTimers();
    const bye = asRequest(await alice.sock.next('BYE'));
    expect(header(bye, 'reason')).toMatch(/Connection lost, not recovered within 30 s/);
  });

  it('a party that answers the probe keeps its call', async () => {
    const { t, alice, bob } = await callInProgress();
    const stub = env.USERS.get(env.USERS.idFromName(`${t.id}/bob`));
    const start = Date.now();
    // The clock stays at the probe's time while bob answers it, as it would in real time.
    await alarmAt(stub, start + CALL_SILENCE_MS + 1_000);
    const probe = await bob.sock.next('OPTIONS');
    vi.setSystemTime(start + CALL_SILENCE_MS + 1_050);
    bob.sock.send(bob.ua.respond(probe, 200));
    await new Promise((r) => setTimeout(r, 100));
    await alarmAt(stub, start + CALL_SILENCE_MS + PROBE_TIMEOUT_MS + 2_000);
    vi.useRealTimers();
    await alice.sock.quiet(200, 'BYE');
    expect(bob.sock.closed).toBeNull();
  });

  it('a silent caller is found through the callee’s object: it asks, the caller’s object probes, and closes the flow that does not answer', async () => {
    // A tenant that holds no call for a lost device: the BYE follows the close at once.
    const { t, alice, bob } = await callInProgress({ limits: { flowGraceSeconds: 0 } });
    const aliceStub = env.USERS.get(env.USERS.idFromName(`${t.id}/alice`));
    const bobStub = env.USERS.get(env.USERS.idFromName(`${t.id}/bob`));
    // One object watches the call: the caller's keeps no alarm of its own for it.
    expect(await runInDurableObject(aliceStub, (_o, state) => state.storage.getAlarm())).toBeNull();
    const start = Date.now();
    await alarmAt(bobStub, start + CALL_SILENCE_MS + 1_000);
    vi.useRealTimers();
    // bob's object probes bob, and asks alice's object, which probes alice.
    bob.sock.send(bob.ua.respond(await bob.sock.next('OPTIONS'), 200));
    const probe = asRequest(await alice.sock.next('OPTIONS'));
    expect(header(probe, 'via')).toMatch(/branch=z9hG4bK-sb~g/);
    // alice says nothing: her object's timer (or, here, its alarm) finds the flow dead 10 s later.
    await alarmAt(aliceStub, start + CALL_SILENCE_MS + PROBE_TIMEOUT_MS + 2_000);
    vi.useRealTimers();
    expect((await alice.sock.waitClosed()).code).toBe(1001);
    expect(header(asRequest(await bob.sock.next('BYE')), 'reason')).toMatch(/Connection lost/);
    expect(bob.sock.closed).toBeNull();
  });

  it('a call answered a few seconds into its ring costs one alarm: the ring timeout’s, whose firing does the first look at both flows', async () => {
    const { t, alice, bob } = await callInProgress();
    const alarms = await Promise.all(['alice', 'bob'].map((u) => runInDurableObject(env.USERS.get(env.USERS.idFromName(`${t.id}/${u}`)), (_o, state) => state.storage.getAlarm())));
    expect(alarms[0]).toBeNull();
    expect(alarms[1]).not.toBeNull();
    // That alarm is the ring timeout's (set at the INVITE, 60 s), earlier than the look a minute after the ACK.
    const bobStub = env.USERS.get(env.USERS.idFromName(`${t.id}/bob`));
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(alarms[1]!);
    await runDurableObjectAlarm(bobStub);
    vi.useRealTimers();
    // It fired within the looks' slack: both flows are looked at now, not at an alarm of their own 0.1 s later.
    await bob.sock.next('OPTIONS');
    await alice.sock.next('OPTIONS');
  });

  it('a call whose session timer (RFC 4028) runs out unrefreshed ends with BYE to both parties', async () => {
    const { t, alice, bob } = await callInProgress({ inviteHeaders: ['Supported: timer', 'Session-Expires: 90'], answerHeaders: ['Session-Expires: 90;refresher=uac', 'Require: timer'] });
    const stub = env.USERS.get(env.USERS.idFromName(`${t.id}/bob`));
    await alarmAt(stub, Date.now() + 123_000);
    vi.useRealTimers();
    for (const sock of [alice.sock, bob.sock]) expect(header(asRequest(await sock.next('BYE')), 'reason')).toBe('SIP;cause=408;text="Session expired"');
  });

  it('a REGISTER with reg-id and Supported: outbound gets Flow-Timer in its 200 (RFC 5626 §5.4)', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    const phone = await Phone.connect(t, 'alice', { instance: '00000000-0000-4000-8000-000000000001' });
    const ok = asResponse(await phone.register());
    expect(header(ok, 'flow-timer')).toBe('120');
    expect(header(ok, 'require')).toBe('outbound');
  });
});

describe('13. one fork per instance (RFC 5626 §7)', () => {
  it('an instance registered with two reg-ids is rung once, on its most recent flow', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    await addUser(t, 'bob');
    const instance = '00000000-0000-4000-8000-0000000000aa';
    const older = await Phone.connect(t, 'bob', { instance });
    await older.register();
    const newer = await Phone.connect(t, 'bob', { instance });
    const reg = newer.ua.register({ contactParams: '' });
    newer.sock.send(reg.text.replace(';reg-id=1', ';reg-id=2'));
    expect(what(await newer.sock.next((x) => what(x).endsWith('REGISTER')))).toBe('200 REGISTER');
    const alice = await Phone.connect(t, 'alice');
    await alice.register();
    alice.sock.send(alice.ua.invite('bob').text);
    expect(what(await newer.sock.next('INVITE'))).toBe('INVITE');
    await older.sock.quiet(300, 'INVITE');
  });
});

import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { decode } from 'hono/jwt';
import { encodeBase64Url } from 'hono/utils/encode';
import { ADMIN, BASE, PASSWORD, Phone, addUser, api, callInProgress, newTenant, tokenFor, upgrade, what, withDigest } from './helpers.js';
import { createApp } from '../../worker/app.js';
import { asRequest } from '../support/ua.js';

const T = (id: string) => `/v1/tenants/${id}`;

describe('tenants', () => {
  it('creates a tenant (admin) and shows the API key only once', async () => {
    const id = `acme${Date.now()}`;
    const r = await api('POST', '/v1/tenants', { body: { id, name: 'Acme', limits: { maxUsers: 5 } } });
    expect(r.status).toBe(201);
    expect(r.body.apiKey).toMatch(new RegExp(`^sbk_${id}_`));
    expect(r.body.tenant).toMatchObject({ id, name: 'Acme', domain: `${id}.switchboard.invalid`, limits: { maxUsers: 5, maxDevicesPerUser: 10 } });
    const got = await api('GET', T(id));
    expect(got.status).toBe(200);
    expect(JSON.stringify(got.body)).not.toContain('sbk_');
  });

  it('validates with per-field details and changes nothing', async () => {
    const r = await api('POST', '/v1/tenants', { body: { id: 'Bad_Id!', limits: { maxUsers: -1 }, extra: true } });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('invalid_request');
    const paths = r.body.error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['id', 'limits.maxUsers']));
    expect((await api('GET', T('bad-id'))).status).toBe(404);
  });

  it('answers malformed JSON with 400 and oversized bodies with 413', async () => {
    const bad = await api('POST', '/v1/tenants', { raw: '{"id": ' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_request');
    const big = await api('POST', '/v1/tenants', { raw: JSON.stringify({ id: 'big', name: 'x'.repeat(70 * 1024) }) });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('payload_too_large');
  });

  it('requires the admin token to create (401 without, 403 with a tenant key)', async () => {
    expect((await api('POST', '/v1/tenants', { body: { id: 'noauth' }, token: null })).status).toBe(401);
    const t = await newTenant();
    const r = await api('POST', '/v1/tenants', { body: { id: 'bytenantkey' }, token: t.apiKey });
    expect(r.status).toBe(403);
    expect((await api('GET', T('bytenantkey'))).status).toBe(404);
  });

  it('answers 503 explaining what to set when no admin token is configured', async () => {
    const app = createApp();
    const res = await app.fetch(
      new Request(`${BASE}/v1/tenants`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' }, body: '{"id":"x"}' }),
      { ...env, ADMIN_TOKEN: undefined },
    );
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: 'admin_not_configured', message: expect.stringMatching(/ADMIN_TOKEN/) } });
  });

  it('refuses to create a tenant twice (409) and keeps the first', async () => {
    const t = await newTenant();
    const again = await api('POST', '/v1/tenants', { body: { id: t.id, domain: 'other.example' } });
    expect(again.status).toBe(409);
    expect((await api('GET', T(t.id))).body.domain).toBe(t.domain);
  });

  it('lets a tenant key read and rename its own tenant, but not another, and not change limits', async () => {
    const a = await newTenant();
    const b = await newTenant();
    expect((await api('GET', T(a.id), { token: a.apiKey })).status).toBe(200);
    expect((await api('GET', T(b.id), { token: a.apiKey })).status).toBe(403);
    expect((await api('GET', T(a.id), { token: 'sbk_nope_xxx' })).status).toBe(401);
    const renamed = await api('PATCH', T(a.id), { body: { name: 'New name' }, token: a.apiKey });
    expect(renamed.status).toBe(200);
    expect(renamed.body.name).toBe('New name');
    const limits = await api('PATCH', T(a.id), { body: { limits: { maxUsers: 99999 } }, token: a.apiKey });
    expect(limits.status).toBe(403);
    expect((await api('GET', T(a.id))).body.limits.maxUsers).toBe(1000);
  });

  it('pushes new limits to users’ objects (admin)', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    const r = await api('PATCH', T(t.id), { body: { limits: { maxDevicesPerUser: 1 } } });
    expect(r.status).toBe(200);
    const a = await Phone.connect(t, 'alice');
    await a.register();
    const b = await Phone.connect(t, 'alice');
    b.sock.send(b.ua.register().text);
    expect(what(await b.sock.next((x) => x.includes('REGISTER')))).toBe('403 REGISTER');
  });

  it('refuses a domain change while users have passwords (409), allows it otherwise', async () => {
    const t = await newTenant();
    expect((await api('PATCH', T(t.id), { body: { domain: 'sip.fresh.example' } })).status).toBe(200);
    await addUser(t, 'alice');
    const r = await api('PATCH', T(t.id), { body: { domain: 'sip.other.example' } });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('domain_in_use');
    expect((await api('GET', T(t.id))).body.domain).toBe('sip.fresh.example');
  });

  it('rotates the API key: the old key stops working at once', async () => {
    const t = await newTenant();
    const r = await api('POST', `${T(t.id)}/api-keys`, { token: t.apiKey });
    expect(r.status).toBe(201);
    expect((await api('GET', T(t.id), { token: t.apiKey })).status).toBe(401);
    expect((await api('GET', T(t.id), { token: r.body.apiKey })).status).toBe(200);
  });

  it('deletes a tenant (admin only): users go, their sockets close', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    const phone = await Phone.connect(t, 'alice');
    await phone.register();
    const token = await tokenFor(t, 'alice');
    expect((await api('DELETE', T(t.id), { token: t.apiKey })).status).toBe(403);
    const r = await api('DELETE', T(t.id));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ deleted: t.id, deletedUsers: 1 });
    expect((await phone.sock.waitClosed()).code).toBe(1000);
    expect((await api('GET', T(t.id))).status).toBe(404);
    // A token of the deleted tenant opens nothing; without one, the tenant that is gone
    // looks like any other until a client authenticates (nothing is created for it).
    expect((await upgrade(`/sip/${t.id}/alice?token=${encodeURIComponent(token)}`)).status).toBe(401);
    expect((await upgrade(`/sip/${t.id}/alice`)).status).toBe(101);
  });
});

describe('users', () => {
  it('creates (201) and updates (200) a user; passwords and HA1s never come back', async () => {
    const t = await newTenant();
    const created = await api('PUT', `${T(t.id)}/users/alice`, { body: { password: 'a-long-password', displayName: 'Alice' }, token: t.apiKey });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: 'alice', displayName: 'Alice', enabled: true, hasPassword: true });
    const updated = await api('PUT', `${T(t.id)}/users/alice`, { body: { displayName: 'Alice A.' }, token: t.apiKey });
    expect(updated.status).toBe(200);
    expect(updated.body.hasPassword).toBe(true);
    const text = JSON.stringify((await api('GET', `${T(t.id)}/users/alice`, { token: t.apiKey })).body);
    expect(text).not.toMatch(/a-long-password|ha1/i);
  });

  it('validates users: bad id, short password, unknown field', async () => {
    const t = await newTenant();
    expect((await api('PUT', `${T(t.id)}/users/bad~id`, { body: {}, token: t.apiKey })).status).toBe(400);
    const short = await api('PUT', `${T(t.id)}/users/alice`, { body: { password: 'short' }, token: t.apiKey });
    expect(short.status).toBe(400);
    expect(short.body.error.details[0].path).toBe('password');
    expect((await api('PUT', `${T(t.id)}/users/alice`, { body: { pasword: 'typo-typo' }, token: t.apiKey })).status).toBe(400);
    expect((await api('GET', `${T(t.id)}/users/alice`, { token: t.apiKey })).status).toBe(404);
  });

  it('enforces maxUsers (403) and leaves the existing users as they were', async () => {
    const t = await newTenant({ maxUsers: 2 });
    await addUser(t, 'a1');
    await addUser(t, 'a2');
    const r = await api('PUT', `${T(t.id)}/users/a3`, { body: { password: 'password-3' }, token: t.apiKey });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('user_limit_reached');
    const list = await api('GET', `${T(t.id)}/users`, { token: t.apiKey });
    expect(list.body.users.map((u: { id: string }) => u.id)).toEqual(['a1', 'a2']);
    // Updating an existing user is still allowed at the limit.
    expect((await api('PUT', `${T(t.id)}/users/a2`, { body: { displayName: 'Two' }, token: t.apiKey })).status).toBe(200);
  });

  it('404 for users of an unknown tenant', async () => {
    expect((await api('PUT', `${T('no-such-tenant')}/users/alice`, { body: { password: 'password-1' } })).status).toBe(404);
  });

  it('lists users a page at a time with a cursor', async () => {
    const t = await newTenant();
    for (const u of ['u1', 'u2', 'u3', 'u4', 'u5']) await addUser(t, u, { password: null });
    const p1 = await api('GET', `${T(t.id)}/users?limit=2`, { token: t.apiKey });
    expect(p1.body.users.map((u: { id: string }) => u.id)).toEqual(['u1', 'u2']);
    const p2 = await api('GET', `${T(t.id)}/users?limit=2&cursor=${p1.body.nextCursor}`, { token: t.apiKey });
    expect(p2.body.users.map((u: { id: string }) => u.id)).toEqual(['u3', 'u4']);
    const p3 = await api('GET', `${T(t.id)}/users?limit=2&cursor=${p2.body.nextCursor}`, { token: t.apiKey });
    expect(p3.body).toMatchObject({ users: [{ id: 'u5' }], nextCursor: null });
    expect((await api('GET', `${T(t.id)}/users?limit=500`, { token: t.apiKey })).status).toBe(400);
  });

  it('shows live registrations and active calls, and keeps call history', async () => {
    const { t, alice, invite } = await callInProgress();
    const detail = await api('GET', `${T(t.id)}/users/alice`, { token: t.apiKey });
    expect(detail.body.registrations).toEqual([expect.objectContaining({ contact: alice.ua.contactUri, userAgent: null })]);
    expect(detail.body.calls).toEqual([expect.objectContaining({ direction: 'out', peer: 'bob', state: 'confirmed', media: { offer: { kinds: ['audio'], codecs: expect.arrayContaining(['opus']) }, answer: expect.anything() } })]);
    const history = await api('GET', `${T(t.id)}/users/bob/calls`, { token: t.apiKey });
    expect(history.body.calls[0]).toMatchObject({ direction: 'in', peer: 'alice', state: 'confirmed', callId: invite.callId });
  });

  it('deletes a user: its sockets close and its calls end with BYE', async () => {
    const { t, alice, bob } = await callInProgress();
    const token = await tokenFor(t, 'bob');
    expect((await api('DELETE', `${T(t.id)}/users/bob`, { token: t.apiKey })).status).toBe(200);
    expect((await bob.sock.waitClosed()).code).toBe(1000);
    expect(asRequest(await alice.sock.next('BYE')).method).toBe('BYE');
    expect((await api('GET', `${T(t.id)}/users/bob`, { token: t.apiKey })).status).toBe(404);
    expect((await upgrade(`/sip/${t.id}/bob?token=${encodeURIComponent(token)}`)).status).toBe(401);
    expect((await api('DELETE', `${T(t.id)}/users/bob`, { token: t.apiKey })).status).toBe(404);
    // alice's object knows bob existed (that answer is kept: his object has its storage
    // already), so a new call goes to bob's object, which answers for a deleted user.
    alice.sock.send(alice.ua.invite('bob').text);
    expect(what(await alice.sock.next('404 INVITE'))).toBe('404 INVITE');
  });

  it('disabling a user closes its sockets, and its tokens and password open nothing', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    const old = await tokenFor(t, 'alice');
    const phone = await Phone.connect(t, 'alice');
    expect((await api('PUT', `${T(t.id)}/users/alice`, { body: { enabled: false }, token: t.apiKey })).status).toBe(200);
    await phone.sock.waitClosed();
    expect((await upgrade(`/sip/${t.id}/alice?token=${encodeURIComponent(old)}`)).status).toBe(401);
    // Without a token the socket opens (as for anyone), and the right password gets 401 as a wrong one would.
    const anon = await Phone.connect(t, 'alice', { token: false });
    const sent = anon.ua.register();
    anon.sock.send(sent.text);
    const challenge = await anon.sock.next('401 REGISTER');
    anon.sock.send(withDigest(sent, challenge, 'alice', PASSWORD));
    expect(what(await anon.sock.next((x) => what(x).endsWith('REGISTER')))).toBe('401 REGISTER');
    const token = await api('POST', `${T(t.id)}/users/alice/tokens`, { body: {}, token: t.apiKey });
    expect(token.status).toBe(403);
  });
});

describe('tokens and login', () => {
  it('issues a token with wsUrl, sipUri and expiry (default 1 h, at most 24 h)', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    const now = Math.floor(Date.now() / 1000);
    const r = await api('POST', `${T(t.id)}/users/alice/tokens`, { body: {}, token: t.apiKey });
    expect(r.status).toBe(201);
    expect(r.body.wsUrl).toBe(`ws://sb.test/sip/${t.id}/alice?token=${encodeURIComponent(r.body.token)}`);
    expect(r.body.sipUri).toBe(`sip:alice@${t.domain}`);
    expect(r.body.expiresAt).toBeGreaterThanOrEqual(now + 3599);
    expect(r.body.expiresAt).toBeLessThanOrEqual(now + 3601);
    expect((await api('POST', `${T(t.id)}/users/alice/tokens`, { body: { ttl: 86_401 }, token: t.apiKey })).status).toBe(400);
    expect((await api('POST', `${T(t.id)}/users/nobody/tokens`, { body: {}, token: t.apiKey })).status).toBe(404);
  });

  it('trades a password for a token; a wrong password or unknown user gets 401 alike', async () => {
    const t = await newTenant();
    await addUser(t, 'alice', { password: 'alice-password' });
    const ok = await api('POST', `${T(t.id)}/login`, { body: { user: 'alice', password: 'alice-password' }, token: null });
    expect(ok.status).toBe(200);
    expect(ok.body.sipUri).toBe(`sip:alice@${t.domain}`);
    const wrong = await api('POST', `${T(t.id)}/login`, { body: { user: 'alice', password: 'nope-nope' }, token: null });
    const unknown = await api('POST', `${T(t.id)}/login`, { body: { user: 'mallory', password: 'nope-nope' }, token: null });
    expect(wrong.status).toBe(401);
    expect(unknown.body).toEqual(wrong.body);
  });

  it('a user token opens its own socket only; tampered and foreign tokens are refused', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    await addUser(t, 'bob');
    const token = await tokenFor(t, 'alice');
    expect((await upgrade(`/sip/${t.id}/alice?token=${token}`)).status).toBe(101);
    const forBob = await upgrade(`/sip/${t.id}/bob?token=${token}`);
    expect(forBob.status).toBe(403);
    const [header, payload, sig] = token.split('.');
    const forged = `${header}.${payload}.${sig!.slice(0, -2)}${sig!.endsWith('AA') ? 'BB' : 'AA'}`;
    const tampered = await upgrade(`/sip/${t.id}/alice?token=${forged}`);
    expect(tampered.status).toBe(401);
    expect(((await tampered.json()) as { error: { message: string } }).error.message).toMatch(/signature/);
    // Claims rewritten to another user, header and signature kept: refused.
    const rewritten = encodeBase64Url(new TextEncoder().encode(JSON.stringify({ ...decode(token).payload, sub: 'bob' })).buffer).replace(/=+$/, '');
    const asBob = await upgrade(`/sip/${t.id}/bob?token=${header}.${rewritten}.${sig}`);
    expect(asBob.status).toBe(401);
    expect(((await asBob.json()) as { error: { message: string } }).error.message).toMatch(/signature/);
    expect((await upgrade(`/sip/${t.id}/alice?token=garbage`)).status).toBe(401);
  });

  it('an expired token is refused at the upgrade', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    const r = await api('POST', `${T(t.id)}/users/alice/tokens`, { body: { ttl: 1 }, token: t.apiKey });
    await new Promise((res) => setTimeout(res, 1100));
    const res = await upgrade(`/sip/${t.id}/alice?token=${encodeURIComponent(r.body.token)}`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/expired/);
  });

  it('a socket opened with a token is not challenged for REGISTER or INVITE', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    await addUser(t, 'bob');
    const alice = await Phone.connect(t, 'alice');
    const bob = await Phone.connect(t, 'bob');
    alice.sock.send(alice.ua.register().text);
    expect(what(await alice.sock.next())).toBe('200 REGISTER');
    await bob.register();
    alice.sock.send(alice.ua.invite('bob').text);
    expect(what(await alice.sock.next())).toBe('100 INVITE');
    await bob.sock.next('INVITE');
  });
});

describe('the rest of the API surface', () => {
  it('serves the OpenAPI 3.1 document generated from the schemas', async () => {
    const res = await exports.default.fetch(`${BASE}/openapi.json`);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/tenants', '/v1/tenants/{tenant}', '/v1/tenants/{tenant}/users/{user}', '/v1/tenants/{tenant}/users/{user}/tokens', '/v1/tenants/{tenant}/ice-servers']),
    );
    expect(doc.components.schemas).toHaveProperty('TenantCreate');
  });

  it('answers unknown endpoints with a JSON 404', async () => {
    const r = await api('GET', '/v1/nothing-here');
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('not_found');
  });

  it('hands out STUN-only ICE servers when no TURN is configured, to a user token', async () => {
    const t = await newTenant({ flowGraceSeconds: 12 });
    await addUser(t, 'alice');
    const token = await tokenFor(t, 'alice');
    const r = await api('GET', `${T(t.id)}/ice-servers`, { token });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ iceServers: [{ urls: ['stun:stun.cloudflare.com:3478'] }], expiresAt: null, flowGraceSeconds: 12 });
    expect((await api('GET', `${T(t.id)}/ice-servers`, { token: null })).status).toBe(401);
    const other = await newTenant();
    expect((await api('GET', `${T(other.id)}/ice-servers`, { token })).status).toBe(403);
  });
});

describe('a tenant’s push credentials (FCM, APNs)', () => {
  const pem = async (alg: Parameters<typeof crypto.subtle.generateKey>[0]): Promise<string> => {
    const keys = (await crypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
    const der = new Uint8Array((await crypto.subtle.exportKey('pkcs8', keys.privateKey)) as ArrayBuffer);
    return `-----BEGIN PRIVATE KEY-----\n${btoa(String.fromCharCode(...der))}\n-----END PRIVATE KEY-----\n`;
  };

  it('are checked when set, shown without their keys, and removed with null', async () => {
    const t = await newTenant();
    const rsa = await pem({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' });
    const ec = await pem({ name: 'ECDSA', namedCurve: 'P-256' });
    const serviceAccount = JSON.stringify({ type: 'service_account', project_id: 'acme-phone', client_email: 'push@acme-phone.iam.gserviceaccount.com', private_key: rsa });
    const bad = [
      [{ fcm: { serviceAccount: 'not json' } }, 'invalid_push_config'],
      [{ fcm: { serviceAccount: JSON.stringify({ project_id: 'x' }) } }, 'invalid_push_config'],
      [{ fcm: { serviceAccount: JSON.stringify({ project_id: 'x', client_email: 'y', private_key: ec }) } }, 'invalid_push_config'],
      [{ apns: { teamId: 'TEAM123456', keyId: 'KEY1234567', privateKey: rsa, topic: 'com.acme.phone' } }, 'invalid_push_config'],
      [{ apns: { teamId: 'team', keyId: 'KEY1234567', privateKey: ec, topic: 'com.acme.phone' } }, 'invalid_request'],
      [{ webpush: {} }, 'invalid_request'],
    ] as const;
    for (const [push, code] of bad) {
      const r = await api('PATCH', T(t.id), { body: { push }, token: t.apiKey });
      expect(r.status, JSON.stringify(push).slice(0, 80)).toBe(400);
      expect(r.body.error.code).toBe(code);
    }
    expect((await api('GET', T(t.id), { token: t.apiKey })).body.push).toEqual({ fcm: null, apns: null });

    const set = await api('PATCH', T(t.id), { body: { push: { fcm: { serviceAccount }, apns: { teamId: 'TEAM123456', keyId: 'KEY1234567', privateKey: ec, topic: 'com.acme.phone.voip' } } }, token: t.apiKey });
    expect(set.status).toBe(200);
    const shown = await api('GET', T(t.id), { token: t.apiKey });
    expect(shown.body.push).toEqual({ fcm: { projectId: 'acme-phone', clientEmail: 'push@acme-phone.iam.gserviceaccount.com' }, apns: { teamId: 'TEAM123456', keyId: 'KEY1234567', topic: 'com.acme.phone.voip' } });
    expect(JSON.stringify(shown.body)).not.toContain('PRIVATE KEY');
    // A field left out keeps its value; null removes it.
    await api('PATCH', T(t.id), { body: { push: { apns: null } }, token: t.apiKey });
    expect((await api('GET', T(t.id), { token: t.apiKey })).body.push).toEqual({ fcm: { projectId: 'acme-phone', clientEmail: 'push@acme-phone.iam.gserviceaccount.com' }, apns: null });
    await api('PATCH', T(t.id), { body: { push: null }, token: t.apiKey });
    expect((await api('GET', T(t.id), { token: t.apiKey })).body.push).toEqual({ fcm: null, apns: null });
  });
});

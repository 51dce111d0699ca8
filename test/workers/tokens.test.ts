/**
 * User tokens are HS256 JWTs under the tenant's secret (durable-objects/tenant/tokens.ts):
 * what is refused, and as what (malformed, bad signature, expired), inside workerd.
 */
import { describe, expect, it } from 'vitest';
import { decode, sign } from 'hono/jwt';
import { encodeBase64Url } from 'hono/utils/encode';
import { peekToken, signToken, verifyToken, type TokenClaims } from '../../durable-objects/tenant/tokens.js';
import { addUser, api, newTenant, tokenFor, upgrade } from './helpers.js';

const NOW = 1_800_000_000;
const SECRET = 'tenant-secret-one';
const CLAIMS: TokenClaims = { tenant: 'acme', user: 'alice', domain: 'sip.acme.example', generation: 'gen1', issuedAt: NOW, expiresAt: NOW + 3600 };

const b64url = (text: string): string => encodeBase64Url(new TextEncoder().encode(text).buffer).replace(/=+$/, '');
const part = (json: unknown): string => b64url(JSON.stringify(json));
const WIRE = { sub: 'alice', tenant: 'acme', domain: 'sip.acme.example', gen: 'gen1', iat: NOW, exp: NOW + 3600 };

describe('token format', () => {
  it('is a JWT: an HS256 header, sub for the user, private claims for tenant, domain and generation', async () => {
    const token = await signToken(SECRET, CLAIMS);
    expect(decode(token)).toEqual({ header: { alg: 'HS256', typ: 'JWT' }, payload: WIRE });
    expect(peekToken(token)).toEqual(CLAIMS);
    expect(await verifyToken([SECRET], token, NOW)).toEqual({ ok: true, claims: CLAIMS });
  });

  it('a token of the format before JWT (<claims>.<signature>) is malformed', async () => {
    const old = `${part({ t: 'acme', u: 'alice', exp: NOW + 3600, d: 'sip.acme.example', g: 'gen1' })}.${'A'.repeat(43)}`;
    expect(peekToken(old)).toBeNull();
    expect(await verifyToken([SECRET], old, NOW)).toEqual({ ok: false, reason: 'malformed' });
  });
});

describe('token verification refuses', () => {
  it('a signature by another key', async () => {
    expect(await verifyToken([SECRET], await signToken('someone-else', CLAIMS), NOW)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('an expired token, from its exp second on; an expired forgery is a bad signature', async () => {
    const token = await signToken(SECRET, CLAIMS);
    expect((await verifyToken([SECRET], token, CLAIMS.expiresAt - 1)).ok).toBe(true);
    expect(await verifyToken([SECRET], token, CLAIMS.expiresAt)).toEqual({ ok: false, reason: 'expired' });
    expect(await verifyToken([SECRET], await signToken('someone-else', CLAIMS), CLAIMS.expiresAt)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('alg none, signed or not', async () => {
    const [, payload, sig] = (await signToken(SECRET, CLAIMS)).split('.');
    for (const token of [`${part({ alg: 'none', typ: 'JWT' })}.${payload}.`, `${part({ alg: 'none' })}.${payload}.${sig}`]) {
      expect(peekToken(token)).toBeNull();
      expect(await verifyToken([SECRET], token, NOW)).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('another HMAC (HS512) under the right secret', async () => {
    const token = await sign(WIRE, SECRET, 'HS512');
    expect(decode(token).header.alg).toBe('HS512');
    expect(await verifyToken([SECRET], token, NOW)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('a public-key algorithm (RS256), a real signature or the HS256 one under an RS256 header', async () => {
    const keys = (await crypto.subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      true,
      ['sign', 'verify'],
    )) as CryptoKeyPair;
    expect(await verifyToken([SECRET], await sign(WIRE, keys.privateKey, 'RS256'), NOW)).toEqual({ ok: false, reason: 'malformed' });
    const [, payload, sig] = (await signToken(SECRET, CLAIMS)).split('.');
    expect(await verifyToken([SECRET], `${part({ alg: 'RS256', typ: 'JWT' })}.${payload}.${sig}`, NOW)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('a header with more than alg and typ (crit, kid)', async () => {
    const [, payload, sig] = (await signToken(SECRET, CLAIMS)).split('.');
    for (const header of [{ alg: 'HS256', typ: 'JWT', crit: ['exp'] }, { alg: 'HS256', kid: 'k1' }, { alg: 'HS256', typ: 'at+jwt' }]) {
      expect(await verifyToken([SECRET], `${part(header)}.${payload}.${sig}`, NOW)).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('a tampered payload, signature kept', async () => {
    const [header, , sig] = (await signToken(SECRET, CLAIMS)).split('.');
    for (const claims of [{ ...WIRE, sub: 'bob' }, { ...WIRE, exp: NOW + 86_400 * 365 }, { ...WIRE, gen: 'gen0' }]) {
      const token = `${header}.${part(claims)}.${sig}`;
      expect(peekToken(token)).not.toBeNull();
      expect(await verifyToken([SECRET], token, NOW)).toEqual({ ok: false, reason: 'bad-signature' });
    }
  });

  it('a key rotated out; while both are held, either will do', async () => {
    const old = await signToken('old-secret', CLAIMS);
    expect((await verifyToken(['new-secret', 'old-secret'], old, NOW)).ok).toBe(true);
    expect((await verifyToken(['new-secret', 'old-secret'], await signToken('new-secret', CLAIMS), NOW)).ok).toBe(true);
    expect(await verifyToken(['new-secret'], old, NOW)).toEqual({ ok: false, reason: 'bad-signature' });
    expect(await verifyToken([], old, NOW)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('claims without the tenant, the user, or any other we issue, even when signed', async () => {
    for (const key of ['tenant', 'sub', 'domain', 'gen', 'iat', 'exp'] as const) {
      const { [key]: _dropped, ...rest } = WIRE;
      const token = await sign(rest, SECRET);
      expect(peekToken(token), key).toBeNull();
      expect(await verifyToken([SECRET], token, NOW), key).toEqual({ ok: false, reason: 'malformed' });
    }
    expect(await verifyToken([SECRET], await sign({ ...WIRE, sub: 42 }, SECRET), NOW)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('what is no JWT at all', async () => {
    for (const token of ['', 'garbage', 'a.b.c', 'a.b', `${part({ alg: 'HS256' })}.${b64url('not json')}.${'A'.repeat(43)}`, `${part({ alg: 'HS256' })}.${part([1, 2])}.${'A'.repeat(43)}`]) {
      expect(await verifyToken([SECRET], token, NOW), token).toEqual({ ok: false, reason: 'malformed' });
    }
  });
});

describe('tokens at the edge', () => {
  it('a token of the old format is refused at the upgrade as malformed (401 invalid_token) and opens no API call', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    const old = `${part({ t: t.id, u: 'alice', exp: Math.floor(Date.now() / 1000) + 3600 })}.${'A'.repeat(43)}`;
    const res = await upgrade(`/sip/${t.id}/alice?token=${old}`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { code: 'invalid_token', message: 'the token is malformed' } });
    expect((await api('GET', `/v1/tenants/${t.id}/ice-servers`, { token: old })).status).toBe(401);
    // The tenant's own tokens, for comparison, open both.
    const token = await tokenFor(t, 'alice');
    const opened = await upgrade(`/sip/${t.id}/alice?token=${token}`);
    expect(opened.status).toBe(101);
    opened.webSocket!.accept();
    opened.webSocket!.close(1000, 'done');
    expect((await api('GET', `/v1/tenants/${t.id}/ice-servers`, { token })).status).toBe(200);
  });
});

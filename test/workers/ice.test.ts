import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BASE, addUser, newTenant, tokenFor } from './helpers.js';
import { createApp } from '../../worker/app.js';

afterEach(() => {
  vi.restoreAllMocks();
});

async function iceWith(vars: Record<string, string | undefined>) {
  const t = await newTenant();
  await addUser(t, 'alice');
  const token = await tokenFor(t, 'alice');
  const res = await createApp().fetch(new Request(`${BASE}/v1/tenants/${t.id}/ice-servers`, { headers: { Authorization: `Bearer ${token}` } }), { ...env, ...vars });
  return { t, status: res.status, body: (await res.json()) as any };
}

async function hmacSha1Base64(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-1' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(text)));
  return btoa(String.fromCharCode(...mac));
}

describe('ICE servers with TURN REST credentials (coturn use-auth-secret)', () => {
  it('issues expiring credentials named after the tenant and user, signed by the first secret', async () => {
    const before = Math.floor(Date.now() / 1000);
    const { t, status, body } = await iceWith({
      TURN_URLS: 'stun:127.0.0.1:3478, turn:127.0.0.1:3478?transport=udp, turn:127.0.0.1:3478?transport=tcp, turns:turn.example.com:5349?transport=tcp',
      TURN_SECRET: 'new-secret,old-secret',
    });
    expect(status).toBe(200);
    const [stun, turn] = body.iceServers;
    expect(stun).toEqual({ urls: ['stun:127.0.0.1:3478'] });
    expect(turn.urls).toEqual(['turn:127.0.0.1:3478?transport=udp', 'turn:127.0.0.1:3478?transport=tcp', 'turns:turn.example.com:5349?transport=tcp']);
    const [expiry, identity] = turn.username.split(':');
    expect(identity).toBe(`${t.id}.alice`);
    expect(Number(expiry)).toBe(body.expiresAt);
    expect(body.expiresAt).toBeGreaterThanOrEqual(before + 3600);
    expect(body.expiresAt).toBeLessThanOrEqual(before + 3602);
    expect(turn.credential).toBe(await hmacSha1Base64('new-secret', turn.username));
  });

  it('honours TURN_TTL', async () => {
    const before = Math.floor(Date.now() / 1000);
    const { body } = await iceWith({ TURN_URLS: 'turn:127.0.0.1:3478', TURN_SECRET: 's', TURN_TTL: '600' });
    expect(body.expiresAt).toBeLessThanOrEqual(before + 602);
  });

  it.each([
    [{ TURN_URLS: 'turn:127.0.0.1:3478' }, /TURN_SECRET is not/],
    [{ TURN_SECRET: 'only-a-secret' }, /TURN_URLS is not/],
    [{ TURN_URLS: 'http://not-turn', TURN_SECRET: 's' }, /turn:, turns: or stun:/],
    [{ TURN_KEY_ID: 'key-without-token' }, /TURN_KEY_ID and TURN_KEY_API_TOKEN/],
    [{ TURN_URLS: 'turn:127.0.0.1:3478', TURN_SECRET: 's', TURN_TTL: '5' }, /TURN_TTL/],
  ])('a half configuration %j is a clear error (503) in the answer and in the logs, never STUN only', async (vars, message) => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const { status, body } = await iceWith(vars as Record<string, string>);
    expect(status).toBe(503);
    expect(body.error.code).toBe('ice_misconfigured');
    expect(body.error.message).toMatch(message);
    expect(logged.mock.calls.flat().join(' ')).toMatch(message);
  });
});

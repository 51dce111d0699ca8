/**
 * Apple Push Notification service: a push to one device token over the provider API,
 * authenticated by a provider token (an ES256 JWT from the team's signing key, reused for
 * up to 50 minutes: Apple refuses one older than an hour, and one renewed too often).
 */
import { sign } from 'hono/jwt';
import type { PushResult } from './web-push.js';

export interface ApnsConfig {
  readonly teamId: string;
  readonly keyId: string;
  /** The .p8 signing key (PKCS #8 PEM, P-256). */
  readonly privateKey: string;
  /** The app's bundle id; a binding's pn-param (the topic it registered) wins. */
  readonly topic: string;
  /** Defaults to Apple's production host; a test points it at its stand-in. */
  readonly endpoint?: string;
}

const providerTokens = new Map<string, { token: string; until: number }>();

async function providerToken(c: ApnsConfig, now: number): Promise<string> {
  const key = `${c.teamId} ${c.keyId}`;
  const cached = providerTokens.get(key);
  if (cached && cached.until > now) return cached.token;
  const token = await signWithKid({ iss: c.teamId, iat: Math.floor(now / 1000) }, c.privateKey, c.keyId);
  providerTokens.set(key, { token, until: now + 50 * 60_000 });
  return token;
}

/** An ES256 JWT whose header names the key (`kid`), as APNs requires: hono/jwt writes the `kid` of a JWK. */
async function signWithKid(claims: Record<string, unknown>, pem: string, kid: string): Promise<string> {
  const key = await crypto.subtle.importKey('pkcs8', pemBytes(pem), { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign']);
  const jwk = (await crypto.subtle.exportKey('jwk', key)) as JsonWebKey;
  return sign(claims, { ...jwk, alg: 'ES256', kid }, 'ES256');
}

/** The DER bytes of a PEM key. */
export function pemBytes(pem: string): Uint8Array<ArrayBuffer> {
  const b64 = pem.replace(/-----(BEGIN|END)[^-]+-----/g, '').replace(/\s+/g, '');
  return Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
}

/**
 * Sends a wake-up: a VoIP push when the topic ends in `.voip` (PushKit: the app must
 * report a call), else an alert. 410 Unregistered, or 400 BadDeviceToken, means gone.
 */
export async function sendApns(c: ApnsConfig, deviceToken: string, payload: Record<string, string>, o: { ttlSeconds: number; topic?: string | null; fetcher?: typeof fetch; now?: number }): Promise<PushResult> {
  const now = o.now ?? Date.now();
  const topic = o.topic || c.topic;
  const voip = topic.endsWith('.voip');
  const res = await (o.fetcher ?? fetch)(`${c.endpoint ?? 'https://api.push.apple.com'}/3/device/${encodeURIComponent(deviceToken)}`, {
    method: 'POST',
    headers: {
      authorization: `bearer ${await providerToken(c, now)}`,
      'apns-topic': topic,
      'apns-push-type': voip ? 'voip' : 'alert',
      'apns-priority': '10',
      'apns-expiration': String(Math.floor(now / 1000) + o.ttlSeconds),
      'content-type': 'application/json',
    },
    body: JSON.stringify(voip ? { ...payload } : { aps: { alert: { title: 'Incoming call', body: payload.from ?? '' }, sound: 'default' }, ...payload }),
  });
  const body = (await res.json().catch(() => null)) as { reason?: string } | null;
  return { status: res.status, gone: res.status === 410 || (res.status === 400 && body?.reason === 'BadDeviceToken') };
}

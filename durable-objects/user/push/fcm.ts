/**
 * Firebase Cloud Messaging, HTTP v1 API: a data message to one registration token. The
 * service account signs a JWT (RS256) that Google's OAuth 2.0 token endpoint exchanges
 * for an access token (RFC 7523 JWT bearer grant), kept until shortly before it expires.
 */
import { sign } from 'hono/jwt';
import type { PushResult } from './web-push.js';

export interface FcmConfig {
  readonly projectId: string;
  /** The service account's `client_email`. */
  readonly clientEmail: string;
  /** The service account's `private_key` (PKCS #8 PEM). */
  readonly privateKey: string;
  /** Defaults to Google's; a test points these at its stand-ins. */
  readonly tokenUri?: string;
  readonly endpoint?: string;
}

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const tokens = new Map<string, { token: string; until: number }>();

async function accessToken(c: FcmConfig, fetcher: typeof fetch, now: number): Promise<string> {
  const tokenUri = c.tokenUri ?? 'https://oauth2.googleapis.com/token';
  const key = `${c.clientEmail} ${tokenUri}`;
  const cached = tokens.get(key);
  if (cached && cached.until > now) return cached.token;
  const iat = Math.floor(now / 1000);
  const assertion = await sign({ iss: c.clientEmail, scope: SCOPE, aud: tokenUri, iat, exp: iat + 3600 }, c.privateKey, 'RS256');
  const res = await fetcher(tokenUri, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }).toString(),
  });
  const body = (await res.json().catch(() => null)) as { access_token?: string; expires_in?: number } | null;
  if (!res.ok || !body?.access_token) throw new Error(`FCM token endpoint answered ${res.status}`);
  // Renewed a minute early, so that no push goes out with a token about to lapse.
  tokens.set(key, { token: body.access_token, until: now + Math.max(0, (body.expires_in ?? 3600) - 60) * 1000 });
  return body.access_token;
}

/**
 * Sends a high-priority data message (the app wakes and registers; it draws its own
 * call screen). 404 UNREGISTERED, or 400 for a token FCM does not know, means the device
 * is gone.
 */
export async function sendFcm(c: FcmConfig, token: string, data: Record<string, string>, o: { ttlSeconds: number; fetcher?: typeof fetch; now?: number }): Promise<PushResult> {
  const fetcher = o.fetcher ?? fetch;
  const bearer = await accessToken(c, fetcher, o.now ?? Date.now());
  const res = await fetcher(`${c.endpoint ?? 'https://fcm.googleapis.com'}/v1/projects/${encodeURIComponent(c.projectId)}/messages:send`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${bearer}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ message: { token, data, android: { priority: 'high', ttl: `${o.ttlSeconds}s` } } }),
  });
  const body = (await res.json().catch(() => null)) as { error?: { status?: string; details?: Array<{ errorCode?: string }> } } | null;
  const code = body?.error?.details?.find((d) => d.errorCode)?.errorCode ?? body?.error?.status;
  return { status: res.status, gone: res.status === 404 || code === 'UNREGISTERED' || (res.status === 400 && code === 'INVALID_ARGUMENT') };
}

/**
 * User tokens: `<payload>.<signature>`, both base64url; the signature is HMAC-SHA256 of
 * the payload under the tenant's token secret. The Worker checks them at the WebSocket
 * upgrade, before the user's object is reached.
 */

export interface TokenClaims {
  /** tenant */
  readonly t: string;
  /** user */
  readonly u: string;
  /** expiry, unix seconds */
  readonly exp: number;
  /** the tenant's SIP domain when issued (lets a page build its SIP URI from a token link) */
  readonly d?: string;
  /** The generation of the user's tokens when issued: a token of an older one is refused. */
  readonly g?: string;
}

export const DEFAULT_TOKEN_TTL = 3600;
export const MAX_TOKEN_TTL = 86_400;

const b64url = (bytes: Uint8Array): string => {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};

const fromB64url = (s: string): Uint8Array | null => {
  // A length of 4n+1 is no base64 at all (atob would throw): a malformed token, not a 500.
  if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) return null;
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
};

async function hmac(secret: string, data: string): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(data)));
}

export async function signToken(secret: string, claims: TokenClaims): Promise<string> {
  const payload = b64url(new TextEncoder().encode(JSON.stringify(claims)));
  return `${payload}.${b64url(await hmac(secret, payload))}`;
}

/** Reads the claims without trusting them, to find which tenant's secret to check with. */
export function peekToken(token: string): TokenClaims | null {
  const [payload] = token.split('.');
  const bytes = payload ? fromB64url(payload) : null;
  if (!bytes) return null;
  try {
    const c = JSON.parse(new TextDecoder().decode(bytes)) as Partial<TokenClaims>;
    return typeof c.t === 'string' && typeof c.u === 'string' && typeof c.exp === 'number' ? (c as TokenClaims) : null;
  } catch {
    return null;
  }
}

export type TokenCheck = { readonly ok: true; readonly claims: TokenClaims } | { readonly ok: false; readonly reason: 'malformed' | 'bad-signature' | 'expired' };

/** Verifies signature (constant time) and expiry. */
export async function verifyToken(secrets: readonly string[], token: string, nowSeconds: number): Promise<TokenCheck> {
  const parts = token.split('.');
  if (parts.length !== 2) return { ok: false, reason: 'malformed' };
  const claims = peekToken(token);
  const sig = fromB64url(parts[1]!);
  if (!claims || !sig) return { ok: false, reason: 'malformed' };
  let valid = false;
  for (const secret of secrets) {
    const expected = await hmac(secret, parts[0]!);
    valid = timingSafeEqualBytes(expected, sig) || valid;
  }
  if (!valid) return { ok: false, reason: 'bad-signature' };
  if (claims.exp <= nowSeconds) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}

export function timingSafeEqualBytes(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

export async function sha256Hex(text: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * What a token link carries. Tokens are `<base64url JSON claims>.<signature>`; the page
 * reads the claims (tenant, user, expiry, SIP domain) without checking the signature: the
 * Worker checks it at the WebSocket upgrade and at the API.
 */

export interface TokenClaims {
  readonly tenant: string;
  readonly user: string;
  /** Unix seconds. */
  readonly expiresAt: number;
  /** The tenant's SIP domain when the token was issued. */
  readonly domain: string;
}

export function readTokenClaims(token: string): TokenClaims | null {
  const payload = token.split('.')[0] ?? '';
  if (!/^[A-Za-z0-9_-]+$/.test(payload)) return null;
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((payload.length + 3) % 4));
    const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
    const c = JSON.parse(new TextDecoder().decode(bytes)) as { t?: unknown; u?: unknown; exp?: unknown; d?: unknown };
    if (typeof c.t !== 'string' || typeof c.u !== 'string' || typeof c.exp !== 'number') return null;
    return { tenant: c.t, user: c.u, expiresAt: c.exp, domain: typeof c.d === 'string' ? c.d : `${c.t}.switchboard.invalid` };
  } catch {
    return null;
  }
}

/**
 * What a token link carries. Tokens are JWTs (HS256, durable-objects/tenant/tokens.ts:
 * `sub` the user, `tenant`, `domain`, `exp`); the page reads the claims without checking
 * the signature: the Worker checks it at the WebSocket upgrade and at the API.
 */
import { decode } from 'hono/utils/jwt/jwt';

export interface TokenClaims {
  readonly tenant: string;
  readonly user: string;
  /** Unix seconds. */
  readonly expiresAt: number;
  /** The tenant's SIP domain when the token was issued. */
  readonly domain: string;
}

export function readTokenClaims(token: string): TokenClaims | null {
  try {
    const { sub, tenant, domain, exp } = decode(token).payload;
    if (typeof sub !== 'string' || typeof tenant !== 'string' || typeof domain !== 'string' || typeof exp !== 'number') return null;
    return { tenant, user: sub, expiresAt: exp, domain };
  } catch {
    return null;
  }
}

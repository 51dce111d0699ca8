/**
 * User tokens: JSON Web Tokens (RFC 7519) signed HS256, HMAC-SHA256 under the tenant's
 * token secret (RFC 7518 §3.2), made and checked by Hono's JWT helper. The Worker checks
 * them at the WebSocket upgrade, before the user's object is reached, and at the API.
 *
 * Claims (what `signToken` writes and `peekToken` insists on, all required):
 * - `sub`: the user id (RFC 7519 §4.1.2), unique within its tenant;
 * - `tenant`: the tenant id (private claim, §4.3), which names the secret to check with;
 * - `domain`: the tenant's SIP domain when issued, so a page builds its SIP URI from a
 *   token link alone (web/token.ts);
 * - `gen`: the user's token generation when issued: a token of an older one is refused
 *   (revocation, TenantObject.tokenCurrent);
 * - `iat`, `exp`: issue and expiry time, unix seconds (§4.1.6, §4.1.4).
 *
 * The header must be `{"alg":"HS256","typ":"JWT"}` (or without `typ`), nothing more: `none`,
 * another HMAC or a public-key algorithm is malformed, never tried (RFC 8725 §3.1, §3.2). A
 * token of the format before JWT (`<claims>.<signature>`) is malformed too.
 */
import { decode, sign, verify } from 'hono/jwt';
import { JwtTokenSignatureMismatched } from 'hono/utils/jwt/types';

type Jwt = ReturnType<typeof decode>;

export interface TokenClaims {
  readonly tenant: string;
  readonly user: string;
  /** The tenant's SIP domain when issued. */
  readonly domain: string;
  /** The generation of the user's tokens when issued. */
  readonly generation: string;
  /** Unix seconds. */
  readonly issuedAt: number;
  /** Unix seconds. */
  readonly expiresAt: number;
}

export const DEFAULT_TOKEN_TTL = 3600;
export const MAX_TOKEN_TTL = 86_400;

const ALG = 'HS256';

/** Three base64url parts without padding; an HS256 signature is 32 bytes, 43 characters. */
const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/;

export function signToken(secret: string, claims: TokenClaims): Promise<string> {
  const payload = { sub: claims.user, tenant: claims.tenant, domain: claims.domain, gen: claims.generation, iat: claims.issuedAt, exp: claims.expiresAt };
  return sign(payload, secret, ALG);
}

/** Reads the claims without trusting them, to find which tenant's secret to check with. */
export function peekToken(token: string): TokenClaims | null {
  if (!JWS_COMPACT.test(token)) return null;
  let jwt: Jwt;
  try {
    jwt = decode(token);
  } catch {
    return null;
  }
  const header: unknown = jwt.header;
  const payload: unknown = jwt.payload;
  if (typeof header !== 'object' || header === null || Object.keys(header).some((k) => k !== 'alg' && k !== 'typ')) return null;
  const { alg, typ } = header as { alg?: unknown; typ?: unknown };
  if (alg !== ALG || (typ !== undefined && typ !== 'JWT')) return null;
  if (typeof payload !== 'object' || payload === null) return null;
  const { sub, tenant, domain, gen, iat, exp } = payload as Record<string, unknown>;
  if (typeof sub !== 'string' || typeof tenant !== 'string' || typeof domain !== 'string' || typeof gen !== 'string') return null;
  if (!Number.isFinite(iat) || !Number.isFinite(exp)) return null;
  return { tenant, user: sub, domain, generation: gen, issuedAt: iat as number, expiresAt: exp as number };
}

export type TokenCheck = { readonly ok: true; readonly claims: TokenClaims } | { readonly ok: false; readonly reason: 'malformed' | 'bad-signature' | 'expired' };

/**
 * Checks the form, then the signature under each of `secrets` (key rotation: any of them
 * will do; every one is tried, so the time says nothing about which matched), then the
 * expiry against `nowSeconds`. The signature is compared by WebCrypto's HMAC verify, in
 * constant time. Expiry is checked here rather than by Hono, after the signature, so an
 * expired forgery is a bad signature; `iat` is not checked against the clock, which
 * may run behind the tenant's object that issued the token.
 */
export async function verifyToken(secrets: readonly string[], token: string, nowSeconds: number): Promise<TokenCheck> {
  const claims = peekToken(token);
  if (!claims) return { ok: false, reason: 'malformed' };
  let valid = false;
  for (const secret of secrets) {
    const signed = await signedWith(secret, token);
    if (signed === 'malformed') return { ok: false, reason: 'malformed' };
    valid = signed || valid;
  }
  if (!valid) return { ok: false, reason: 'bad-signature' };
  if (claims.expiresAt <= nowSeconds) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}

async function signedWith(secret: string, token: string): Promise<boolean | 'malformed'> {
  try {
    await verify(token, secret, { alg: ALG, exp: false, iat: false, nbf: false });
    return true;
  } catch (err) {
    if (err instanceof JwtTokenSignatureMismatched) return false;
    // Anything else Hono refuses (a header peekToken let through) is the token's form.
    return 'malformed';
  }
}

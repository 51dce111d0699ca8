/**
 * Who is calling the management API. Admin: `Bearer <ADMIN_TOKEN>`; a tenant:
 * `Bearer sbk_<tenant>_...` (its API key); a user: `Bearer <user token>` (only for the
 * endpoints a browser needs, such as ICE servers). All comparisons are constant time.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { Env } from '../../durable-objects/env.js';
import { peekToken, verifyToken } from '../../durable-objects/tenant/tokens.js';
import { ApiFailure } from './respond.js';
import type { EdgeCache } from '../edge-cache.js';
import { clientIp } from '../sip-edge.js';
import { isTenantId } from '../../sip/policy/identity.js';
import { digestHash } from '../../sip/auth/digest.js';
import { timingSafeEqual } from '../../sip/auth/timing-safe-equal.js';

export type Principal = { readonly kind: 'admin' } | { readonly kind: 'tenant'; readonly tenant: string } | { readonly kind: 'user'; readonly tenant: string; readonly user: string };

export interface ApiEnv {
  Bindings: Env;
  Variables: { principal: Principal | null; cache: EdgeCache };
}

/** Compared as SHA-256 hashes, so that not even the secret's length shows in the time. */
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digestHash('SHA-256', a), digestHash('SHA-256', b));
}

export function resolvePrincipal(cache: EdgeCache): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    c.set('principal', null);
    c.set('cache', cache);
    const m = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('Authorization') ?? '');
    const bearer = m?.[1];
    if (bearer) {
      if (c.env.ADMIN_TOKEN && sameSecret(bearer, c.env.ADMIN_TOKEN)) {
        c.set('principal', { kind: 'admin' });
      } else if (bearer.startsWith('sbk_')) {
        const tenant = bearer.slice(4, bearer.indexOf('_', 4));
        // An unknown tenant's object is never addressed (the directory answers first).
        if (isTenantId(tenant) && (await cache.get(c.env, tenant)) && (await c.env.TENANTS.get(c.env.TENANTS.idFromName(tenant)).checkApiKey(bearer))) {
          c.set('principal', { kind: 'tenant', tenant });
        }
      } else {
        const claims = peekToken(bearer);
        const view = claims && isTenantId(claims.tenant) ? await cache.get(c.env, claims.tenant) : null;
        if (claims && view) {
          const check = await verifyToken(view.tokenSecrets, bearer, Math.floor(Date.now() / 1000));
          // Signed and unexpired is not enough: the user must exist, be enabled, and the
          // token be of the user's current generation (revocation), as its object says now.
          if (check.ok && (await c.env.TENANTS.get(c.env.TENANTS.idFromName(claims.tenant)).tokenCurrent(claims.user, claims.generation))) {
            c.set('principal', { kind: 'user', tenant: claims.tenant, user: claims.user });
          }
        }
      }
    }
    await next();
  };
}

/**
 * Per-address limit on API calls (brute force, runaway scripts); `API_RATE_LIMIT=off`
 * disables it. Logins have a budget of their own (LOGIN_LIMITER), so a guessing run
 * locks out neither the address's admin calls nor anything else.
 */
export function apiRateLimit(): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (c.env.API_RATE_LIMIT !== 'off') {
      const login = /^\/v1\/tenants\/[^/]+\/login$/.test(c.req.path);
      const limiter = login ? c.env.LOGIN_LIMITER : c.env.API_LIMITER;
      if (limiter) {
        const { success } = await limiter.limit({ key: clientIp(c.req.raw) });
        if (!success) throw new ApiFailure(429, 'rate_limited', login ? 'too many logins from this address' : 'too many API calls from this address', { 'Retry-After': '60' });
      }
    }
    await next();
  };
}

/** Throws unless the caller is the admin (503 when no admin token is configured at all). */
export function requireAdmin(c: Context<ApiEnv>): void {
  if (!c.env.ADMIN_TOKEN) {
    throw new ApiFailure(503, 'admin_not_configured', 'the admin API is disabled: set the ADMIN_TOKEN secret (wrangler secret put ADMIN_TOKEN, or ADMIN_TOKEN=... in .dev.vars locally)');
  }
  const p = c.get('principal');
  if (!p) throw new ApiFailure(401, 'unauthorized', 'send Authorization: Bearer <admin token>', { 'WWW-Authenticate': 'Bearer' });
  if (p.kind !== 'admin') throw new ApiFailure(403, 'forbidden', 'this call needs the admin token');
}

/** Throws unless the caller is the admin, the tenant's own API key, or (with `allowUser`) one of its users. */
export function requireTenant(c: Context<ApiEnv>, tenant: string, allowUser = false): Principal {
  const p = c.get('principal');
  if (!p) throw new ApiFailure(401, 'unauthorized', 'send Authorization: Bearer <API key>', { 'WWW-Authenticate': 'Bearer' });
  if (p.kind === 'admin') return p;
  if (p.tenant !== tenant) throw new ApiFailure(403, 'forbidden', 'these credentials belong to another tenant');
  if (p.kind === 'user' && !allowUser) throw new ApiFailure(403, 'forbidden', 'a user token cannot manage the tenant');
  return p;
}

/**
 * The SIP-over-WebSocket edge (RFC 7118): `GET /sip/{tenant}/{user}` with Upgrade. The
 * Worker checks the request, the client's upgrade rate and any token, then hands the raw
 * upgrade to the user's Durable Object, which accepts the socket (hibernatable).
 */
import { Hono } from 'hono';
import type { Env } from '../durable-objects/env.js';
import { jsonError } from '../durable-objects/shared/http.js';
import { peekToken, verifyToken } from '../durable-objects/tenant/tokens.js';
import { isTenantId, isUserId } from '../sip/policy/identity.js';
import type { EdgeCache } from './edge-cache.js';
import { defaultDomain, policyOf } from '../durable-objects/tenant/model.js';
import { DEFAULT_LIMITS, withDefaultLimits } from '../sip/io.js';
import { standInSocket } from './stand-in-socket.js';
import { userObject } from '../durable-objects/shared/names.js';

export { userObject };

/**
 * The client's address. Only `CF-Connecting-IP`, which Cloudflare's edge sets and no
 * client can, names it; a client's `X-Forwarded-For` is its own claim and is never read.
 * Locally `wrangler dev` sets it too; a request without it (a test calling the Worker
 * directly) counts as one shared address, `unknown`.
 */
export function clientIp(req: Request): string {
  return req.headers.get('CF-Connecting-IP') ?? 'unknown';
}

export function sipEdge(cache: EdgeCache): Hono<{ Bindings: Env }> {
  const app = new Hono<{ Bindings: Env }>();

  app.all('/:tenant/:user', async (c) => {
    const { tenant, user } = c.req.param();
    const req = c.req.raw;
    const protocols = (req.headers.get('Sec-WebSocket-Protocol') ?? '').split(',').map((p) => p.trim().toLowerCase());
    if (req.method !== 'GET' || req.headers.get('Upgrade')?.toLowerCase() !== 'websocket' || !protocols.includes('sip')) {
      return new Response('Upgrade Required: open a WebSocket to this URL offering the "sip" subprotocol (RFC 7118).\n', {
        status: 426,
        headers: { Upgrade: 'websocket', 'Content-Type': 'text/plain; charset=utf-8' },
      });
    }
    if (!isTenantId(tenant) || !isUserId(user)) return jsonError(404, 'not_found', 'no such tenant or user');

    if (c.env.UPGRADE_RATE_LIMIT !== 'off' && c.env.UPGRADE_LIMITER) {
      const { success } = await c.env.UPGRADE_LIMITER.limit({ key: clientIp(req) });
      if (!success) return jsonError(429, 'rate_limited', 'too many WebSocket upgrades from this address; retry shortly', { 'Retry-After': '60' });
    }

    const ip = clientIp(req);
    const token = new URL(req.url).searchParams.get('token');
    let generation: string | null = null;
    if (token !== null) {
      const claims = peekToken(token);
      if (!claims) return jsonError(401, 'invalid_token', 'the token is malformed');
      if (claims.tenant !== tenant || claims.user !== user) return jsonError(403, 'token_mismatch', 'the token was issued for another user');
      const view = await cache.get(c.env, tenant);
      if (!view) return jsonError(401, 'invalid_token', 'the token signature is not valid');
      const check = await verifyToken(view.tokenSecrets, token, Math.floor(Date.now() / 1000));
      if (!check.ok) return jsonError(401, 'invalid_token', check.reason === 'expired' ? 'the token has expired' : 'the token signature is not valid');
      // The user's object has the last word on the token's generation (revocation).
      if (!(await cache.user(c.env, tenant, user)).exists) return jsonError(401, 'token_revoked', 'the token is no longer valid');
      generation = claims.generation;
    } else {
      // Until a socket has authenticated, a user who does not exist (or may not sign in)
      // looks exactly like one who does: the same 101 and the same challenges, from a
      // stand-in here in the Worker, so that no object is addressed or created for it.
      const who = await cache.user(c.env, tenant, user);
      if (!who.exists || !who.enabled) {
        const view = await cache.get(c.env, tenant);
        const policy = view ? withDefaultLimits(policyOf(view.tenant)) : { ...DEFAULT_LIMITS, tenant, domain: defaultDomain(tenant) };
        return standInSocket(user, policy, ip);
      }
    }

    // Only the Worker may say who the socket is: drop any such header from the client.
    const headers = new Headers();
    for (const [k, v] of req.headers) if (!k.toLowerCase().startsWith('x-switchboard-')) headers.set(k, v);
    headers.set('X-Switchboard-Tenant', tenant);
    headers.set('X-Switchboard-User', user);
    headers.set('X-Switchboard-Client', ip);
    if (generation !== null) {
      headers.set('X-Switchboard-Auth', 'token');
      headers.set('X-Switchboard-Token-Generation', generation);
    }
    return userObject(c.env, tenant, user).fetch(new Request(req.url, { method: 'GET', headers }));
  });

  return app;
}

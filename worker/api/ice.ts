/**
 * GET /v1/tenants/{tenant}/ice-servers: ICE servers with time-limited TURN credentials.
 * A user token, the tenant's API key or the admin token may ask.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { EdgeCache } from '../edge-cache.js';
import { iceServersFor, IceConfigError } from '../ice-servers.js';
import { requireTenant } from './auth.js';
import { ApiFailure, apiApp } from './respond.js';
import { ErrorBody, errorResponses, IceServers, TenantIdParam, UserIdParam } from './schemas.js';

export function iceRoutes(cache: EdgeCache) {
  const app = apiApp();
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/ice-servers',
      summary: 'ICE servers for a browser, with TURN credentials that expire',
      security: [{ bearer: [] }],
      request: {
        params: z.object({ tenant: TenantIdParam }),
        query: z.object({ user: UserIdParam.optional().openapi({ description: 'Whose credentials (API key or admin callers); a user token names its own user.' }) }),
      },
      responses: {
        200: { description: 'ICE servers', content: { 'application/json': { schema: IceServers } } },
        503: { description: 'TURN is configured wrongly', content: { 'application/json': { schema: ErrorBody } } },
        ...errorResponses,
      },
    }),
    async (c) => {
      const { tenant } = c.req.valid('param');
      const who = requireTenant(c, tenant, true);
      const view = await cache.get(c.env, tenant);
      if (!view) throw new ApiFailure(404, 'tenant_not_found', 'no such tenant');
      const user = who.kind === 'user' ? who.user : (c.req.valid('query').user ?? 'api');
      try {
        // The page needs the grace too: a call whose socket stays down longer is over (flow recovery).
        return c.json({ ...(await iceServersFor(c.env, view.ice, `${tenant}.${user}`)), flowGraceSeconds: view.tenant.limits.flowGraceSeconds }, 200);
      } catch (err) {
        if (err instanceof IceConfigError) {
          console.error(`switchboard: ICE configuration error: ${err.message}`);
          throw new ApiFailure(503, 'ice_misconfigured', err.message);
        }
        throw err;
      }
    },
  );
  return app;
}

/**
 * /v1/tenants/{tenant}/users: provision users, read their live state, list, delete,
 * issue WebSocket tokens, and read call history.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { requireTenant } from './auth.js';
import { ApiFailure, apiApp, existingTenant, unwrap } from './respond.js';
import { CallRecord, ErrorBody, errorResponses, Login, TenantIdParam, TokenIssued, TokenRequest, User, UserDetail, UserIdParam, UserPage, UserPut } from './schemas.js';
import { clientIp, userObject } from '../sip-edge.js';

const security = [{ bearer: [] }];
const json = <T>(schema: T) => ({ content: { 'application/json': { schema } } });
const tenantParams = z.object({ tenant: TenantIdParam });
const userParams = z.object({ tenant: TenantIdParam, user: UserIdParam });

function issued(requestUrl: string, tenant: string, user: string, r: { token: string; expiresAt: number; domain: string }) {
  const url = new URL(requestUrl);
  const scheme = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const wsUrl = `${scheme}//${url.host}/sip/${tenant}/${encodeURIComponent(user)}?token=${encodeURIComponent(r.token)}`;
  return { token: r.token, wsUrl, sipUri: `sip:${user}@${r.domain}`, expiresAt: r.expiresAt };
}

export function userRoutes() {
  const app = apiApp();

  app.openapi(
    createRoute({
      method: 'put',
      path: '/v1/tenants/{tenant}/users/{user}',
      summary: 'Create or update a user. Only HA1 digests of the password are kept.',
      security,
      request: { params: userParams, body: { ...json(UserPut), required: true } },
      responses: { 200: { description: 'Updated', ...json(User) }, 201: { description: 'Created', ...json(User) }, 503: { description: 'Could not apply', ...json(ErrorBody) }, ...errorResponses },
    }),
    async (c) => {
      const { tenant, user } = c.req.valid('param');
      requireTenant(c, tenant);
      const r = unwrap(await (await existingTenant(c, tenant)).putUser(user, c.req.valid('json')));
      c.get('cache').forget(tenant, user);
      return c.json(r.user, r.created ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/users/{user}',
      summary: 'A user with its live registrations and active calls',
      security,
      request: { params: userParams },
      responses: { 200: { description: 'The user', ...json(UserDetail) }, ...errorResponses },
    }),
    async (c) => {
      const { tenant, user } = c.req.valid('param');
      requireTenant(c, tenant);
      const r = unwrap(await (await existingTenant(c, tenant)).getUser(user));
      return c.json(r as z.infer<typeof UserDetail>, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/users',
      summary: 'List users, by id, one page at a time',
      security,
      request: {
        params: tenantParams,
        query: z.object({
          cursor: z.string().max(64).optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
        }),
      },
      responses: { 200: { description: 'A page of users', ...json(UserPage) }, ...errorResponses },
    }),
    async (c) => {
      const { tenant } = c.req.valid('param');
      requireTenant(c, tenant);
      const { cursor, limit } = c.req.valid('query');
      const r = unwrap(await (await existingTenant(c, tenant)).listUsers(cursor ?? null, limit));
      return c.json(r, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/tenants/{tenant}/users/{user}',
      summary: "Delete a user: its sockets close and its calls end with BYE",
      security,
      request: { params: userParams },
      responses: { 200: { description: 'Deleted', ...json(z.object({ deleted: z.string() })) }, ...errorResponses },
    }),
    async (c) => {
      const { tenant, user } = c.req.valid('param');
      requireTenant(c, tenant);
      unwrap(await (await existingTenant(c, tenant)).deleteUser(user));
      c.get('cache').forget(tenant, user);
      return c.json({ deleted: user }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/tenants/{tenant}/users/{user}/tokens',
      summary: 'Issue a token for a WebSocket (a JWT, HS256; default 1 h, at most 24 h)',
      security,
      request: { params: userParams, body: { ...json(TokenRequest), required: false } },
      responses: { 201: { description: 'The token and where to use it', ...json(TokenIssued) }, ...errorResponses },
    }),
    async (c) => {
      const { tenant, user } = c.req.valid('param');
      requireTenant(c, tenant);
      const body = c.req.valid('json') ?? {};
      const r = unwrap(await (await existingTenant(c, tenant)).issueToken(user, body.ttl));
      return c.json(issued(c.req.url, tenant, user, r), 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/tenants/{tenant}/users/{user}/tokens/revoke',
      summary: "Revoke every token of the user: they stop working at once, and the sockets they opened close",
      security,
      request: { params: userParams },
      responses: { 200: { description: 'Revoked', ...json(z.object({ revoked: z.string() })) }, 503: { description: 'Could not apply', ...json(ErrorBody) }, ...errorResponses },
    }),
    async (c) => {
      const { tenant, user } = c.req.valid('param');
      requireTenant(c, tenant);
      unwrap(await (await existingTenant(c, tenant)).revokeTokens(user));
      return c.json({ revoked: user }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/tenants/{tenant}/login',
      summary: "Exchange a user's password for a token (no bearer needed; rate limited per address)",
      request: { params: tenantParams, body: { ...json(Login), required: true } },
      responses: { 200: { description: 'A token for this user', ...json(TokenIssued) }, ...errorResponses },
    }),
    async (c) => {
      const { tenant } = c.req.valid('param');
      const { user, password, ttl } = c.req.valid('json');
      // An unknown tenant answers as a wrong password does, and addresses no object.
      if (!(await c.get('cache').get(c.env, tenant))) throw new ApiFailure(401, 'invalid_credentials', 'unknown user or wrong password');
      const r = unwrap(await (await existingTenant(c, tenant)).login(user, password, ttl, clientIp(c.req.raw)));
      return c.json(issued(c.req.url, tenant, user, r), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/users/{user}/calls',
      summary: "The user's call history, newest first",
      security,
      request: { params: userParams, query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }) },
      responses: { 200: { description: 'Calls', ...json(z.object({ calls: z.array(CallRecord) })) }, ...errorResponses },
    }),
    async (c) => {
      const { tenant, user } = c.req.valid('param');
      requireTenant(c, tenant);
      unwrap(await (await existingTenant(c, tenant)).getUser(user));
      const calls = await userObject(c.env, tenant, user).history(c.req.valid('query').limit);
      return c.json({ calls: calls as Array<z.infer<typeof CallRecord>> }, 200);
    },
  );

  return app;
}

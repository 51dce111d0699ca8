/**
 * /v1/tenants: create (admin), read, update, delete, rotate the API key.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { EdgeCache } from '../edge-cache.js';
import { requireAdmin, requireTenant } from './auth.js';
import { ApiFailure, apiApp, existingTenant, tenantObject, unwrap } from './respond.js';
import { ApiKey, ErrorBody, errorResponses, Tenant, TenantCreate, TenantCreated, TenantIdParam, TenantPatch } from './schemas.js';

const security = [{ bearer: [] }];
const json = <T>(schema: T) => ({ content: { 'application/json': { schema } } });
const params = z.object({ tenant: TenantIdParam });

export function tenantRoutes(cache: EdgeCache) {
  const app = apiApp();

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/tenants',
      summary: 'Create a tenant (admin). The API key is returned only once.',
      security,
      request: { body: { ...json(TenantCreate), required: true } },
      responses: { 201: { description: 'Created', ...json(TenantCreated) }, 409: { description: 'Already exists', ...json(ErrorBody) }, ...errorResponses },
    }),
    async (c) => {
      requireAdmin(c);
      const body = c.req.valid('json');
      const r = unwrap(await tenantObject(c.env, body.id).create(body));
      cache.forget(body.id);
      return c.json(r, 201);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/tenants/{tenant}', summary: 'Read a tenant', security, request: { params }, responses: { 200: { description: 'The tenant', ...json(Tenant) }, ...errorResponses } }),
    async (c) => {
      const { tenant } = c.req.valid('param');
      requireTenant(c, tenant);
      const r = unwrap(await (await existingTenant(c, tenant)).get());
      return c.json(r, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/v1/tenants/{tenant}',
      summary: 'Update a tenant. Limits can be changed by the admin only.',
      security,
      request: { params, body: { ...json(TenantPatch), required: true } },
      responses: { 200: { description: 'The updated tenant', ...json(Tenant) }, ...errorResponses },
    }),
    async (c) => {
      const { tenant } = c.req.valid('param');
      requireTenant(c, tenant);
      const body = c.req.valid('json');
      if (body.limits && c.get('principal')?.kind !== 'admin') throw new ApiFailure(403, 'forbidden', 'only the admin can change limits');
      const r = unwrap(await (await existingTenant(c, tenant)).update(body));
      cache.forget(tenant);
      return c.json(r, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/tenants/{tenant}',
      summary: 'Delete a tenant and all its users (admin). Their calls end with BYE.',
      security,
      request: { params },
      responses: { 200: { description: 'Deleted', ...json(z.object({ deleted: z.string(), deletedUsers: z.number() })) }, ...errorResponses },
    }),
    async (c) => {
      requireAdmin(c);
      const { tenant } = c.req.valid('param');
      const r = unwrap(await (await existingTenant(c, tenant)).destroy());
      cache.forget(tenant);
      return c.json({ deleted: tenant, deletedUsers: r.deletedUsers }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/tenants/{tenant}/api-keys',
      summary: 'Rotate the API key. The old key stops working immediately.',
      security,
      request: { params },
      responses: { 201: { description: 'The new key, shown once', ...json(ApiKey) }, ...errorResponses },
    }),
    async (c) => {
      const { tenant } = c.req.valid('param');
      requireTenant(c, tenant);
      const r = unwrap(await (await existingTenant(c, tenant)).rotateKey());
      cache.forget(tenant);
      return c.json(r, 201);
    },
  );

  return app;
}

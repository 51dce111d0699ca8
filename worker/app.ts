/**
 * The edge Worker: one Hono app. `/sip/*` upgrades WebSockets, `/v1/*` is the management
 * API (OpenAPI at /openapi.json), `/healthz` is for load balancers; everything else is the
 * softphone page, served as static assets before the Worker runs.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';
import { bodyLimit } from 'hono/body-limit';
import { jsonError } from '../durable-objects/shared/http.js';
import { EdgeCache } from './edge-cache.js';
import { apiRateLimit, resolvePrincipal, type ApiEnv } from './api/auth.js';
import { ApiFailure } from './api/respond.js';
import { tenantRoutes } from './api/tenants.js';
import { userRoutes } from './api/users.js';
import { iceRoutes } from './api/ice.js';
import { pushRoutes } from './api/push.js';
import { sipEdge } from './sip-edge.js';

export const API_BODY_LIMIT = 64 * 1024;

export function createApp(): OpenAPIHono<ApiEnv> {
  const cache = new EdgeCache();
  const app = new OpenAPIHono<ApiEnv>();

  app.get('/healthz', (c) => c.json({ ok: true, service: 'switchboard' }));
  app.route('/sip', sipEdge(cache));

  app.use(
    '/v1/*',
    bodyLimit({ maxSize: API_BODY_LIMIT, onError: () => jsonError(413, 'payload_too_large', `request bodies are limited to ${API_BODY_LIMIT} bytes`) }),
    apiRateLimit(),
    resolvePrincipal(cache),
  );
  app.route('/', tenantRoutes(cache));
  app.route('/', userRoutes());
  app.route('/', iceRoutes(cache));
  app.route('/', pushRoutes());

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'The admin token, a tenant API key (sbk_...), or a user token where noted.',
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Switchboard API', version: '1.0.0', description: 'Provisioning for the Switchboard SIP-over-WebSocket service.' },
  });

  app.notFound(() => jsonError(404, 'not_found', 'no such endpoint'));
  app.onError((err) => {
    if (err instanceof ApiFailure) return err.toResponse();
    if (err instanceof HTTPException) {
      const status = err.status as 400 | 401 | 403 | 404 | 413 | 429;
      return jsonError(status, status === 400 ? 'invalid_request' : 'error', err.message || 'request refused');
    }
    console.error('switchboard: unhandled error', err instanceof Error ? err.message : err);
    return jsonError(500, 'internal', 'internal error');
  });
  return app;
}

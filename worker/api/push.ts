/**
 * GET /v1/push: what a browser needs to subscribe to Web Push for this service: the VAPID
 * public key (RFC 8292 §3.2), which `PushManager.subscribe` takes as its
 * `applicationServerKey`. Public by nature, so no credentials are asked.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { apiApp } from './respond.js';

export function pushRoutes() {
  const app = apiApp();
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/push',
      summary: 'The Web Push application server key, for browsers that want to be woken for calls',
      responses: {
        200: {
          description: 'null when Web Push is not configured',
          content: { 'application/json': { schema: z.object({ vapidPublicKey: z.string().nullable() }).openapi('PushConfig') } },
        },
      },
    }),
    (c) => c.json({ vapidPublicKey: c.env.VAPID_PUBLIC_KEY && c.env.VAPID_PRIVATE_KEY ? c.env.VAPID_PUBLIC_KEY : null }, 200),
  );
  return app;
}

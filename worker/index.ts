/**
 * Worker entry point: the Hono app, and the Durable Object classes it binds.
 */
import type { Env } from '../durable-objects/env.js';
import { createApp } from './app.js';

export { UserObject } from '../durable-objects/user/user-object.js';
export { TenantObject } from '../durable-objects/tenant/tenant-object.js';
export { DirectoryObject } from '../durable-objects/directory/directory-object.js';

const app = createApp();

export default {
  fetch: (request: Request, env: Env, ctx: ExecutionContext) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;

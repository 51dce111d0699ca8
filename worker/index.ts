/**
 * Worker entry point: the Hono app, and the Durable Object classes it binds.
 */
import type { Env } from '../durable-objects/env.js';
import { metered } from '../durable-objects/shared/meter.js';
import { UserObject as UserObjectImpl } from '../durable-objects/user/user-object.js';
import { createApp } from './app.js';

/** The user's object; with `SWITCHBOARD_METER=1` (the bench's metered pass) it counts per event (meter.ts). */
export const UserObject = metered(UserObjectImpl, ['relayRequest', 'relayResponse', 'lookAtCall', 'configure', 'snapshot', 'history', 'remove']);
export { TenantObject } from '../durable-objects/tenant/tenant-object.js';
export { DirectoryObject } from '../durable-objects/directory/directory-object.js';

const app = createApp();

export default {
  fetch: (request: Request, env: Env, ctx: ExecutionContext) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;

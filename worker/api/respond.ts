/**
 * Shared pieces of the API sub-apps: the validation hook that turns zod issues into a
 * 400 with per-field details, failures as thrown `ApiFailure`s answered by the app's one
 * `onError`, and the mapping of management outcomes to values or failures.
 */
import { tenantObject } from '../../durable-objects/shared/names.js';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Outcome } from '../../durable-objects/shared/outcome.js';
import { jsonError } from '../../durable-objects/shared/http.js';
import type { ApiEnv } from './auth.js';

export class ApiFailure extends HTTPException {
  constructor(
    status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly details?: unknown,
  ) {
    super(status, { message });
  }

  toResponse(): Response {
    return jsonError(this.status, this.code, this.message, this.headers, this.details);
  }
}

export function apiApp(): OpenAPIHono<ApiEnv> {
  return new OpenAPIHono<ApiEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const details = result.error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message }));
        throw new ApiFailure(400, 'invalid_request', 'the request does not match the schema', {}, details);
      }
    },
  });
}

/** The tenant's object for an id, without asking whether it exists: only to create one. */
export { tenantObject };

/**
 * The object of a tenant the directory knows; 404 otherwise. Every call about an existing
 * tenant goes through here, so a request naming an unknown one addresses no object and
 * creates no storage.
 */
export async function existingTenant(c: Context<ApiEnv>, tenant: string) {
  if (!(await c.get('cache').get(c.env, tenant))) throw new ApiFailure(404, 'tenant_not_found', 'no such tenant');
  return tenantObject(c.env, tenant);
}

/** The value of a successful outcome; a failed one becomes the matching HTTP error. */
export function unwrap<T>(o: Outcome<T>): T {
  if (o.ok) return o.value;
  throw new ApiFailure(o.error.status, o.error.code, o.error.message);
}

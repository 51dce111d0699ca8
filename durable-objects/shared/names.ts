/**
 * How objects are named: one function each, used by the Worker, the tenant's object and
 * the users' objects alike, so that a user's object is the same object whoever asks.
 */
import type { Env } from '../env.js';

/** A user's object: one per user of a tenant, named `<tenant>/<user>`. */
export function userObject(env: Pick<Env, 'USERS'>, tenant: string, user: string) {
  return env.USERS.get(env.USERS.idFromName(`${tenant}/${user}`));
}

/** A tenant's object, named by the tenant's id. */
export function tenantObject(env: Pick<Env, 'TENANTS'>, tenant: string) {
  return env.TENANTS.get(env.TENANTS.idFromName(tenant));
}

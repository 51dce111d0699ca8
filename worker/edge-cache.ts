/**
 * A per-isolate cache of what the edge needs about tenants and users: whether a tenant
 * exists (from the directory, so an unknown tenant's object is never addressed and so
 * never created), its token secrets and ICE override, and whether a user exists and is
 * enabled. Positive entries live 30 s, negative ones 5 s (a tenant created meanwhile is
 * seen soon; a flood of one unknown name costs one lookup each 5 s). Bounded; losing the
 * cache loses nothing (shared/ttl-map.ts).
 */
import type { Env } from '../durable-objects/env.js';
import { directory } from '../durable-objects/directory/directory-object.js';
import type { EdgeUser, EdgeView } from '../durable-objects/tenant/tenant-object.js';
import { TtlMap } from '../durable-objects/shared/ttl-map.js';

export class EdgeCache {
  private readonly tenants = new TtlMap<EdgeView | null>();
  private readonly users = new TtlMap<EdgeUser>();

  /** The tenant's edge view, or null when the directory has no such tenant. */
  async get(env: Env, tenant: string): Promise<EdgeView | null> {
    return this.tenants.get(
      tenant,
      async () => ((await directory(env).lookup(tenant)) ? await env.TENANTS.get(env.TENANTS.idFromName(tenant)).edgeView() : null),
      (v) => v === null,
    );
  }

  /** Whether the user exists and is enabled; asks the tenant's object only for a tenant that exists. */
  async user(env: Env, tenant: string, user: string): Promise<EdgeUser> {
    if (!(await this.get(env, tenant))) return { exists: false, enabled: false };
    return this.users.get(`${tenant}/${user}`, () => env.TENANTS.get(env.TENANTS.idFromName(tenant)).edgeUser(user), (v) => !v.exists);
  }

  forget(tenant: string, user?: string): void {
    if (user === undefined) {
      this.tenants.forget(tenant);
      this.users.forget(tenant);
    } else this.users.forget(`${tenant}/${user}`);
  }
}

/**
 * A per-isolate cache of what the edge needs about a tenant (token secrets, ICE override),
 * so upgrades with tokens do not hit the tenant's object every time. Entries live 30 s;
 * a cache miss costs one RPC. Losing the cache loses nothing.
 */
import type { Env } from '../durable-objects/env.js';
import type { EdgeView } from '../durable-objects/tenant/tenant-object.js';

const TTL_MS = 30_000;
const MAX_ENTRIES = 1000;

export class EdgeCache {
  private readonly entries = new Map<string, { view: EdgeView | null; at: number }>();

  async get(env: Env, tenant: string): Promise<EdgeView | null> {
    const now = Date.now();
    const hit = this.entries.get(tenant);
    if (hit && now - hit.at < TTL_MS) return hit.view;
    const view = await env.TENANTS.get(env.TENANTS.idFromName(tenant)).edgeView();
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(tenant, { view, at: now });
    return view;
  }

  forget(tenant: string): void {
    this.entries.delete(tenant);
  }
}

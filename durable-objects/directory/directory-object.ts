/**
 * The directory of tenants: one Durable Object for the whole deployment, so that a request
 * naming a tenant that does not exist is answered without addressing (and so creating) an
 * object for it. A tenant's object registers itself here when it is created and leaves
 * when it is deleted; the Worker asks here first, through its per-isolate cache.
 */
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env.js';
import { migrate, type Migration } from '../shared/migrations.js';

const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial', sql: ['CREATE TABLE tenants (id TEXT PRIMARY KEY, domain TEXT NOT NULL)'] },
];

/** The one instance's name. */
export const DIRECTORY_NAME = 'directory';

export interface TenantEntry {
  readonly id: string;
  readonly domain: string;
}

export class DirectoryObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    migrate(ctx.storage, MIGRATIONS);
  }

  async lookup(id: string): Promise<TenantEntry | null> {
    return this.sql.exec<{ id: string; domain: string }>('SELECT id, domain FROM tenants WHERE id = ?', id).toArray()[0] ?? null;
  }

  /** Idempotent: a tenant that was there before the directory existed registers again. */
  async add(entry: TenantEntry): Promise<void> {
    this.sql.exec('INSERT INTO tenants (id, domain) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET domain = excluded.domain', entry.id, entry.domain);
  }

  async remove(id: string): Promise<void> {
    this.sql.exec('DELETE FROM tenants WHERE id = ?', id);
  }
}

export function directory(env: Env): DurableObjectStub<DirectoryObject> {
  return env.DIRECTORY.get(env.DIRECTORY.idFromName(DIRECTORY_NAME));
}

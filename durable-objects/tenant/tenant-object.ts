/**
 * One Durable Object per tenant: the tenant record, its API key (hashed), its token secret
 * and its users' credentials (HA1 only). It is the management plane: signaling never calls
 * it. Whenever a user's credentials or the tenant's policy change, the new copy is pushed
 * into the affected users' objects.
 */
import { applyPush, NO_PUSH, parsePush, pushView, type TenantPush, type TenantPushInput } from './push-config.js';
import { userObject } from '../shared/names.js';
import { DurableObject } from 'cloudflare:workers';
import { computeHa1, digestHash } from '../../sip/auth/digest.js';
import { timingSafeEqual } from '../../sip/auth/timing-safe-equal.js';
import { directory } from '../directory/directory-object.js';
import type { Env } from '../env.js';
import { randomToken } from '../shared/http.js';
import { migrate } from '../shared/migrations.js';
import { fail, ok, type Outcome } from '../shared/outcome.js';
import type { UserIdentity, UserObject, UserSnapshot } from '../user/user-object.js';
import { LoginGuards } from './login-guards.js';
import { TENANT_MIGRATIONS } from './migrations.js';
import { configOf, gruuKeyOf, newApiKey, toTenant, toUser, type TenantRow, type UserRow } from './rows.js';
import { DEFAULT_TENANT_LIMITS, defaultDomain, policyOf, type IceOverride, type Tenant, type TenantLimits, type User } from './model.js';
import { DEFAULT_TOKEN_TTL, MAX_TOKEN_TTL, signToken } from './tokens.js';

export interface TenantInput {
  readonly id: string;
  readonly domain?: string;
  readonly name?: string | null;
  readonly limits?: Partial<TenantLimits>;
}

export interface TenantPatch {
  readonly domain?: string;
  readonly name?: string | null;
  readonly limits?: Partial<TenantLimits>;
  readonly ice?: IceOverride | null;
  readonly push?: TenantPushInput | null;
}

export interface UserInput {
  readonly password?: string;
  readonly displayName?: string | null;
  readonly enabled?: boolean;
}

/** What the Worker needs at a WebSocket upgrade or for ICE servers, cached per isolate. */
export interface EdgeView {
  readonly tenant: Tenant;
  readonly tokenSecrets: readonly string[];
  readonly ice: IceOverride | null;
}

const PUSH_CONCURRENCY = 32;

/** What the edge needs to know of one user before it hands a socket to the user's object. */
export interface EdgeUser {
  readonly exists: boolean;
  readonly enabled: boolean;
}

export class TenantObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /** Management calls served by this instance (kept in memory: counting must not write). */
  private calls = 0;
  /** Failed logins by address and user, in memory: lost only when the object is idle. */
  private readonly loginGuards = new LoginGuards();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    migrate(ctx.storage, TENANT_MIGRATIONS);
  }

  // ------------------------------------------------------------------ tenant

  async create(input: TenantInput): Promise<Outcome<{ tenant: Tenant; apiKey: string }>> {
    this.count();
    const existing = this.row();
    if (existing) {
      // A tenant made before the directory existed registers there now.
      await directory(this.env).add({ id: existing.id, domain: existing.domain });
      return fail(409, 'tenant_exists', `tenant ${input.id} already exists`);
    }
    const now = new Date().toISOString();
    const apiKey = newApiKey(input.id);
    const limits = { ...DEFAULT_TENANT_LIMITS, ...(input.limits ?? {}) };
    this.sql.exec(
      'INSERT INTO tenant (id, domain, name, limits, api_key_hash, token_secret, ice, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)',
      input.id,
      input.domain ?? defaultDomain(input.id),
      input.name ?? null,
      JSON.stringify(limits),
      digestHash('SHA-256', apiKey),
      randomToken(32),
      now,
      now,
    );
    await directory(this.env).add({ id: input.id, domain: input.domain ?? defaultDomain(input.id) });
    return ok({ tenant: this.tenant()!, apiKey });
  }

  async get(): Promise<Outcome<Tenant>> {
    this.count();
    const t = this.tenant();
    return t ? ok(t) : fail(404, 'tenant_not_found', 'no such tenant');
  }

  /** Everything the edge needs about the tenant, in one call it can cache. */
  async edgeView(): Promise<EdgeView | null> {
    this.count();
    const row = this.row();
    if (!row) return null;
    return { tenant: toTenant(row), tokenSecrets: [row.token_secret], ice: row.ice ? (JSON.parse(row.ice) as IceOverride) : null };
  }

  async update(patch: TenantPatch): Promise<Outcome<Tenant>> {
    this.count();
    const row = this.row();
    if (!row) return fail(404, 'tenant_not_found', 'no such tenant');
    const before = toTenant(row);
    if (patch.domain !== undefined && patch.domain !== row.domain) {
      // HA1 = H(user:realm:password) and realm = domain: old HA1s would stop matching.
      const withPassword = this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM users WHERE ha1_md5 IS NOT NULL').one().n;
      if (withPassword > 0) {
        return fail(409, 'domain_in_use', `the domain is the digest realm of ${withPassword} users' passwords; it cannot change while they exist`);
      }
    }
    const limits = { ...before.limits, ...(patch.limits ?? {}) };
    let push = row.push ?? null;
    if (patch.push !== undefined) {
      const applied = patch.push === null ? ({ ok: true, push: NO_PUSH } as const) : await applyPush(parsePush(row.push ?? null), patch.push);
      if (!applied.ok) return fail(400, 'invalid_push_config', applied.message);
      push = applied.push.fcm || applied.push.apns ? JSON.stringify(applied.push) : null;
    }
    const after: Tenant = {
      ...before,
      domain: patch.domain ?? before.domain,
      name: patch.name !== undefined ? patch.name : before.name,
      limits,
      push: pushView(parsePush(push)),
      updatedAt: new Date().toISOString(),
    };
    const policyChanged = JSON.stringify(policyOf(before)) !== JSON.stringify(policyOf(after));
    if (policyChanged) {
      const pushed = await this.pushAll(after);
      if (!pushed) {
        await this.pushAll(before);
        return fail(503, 'push_failed', 'could not update every user; nothing was changed');
      }
    }
    this.sql.exec(
      'UPDATE tenant SET domain = ?, name = ?, limits = ?, ice = ?, push = ?, updated_at = ?',
      after.domain,
      after.name,
      JSON.stringify(after.limits),
      patch.ice !== undefined ? (patch.ice ? JSON.stringify(patch.ice) : null) : row.ice,
      push,
      after.updatedAt,
    );
    if (after.domain !== before.domain) await directory(this.env).add({ id: after.id, domain: after.domain });
    return ok(after);
  }

  /** The tenant's push provider credentials, for a user's object about to send a push. */
  async pushConfig(): Promise<TenantPush> {
    return parsePush(this.row()?.push ?? null);
  }

  async destroy(): Promise<Outcome<{ deletedUsers: number }>> {
    this.count();
    const row = this.row();
    if (!row) return fail(404, 'tenant_not_found', 'no such tenant');
    const ids = this.sql.exec<{ id: string }>('SELECT id FROM users').toArray().map((r) => r.id);
    await this.inBatches(ids, (id) => this.userObject(id).remove());
    this.sql.exec('DELETE FROM users');
    this.sql.exec('DELETE FROM tenant');
    await directory(this.env).remove(row.id);
    return ok({ deletedUsers: ids.length });
  }

  /**
   * Issues a new API key. The old key stops working at once: a leaked key is the usual
   * reason to rotate, so there is no grace period. The token secret rotates with it and
   * every user's token generation is drawn anew, so no token issued before works either.
   */
  async rotateKey(): Promise<Outcome<{ apiKey: string }>> {
    this.count();
    const row = this.row();
    if (!row) return fail(404, 'tenant_not_found', 'no such tenant');
    const apiKey = newApiKey(row.id);
    const tenant = toTenant(row);
    this.sql.exec('UPDATE users SET token_gen = lower(hex(randomblob(8)))');
    if (!(await this.pushAll(tenant))) return fail(503, 'push_failed', 'could not update every user; retry the rotation');
    this.sql.exec('UPDATE tenant SET api_key_hash = ?, token_secret = ?, updated_at = ?', digestHash('SHA-256', apiKey), randomToken(32), new Date().toISOString());
    return ok({ apiKey });
  }

  /** Every token of the user stops working, and the sockets they opened close. */
  async revokeTokens(id: string): Promise<Outcome<{ id: string }>> {
    this.count();
    const t = this.tenant();
    if (!t) return fail(404, 'tenant_not_found', 'no such tenant');
    const user = this.userRow(id);
    if (!user) return fail(404, 'user_not_found', `no user ${id}`);
    const next: UserRow = { ...user, token_gen: randomToken(8) };
    try {
      await this.userObject(id).configure({ tenant: t.id, user: id }, configOf(t, next, gruuKeyOf(this.row()!.token_secret)));
    } catch (err) {
      return fail(503, 'push_failed', `could not reach the user's object: ${err instanceof Error ? err.message : 'unknown error'}`);
    }
    this.sql.exec('UPDATE users SET token_gen = ?, updated_at = ? WHERE id = ?', next.token_gen, new Date().toISOString(), id);
    return ok({ id });
  }

  /** Whether a user exists and may sign in: the edge's choice between the user's object and a stand-in. */
  async edgeUser(id: string): Promise<EdgeUser> {
    const user = this.userRow(id);
    return { exists: user !== null, enabled: user?.enabled === 1 };
  }

  /** A user token's claims checked against the user as it is now (exists, enabled, generation). */
  async tokenCurrent(id: string, generation: string): Promise<boolean> {
    const user = this.userRow(id);
    return user !== null && user.enabled === 1 && generation === user.token_gen;
  }

  /** Compares the hash of the presented key with the stored hash in constant time. */
  async checkApiKey(key: string): Promise<boolean> {
    this.count();
    const row = this.row();
    if (!row) return false;
    return timingSafeEqual(digestHash('SHA-256', key), row.api_key_hash);
  }

  // ------------------------------------------------------------------ users

  async putUser(id: string, input: UserInput): Promise<Outcome<{ user: User; created: boolean }>> {
    this.count();
    const t = this.tenant();
    if (!t) return fail(404, 'tenant_not_found', 'no such tenant');
    const existing = this.userRow(id);
    if (!existing) {
      const n = this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM users').one().n;
      if (n >= t.limits.maxUsers) return fail(403, 'user_limit_reached', `tenant ${t.id} already has its maximum of ${t.limits.maxUsers} users`);
    }
    const now = new Date().toISOString();
    // A new password or a disable ends every token issued before; a new user starts fresh.
    const bump = !existing || input.password !== undefined || (input.enabled === false && existing.enabled === 1);
    const row: UserRow = {
      id,
      display_name: input.displayName !== undefined ? input.displayName : (existing?.display_name ?? null),
      enabled: input.enabled !== undefined ? (input.enabled ? 1 : 0) : (existing?.enabled ?? 1),
      ha1_md5: input.password !== undefined ? computeHa1('MD5', id, t.domain, input.password) : (existing?.ha1_md5 ?? null),
      ha1_sha256: input.password !== undefined ? computeHa1('SHA-256', id, t.domain, input.password) : (existing?.ha1_sha256 ?? null),
      token_gen: bump || !existing ? randomToken(8) : existing.token_gen,
      created_at: existing?.created_at ?? now,
      updated_at: now,
    };
    // Push first: if the user's object cannot take the new credentials, nothing changes.
    try {
      await this.userObject(id).configure({ tenant: t.id, user: id }, configOf(t, row, gruuKeyOf(this.row()!.token_secret)));
    } catch (err) {
      return fail(503, 'push_failed', `could not reach the user's object: ${err instanceof Error ? err.message : 'unknown error'}`);
    }
    this.sql.exec(
      `INSERT INTO users (id, display_name, enabled, ha1_md5, ha1_sha256, token_gen, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name, enabled = excluded.enabled, ha1_md5 = excluded.ha1_md5,
         ha1_sha256 = excluded.ha1_sha256, token_gen = excluded.token_gen, updated_at = excluded.updated_at`,
      row.id,
      row.display_name,
      row.enabled,
      row.ha1_md5,
      row.ha1_sha256,
      row.token_gen,
      row.created_at,
      row.updated_at,
    );
    return ok({ user: toUser(row), created: !existing });
  }

  async getUser(id: string): Promise<Outcome<User & UserSnapshot>> {
    this.count();
    const row = this.userRow(id);
    if (!row) return fail(404, 'user_not_found', `no user ${id}`);
    const snap = (await this.userObject(id).snapshot()) as UserSnapshot;
    return ok({ ...toUser(row), ...snap });
  }

  /** Cursor pagination by id: the cursor is the last id of the previous page. */
  async listUsers(cursor: string | null, limit: number): Promise<Outcome<{ users: User[]; nextCursor: string | null }>> {
    this.count();
    if (!this.row()) return fail(404, 'tenant_not_found', 'no such tenant');
    const rows = this.sql.exec<UserRow>('SELECT * FROM users WHERE id > ? ORDER BY id LIMIT ?', cursor ?? '', limit + 1).toArray();
    const page = rows.slice(0, limit);
    return ok({ users: page.map(toUser), nextCursor: rows.length > limit ? page[page.length - 1]!.id : null });
  }

  async deleteUser(id: string): Promise<Outcome<{ id: string }>> {
    this.count();
    if (!this.userRow(id)) return fail(404, 'user_not_found', `no user ${id}`);
    try {
      await this.userObject(id).remove();
    } catch (err) {
      return fail(503, 'push_failed', `could not reach the user's object: ${err instanceof Error ? err.message : 'unknown error'}`);
    }
    this.sql.exec('DELETE FROM users WHERE id = ?', id);
    return ok({ id });
  }

  async issueToken(id: string, ttlSeconds: number | undefined): Promise<Outcome<{ token: string; expiresAt: number; domain: string }>> {
    this.count();
    const row = this.row();
    if (!row) return fail(404, 'tenant_not_found', 'no such tenant');
    const user = this.userRow(id);
    if (!user) return fail(404, 'user_not_found', `no user ${id}`);
    if (!user.enabled) return fail(403, 'user_disabled', `user ${id} is disabled`);
    const ttl = ttlSeconds ?? DEFAULT_TOKEN_TTL;
    if (ttl < 1 || ttl > MAX_TOKEN_TTL) return fail(400, 'invalid_ttl', `ttl must be between 1 and ${MAX_TOKEN_TTL} seconds`);
    const issuedAt = Math.floor(Date.now() / 1000);
    const expiresAt = issuedAt + ttl;
    const token = await signToken(row.token_secret, { tenant: row.id, user: id, domain: row.domain, generation: user.token_gen, issuedAt, expiresAt });
    return ok({ token, expiresAt, domain: row.domain });
  }

  /**
   * Exchanges a user's password for a token (for a browser that signed in with its
   * password and needs ICE servers). Checked against the stored HA1, in constant time.
   * An unknown user, a wrong password and a disabled user get one and the same answer, so
   * a login confirms nothing; failures are throttled per address and per user as digest
   * answers are (sip/auth-guard.ts).
   */
  async login(id: string, password: string, ttlSeconds: number | undefined, source: string): Promise<Outcome<{ token: string; expiresAt: number; domain: string }>> {
    this.count();
    const row = this.row();
    const user = this.userRow(id);
    const now = Date.now();
    const policy = row ? policyOf(toTenant(row)) : null;
    const locked = policy ? this.loginGuards.lockedFor(id, source, now, policy) : null;
    if (locked !== null) return fail(429, 'too_many_failures', `too many failed logins; retry in ${locked} s`);
    const expected = user?.ha1_md5 ?? '0'.repeat(32);
    const given = computeHa1('MD5', id, row?.domain ?? '', password);
    const match = timingSafeEqual(given, expected);
    if (!row || !user || !match || !user.enabled) {
      if (policy && user) this.loginGuards.failed(id, source, now, policy);
      return fail(401, 'invalid_credentials', 'unknown user or wrong password');
    }
    this.loginGuards.succeeded(id, source, now);
    return this.issueToken(id, ttlSeconds);
  }

  /** How many management calls this object served (the signaling path must add none). */
  async stats(): Promise<{ calls: number }> {
    return { calls: this.calls };
  }

  // ------------------------------------------------------------------ internals

  private count(): void {
    this.calls++;
  }

  private row(): TenantRow | null {
    return this.sql.exec<TenantRow>('SELECT * FROM tenant LIMIT 1').toArray()[0] ?? null;
  }

  private tenant(): Tenant | null {
    const r = this.row();
    return r ? toTenant(r) : null;
  }

  private userRow(id: string): UserRow | null {
    return this.sql.exec<UserRow>('SELECT * FROM users WHERE id = ?', id).toArray()[0] ?? null;
  }

  private userObject(id: string): DurableObjectStub<UserObject> {
    return userObject(this.env, this.row()?.id ?? '', id);
  }

  /** Pushes the tenant's policy to every user. False if any push failed. */
  private async pushAll(t: Tenant): Promise<boolean> {
    const rows = this.sql.exec<UserRow>('SELECT * FROM users').toArray();
    const gruuKey = gruuKeyOf(this.row()!.token_secret);
    let okAll = true;
    await this.inBatches(rows, async (r) => {
      const identity: UserIdentity = { tenant: t.id, user: r.id };
      try {
        await this.userObject(r.id).configure(identity, configOf(t, r, gruuKey));
      } catch {
        okAll = false;
      }
    });
    return okAll;
  }

  private async inBatches<T>(items: readonly T[], fn: (item: T) => Promise<unknown>): Promise<void> {
    for (let i = 0; i < items.length; i += PUSH_CONCURRENCY) {
      await Promise.all(items.slice(i, i + PUSH_CONCURRENCY).map(fn));
    }
  }
}

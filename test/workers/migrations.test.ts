/**
 * The user object's schema moves forward without losing what it kept: an object left at
 * schema 3 (`meta` and `spill` as rowid tables) is migrated on its next wake, keeps its meta
 * and call history, and a meta write then costs one row.
 */
import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { expect, it } from 'vitest';
import { USER_SCHEMA } from '../../durable-objects/user/migrations.js';
import { UserStore } from '../../durable-objects/user/store.js';

it('migrates a schema-3 object to WITHOUT ROWID kv and spilled tables, keeping its meta and calls', async () => {
  const stub = env.USERS.get(env.USERS.idFromName(`migration-${crypto.randomUUID()}/old`));
  await runInDurableObject(stub, (_o, state) => {
    const sql = state.storage.sql;
    // Lay the object back to schema 3, as a deployment before this one left it.
    for (const t of ['kv', 'spilled', 'meta', 'spill', 'calls', '_migrations']) sql.exec(`DROP TABLE IF EXISTS ${t}`);
    sql.exec('CREATE TABLE _migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    for (const v of [1, 2, 3]) sql.exec('INSERT INTO _migrations VALUES (?, ?, ?)', v, `v${v}`, 0);
    sql.exec('CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    sql.exec('CREATE TABLE spill (conn TEXT PRIMARY KEY, data TEXT NOT NULL)');
    sql.exec(`CREATE TABLE calls (id TEXT PRIMARY KEY, call_id TEXT NOT NULL, direction TEXT NOT NULL, peer TEXT NOT NULL,
      created_at INTEGER NOT NULL, answered_at INTEGER, ended_at INTEGER, final_status INTEGER, end_reason TEXT,
      alive_at INTEGER, offer_kinds TEXT, offer_codecs TEXT, answer_kinds TEXT, answer_codecs TEXT) WITHOUT ROWID`);
    sql.exec("INSERT INTO meta VALUES ('schema', '3'), ('nonceSecret', '\"s3cret\"'), ('identity', ?)", JSON.stringify({ tenant: 'old', user: 'u' }));
    sql.exec("INSERT INTO spill VALUES ('c1', '{}')");
    sql.exec("INSERT INTO calls (id, call_id, direction, peer, created_at, answered_at, ended_at, final_status, end_reason, alive_at) VALUES ('d1', 'cid', 'out', 'bob', 1, 2, 3, 200, 'caller-bye', 3)");

    const store = new UserStore(state.storage);
    const meta = store.load();
    expect(meta.nonceSecret).toBe('s3cret');
    expect(meta.identity).toEqual({ tenant: 'old', user: 'u' });
    const ddl = (name: string) => sql.exec<{ sql: string }>('SELECT sql FROM sqlite_master WHERE name = ?', name).one().sql;
    expect(ddl('kv')).toMatch(/WITHOUT ROWID/);
    expect(ddl('spilled')).toMatch(/WITHOUT ROWID/);
    expect(sql.exec("SELECT name FROM sqlite_master WHERE name IN ('meta', 'spill')").toArray()).toEqual([]);
    expect(sql.exec('SELECT conn FROM spilled').toArray()).toEqual([{ conn: 'c1' }]);
    expect(sql.exec('SELECT id, end_reason FROM calls').toArray()).toEqual([{ id: 'd1', end_reason: 'caller-bye' }]);
    expect(sql.exec<{ v: number }>('SELECT MAX(version) AS v FROM _migrations').one().v).toBe(USER_SCHEMA);
    expect(JSON.parse(sql.exec<{ value: string }>("SELECT value FROM kv WHERE key = 'schema'").one().value)).toBe(USER_SCHEMA);

    // One B-tree entry per meta row: an update of the password guard is one row written.
    const cursor = sql.exec("INSERT INTO kv (key, value) VALUES ('authGuard', '{}') ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    cursor.toArray();
    expect(cursor.rowsWritten).toBe(1);
    // Loading again runs no migration.
    const again = new UserStore(state.storage).load();
    expect(again.nonceSecret).toBe('s3cret');
  });
});

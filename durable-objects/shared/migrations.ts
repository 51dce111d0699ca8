/**
 * Versioned SQLite migrations for a Durable Object: numbered steps applied once, in
 * order, inside one transaction each, recorded in `_migrations`. Re-running is a no-op.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: readonly string[];
}

export function migrate(storage: DurableObjectStorage, migrations: readonly Migration[]): void {
  const sql = storage.sql;
  sql.exec('CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const row = sql.exec<{ v: number | null }>('SELECT MAX(version) AS v FROM _migrations').one();
  const current = row.v ?? 0;
  for (const m of migrations) {
    if (m.version <= current) continue;
    storage.transactionSync(() => {
      for (const stmt of m.sql) sql.exec(stmt);
      sql.exec('INSERT INTO _migrations (version, name, applied_at) VALUES (?, ?, ?)', m.version, m.name, Date.now());
    });
  }
}

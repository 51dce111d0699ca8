import type { Migration } from '../shared/migrations.js';

/** Schema of a user's object. Rows hold the core's records as JSON plus the columns queries need. */
export const USER_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: [
      'CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)',
      'CREATE TABLE bindings (id TEXT PRIMARY KEY, conn TEXT NOT NULL, expires_at INTEGER NOT NULL, data TEXT NOT NULL)',
      'CREATE TABLE forks (key TEXT PRIMARY KEY, deadline INTEGER NOT NULL, data TEXT NOT NULL)',
      `CREATE TABLE dialogs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        call_id TEXT NOT NULL,
        direction TEXT NOT NULL,
        peer TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        answered_at INTEGER,
        ended_at INTEGER,
        final_status INTEGER,
        end_reason TEXT,
        data TEXT NOT NULL
      )`,
      'CREATE INDEX dialogs_created ON dialogs (created_at)',
      'CREATE INDEX dialogs_open ON dialogs (state, ended_at)',
      'CREATE TABLE nonces (nonce TEXT PRIMARY KEY, nc INTEGER NOT NULL, expires_at INTEGER NOT NULL)',
    ],
  },
  {
    version: 2,
    name: 'no index on dialog state',
    // Waking reads the live dialogs with `state != 'ended' OR ended_at > ?`, which no index
    // serves (SQLite scans either way), while every write of a dialog had to maintain it.
    sql: ['DROP INDEX IF EXISTS dialogs_open'],
  },
];

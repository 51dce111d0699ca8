import type { Migration } from '../shared/migrations.js';

/**
 * Schema of a user's object. The wake reads `kv` only; migrations run when its
 * `schema` entry is missing or older than USER_SCHEMA (store.ts).
 */
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
    sql: ['DROP INDEX IF EXISTS dialogs_open'],
  },
  {
    version: 3,
    name: 'live state leaves SQLite; one history row per call',
    // Bindings, forks and dialogs now live with their sockets (attachments) and in memory;
    // nonces are bound to their socket and need no row. The history keeps what it had.
    // WITHOUT ROWID: the primary key is the table, so a row written is one B-tree entry.
    sql: [
      `CREATE TABLE calls (
        id TEXT PRIMARY KEY,
        call_id TEXT NOT NULL,
        direction TEXT NOT NULL,
        peer TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        answered_at INTEGER,
        ended_at INTEGER,
        final_status INTEGER,
        end_reason TEXT,
        alive_at INTEGER,
        offer_kinds TEXT,
        offer_codecs TEXT,
        answer_kinds TEXT,
        answer_codecs TEXT
      ) WITHOUT ROWID`,
      `INSERT INTO calls (id, call_id, direction, peer, created_at, answered_at, ended_at, final_status, end_reason, alive_at)
       SELECT id, call_id, direction, peer, created_at, answered_at, ended_at, final_status,
         CASE WHEN state = 'ended' THEN end_reason ELSE NULL END, COALESCE(ended_at, answered_at)
       FROM dialogs WHERE kind = 'call' AND (state = 'ended' OR answered_at IS NOT NULL)`,
      'DROP TABLE dialogs',
      'DROP TABLE bindings',
      'DROP TABLE forks',
      'DROP TABLE nonces',
      // A socket's live records when they outgrow its attachment (live-state.ts): rare.
      'CREATE TABLE spill (conn TEXT PRIMARY KEY, data TEXT NOT NULL)',
    ],
  },
  {
    version: 4,
    name: 'kv and spilled without rowid',
    // A rowid table with a TEXT primary key writes two B-tree entries per row (the row and
    // its key's index): the password guard's update at a first sign-in cost two rows. The
    // tables are copied under new names (workerd's SQLite runs out of memory renaming
    // tables in a thousand objects in one isolate).
    sql: [
      'CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID',
      'INSERT INTO kv (key, value) SELECT key, value FROM meta',
      'DROP TABLE meta',
      'CREATE TABLE spilled (conn TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID',
      'INSERT INTO spilled (conn, data) SELECT conn, data FROM spill',
      'DROP TABLE spill',
    ],
  },
  {
    version: 5,
    name: 'an answered call keeps what routes it',
    // The dialog of an answered call, as it was at the 200 (live-state.ts), written with
    // the row the 200 writes anyway: after a restart, when no socket is left to carry it,
    // the call comes back from here and is held for its devices to return. NULL once the
    // call has ended.
    sql: ['ALTER TABLE calls ADD COLUMN dialog TEXT'],
  },
];

export const USER_SCHEMA = USER_MIGRATIONS[USER_MIGRATIONS.length - 1]!.version;

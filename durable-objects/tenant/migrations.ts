import type { Migration } from '../shared/migrations.js';

export const TENANT_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: [
      `CREATE TABLE tenant (
        id TEXT PRIMARY KEY,
        domain TEXT NOT NULL,
        name TEXT,
        limits TEXT NOT NULL,
        api_key_hash TEXT NOT NULL,
        token_secret TEXT NOT NULL,
        ice TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`,
      `CREATE TABLE users (
        id TEXT PRIMARY KEY,
        display_name TEXT,
        enabled INTEGER NOT NULL,
        ha1_md5 TEXT,
        ha1_sha256 TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`,
      'CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)',
    ],
  },
  {
    version: 2,
    name: 'token generations',
    // A token names the generation of its user's tokens; a password change, disable,
    // revoke or key rotation draws a new one, and a re-created user starts with its own.
    sql: ["ALTER TABLE users ADD COLUMN token_gen TEXT NOT NULL DEFAULT ''", 'UPDATE users SET token_gen = lower(hex(randomblob(8)))'],
  },
  {
    version: 3,
    name: 'push provider credentials',
    // The tenant's own FCM and APNs credentials (push-config.ts), JSON; NULL: none.
    sql: ['ALTER TABLE tenant ADD COLUMN push TEXT'],
  },
];

/**
 * Persists a user's core state in the object's SQLite. The core returns whole new states;
 * the store writes only the records that changed (by identity, since the core never
 * mutates a record in place). Dialogs that leave the live set keep their row as history.
 */
import { EMPTY_GUARD, type AuthGuard } from '../../sip/policy/auth-guard.js';
import type { Binding, Dialog, Fork, UserState } from '../../sip/state.js';
import { LINGER_MS } from '../../sip/dialog/dialog.js';
import { migrate } from '../shared/migrations.js';
import { USER_MIGRATIONS } from './migrations.js';

/** Ended calls kept per user for the history API. */
export const HISTORY_LIMIT = 500;

export interface CallRecord {
  readonly id: string;
  readonly callId: string;
  readonly direction: string;
  readonly peer: string;
  readonly state: string;
  readonly createdAt: number;
  readonly answeredAt: number | null;
  readonly endedAt: number | null;
  readonly finalStatus: number | null;
  readonly endReason: string | null;
  readonly media: { offer: unknown; answer: unknown };
}

const forkKey = (f: Fork): string => `${f.method} ${f.id}`;

export class UserStore {
  private readonly sql: SqlStorage;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
    migrate(storage, USER_MIGRATIONS);
  }

  getMeta<T>(key: string): T | null {
    const rows = this.sql.exec<{ value: string }>('SELECT value FROM meta WHERE key = ?', key).toArray();
    return rows.length > 0 ? (JSON.parse(rows[0]!.value) as T) : null;
  }

  setMeta(key: string, value: unknown): void {
    this.sql.exec('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', key, JSON.stringify(value));
  }

  deleteMeta(key: string): void {
    this.sql.exec('DELETE FROM meta WHERE key = ?', key);
  }

  /**
   * The live state: every binding and fork, and the dialogs the core still holds (not
   * ended, or ended less than LINGER_MS ago; the core forgets those at their deadline).
   */
  load(now: number): UserState {
    const json = <T>(rows: Array<{ data: string }>): T[] => rows.map((r) => JSON.parse(r.data) as T);
    return {
      bindings: json<Binding>(this.sql.exec<{ data: string }>('SELECT data FROM bindings').toArray()),
      forks: json<Fork>(this.sql.exec<{ data: string }>('SELECT data FROM forks').toArray()),
      dialogs: json<Dialog>(
        this.sql.exec<{ data: string }>("SELECT data FROM dialogs WHERE state != 'ended' OR ended_at > ?", now - LINGER_MS).toArray(),
      ),
      guard: this.getMeta<AuthGuard>('authGuard') ?? EMPTY_GUARD,
      // Pending transactions live in memory only (sip/state.ts).
      transactions: [],
    };
  }

  persist(prev: UserState, next: UserState): void {
    if (prev === next) return;
    if (prev.guard !== next.guard) this.setMeta('authGuard', next.guard);
    if (prev.bindings !== next.bindings) {
      this.sync(prev.bindings, next.bindings, (b) => b.id, {
        put: (b: Binding) =>
          this.sql.exec(
            'INSERT INTO bindings (id, conn, expires_at, data) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET conn = excluded.conn, expires_at = excluded.expires_at, data = excluded.data',
            b.id,
            b.conn,
            b.expiresAt,
            JSON.stringify(b),
          ),
        drop: (id) => this.sql.exec('DELETE FROM bindings WHERE id = ?', id),
      });
    }
    if (prev.forks !== next.forks) {
      this.sync(prev.forks, next.forks, forkKey, {
        put: (f: Fork) =>
          this.sql.exec(
            'INSERT INTO forks (key, deadline, data) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET deadline = excluded.deadline, data = excluded.data',
            forkKey(f),
            f.deadline,
            JSON.stringify(f),
          ),
        drop: (key) => this.sql.exec('DELETE FROM forks WHERE key = ?', key),
      });
    }
    if (prev.dialogs !== next.dialogs) {
      this.sync(prev.dialogs, next.dialogs, (d) => d.id, {
        put: (d: Dialog) => this.putDialog(d),
        // A dialog leaving the live set stays as history: nothing to write.
        drop: () => undefined,
      });
    }
  }

  private putDialog(d: Dialog): void {
    this.sql.exec(
      `INSERT INTO dialogs (id, kind, call_id, direction, peer, state, created_at, answered_at, ended_at, final_status, end_reason, data)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET state = excluded.state, answered_at = excluded.answered_at, ended_at = excluded.ended_at,
         final_status = excluded.final_status, end_reason = excluded.end_reason, data = excluded.data`,
      d.id,
      d.kind,
      d.callId,
      d.direction,
      d.peer,
      d.state,
      d.createdAt,
      d.answeredAt,
      d.endedAt,
      d.finalStatus,
      d.endReason,
      JSON.stringify(d),
    );
  }

  /** Writes records that are new or replaced, and drops those that disappeared. */
  private sync<T>(prev: readonly T[], next: readonly T[], key: (t: T) => string, ops: { put: (t: T) => void; drop: (key: string) => void }): void {
    const before = new Map(prev.map((t) => [key(t), t]));
    for (const t of next) {
      const k = key(t);
      if (before.get(k) !== t) ops.put(t);
      before.delete(k);
    }
    for (const k of before.keys()) ops.drop(k);
  }

  /** Calls, newest first: the live ones and the history. */
  calls(limit: number, liveOnly = false): CallRecord[] {
    const rows = this.sql
      .exec<{ data: string }>(
        `SELECT data FROM dialogs WHERE kind = 'call' ${liveOnly ? "AND state != 'ended'" : ''} ORDER BY created_at DESC LIMIT ?`,
        limit,
      )
      .toArray();
    return rows.map((r) => {
      const d = JSON.parse(r.data) as Dialog;
      return {
        id: d.id,
        callId: d.callId,
        direction: d.direction,
        peer: d.peer,
        state: d.state,
        createdAt: d.createdAt,
        answeredAt: d.answeredAt,
        endedAt: d.endedAt,
        finalStatus: d.finalStatus,
        endReason: d.endReason,
        media: { offer: d.offer, answer: d.answer },
      };
    });
  }

  pruneHistory(): void {
    this.sql.exec(
      "DELETE FROM dialogs WHERE id IN (SELECT id FROM dialogs WHERE state = 'ended' ORDER BY created_at DESC LIMIT -1 OFFSET ?)",
      HISTORY_LIMIT,
    );
  }

  /** Removes everything the user's object holds (the user was deleted). */
  wipe(): void {
    for (const t of ['meta', 'bindings', 'forks', 'dialogs', 'nonces']) this.sql.exec(`DELETE FROM ${t}`);
  }
}

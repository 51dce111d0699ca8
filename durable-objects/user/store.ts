/**
 * What a user's object keeps in SQLite: only what must outlive every socket.
 *
 * - `kv`: the identity, configuration and nonce secret the tenant pushed, the password
 *   guard (policy/auth-guard.ts), the calls held for a device whose socket closed
 *   (live-state.ts), and the schema version. A wake reads it in one
 *   statement; the migrations run only when that statement finds no table or an older
 *   schema, so a wake costs no migration check.
 * - `calls`: the call history, one row per call, written when the call is answered (in
 *   the event that forwards its 200, so the output gate holds the 200 until the row is
 *   committed) or when it fails, and completed when it ends. A row per call, plain
 *   columns, no JSON and no secondary index: a write is one row.
 *
 * Bindings, forks and dialogs are not here: they live in memory and in the attachments of
 * the sockets they belong to (live-state.ts).
 */
import type { AuthGuard } from '../../sip/policy/auth-guard.js';
import type { MediaSummary } from '../../sip/policy/sdp.js';
import type { Dialog, PushBinding } from '../../sip/state.js';
import { migrate } from '../shared/migrations.js';
import { USER_MIGRATIONS, USER_SCHEMA } from './migrations.js';
import type { UserConfig, UserIdentity } from './model.js';
import type { SocketRecords } from './live-state.js';

/** Calls kept per user for the history API; older ones are dropped as new ones come. */
export const HISTORY_LIMIT = 500;
/** Every this many new rows, the rows past HISTORY_LIMIT go (one statement, not one per call). */
const PRUNE_EVERY = 50;

export interface CallRecord {
  readonly id: string;
  readonly callId: string;
  readonly direction: string;
  readonly peer: string;
  /** `held`: its user's socket closed, and the call waits for the device to come back. `interrupted`: answered, and cut by a restart of the service before it ended. */
  readonly state: 'early' | 'confirmed' | 'held' | 'ended' | 'interrupted';
  readonly createdAt: number;
  readonly answeredAt: number | null;
  readonly endedAt: number | null;
  readonly finalStatus: number | null;
  readonly endReason: string | null;
  /** The last moment the call was known to be up: its end, or for an interrupted call its last record. */
  readonly lastAliveAt: number | null;
  readonly media: { offer: MediaSummary | null; answer: MediaSummary | null };
}

/** What the object needs on every wake, read together. */
export interface ObjectMeta {
  readonly identity: UserIdentity | null;
  readonly config: UserConfig | null;
  readonly nonceSecret: string | null;
  readonly guard: AuthGuard | null;
  /** Calls held for a device whose socket closed (live-state.ts). */
  readonly held: readonly Dialog[];
  /** Devices that sleep and are woken by push (RFC 8599). */
  readonly push: readonly PushBinding[];
}

interface CallRow extends Record<string, SqlStorageValue> {
  id: string;
  call_id: string;
  direction: string;
  peer: string;
  created_at: number;
  answered_at: number | null;
  ended_at: number | null;
  final_status: number | null;
  end_reason: string | null;
  alive_at: number | null;
  offer_kinds: string | null;
  offer_codecs: string | null;
  answer_kinds: string | null;
  answer_codecs: string | null;
}

export class UserStore {
  private readonly sql: SqlStorage;
  private written = 0;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
  }

  /** The object's meta, in one statement; migrates first when the schema is missing or old. */
  load(): ObjectMeta {
    let meta = this.readKv();
    if (Number(meta.get('schema') ?? 0) < USER_SCHEMA) {
      migrate(this.storage, USER_MIGRATIONS);
      this.setMeta('schema', USER_SCHEMA);
      // What an older schema kept elsewhere (schema 3: the `meta` table) is in `kv` now.
      meta = this.readKv();
    }
    const json = <T>(key: string): T | null => (meta.has(key) ? (JSON.parse(meta.get(key)!) as T) : null);
    return { identity: json('identity'), config: json('config'), nonceSecret: json('nonceSecret'), guard: json('authGuard'), held: json<Dialog[]>('held') ?? [], push: json<PushBinding[]>('push') ?? [] };
  }

  private readKv(): Map<string, string> {
    try {
      return new Map(this.sql.exec<{ key: string; value: string }>('SELECT key, value FROM kv').toArray().map((r) => [r.key, r.value]));
    } catch {
      // No such table yet: a new object, or one of a schema before 4.
      return new Map();
    }
  }

  setMeta(key: string, value: unknown): void {
    this.sql.exec('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', key, JSON.stringify(value));
  }

  /**
   * Writes a call's row: when it is answered, when it ends, or (never answered) when it
   * fails. One row either way; an answered call's end completes the row it already has.
   */
  recordCall(d: Dialog, instance: string | null = null): void {
    // A call brought back after a restart that ended before its device returned (its grace
    // ran out, or the other side hung up meanwhile) was cut by the restart for this user:
    // its row keeps no end (it reads `interrupted`), only that it is settled.
    const cut = d.state === 'ended' && d.restoredAt !== undefined;
    this.sql.exec(
      `INSERT INTO calls (id, call_id, direction, peer, created_at, answered_at, ended_at, final_status, end_reason, alive_at,
         offer_kinds, offer_codecs, answer_kinds, answer_codecs, dialog)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET answered_at = excluded.answered_at, ended_at = excluded.ended_at,
         final_status = excluded.final_status, end_reason = excluded.end_reason, alive_at = excluded.alive_at,
         answer_kinds = excluded.answer_kinds, answer_codecs = excluded.answer_codecs, dialog = excluded.dialog`,
      d.id,
      d.callId,
      d.direction,
      d.peer,
      d.createdAt,
      d.answeredAt,
      cut ? null : d.endedAt,
      d.finalStatus,
      cut ? 'interrupted' : d.endReason,
      cut ? d.answeredAt : (d.endedAt ?? d.answeredAt),
      d.offer ? d.offer.kinds.join(',') : null,
      d.offer ? d.offer.codecs.join(',') : null,
      d.answer ? d.answer.kinds.join(',') : null,
      d.answer ? d.answer.codecs.join(',') : null,
      d.state === 'confirmed' ? JSON.stringify(resumable(d, instance)) : null,
    );
    if (++this.written % PRUNE_EVERY === 0) this.prune();
  }

  /**
   * Answered calls with no end and not settled: after a restart, the calls that were up.
   * One statement over at most HISTORY_LIMIT rows, run only when an object is built with
   * no socket open (user-object.ts), never on a wake that has sockets.
   */
  openCalls(): Dialog[] {
    return this.sql
      .exec<{ dialog: string }>('SELECT dialog FROM calls WHERE dialog IS NOT NULL AND ended_at IS NULL AND end_reason IS NULL')
      .toArray()
      .map((r) => JSON.parse(r.dialog) as Dialog);
  }

  /**
   * Calls, newest first. A row that was answered and has no end is either live (its
   * dialog is among `live`) or was cut by a restart: it then says so, and never claims an
   * end it did not see.
   */
  calls(limit: number, live: ReadonlyMap<string, Dialog>): CallRecord[] {
    const rows = this.sql
      .exec<CallRow>(
        `SELECT id, call_id, direction, peer, created_at, answered_at, ended_at, final_status, end_reason, alive_at,
           offer_kinds, offer_codecs, answer_kinds, answer_codecs FROM calls ORDER BY created_at DESC LIMIT ?`,
        limit,
      )
      .toArray();
    return rows.map((r) => {
      const d = live.get(r.id);
      // A row settled as interrupted (a restored call whose device never came back) stays so, whatever lingers in memory.
      const state: CallRecord['state'] = r.ended_at !== null ? 'ended' : d && r.end_reason !== 'interrupted' ? d.state : 'interrupted';
      return {
        id: r.id,
        callId: r.call_id,
        direction: r.direction,
        peer: r.peer,
        state,
        createdAt: r.created_at,
        answeredAt: r.answered_at,
        endedAt: r.ended_at,
        finalStatus: r.final_status,
        endReason: state === 'interrupted' ? 'interrupted' : r.end_reason,
        lastAliveAt: r.alive_at,
        media: { offer: summary(r.offer_kinds, r.offer_codecs), answer: summary(r.answer_kinds, r.answer_codecs) },
      };
    });
  }

  private prune(): void {
    this.sql.exec('DELETE FROM calls WHERE id IN (SELECT id FROM calls ORDER BY created_at DESC LIMIT -1 OFFSET ?)', HISTORY_LIMIT);
  }

  /** A socket's live records that do not fit its attachment. */
  spill(conn: string, records: SocketRecords): void {
    this.sql.exec('INSERT INTO spilled (conn, data) VALUES (?, ?) ON CONFLICT (conn) DO UPDATE SET data = excluded.data', conn, JSON.stringify(records));
  }

  spilled(conn: string): SocketRecords {
    const rows = this.sql.exec<{ data: string }>('SELECT data FROM spilled WHERE conn = ?', conn).toArray();
    return rows.length > 0 ? (JSON.parse(rows[0]!.data) as SocketRecords) : {};
  }

  unspill(conn: string): void {
    this.sql.exec('DELETE FROM spilled WHERE conn = ?', conn);
  }

  /** Removes everything the user's object holds (the user was deleted). */
  wipe(): void {
    this.sql.exec("DELETE FROM kv WHERE key != 'schema'");
    this.sql.exec('DELETE FROM calls');
    this.sql.exec('DELETE FROM spilled');
  }
}

/** What a call's row keeps of its dialog: what routes it, not which socket it was on. */
function resumable(d: Dialog, instance: string | null): Dialog {
  const { waiting: _w, sessionMs: _s, ...rest } = d;
  return { ...rest, conn: null, deadline: null, instance };
}

/** A live call as the history API shows it, from the dialog in memory. */
export function liveRecord(d: Dialog): CallRecord {
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
    lastAliveAt: d.endedAt ?? d.answeredAt,
    media: { offer: d.offer, answer: d.answer },
  };
}

function summary(kinds: string | null, codecs: string | null): MediaSummary | null {
  if (kinds === null) return null;
  return { kinds: kinds === '' ? [] : kinds.split(','), codecs: codecs ? codecs.split(',') : [] };
}

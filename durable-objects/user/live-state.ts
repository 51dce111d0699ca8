/**
 * Where the user's live state lives: in memory, and with the sockets it belongs to.
 *
 * What routes the next message of a live transaction or dialog (bindings, forks, dialogs)
 * is held in memory. An object is evicted after 10 s without events while its sockets stay
 * up, so each record is also kept in the attachment of the socket it belongs to, which
 * survives hibernation with the socket and costs no storage write: a binding with the
 * socket it arrived on, a dialog with its user's socket, a ringing fork (and its early
 * dialog) with each socket it rings. The first event after a wake rebuilds the state
 * from the open sockets' attachments; a record whose socket is gone is gone with it, as
 * a binding must be (RFC 5626 §5.3).
 *
 * Attachments are bounded by the runtime (16 KiB serialised in the pinned workerd). A
 * socket whose records outgrow that, which takes dozens of calls with long headers on
 * one socket, has them kept in the `spill` table instead, and its attachment says so.
 *
 * What must outlive every socket is written to SQLite as the state changes, in the same
 * event: a call's history row when it is answered and when it ends (store.ts), the
 * password guard, and the calls held for a device whose socket closed (they belong to no
 * socket until it comes back; one `kv` row, read with the rest of the meta on a wake).
 */
import type { Binding, Dialog, Fork, PushBinding, UserState } from '../../sip/state.js';
import { EMPTY_STATE, initiatorTag } from '../../sip/state.js';
import type { AuthGuard } from '../../sip/policy/auth-guard.js';
import { isLive } from '../../sip/proxy/fork-phase.js';
import { EMPTY_GUARD } from '../../sip/policy/auth-guard.js';
import type { Attachment, SocketBook } from './sockets.js';
import type { UserStore } from './store.js';

/**
 * How long a socket's changed records may wait in memory before they are written to its
 * attachment. A call's messages come in bursts (INVITE, 100, 180 within a round trip;
 * 200 and ACK; BYE and its 200), and each would rewrite the attachment; written once
 * after the burst, they cost one serialisation instead of one per message (measured at
 * bench load: writing in every event cost 20 % more CPU per call). Nothing is lost by
 * waiting: the flush is a deadline of the object's timer plan (alarm-plan.ts), whose
 * pending timer keeps the object from hibernating until it has run, and what would lose
 * it (a restart) closes the sockets whose attachments these are.
 *
 * Short, because that pending timer is billed: Cloudflare bills an object's duration
 * while it is idle but cannot hibernate. 200 ms of a 128 MB object is 0.025 GB-s, about
 * $0.31 per million bursts, less than the $1 per million of a row written; the 1 s this
 * was before cost more than a row per burst.
 */
export const ATTACHMENT_DELAY_MS = 200;

/** What one socket carries for the state. */
export interface SocketRecords {
  readonly b?: readonly Binding[];
  readonly d?: readonly Dialog[];
  readonly f?: readonly Fork[];
}

const forkKey = (f: Fork): string => `${f.method} ${f.id}`;

export class LiveState {
  private current: UserState | null = null;
  /** The held calls as `kv` has them (written whenever they change, read with the meta). */
  private held: readonly Dialog[];
  /** Sockets whose records changed since their attachment was last written, and since when. */
  private readonly dirty = new Set<string>();
  private dirtySince: number | null = null;

  constructor(
    private readonly book: SocketBook,
    private readonly store: UserStore,
    held: readonly Dialog[] = [],
    private push: readonly PushBinding[] = [],
  ) {
    this.held = held;
  }

  /** False until the first event since the object was built rebuilds the state. */
  get loaded(): boolean {
    return this.current !== null;
  }

  /** The state if it is in memory (no rebuild). */
  peek(): UserState | null {
    return this.current;
  }

  /** The state, rebuilt from the open sockets on first use. */
  get(guard: AuthGuard | null, closing?: WebSocket): UserState {
    if (!this.current) this.current = this.rebuild(guard ?? EMPTY_GUARD, closing);
    return this.current;
  }

  private rebuild(guard: AuthGuard, closing: WebSocket | undefined): UserState {
    const bindings: Binding[] = [];
    const dialogs = new Map<string, Dialog>();
    const forks = new Map<string, Fork>();
    // Every socket the runtime still lists, closing ones included: a socket whose close
    // is what woke us must bring its calls along, so that its close can end them.
    const sockets = this.book.all();
    if (closing && !sockets.includes(closing)) sockets.push(closing);
    for (const ws of sockets) {
      const att = this.book.attachment(ws);
      const r: SocketRecords = att.s ? this.store.spilled(att.c) : att;
      for (const b of r.b ?? []) bindings.push(b);
      for (const d of r.d ?? []) dialogs.set(d.id, d);
      for (const f of r.f ?? []) forks.set(forkKey(f), f);
    }
    for (const d of this.held) dialogs.set(d.id, d);
    return { ...EMPTY_STATE, bindings, dialogs: [...dialogs.values()], forks: [...forks.values()], guard, push: this.push };
  }

  /**
   * Takes the step's result: history rows and the guard go to SQLite now (the output
   * gate holds what the step sends until they are committed), and every socket whose
   * records changed is marked for its attachment to be rewritten by `flush`, within
   * ATTACHMENT_DELAY_MS.
   */
  commit(prev: UserState, next: UserState): void {
    this.current = next;
    if (prev === next) return;
    if (prev.guard !== next.guard) this.store.setMeta('authGuard', next.guard);
    if (next.push !== this.push) {
      // Push bindings outlive every socket (RFC 8599): written when a REGISTER changes them.
      this.push = next.push;
      this.store.setMeta('push', next.push.length > 0 ? next.push : null);
    }
    const touched = new Set<string>();
    if (prev.dialogs !== next.dialogs) {
      const before = new Map(prev.dialogs.map((d) => [d.id, d]));
      for (const d of next.dialogs) {
        const old = before.get(d.id);
        before.delete(d.id);
        if (old === d) continue;
        if (d.kind === 'call' && isRecordedChange(old, d)) this.store.recordCall(d, next.bindings.find((b) => b.conn === d.conn)?.instance ?? null);
        for (const c of dialogConns(next, d)) touched.add(c);
        if (old) for (const c of dialogConns(prev, old)) touched.add(c);
      }
      for (const old of before.values()) for (const c of dialogConns(prev, old)) touched.add(c);
      this.keepHeld(next.dialogs);
    }
    if (prev.bindings !== next.bindings) diffConns(prev.bindings, next.bindings, (b) => b.id, (b) => [b.conn], touched);
    if (prev.forks !== next.forks) diffConns(prev.forks, next.forks, forkKey, (f) => f.branches.map((b) => b.conn), touched);
    if (touched.size === 0) return;
    for (const conn of touched) this.dirty.add(conn);
    this.dirtySince ??= Date.now();
  }

  /**
   * After a restart (the object built with no socket open): the answered calls whose rows
   * have no end and that nothing here holds come back held, for their devices to return
   * within the grace period (RFC 5626 §4.2.1), and are written to `kv` with the other held
   * calls at once, so that a second build does not give them a new grace. True if any did.
   */
  restore(open: readonly Dialog[], now: number, graceMs: number): boolean {
    const known = new Set(this.held.map((d) => d.id));
    const back = open.filter((d) => !known.has(d.id)).map((d): Dialog => ({ ...d, state: 'held', conn: null, deadline: now + graceMs, restoredAt: now, waiting: [] }));
    if (back.length === 0) return false;
    this.held = [...this.held, ...back];
    this.store.setMeta('held', this.held);
    return true;
  }

  /** Writes the held calls to `kv` when they changed (a socket closed mid-call, its device came back, the grace ran out). */
  private keepHeld(dialogs: readonly Dialog[]): void {
    const held = dialogs.filter((d) => d.state === 'held');
    if (same(held, this.held)) return;
    this.held = held;
    this.store.setMeta('held', held.length > 0 ? held : null);
  }

  /** When the changed records must be written to their sockets' attachments, or null. */
  nextFlush(): number | null {
    return this.dirtySince === null ? null : this.dirtySince + ATTACHMENT_DELAY_MS;
  }

  /** Writes every changed socket's records into its attachment (the same records are not rewritten). */
  flush(): void {
    const state = this.current;
    this.dirtySince = null;
    if (state === null) {
      this.dirty.clear();
      return;
    }
    for (const conn of this.dirty) this.place(conn, state);
    this.dirty.clear();
  }

  /** Writes one socket's records into its attachment (or the spill table when they do not fit). */
  private place(conn: string, state: UserState): void {
    const ws = this.book.socket(conn);
    if (!ws) return;
    const records = recordsOf(state, conn);
    const att = this.book.attachment(ws);
    // The same records (by identity) as the socket already carries: nothing to rewrite.
    if (!att.s && same(att.b, records.b) && same(att.d, records.d) && same(att.f, records.f)) return;
    const { b: _b, d: _d, f: _f, s: wasSpilled, ...base } = att;
    const next: Attachment = { ...base, ...records };
    try {
      this.book.update(ws, next);
      if (wasSpilled) this.store.unspill(conn);
    } catch {
      // RangeError from the runtime: larger than an attachment may be.
      this.store.spill(conn, records);
      this.book.update(ws, { ...base, s: 1 });
    }
  }

  /**
   * Forgets what memory holds, as an eviction does (the next use rebuilds it). An eviction
   * never comes while a flush is pending (its timer keeps the object in memory), so what
   * is pending is written first, as the runtime would have seen it.
   */
  unload(): void {
    this.flush();
    this.current = null;
  }

  /** The user is gone (or, in tests, the runtime restarted): nothing is held. */
  clear(): void {
    this.held = [];
    this.push = [];
    this.dirty.clear();
    this.dirtySince = null;
    this.current = EMPTY_STATE;
  }
}

function same<T>(a: readonly T[] | undefined, b: readonly T[] | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  return a.every((x, i) => x === b[i]);
}

/**
 * A call's row is written when the call is answered, and when it ends; an early dialog
 * that changes (a provisional response, a CSeq) writes nothing.
 */
function isRecordedChange(old: Dialog | undefined, d: Dialog): boolean {
  // Held and taken back, the call is the one its row already records as answered.
  if (d.state === 'confirmed' || d.state === 'held') return old === undefined || old.state === 'early';
  if (d.state === 'ended') return old?.state !== 'ended';
  return false;
}

/** The sockets a dialog is kept with: its own, or while it rings on our side, its fork's. */
function dialogConns(state: UserState, d: Dialog): string[] {
  if (d.conn !== null) return [d.conn];
  if (d.direction !== 'in') return [];
  const fork = state.forks.find((f) => f.callId === d.callId && f.callerTag === initiatorTag(d));
  return fork ? fork.branches.map((b) => b.conn) : [];
}

function diffConns<T>(prev: readonly T[], next: readonly T[], key: (t: T) => string, conns: (t: T) => readonly string[], out: Set<string>): void {
  const before = new Map(prev.map((t) => [key(t), t]));
  for (const t of next) {
    const old = before.get(key(t));
    before.delete(key(t));
    if (old === t) continue;
    for (const c of conns(t)) out.add(c);
    if (old) for (const c of conns(old)) out.add(c);
  }
  for (const old of before.values()) for (const c of conns(old)) out.add(c);
}

/**
 * What socket `conn` must carry: its bindings, the live dialogs it is in, and the forks
 * that still ring on it (with their early dialogs). Ended dialogs and forks that have
 * answered only linger in memory for seconds, less than an object lives idle.
 */
export function recordsOf(state: UserState, conn: string): SocketRecords {
  const b = state.bindings.filter((x) => x.conn === conn);
  const f = state.forks.filter((x) => isLive(x.phase) && x.branches.some((br) => br.conn === conn && br.state !== 'done'));
  const d = state.dialogs.filter((x) => x.state !== 'ended' && (x.conn === conn || (x.conn === null && x.direction === 'in' && f.some((fk) => fk.callId === x.callId && fk.callerTag === initiatorTag(x)))));
  const out: { b?: Binding[]; d?: Dialog[]; f?: Fork[] } = {};
  if (b.length > 0) out.b = b;
  if (d.length > 0) out.d = d;
  if (f.length > 0) out.f = f;
  return out;
}

/**
 * The user's state in memory, and when it is written to SQLite.
 *
 * Call state (forks and dialogs) is written behind: at most WRITE_BEHIND_MS after it
 * changed, in one transaction, by the alarm. A call that rings and is answered within it
 * costs one write instead of one per message, and a fork that starts and ends within it
 * costs none (the timer-based write-back of Kamailio's dialog module, db_mode 2). An
 * object is only evicted after 10 s without events, so nothing is lost to hibernation; a
 * crash of the runtime can lose at most this much call state. Registrations, nonces and
 * the auth guard are written through: a 200 to REGISTER means the binding is stored (RFC
 * 3261 §10.3 step 8). Pending transactions live in memory only and make no write due.
 * The write is due at the user's next housekeeping instant (sip/timers.ts), so the alarm
 * that writes is also the one that forgets ended calls.
 */
import { EMPTY_STATE, type UserState } from '../../sip/state.js';
import { HOUSEKEEPING_GRID_MS, onGrid } from '../../sip/timers.js';
import type { UserStore } from './store.js';

export const WRITE_BEHIND_MS = HOUSEKEEPING_GRID_MS;

export class StateCache {
  /** Null until the first event since the object was built loads it. */
  private current: UserState | null = null;
  /** What SQLite holds: `current` as of the last flush. */
  private stored: UserState | null = null;
  /** When unflushed call state must be written, or null when there is none. */
  private dueAt: number | null = null;

  constructor(private readonly store: UserStore) {}

  get loaded(): boolean {
    return this.current !== null;
  }

  /** The state, loaded from SQLite on first use. */
  get(): UserState {
    if (!this.current) this.current = this.stored = this.store.load(Date.now());
    return this.current;
  }

  /** The state if it is in memory (no load). */
  peek(): UserState | null {
    return this.current;
  }

  get flushAt(): number | null {
    return this.dueAt;
  }

  /** Records the step's result: written now, or due on `user`'s grid. */
  commit(prev: UserState, next: UserState, now: number, user: string, flushNow: boolean): void {
    this.current = next;
    if (flushNow || next.bindings !== prev.bindings || next.guard !== prev.guard) this.flush();
    else if (this.dueAt === null && this.stored && (next.forks !== this.stored.forks || next.dialogs !== this.stored.dialogs)) this.dueAt = onGrid(user, now + 1);
  }

  /** Writes what changed since the last flush, in the current event's transaction. */
  flush(): void {
    if (this.current && this.stored && this.current !== this.stored) this.store.persist(this.stored, this.current);
    this.stored = this.current;
    this.dueAt = null;
  }

  /** Forgets what memory holds, as an eviction does (the next use loads from SQLite). */
  unload(): void {
    this.current = this.stored = null;
    this.dueAt = null;
  }

  /** The user is gone: nothing is held, nothing is due. */
  clear(): void {
    this.current = this.stored = EMPTY_STATE;
    this.dueAt = null;
  }
}

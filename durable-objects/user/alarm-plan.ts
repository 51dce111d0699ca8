/**
 * The user's object's one alarm. Every event ends by telling the plan what is due next
 * (the earliest of the candidates it is given); the plan moves the alarm only earlier (an
 * alarm that fires early finds nothing due and plans again), except `exact`, when a
 * socket signs in and its 30 s no longer counts: one storage write then saves a wake.
 * Inside the alarm handler nothing at or before now is planned: what was due has just
 * been done, and a past alarm set there would leave the plan pointing at an alarm that
 * already ran (the cached time would go stale, and sockets would outlive their 30 s).
 */
import { nextDeadline } from '../../sip/index.js';
import type { UserState } from '../../sip/state.js';
import type { FlowWatcher } from './flows.js';
import type { SocketBook } from './sockets.js';

/**
 * Every source of the object's alarm, in one place: the core's next deadline (ring
 * timeouts, session expiries), the next unauthenticated socket's 30 s, and the next look
 * at a watched flow. Nothing else wakes a user's object on its own: expiries that nobody
 * waits for are done by the next event (sip/index.ts expireDue), and writes are made in
 * the event that makes them, so there is no write-behind to schedule.
 */
export function alarmSources(state: UserState | null, book: SocketBook, flows: FlowWatcher, now: number): Array<number | null> {
  return [state ? nextDeadline(state) : null, book.nextDeadline(), flows.next(state, now)];
}

export class AlarmPlan {
  private at: number | null = null;
  private firing = false;

  constructor(private readonly storage: DurableObjectStorage) {}

  /** What the runtime holds, read once when the object is built. */
  async load(): Promise<void> {
    this.at = await this.storage.getAlarm();
  }

  /** Runs the alarm handler: the alarm that fired is gone, and the plan is made afresh after. */
  async fire(handler: () => Promise<void>, next: () => readonly (number | null)[]): Promise<void> {
    this.at = null;
    this.firing = true;
    try {
      await handler();
    } finally {
      this.firing = false;
    }
    this.plan(next());
  }

  plan(candidates: readonly (number | null)[], exact = false): void {
    let at: number | null = null;
    for (const c of candidates) if (c !== null && (at === null || c < at)) at = c;
    if (at !== null && this.firing) at = Math.max(at, Date.now() + 1);
    // Nothing left to wake for (the call ended, the socket signed in): the pending alarm
    // goes, rather than wake the object for nothing later.
    if ((exact || at === null) && at !== this.at) {
      this.at = at;
      void (at === null ? this.storage.deleteAlarm() : this.storage.setAlarm(at));
    } else if (at !== null && (this.at === null || at < this.at)) {
      this.at = at;
      void this.storage.setAlarm(at);
    }
  }
}

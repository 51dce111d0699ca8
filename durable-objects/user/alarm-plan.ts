/**
 * The user's object's one timer plan, in two tiers, so that the usual call costs no
 * storage write for its timers at all.
 *
 * - A deadline due within NEAR_MS (an unauthenticated socket's 30 s, an unanswered
 *   probe's 10 s, the 5 s look at a ringing leg, a non-INVITE request's 32 s, the write
 *   of changed records to their sockets' attachments) is kept by one in-memory timer.
 *   Such deadlines belong to sockets that are open now, and a pending timer keeps the
 *   object from hibernating (Cloudflare's lifecycle: no hibernation while a setTimeout
 *   is scheduled), so nothing is lost to hibernation; what would lose the timer (a
 *   restart, a deploy) closes those sockets too. Most of them are gone within
 *   milliseconds (the socket signs in, the 100 Trying arrives, the MESSAGE is answered),
 *   and then cost nothing but a cleared timer.
 * - A deadline further off (a ring timeout, the look at a quiet call's flows after 60 s,
 *   which only the callee's object keeps) goes to the storage alarm, which survives
 *   hibernation. That alarm only ever moves earlier; one that fires early finds nothing
 *   due and plans again.
 *
 * A storage alarm that nothing needs any more is deleted only when the object has had no
 * far deadline for BUSY_MS: a user with back-to-back calls keeps one alarm across them
 * (it fires, finds the next call's deadlines later, and is set once more) instead of a
 * delete and a set for every call. Cloudflare bills a setAlarm as a row written.
 *
 * A look at a quiet flow may come LOOK_SLACK_MS early (sip/registrar/liveness.ts), so
 * an alarm that fires a little before one (a call answered 5 s into its ring: the ring
 * timeout's alarm, 5 s before the first look at the call's flows) does it, and sets
 * nothing new: one setAlarm for the call.
 *
 * Inside a handler nothing at or before now is planned: what was due has just been
 * done, and a past alarm would leave the plan pointing at one that already ran.
 */
import { nextDeadline } from '../../sip/index.js';
import type { FlowWatcher } from './flows.js';
import type { LiveState } from './live-state.js';
import type { SocketBook } from './sockets.js';

/** Deadlines at most this far off are kept in memory (covers the 32 s of a non-INVITE request). */
export const NEAR_MS = 35_000;
/** How long after the last far deadline a pending storage alarm is still kept for the next. */
export const BUSY_MS = 15_000;

/**
 * Every source of the object's timers, in one place: the write of changed records to
 * their sockets' attachments, the core's next deadline (ring timeouts, session
 * expiries), the next unauthenticated socket's 30 s, and the next look at a watched
 * flow. Nothing else wakes a user's object on its own: expiries that nobody waits for
 * are done by the next event (sip/index.ts expireDue), and history rows are written in
 * the event that makes them.
 */
export function alarmSources(live: LiveState, book: SocketBook, flows: FlowWatcher, now: number): Array<number | null> {
  const state = live.peek();
  return [live.nextFlush(), state ? nextDeadline(state) : null, book.nextDeadline(), flows.next(state, now)];
}

/** The index in alarmSources of the attachments' flush: a timer for it alone does nothing else. */
export const FLUSH_SOURCE = 0;

/** Why the handler runs: the storage alarm, or the in-memory timer for one source (its index). */
export type DueReason = 'alarm' | number;

export class AlarmPlan {
  /** The storage alarm as the runtime holds it. */
  private at: number | null = null;
  private timer: { readonly at: number; readonly source: number; readonly handle: ReturnType<typeof setTimeout> } | null = null;
  private firing = false;
  private lastNeed = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly storage: DurableObjectStorage,
    /** Does what is due now (the same work for the storage alarm and the in-memory timer). */
    private readonly onDue: (reason: DueReason) => Promise<void>,
    /** What is due next, by source. */
    private readonly sources: () => readonly (number | null)[],
  ) {}

  /** What the runtime holds, read once when the object is built. */
  async load(): Promise<void> {
    this.at = await this.storage.getAlarm();
  }

  /** The storage alarm fired: it is gone, and the plan is made afresh after the work. */
  async fireAlarm(): Promise<void> {
    this.at = null;
    await this.fire('alarm');
  }

  /** What the plan holds, in memory and in storage (for tests). */
  pending(): { memory: number | null; storage: number | null } {
    return { memory: this.timer?.at ?? null, storage: this.at };
  }

  plan(): void {
    const now = Date.now();
    // Inside a handler nothing at or before now is planned (see above).
    const floor = this.firing ? now + 1 : Number.NEGATIVE_INFINITY;
    let near: number | null = null;
    let nearSource = -1;
    let far: number | null = null;
    const candidates = this.sources();
    for (let i = 0; i < candidates.length; i++) {
      const raw = candidates[i]!;
      if (raw === null) continue;
      const c = Math.max(raw, floor);
      if (c <= now + NEAR_MS) {
        if (near === null || c < near) {
          near = c;
          nearSource = i;
        }
      } else if (far === null || c < far) far = c;
    }
    // Memory: the nearest deadline, when it is near. (A source gives only its earliest, so
    // one hidden behind it comes out when this timer has run and the plan is made again.)
    if (near === null) this.clearTimer();
    else if (this.timer?.at !== near || this.timer.source !== nearSource) {
      this.clearTimer();
      const source = nearSource;
      const handle = setTimeout(() => void this.fire(source), Math.max(0, near - now));
      this.timer = { at: near, source, handle };
    }
    // Storage: the nearest far deadline. Only a far one makes the user busy: the near ones
    // (the attachments' write after every burst among them) would keep an alarm forever.
    if (far !== null) {
      this.lastNeed = now;
      if (this.at === null || far < this.at) {
        this.at = far;
        void this.storage.setAlarm(far);
      }
    } else if (this.at !== null && now - this.lastNeed > BUSY_MS) {
      this.at = null;
      void this.storage.deleteAlarm();
    }
  }

  /** An alarm's failure is the runtime's to retry; a timer's is logged, and the plan goes on. */
  private async fire(reason: DueReason): Promise<void> {
    this.clearTimer();
    this.firing = true;
    try {
      await this.onDue(reason);
    } catch (err) {
      if (reason === 'alarm') throw err;
      console.error('switchboard: timer failed', err instanceof Error ? err.message : err);
    } finally {
      this.firing = false;
      this.plan();
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer.handle);
    this.timer = null;
  }
}

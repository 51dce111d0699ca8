/**
 * The fork's state machine: one `phase` and one transition table, read top to bottom.
 * A fork is the server side of the stateful proxy for a request another user's object
 * relayed to this user (RFC 3261 §16.2-16.7, §16.10); its branches are the client side,
 * one per socket. fork.ts does the work of each transition; this file says which
 * transitions exist, what the fork's one `deadline` means in each phase, and why.
 */
import type { Fork, ForkPhase } from '../state.js';

export type ForkEvent =
  /** A 2xx arrived on a branch and went upstream: the first one decides the call. */
  | 'answered'
  /** The fork's one final non-2xx answer went upstream: the best of the branches', or its own. */
  | 'final-sent'
  /** The caller's CANCEL arrived. */
  | 'cancel'
  /** The deadline of a lingering phase passed (a live phase's deadline makes the fork answer: `final-sent`). */
  | 'deadline';

/** What the deadline of a fork in each phase is for. */
export const PHASES: Readonly<Record<ForkPhase, string>> = {
  trying: 'ring timeout for an INVITE (§16.6 step 11, local policy below Timer C), Timer F for others (§17.1.2.2)',
  canceling: "how long the CANCELled branches' 487s are awaited before the fork answers 487 itself (§16.10)",
  'cancel-first': 'how long the tombstone of a CANCEL that overtook its INVITE waits for that INVITE (§16.10, §9.2)',
  answered: 'how long stragglers (other 2xx, 487s of cancelled branches) are absorbed (§17.2.1, Timer J is 0 on WebSocket)',
  completed: 'how long stragglers are absorbed after the final answer (§17.2.1)',
};

interface Transition {
  readonly from: ForkPhase;
  readonly on: ForkEvent;
  /** Null: the fork is forgotten. */
  readonly to: ForkPhase | null;
  readonly rfc: string;
}

export const FORK_TRANSITIONS: readonly Transition[] = [
  { from: 'trying', on: 'answered', to: 'answered', rfc: '§16.7 step 5: forward the 2xx at once; §16.7 step 10: CANCEL the other branches' },
  { from: 'trying', on: 'final-sent', to: 'completed', rfc: '§16.7 step 6: every branch finished and the best answer went upstream; or at the ring timeout (480, branches CANCELled, §16.6 step 11) or Timer F (408, §17.1.2.2) the fork answered itself' },
  { from: 'trying', on: 'cancel', to: 'canceling', rfc: '§16.10: CANCEL every pending branch; their 487s complete the fork' },
  { from: 'canceling', on: 'answered', to: 'answered', rfc: '§16.7 step 5: a 2xx that raced the CANCEL still wins; the caller will hang it up' },
  { from: 'canceling', on: 'final-sent', to: 'completed', rfc: "§16.7 step 6: the branches' 487 went upstream; or at the guard the fork answered 487 itself for a branch that never answered its CANCEL (§16.10)" },
  { from: 'cancel-first', on: 'deadline', to: null, rfc: '§16.10: no INVITE came; nothing to answer' },
  { from: 'answered', on: 'deadline', to: null, rfc: '§17.2.1: stragglers absorbed, forget' },
  { from: 'completed', on: 'deadline', to: null, rfc: '§17.2.1: stragglers absorbed, forget' },
  // Not listed, so absorbed: a CANCEL after the final answer (§9.2: it has no effect), a
  // second final answer, anything to a fork being forgotten.
];

/** The phase a fork moves to on `on`, or undefined when the table has no row: the event changes nothing. */
export function nextPhase(fork: Fork, on: ForkEvent): ForkPhase | null | undefined {
  return FORK_TRANSITIONS.find((t) => t.from === fork.phase && t.on === on)?.to;
}

/** Phases whose deadline someone waits for (an alarm); the others' is only when to forget. */
export function isLive(phase: ForkPhase): boolean {
  return phase === 'trying' || phase === 'canceling';
}

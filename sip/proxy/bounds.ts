/**
 * What bounds the records one user's object keeps. Live records are refused past their
 * tenant limit where they would be made (proxy/from-socket.ts: 503, proxy/from-peer.ts: 486); records that
 * have ended and only linger to absorb stragglers (dialogs.ts LINGER_MS) are forgotten
 * oldest first once as many linger as may be live, so no burst of short calls can grow
 * the state without end. Whatever a client sends, a user's state holds at most
 * maxCalls + maxForks live dialogs (its own calls, and one early dialog per fork) and as
 * many lingering, 2 × maxForks forks, maxDevices bindings and MAX_NONCES nonces, each
 * made of header values bounded by limits.ts.
 */
import type { TenantPolicy } from '../policy/tenant.js';
import { forkIsSettled } from './fork.js';
import type { UserState } from '../state.js';

/**
 * The user's own calls: those it placed that are not over, and those it answered. Calls
 * ringing it are not among them (they are bounded as forks), so that nobody calling a
 * user can keep the user from placing calls of its own.
 */
export function ownCalls(state: UserState): number {
  let n = 0;
  for (const d of state.dialogs) if (d.state !== 'ended' && (d.direction === 'out' || d.state === 'confirmed')) n++;
  return n;
}

/** Requests being delivered to the user, from `peer` only when given. */
export function liveForks(state: UserState, peer?: string): number {
  let n = 0;
  for (const f of state.forks) if (!forkIsSettled(f) && (peer === undefined || f.peer === peer)) n++;
  return n;
}

/** No one caller may hold more than a quarter of a user's places for incoming requests. */
export function forksPerPeer(policy: TenantPolicy): number {
  return Math.max(1, Math.ceil(policy.maxForks / 4));
}

/** Forgets the oldest lingering records past the cap; the same state when nothing lingers too long. */
export function trimLingering(state: UserState, policy: TenantPolicy): UserState {
  let next = state;
  const maxDialogs = 2 * (policy.maxCalls + policy.maxForks);
  if (state.dialogs.length > maxDialogs) {
    const ended = state.dialogs.filter((d) => d.state === 'ended').sort((a, b) => (a.endedAt ?? 0) - (b.endedAt ?? 0));
    const drop = new Set(ended.slice(0, state.dialogs.length - maxDialogs).map((d) => d.id));
    next = { ...next, dialogs: state.dialogs.filter((d) => !drop.has(d.id)) };
  }
  if (state.forks.length > 2 * policy.maxForks) {
    const settled = state.forks.filter(forkIsSettled).sort((a, b) => a.deadline - b.deadline);
    const drop = new Set(settled.slice(0, state.forks.length - 2 * policy.maxForks));
    next = { ...next, forks: state.forks.filter((f) => !drop.has(f)) };
  }
  return next;
}

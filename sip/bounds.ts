/**
 * What bounds the records one user's object keeps. Live records are refused past their
 * tenant limit where they would be made (uplink.ts: 503, downlink.ts: 486); records that
 * have ended and only linger to absorb stragglers (dialogs.ts LINGER_MS) are forgotten
 * oldest first once as many linger as may be live, so no burst of short calls can grow
 * the state without end. Whatever a client sends, a user's state holds at most
 * 2 × maxCalls dialogs, 2 × maxForks forks, maxDevices bindings and MAX_NONCES nonces,
 * each made of header values bounded by limits.ts.
 */
import type { TenantPolicy } from './context.js';
import { forkIsSettled } from './fork.js';
import type { UserState } from './state.js';

export function liveDialogs(state: UserState): number {
  let n = 0;
  for (const d of state.dialogs) if (d.state !== 'ended') n++;
  return n;
}

export function liveForks(state: UserState): number {
  let n = 0;
  for (const f of state.forks) if (!forkIsSettled(f)) n++;
  return n;
}

/** Forgets the oldest lingering records past the cap; the same state when nothing lingers too long. */
export function trimLingering(state: UserState, policy: TenantPolicy): UserState {
  let next = state;
  if (state.dialogs.length > 2 * policy.maxCalls) {
    const ended = state.dialogs.filter((d) => d.state === 'ended').sort((a, b) => (a.endedAt ?? 0) - (b.endedAt ?? 0));
    const drop = new Set(ended.slice(0, state.dialogs.length - 2 * policy.maxCalls).map((d) => d.id));
    next = { ...next, dialogs: state.dialogs.filter((d) => !drop.has(d.id)) };
  }
  if (state.forks.length > 2 * policy.maxForks) {
    const settled = state.forks.filter(forkIsSettled).sort((a, b) => a.deadline - b.deadline);
    const drop = new Set(settled.slice(0, state.forks.length - 2 * policy.maxForks));
    next = { ...next, forks: state.forks.filter((f) => !drop.has(f)) };
  }
  return next;
}

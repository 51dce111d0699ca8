/**
 * When housekeeping is due. Ring timeouts, expiries and guards are exact (RFC 3261
 * timers, §10.3, §16.8); housekeeping is not: forgetting a call that ended (after it has
 * absorbed stray retransmissions, §17.2.1 Timer J) and writing call state behind (the
 * adapter) may each happen a little later without anyone noticing. So they land on a grid
 * of the user's own: every housekeeping deadline of one user's object falls on the same
 * few instants, and one alarm serves the clean-up of many calls and the write of their
 * state, instead of an alarm (a storage write and an event) per call. Forgetting sets no
 * alarm of its own at all (sip/index.ts `nextHousekeeping`); it is done by the next alarm
 * that fires, which for a busy user is the write-behind one, on this grid. The grid's
 * phase differs per user, so 10,000 objects do not all wake at the same instant.
 */

/** Spacing of a user's housekeeping instants. */
export const HOUSEKEEPING_GRID_MS = 5_000;

/** The first instant on `user`'s grid at or after `at`. */
export function onGrid(user: string, at: number): number {
  const phase = phaseOf(user);
  return Math.ceil((at - phase) / HOUSEKEEPING_GRID_MS) * HOUSEKEEPING_GRID_MS + phase;
}

/** FNV-1a of the name: a stable offset within the grid, spread evenly across users. */
function phaseOf(user: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < user.length; i++) h = Math.imul(h ^ user.charCodeAt(i), 0x01000193) >>> 0;
  return h % HOUSEKEEPING_GRID_MS;
}

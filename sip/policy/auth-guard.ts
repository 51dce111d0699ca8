/**
 * Throttling of password guesses over SIP digest (RFC 3261 §22 leaves it to the server;
 * RFC 7616 §5.6 asks servers to resist on-line guessing). Pure: the state is a value the
 * user's object keeps and stores, and the clock is an input.
 *
 * Two rules, so that an attacker can neither guess fast nor lock the real user out:
 * - per source address: after `authFailuresPerSource` wrong answers in a row, that address
 *   is locked out for a minute, doubling with each lockout up to 15 minutes; a right
 *   answer clears its count.
 * - per user: after `authFailuresPerUser` wrong answers in 10 minutes from anywhere (a
 *   guessing run spread over many addresses), addresses that have never signed in as this
 *   user are locked out until the window ends. Addresses the user signed in from in the
 *   last 30 days go on as before, and token sockets are never challenged at all.
 */
import type { TenantPolicy } from './tenant.js';

export interface SourceStrikes {
  readonly source: string;
  /** Wrong answers in a row since the last lockout or success. */
  readonly fails: number;
  /** Lockouts so far, for the doubling; cleared by a success. */
  readonly lockouts: number;
  readonly lockedUntil: number;
  readonly lastAt: number;
}

export interface KnownSource {
  readonly source: string;
  readonly at: number;
}

export interface AuthGuard {
  readonly sources: readonly SourceStrikes[];
  /** Start of the current per-user window and the wrong answers counted in it. */
  readonly windowStart: number;
  readonly windowFails: number;
  readonly known: readonly KnownSource[];
}

export const EMPTY_GUARD: AuthGuard = { sources: [], windowStart: 0, windowFails: 0, known: [] };

export const FIRST_LOCKOUT_MS = 60_000;
export const MAX_LOCKOUT_MS = 15 * 60_000;
export const USER_WINDOW_MS = 10 * 60_000;
export const KNOWN_FOR_MS = 30 * 24 * 3_600_000;
/** Bounds: addresses with strikes, and addresses known to be the user's. */
export const MAX_SOURCES = 64;
export const MAX_KNOWN = 16;

export type GuardVerdict = { readonly locked: false } | { readonly locked: true; readonly retryAfterSeconds: number };

export function checkGuard(g: AuthGuard, source: string, now: number, policy: TenantPolicy): GuardVerdict {
  const own = g.sources.find((x) => x.source === source);
  if (own && own.lockedUntil > now) return lockedFor(own.lockedUntil - now);
  const windowEnd = g.windowStart + USER_WINDOW_MS;
  if (windowEnd > now && g.windowFails >= policy.authFailuresPerUser && !isKnown(g, source, now)) return lockedFor(windowEnd - now);
  return { locked: false };
}

export function recordFailure(g: AuthGuard, source: string, now: number, policy: TenantPolicy): AuthGuard {
  const prev = g.sources.find((x) => x.source === source) ?? { source, fails: 0, lockouts: 0, lockedUntil: 0, lastAt: now };
  const fails = prev.fails + 1;
  const lock = fails >= policy.authFailuresPerSource;
  const next: SourceStrikes = lock
    ? { source, fails: 0, lockouts: prev.lockouts + 1, lockedUntil: now + Math.min(MAX_LOCKOUT_MS, FIRST_LOCKOUT_MS * 2 ** prev.lockouts), lastAt: now }
    : { ...prev, fails, lastAt: now };
  const fresh = g.windowStart + USER_WINDOW_MS <= now;
  const others = g.sources.filter((x) => x.source !== source && (x.lockedUntil > now || now - x.lastAt < MAX_LOCKOUT_MS));
  // Bounded: the address seen longest ago makes room (a lockout in force is kept first).
  others.sort((a, b) => Number(b.lockedUntil > now) - Number(a.lockedUntil > now) || b.lastAt - a.lastAt);
  return {
    ...g,
    sources: [next, ...others.slice(0, MAX_SOURCES - 1)],
    windowStart: fresh ? now : g.windowStart,
    windowFails: (fresh ? 0 : g.windowFails) + 1,
  };
}

/** A right answer: the address's strikes go, and it is known to be the user's. Same value when nothing changes. */
export function recordSuccess(g: AuthGuard, source: string, now: number): AuthGuard {
  const hadStrikes = g.sources.some((x) => x.source === source);
  const known = g.known.find((k) => k.source === source);
  // A known address is written again at most once a day.
  if (!hadStrikes && known && now - known.at < 86_400_000) return g;
  return {
    ...g,
    sources: hadStrikes ? g.sources.filter((x) => x.source !== source) : g.sources,
    known: [{ source, at: now }, ...g.known.filter((k) => k.source !== source && now - k.at < KNOWN_FOR_MS)].slice(0, MAX_KNOWN),
  };
}

function isKnown(g: AuthGuard, source: string, now: number): boolean {
  return g.known.some((k) => k.source === source && now - k.at < KNOWN_FOR_MS);
}

function lockedFor(ms: number): GuardVerdict {
  return { locked: true, retryAfterSeconds: Math.max(1, Math.ceil(ms / 1000)) };
}

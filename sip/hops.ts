/**
 * How this service marks its own hops: the Via it adds as a proxy (RFC 3261 §16.6 step 8)
 * and the Record-Route it inserts (§16.6 step 4). Each user's object is one logical proxy.
 *
 * Our branch encodes what a stateless hop needs to route the response back
 * (§16.11): `z9hG4bK-sb~<kind><token>~<conn>~<user>`.
 *   kind u: an initial request forwarded from a socket of <user> (token derived from the
 *           client's branch, so its CANCEL gets the same branch, §9.1)
 *   kind r: an in-dialog request relayed to or from socket <conn>
 *   kind f: one branch of a fork to socket <conn> (stateful, see Fork)
 *   kind g: a request the object generated itself; its responses are absorbed
 */
import { getParam } from './message/grammar.js';
import type { Via } from './message/headers.js';
import type { NameAddr } from './message/name-addr.js';
import { isSipUri } from './message/uri.js';

export const BRANCH_PREFIX = 'z9hG4bK-sb~';

export type HopKind = 'u' | 'r' | 'f' | 'g';

export interface OurBranch {
  readonly kind: HopKind;
  readonly conn: string | null;
  readonly user: string;
}

export function makeBranch(kind: HopKind, token: string, conn: string | null, user: string): string {
  return `${BRANCH_PREFIX}${kind}${token}~${conn ?? '-'}~${user}`;
}

/**
 * The branch for a request this hop forwards without keeping a transaction: derived from
 * the incoming branch (§16.11), so a CANCEL or a non-2xx ACK, which reuse the INVITE's
 * branch, get the same one downstream (§9.1, §17.1.1.3).
 */
export function derivedBranch(kind: 'u' | 'r', incomingBranch: string, callId: string, conn: string, user: string): string {
  const input = `${incomingBranch}\u0000${callId}\u0000${conn}`;
  // Uniqueness, not secrecy, is what a branch needs: two FNV-1a lanes make a 64-bit token.
  const token = lane(fnv1a(input, 0x811c9dc5)) + lane(fnv1a(input, 0x5bd1e995));
  return makeBranch(kind, token, conn, user);
}

/** A 32-bit lane as a fixed-width base-36 string (7 characters), so lanes never run together. */
const lane = (h: number): string => h.toString(36).padStart(7, '0');

function fnv1a(s: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function parseOurBranch(branch: string | null): OurBranch | null {
  if (branch === null || !branch.startsWith(BRANCH_PREFIX)) return null;
  const parts = branch.slice(BRANCH_PREFIX.length).split('~');
  if (parts.length !== 3) return null;
  const [head, conn, user] = parts as [string, string, string];
  const kind = head[0];
  if (kind !== 'u' && kind !== 'r' && kind !== 'f' && kind !== 'g') return null;
  if (user === '') return null;
  return { kind, conn: conn === '-' ? null : conn, user };
}

export function ourViaValue(domain: string, branch: string): string {
  return `SIP/2.0/WSS ${domain};branch=${branch}`;
}

/** Our hop in a Via belongs to `user`'s object when its branch says so. */
export function viaOwner(via: Via): OurBranch | null {
  return parseOurBranch(via.branch);
}

export function recordRouteValue(domain: string): string {
  return `<sip:${domain};transport=ws;lr>`;
}

/**
 * A Route entry is ours when it names this tenant's domain. Anything else would make us a
 * relay to a destination we do not serve, which we refuse (§16.4).
 */
export function isOurRoute(route: NameAddr, domain: string): boolean {
  return isSipUri(route.uri) && route.uri.host.toLowerCase() === domain.toLowerCase() && route.uri.user === null && getParam(route.uri.params, 'lr') !== undefined;
}

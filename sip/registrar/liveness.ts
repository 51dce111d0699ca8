/**
 * Dead flows (RFC 5626 §4.4, §5.4). A client whose process froze, or whose network went
 * away without a FIN, keeps its TCP connection open for as long as the kernel likes: the
 * socket never closes, its calls never end and new calls ring into it. A WebSocket edge
 * cannot send pings from a Durable Object, so the service asks the client itself: an
 * OPTIONS on the flow, which every user agent answers (RFC 3261 §11.2). A flow that has
 * said nothing since it was asked, for PROBE_TIMEOUT_MS, is dead: the adapter closes it,
 * and its close drops its bindings and ends its calls with BYE, as any close does.
 *
 * Only flows whose death would hurt someone are watched (so an idle registered device
 * costs no alarm): one in a confirmed call, probed after CALL_SILENCE_MS without a
 * frame, and one that an INVITE leg has been waiting on for RINGING_SILENCE_MS without
 * a frame, since a live UA answers an INVITE within 200 ms (§17.2.1, 100 Trying).
 *
 * A call between two users is watched by one object, the callee's (it rang the call, and
 * its ring timeout's alarm is the one the first look rides on): it looks at its own
 * user's flow and asks the caller's object to look at the caller's (`peerLooks`). The
 * caller's object judges its flow in a call only when asked, or once it has probed it
 * ('call-by-peer'). So a quiet call costs one alarm, not one in each object. A look may
 * come up to LOOK_SLACK_MS early, so that it rides an alarm that fires anyway.
 *
 * Devices that asked for RFC 5626 keepalives (`reg-id` in their Contact) are told the
 * interval in `Flow-Timer` and are judged by their CRLF pings, which the runtime answers
 * without waking the object; one silent past twice the interval is probed too.
 */
import { makeBranch, ourViaValue } from '../hops.js';
import { serialize } from '../message/serializer.js';
import { buildRequest } from '../message/request.js';
import type { Dialog, UserState } from '../state.js';

/**
 * A minute: longer than most calls, so a short call costs no probe at all, and a dead
 * flow in a call is still found within 70 s (RFC 5626 §4.4.1 keeps TCP keepalives near
 * two minutes; a call whose media is peer-to-peer says nothing on its flow meanwhile).
 */
export const CALL_SILENCE_MS = 60_000;
export const RINGING_SILENCE_MS = 5_000;
export const PROBE_TIMEOUT_MS = 10_000;
/**
 * How early a look at a quiet flow may come: probing after 50 s of silence instead of 60
 * changes nothing for anyone, and lets the look share an alarm set for something else
 * (a call answered 5 s into its ring: its first look rides the ring timeout's alarm).
 */
export const LOOK_SLACK_MS = 10_000;
/** RFC 5626 §4.4.1: the interval the server asks of outbound clients, in seconds. */
export const FLOW_TIMER_S = 120;

/** What the adapter knows of one open socket's liveness. */
export interface FlowClock {
  /** Last frame (or keepalive) received. */
  readonly heardAt: number;
  /** When the socket was first seen waited on by an INVITE leg, while it still is. */
  readonly ringingSince: number | null;
  /** When a probe was sent and not yet answered by any frame. */
  readonly probedAt: number | null;
}

/** 'call-by-peer': a flow in a call that the other party's object watches (see above). */
export type FlowWatch = 'call' | 'call-by-peer' | 'ringing' | 'outbound';

/** Whether this object watches the call: the callee's does, and one's own devices' calls are both here. */
function watchesCall(d: Dialog, user: string): boolean {
  return d.direction === 'in' || d.peer === user;
}

function isLiveCall(d: Dialog): boolean {
  return d.kind === 'call' && d.state === 'confirmed';
}

/** Why each connection that should be watched is. */
export function watchedFlows(state: UserState, user: string): Map<string, FlowWatch> {
  const watched = new Map<string, FlowWatch>();
  for (const b of state.bindings) if (b.regId !== null) watched.set(b.conn, 'outbound');
  for (const f of state.forks) {
    if (f.method !== 'INVITE') continue;
    for (const b of f.branches) if (b.state === 'pending') watched.set(b.conn, 'ringing');
  }
  for (const d of state.dialogs) {
    if (!isLiveCall(d) || d.conn === null) continue;
    // A flow in a call this object watches is looked at on its own clock, whatever else it is in.
    if (watchesCall(d, user)) watched.set(d.conn, 'call');
    else if (!watched.has(d.conn)) watched.set(d.conn, 'call-by-peer');
  }
  return watched;
}

/** A call this object watches whose other party is another user's object, to be asked to look at its flow. */
export interface PeerLook {
  readonly dialog: string;
  readonly peer: string;
  readonly callId: string;
  /** Since when the peer's flow is unlooked-at: the last ask, or the answer. */
  readonly since: number;
}

/** The calls whose other party's flow this object asks after, each with since when it has not. */
export function peerLooks(state: UserState, user: string, askedAt: ReadonlyMap<string, number>): PeerLook[] {
  const out: PeerLook[] = [];
  for (const d of state.dialogs) {
    if (!isLiveCall(d) || d.direction !== 'in' || d.peer === user) continue;
    out.push({ dialog: d.id, peer: d.peer, callId: d.callId, since: askedAt.get(d.id) ?? d.answeredAt ?? d.createdAt });
  }
  return out;
}

/** How long a watched flow may be silent before it is probed (a flow watched by the peer: until asked). */
function silenceAllowed(why: FlowWatch): number {
  switch (why) {
    case 'call':
      return CALL_SILENCE_MS;
    case 'call-by-peer':
      return Number.POSITIVE_INFINITY;
    case 'ringing':
      return RINGING_SILENCE_MS;
    case 'outbound':
      return 2 * FLOW_TIMER_S * 1000 + PROBE_TIMEOUT_MS;
  }
}

export type FlowVerdict = { readonly action: 'none' | 'probe' | 'dead'; readonly next: number | null };

/**
 * What one watched flow needs at `now`, and when to look at it again. `early` lets a
 * probe come that much before its time (LOOK_SLACK_MS, at an alarm that fires anyway); a
 * probe's own timeout is never shortened.
 */
export function judgeFlow(why: FlowWatch, clock: FlowClock, now: number, early = 0): FlowVerdict {
  if (clock.probedAt !== null && clock.heardAt <= clock.probedAt) {
    const deadAt = clock.probedAt + PROBE_TIMEOUT_MS;
    return deadAt <= now ? { action: 'dead', next: null } : { action: 'none', next: deadAt };
  }
  // A flow heard from since its INVITE leg began is alive: it may ring as long as it likes.
  if (why === 'ringing' && clock.ringingSince !== null && clock.heardAt >= clock.ringingSince) return { action: 'none', next: null };
  const since = why === 'ringing' && clock.ringingSince !== null ? clock.ringingSince : clock.heardAt;
  const probeAt = since + silenceAllowed(why);
  if (probeAt <= now + early) return { action: 'probe', next: now + PROBE_TIMEOUT_MS };
  return { action: 'none', next: Number.isFinite(probeAt) ? probeAt : null };
}

/** The OPTIONS that asks a flow whether anyone is there; its response is absorbed (kind g). */
export function probeRequest(state: UserState, conn: string, user: string, domain: string, id: string): string {
  const uri = state.bindings.find((b) => b.conn === conn)?.contact ?? `sip:${user}@${domain}`;
  return serialize(
    buildRequest({
      method: 'OPTIONS',
      uri,
      via: ourViaValue(domain, makeBranch('g', id, conn, user)),
      from: `<sip:switchboard@${domain}>;tag=${id}`,
      to: `<sip:${user}@${domain}>`,
      callId: `probe-${id}`,
      cseq: 1,
    }),
  );
}

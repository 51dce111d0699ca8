/**
 * The user's object's watch on its flows (sip/liveness.ts decides; this keeps the clocks).
 *
 * When a flow was last heard is kept in memory (writing it on every frame would cost more
 * than it saves); a probe sent is kept in the socket's attachment, which survives
 * hibernation, and cleared by the next frame. So an object evicted between its alarms,
 * as a user in a quiet call is, still concludes: a flow whose last hearing was lost with
 * the evicted instance is probed when next looked at, and a probe left unanswered is
 * found in the attachment by whichever instance looks next.
 *
 * A call is watched by the callee's object (sip/registrar/liveness.ts): this object asks
 * the caller's object to look at the caller's flow (`ask`), as often as it looks at its
 * own, and is asked in turn for the calls it makes (`lookAtCall`). When it last asked is
 * kept in memory; an instance evicted mid-call asks again at its first look.
 */
import { CALL_SILENCE_MS, LOOK_SLACK_MS, judgeFlow, peerLooks, probeRequest, watchedFlows, type FlowClock, type FlowWatch } from '../../sip/registrar/liveness.js';
import type { UserState } from '../../sip/state.js';
import type { Attachment, SocketBook } from './sockets.js';

export interface WatchedFlow {
  readonly conn: string;
  readonly ws: WebSocket;
  readonly why: FlowWatch;
  readonly clock: FlowClock;
}

export type FlowAction =
  | { readonly kind: 'probe'; readonly conn: string; readonly text: string }
  | { readonly kind: 'dead'; readonly ws: WebSocket }
  | { readonly kind: 'ask'; readonly peer: string; readonly callId: string };

/** Last heard before anything this instance knows: the first look probes. */
const UNKNOWN = Number.NEGATIVE_INFINITY;

export class FlowWatcher {
  private readonly heardAt = new Map<string, number>();
  private readonly ringingSince = new Map<string, number>();
  /** When the other party's object of each call watched here was last asked to look (by dialog id). */
  private readonly askedAt = new Map<string, number>();

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly book: SocketBook,
    private readonly socket: (conn: string) => WebSocket | undefined,
    /** This object's user, or null before it is configured. */
    private readonly user: () => string | null,
  ) {}

  /** A frame arrived on the socket: it is alive, and any probe it had is answered. */
  heard(ws: WebSocket, att: Attachment, now: number): void {
    this.heardAt.set(att.c, now);
    if (att.p !== undefined) this.book.update(ws, { ...att, p: undefined });
  }

  forget(conn: string): void {
    this.heardAt.delete(conn);
    this.ringingSince.delete(conn);
  }

  /** The earliest moment a watched flow must be looked at again (or a peer asked), or null. */
  next(state: UserState | null, now: number): number | null {
    let at: number | null = null;
    const earliest = (n: number | null) => {
      if (n !== null && (at === null || n < at)) at = n;
    };
    for (const f of this.watched(state, now)) earliest(judgeFlow(f.why, f.clock, now).next);
    for (const look of this.peerLooks(state)) earliest(look.since + CALL_SILENCE_MS);
    return at;
  }

  /**
   * What is due at `now` (a look up to LOOK_SLACK_MS early): probes to send (recorded in
   * the attachment), dead flows to close, and the other parties' objects to ask.
   */
  due(state: UserState | null, now: number, domain: string, newId: () => string): FlowAction[] {
    const actions: FlowAction[] = [];
    for (const f of this.watched(state, now)) this.judge(f, state!, now, domain, newId, actions);
    for (const look of this.peerLooks(state)) {
      if (look.since + CALL_SILENCE_MS > now + LOOK_SLACK_MS) continue;
      this.askedAt.set(look.dialog, now);
      actions.push({ kind: 'ask', peer: look.peer, callId: look.callId });
    }
    return actions;
  }

  /** The other party's object asks for a look at this user's flow in their call `callId`. */
  lookAtCall(state: UserState | null, peer: string, callId: string, now: number, domain: string, newId: () => string): FlowAction[] {
    const conns = new Set((state?.dialogs ?? []).filter((d) => d.callId === callId && d.peer === peer && d.state === 'confirmed' && d.conn !== null).map((d) => d.conn!));
    const actions: FlowAction[] = [];
    for (const f of this.watched(state, now)) if (conns.has(f.conn)) this.judge({ ...f, why: 'call' }, state!, now, domain, newId, actions);
    return actions;
  }

  private judge(f: WatchedFlow, state: UserState, now: number, domain: string, newId: () => string, out: FlowAction[]): void {
    const verdict = judgeFlow(f.why, f.clock, now, LOOK_SLACK_MS);
    if (verdict.action === 'probe') {
      this.book.update(f.ws, { ...this.book.attachment(f.ws), p: now });
      out.push({ kind: 'probe', conn: f.conn, text: probeRequest(state, f.conn, this.user() ?? '', domain, newId()) });
    } else if (verdict.action === 'dead') out.push({ kind: 'dead', ws: f.ws });
  }

  /** The calls watched here whose other party is another user's object; asks for calls gone are forgotten. */
  private peerLooks(state: UserState | null) {
    const user = this.user();
    if (!state || user === null) return [];
    const looks = peerLooks(state, user, this.askedAt);
    if (this.askedAt.size > looks.length) {
      const live = new Set(looks.map((l) => l.dialog));
      for (const id of this.askedAt.keys()) if (!live.has(id)) this.askedAt.delete(id);
    }
    return looks;
  }

  /**
   * The flows watched now, each last heard at its latest frame or keepalive (the
   * runtime's auto-response timestamp: a CRLF ping answered without waking us).
   */
  private watched(state: UserState | null, now: number): WatchedFlow[] {
    const user = this.user();
    if (!state || user === null) return [];
    const out: WatchedFlow[] = [];
    const watched = watchedFlows(state, user);
    for (const conn of this.ringingSince.keys()) if (watched.get(conn) !== 'ringing') this.ringingSince.delete(conn);
    for (const [conn, why] of watched) {
      const ws = this.socket(conn);
      if (!ws || ws.readyState !== WebSocket.READY_STATE_OPEN) continue;
      const keepalive = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
      // An outbound device is judged by its keepalives only once it has sent one (RFC 5626 §4.4.1).
      if (why === 'outbound' && keepalive === 0) continue;
      if (why === 'ringing' && !this.ringingSince.has(conn)) this.ringingSince.set(conn, now);
      const probedAt = this.book.attachment(ws).p ?? null;
      const heard = Math.max(this.heardAt.get(conn) ?? UNKNOWN, keepalive);
      const clock: FlowClock = { heardAt: heard, ringingSince: this.ringingSince.get(conn) ?? null, probedAt };
      out.push({ conn, ws, why, clock });
    }
    return out;
  }
}

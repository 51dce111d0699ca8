/**
 * The user's object's watch on its flows (sip/liveness.ts decides; this keeps the clocks).
 *
 * When a flow was last heard is kept in memory (writing it on every frame would cost more
 * than it saves); a probe sent is kept in the socket's attachment, which survives
 * hibernation, and cleared by the next frame. So an object evicted between its alarms,
 * as a user in a quiet call is, still concludes: a flow whose last hearing was lost with
 * the evicted instance is probed when next looked at, and a probe left unanswered is
 * found in the attachment by whichever instance looks next.
 */
import { judgeFlow, probeRequest, watchedFlows, type FlowClock, type FlowWatch } from '../../sip/registrar/liveness.js';
import type { UserState } from '../../sip/state.js';
import type { Attachment, SocketBook } from './sockets.js';

export interface WatchedFlow {
  readonly conn: string;
  readonly ws: WebSocket;
  readonly why: FlowWatch;
  readonly clock: FlowClock;
}

export type FlowAction = { readonly kind: 'probe'; readonly conn: string; readonly text: string } | { readonly kind: 'dead'; readonly ws: WebSocket };

/** Last heard before anything this instance knows: the first look probes. */
const UNKNOWN = Number.NEGATIVE_INFINITY;

export class FlowWatcher {
  private readonly heardAt = new Map<string, number>();
  private readonly ringingSince = new Map<string, number>();

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly book: SocketBook,
    private readonly socket: (conn: string) => WebSocket | undefined,
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

  /** The earliest moment a watched flow must be looked at again, or null. */
  next(state: UserState | null, now: number): number | null {
    let at: number | null = null;
    for (const f of this.watched(state, now)) {
      const n = judgeFlow(f.why, f.clock, now).next;
      if (n !== null && (at === null || n < at)) at = n;
    }
    return at;
  }

  /** What is due at `now`: probes to send (recorded in the attachment) and dead flows to close. */
  due(state: UserState | null, now: number, user: string, domain: string, newId: () => string): FlowAction[] {
    const actions: FlowAction[] = [];
    for (const f of this.watched(state, now)) {
      const verdict = judgeFlow(f.why, f.clock, now);
      if (verdict.action === 'probe') {
        this.book.update(f.ws, { ...this.book.attachment(f.ws), p: now });
        actions.push({ kind: 'probe', conn: f.conn, text: probeRequest(state!, f.conn, user, domain, newId()) });
      } else if (verdict.action === 'dead') actions.push({ kind: 'dead', ws: f.ws });
    }
    return actions;
  }

  /**
   * The flows watched now, each last heard at its latest frame or keepalive (the
   * runtime's auto-response timestamp: a CRLF ping answered without waking us).
   */
  private watched(state: UserState | null, now: number): WatchedFlow[] {
    if (!state) return [];
    const out: WatchedFlow[] = [];
    const watched = watchedFlows(state);
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

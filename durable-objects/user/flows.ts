/**
 * The user's object's watch on its flows (sip/liveness.ts decides; this keeps the clocks).
 * A clock lives in memory with its socket: after an eviction a watched flow counts from
 * the wake, which at worst delays a verdict by one silence period.
 */
import { judgeFlow, probeRequest, watchedFlows, type FlowClock, type FlowWatch } from '../../sip/liveness.js';
import type { UserState } from '../../sip/state.js';

export interface WatchedFlow {
  readonly conn: string;
  readonly ws: WebSocket;
  readonly why: FlowWatch;
  readonly clock: FlowClock;
}

export type FlowAction = { readonly kind: 'probe'; readonly conn: string; readonly text: string } | { readonly kind: 'dead'; readonly ws: WebSocket };

export class FlowWatcher {
  private readonly clocks = new Map<string, FlowClock>();

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly socket: (conn: string) => WebSocket | undefined,
  ) {}

  /** A frame arrived on `conn`. */
  heard(conn: string, now: number): void {
    const clock = this.clocks.get(conn);
    if (clock) this.clocks.set(conn, { ...clock, heardAt: now });
  }

  forget(conn: string): void {
    this.clocks.delete(conn);
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

  /** What is due at `now`: probes to send (recorded as sent) and dead flows to close. */
  due(state: UserState | null, now: number, user: string, domain: string, newId: () => string): FlowAction[] {
    const actions: FlowAction[] = [];
    for (const f of this.watched(state, now)) {
      const verdict = judgeFlow(f.why, f.clock, now);
      if (verdict.action === 'probe') {
        this.clocks.set(f.conn, { ...f.clock, probedAt: now });
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
    for (const [conn, why] of watchedFlows(state)) {
      const ws = this.socket(conn);
      if (!ws || ws.readyState !== WebSocket.READY_STATE_OPEN) continue;
      const keepalive = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
      // An outbound device is judged by its keepalives only once it has sent one (RFC 5626 §4.4.1).
      if (why === 'outbound' && keepalive === 0) continue;
      const prior = this.clocks.get(conn) ?? { heardAt: now, ringingSince: null, probedAt: null };
      const ringingSince = why === 'ringing' ? (prior.ringingSince ?? now) : null;
      const clock: FlowClock = { ...prior, heardAt: Math.max(prior.heardAt, keepalive), ringingSince };
      this.clocks.set(conn, clock);
      out.push({ conn, ws, why, clock });
    }
    return out;
  }
}

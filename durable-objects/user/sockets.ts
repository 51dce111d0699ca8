/**
 * The user's object's socket bookkeeping: what each hibernatable socket's attachment
 * holds, which sockets count against which cap, and when unauthenticated ones must go.
 * Attachments hold ids and small values only (they survive hibernation with the socket).
 */
import type { SocketAuth, TenantPolicy } from '../../sip/io.js';
import type { SocketRecords } from './live-state.js';

/** Sockets that have not authenticated within this time are closed. */
export const UNAUTHENTICATED_TTL_MS = 30_000;

export interface Attachment {
  /** connection id, also the socket's tag */
  readonly c: string;
  readonly a: SocketAuth;
  /** opened at (ms) */
  readonly t: number;
  /** the client's address as the edge saw it */
  readonly ip?: string;
  /** the token generation a token socket was opened with (revocation closes older ones) */
  readonly g?: string;
  /** when a liveness probe was sent that no frame has answered yet (flows.ts) */
  readonly p?: number;
  /** the live records that belong to this socket (live-state.ts): bindings, dialogs, forks */
  readonly b?: SocketRecords['b'];
  readonly d?: SocketRecords['d'];
  readonly f?: SocketRecords['f'];
  /** set when those records outgrew the attachment and are in the spill table instead */
  readonly s?: 1;
}

export type Admission =
  | { readonly ok: true; readonly evict: WebSocket | null }
  | { readonly ok: false; readonly status: 429; readonly code: string; readonly message: string };

export class SocketBook {
  /**
   * Attachments by connection id (the socket's tag), not by the WebSocket object: the
   * runtime may hand the same socket to us as different objects (an event's, and
   * `getWebSockets`'), and an update made through one must be seen through the other.
   */
  private readonly attachments = new Map<string, Attachment>();
  /** Sockets by connection id, looked up once per socket while this instance lives. */
  private readonly sockets = new Map<string, WebSocket>();
  /** Each socket object's connection id: asked of the runtime (getTags) once per object, not per look. */
  private readonly conns = new WeakMap<WebSocket, string>();
  /**
   * When the next unauthenticated socket's time is up (null: none), or undefined when it
   * must be worked out again: every event plans the alarm, and most users have no such
   * socket, so the scan runs only after a socket opened, signed in or went.
   */
  private pendingDeadline: number | null | undefined;

  constructor(private readonly ctx: DurableObjectState) {}

  /** The socket's attachment, deserialised once per socket while this instance lives. */
  attachment(ws: WebSocket): Attachment {
    let conn = this.conns.get(ws);
    if (conn === undefined) {
      conn = this.ctx.getTags(ws)[0] ?? '';
      this.conns.set(ws, conn);
    }
    let att = this.attachments.get(conn);
    if (!att) {
      att = ws.deserializeAttachment() as Attachment;
      this.attachments.set(att.c, att);
    }
    return att;
  }

  update(ws: WebSocket, att: Attachment): void {
    ws.serializeAttachment(att);
    const before = this.attachments.get(att.c);
    if (!before || before.a !== att.a) this.pendingDeadline = undefined;
    this.attachments.set(att.c, att);
  }

  /** The socket is gone: its cached attachment goes too (the caches are bounded by open sockets). */
  forget(conn: string): void {
    this.attachments.delete(conn);
    this.sockets.delete(conn);
    this.pendingDeadline = undefined;
  }

  /** The open socket with this connection id, if any. */
  socket(conn: string): WebSocket | undefined {
    let ws = this.sockets.get(conn);
    if (!ws) {
      ws = this.ctx.getWebSockets(conn)[0];
      if (ws) this.sockets.set(conn, ws);
    }
    return ws;
  }

  /** Every socket the runtime lists, closing ones included. */
  all(): WebSocket[] {
    return this.ctx.getWebSockets();
  }

  /** Sockets still open: one we closed is listed by the runtime until its close completes. */
  open(): WebSocket[] {
    return this.ctx.getWebSockets().filter((ws) => ws.readyState === WebSocket.READY_STATE_OPEN);
  }

  authenticatedCount(): number {
    return this.open().filter((ws) => this.attachment(ws).a !== null).length;
  }

  /**
   * Whether a new socket may open. Signed-in sockets count against maxSockets. Sockets
   * that have not authenticated have caps of their own, so they can never keep the real
   * user out: per address (past it, 429) and per user, where the oldest unauthenticated
   * socket of the address holding the most makes room for the newcomer.
   */
  admit(auth: SocketAuth, ip: string, policy: TenantPolicy): Admission {
    if (auth !== null) {
      if (this.authenticatedCount() >= policy.maxSockets) return refuse('too_many_sockets', `the user already has ${policy.maxSockets} open sockets`);
      return { ok: true, evict: null };
    }
    const pending = this.open().filter((ws) => this.attachment(ws).a === null);
    const byIp = new Map<string, WebSocket[]>();
    for (const ws of pending) {
      const key = this.attachment(ws).ip ?? 'unknown';
      byIp.set(key, [...(byIp.get(key) ?? []), ws]);
    }
    if ((byIp.get(ip)?.length ?? 0) >= policy.maxPendingSocketsPerAddress) {
      return refuse('too_many_pending_sockets', `this address already has ${policy.maxPendingSocketsPerAddress} sockets waiting to authenticate`);
    }
    if (pending.length < policy.maxPendingSockets) return { ok: true, evict: null };
    const crowded = [...byIp.values()].sort((a, b) => b.length - a.length)[0]!;
    const oldest = crowded.reduce((o, ws) => (this.attachment(ws).t < this.attachment(o).t ? ws : o));
    return { ok: true, evict: oldest };
  }

  /** Unauthenticated sockets whose time is up at `now`. */
  overdue(now: number): WebSocket[] {
    return this.open().filter((ws) => {
      const att = this.attachment(ws);
      return att.a === null && att.t + UNAUTHENTICATED_TTL_MS <= now;
    });
  }

  /** When the next unauthenticated socket's time is up, or null. */
  nextDeadline(): number | null {
    if (this.pendingDeadline === undefined) this.pendingDeadline = this.scanDeadline();
    return this.pendingDeadline;
  }

  private scanDeadline(): number | null {
    let min: number | null = null;
    for (const ws of this.open()) {
      const att = this.attachment(ws);
      if (att.a === null && (min === null || att.t + UNAUTHENTICATED_TTL_MS < min)) min = att.t + UNAUTHENTICATED_TTL_MS;
    }
    return min;
  }
}

function refuse(code: string, message: string): Admission {
  return { ok: false, status: 429, code, message };
}

/**
 * RFC 6455 §8.1: a text frame that is not UTF-8 fails the connection. The runtime hands
 * such a frame over with U+FFFD where the bad bytes were; SIP's start line and headers
 * never need that character, so there it is taken for bytes that were not UTF-8 (a body,
 * such as a chat message, may carry it).
 */
export function notUtf8(text: string): boolean {
  const bad = text.indexOf('\uFFFD');
  if (bad < 0) return false;
  const end = text.indexOf('\r\n\r\n');
  return end < 0 || bad < end;
}

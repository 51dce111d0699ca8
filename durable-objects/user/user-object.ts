/**
 * One Durable Object per user: holds the user's hibernatable WebSockets, registrations and
 * dialogs, and is a thin adapter over the pure core in sip/. Every platform entry point
 * (fetch, webSocketMessage, webSocketClose, alarm, RPC) becomes an `Input`; the returned
 * effects become socket sends and RPCs to other users' objects.
 */
import { DurableObject } from 'cloudflare:workers';
import { lostConnections, nextDeadline, refusal, step } from '../../sip/engine.js';
import type { ConnInfo, Credentials, Effect, Input, SocketAuth, StepContext, TenantPolicy } from '../../sip/context.js';
import { takeToken, type Bucket } from '../../sip/rate-limit.js';
import { parseMessage } from '../../sip/parser.js';
import type { MediaSummary } from '../../sip/sdp.js';
import { responseFromHeaders } from '../../sip/response.js';
import { serialize } from '../../sip/serializer.js';
import { EMPTY_STATE, type UserState } from '../../sip/state.js';
import { HOUSEKEEPING_GRID_MS, onGrid } from '../../sip/timers.js';
import type { Env } from '../env.js';
import { jsonError, randomToken } from '../shared/http.js';
import { UserStore, type CallRecord } from './store.js';

/** Sockets that have not authenticated within this time are closed. */
export const UNAUTHENTICATED_TTL_MS = 30_000;

/**
 * Call state (forks and dialogs) is written behind: at most this long after it changed,
 * in one transaction, by the alarm. A call that rings and is answered within it costs one
 * write instead of one per message, and a fork that starts and ends within it costs none
 * (the timer-based write-back of Kamailio's dialog module, db_mode 2). An object is only
 * evicted after 10 s without events, so nothing is lost to hibernation; a crash of the
 * runtime can lose at most this much call state. Registrations and nonces are written
 * through: a 200 to REGISTER means the binding is stored (RFC 3261 §10.3 step 8). The
 * write is due at the user's next housekeeping instant (sip/timers.ts), so the alarm that
 * writes is also the one that forgets ended calls.
 */
export const WRITE_BEHIND_MS = HOUSEKEEPING_GRID_MS;

export interface UserIdentity {
  readonly tenant: string;
  readonly user: string;
}

export interface UserConfig {
  readonly policy: TenantPolicy;
  readonly credentials: Credentials;
  readonly displayName: string | null;
}

/** Kept small on purpose: the socket attachment holds ids only (hibernation). */
interface Attachment {
  /** connection id, also the socket's tag */
  readonly c: string;
  readonly a: SocketAuth;
  /** opened at (ms) */
  readonly t: number;
}

export interface Registration {
  readonly contact: string;
  readonly userAgent: string | null;
  readonly since: number;
  readonly expiresAt: number;
  readonly instance: string | null;
}

export interface UserSnapshot {
  readonly registrations: Registration[];
  readonly calls: CallRecord[];
  readonly sockets: number;
}

export class UserObject extends DurableObject<Env> {
  private readonly store: UserStore;
  private identity: UserIdentity | null;
  private config: UserConfig | null;
  private nonceSecret: string | null;
  /** Caches: rebuilt from SQLite and the runtime after any eviction. */
  private state: UserState | null = null;
  /** What SQLite holds: `state` as of the last flush. */
  private stored: UserState | null = null;
  /** When unflushed call state must be written, or null when there is none. */
  private flushAt: number | null = null;
  private alarmAt: number | null = null;
  /** The last alarm found call state to write: keep the alarm on the grid (see `alarm`). */
  private holdGrid = false;
  private readonly buckets = new Map<string, Bucket>();
  private readonly attachments = new WeakMap<WebSocket, Attachment>();
  /** Sockets by connection id, looked up once per socket while this instance lives. */
  private readonly sockets = new Map<string, WebSocket>();
  private prunedAt = 0;
  private readonly peers = new Map<string, DurableObjectStub<UserObject>>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new UserStore(ctx.storage);
    // RFC 5626 §4.4.1 CRLF keepalive: answered by the runtime without waking this object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('\r\n\r\n', '\r\n'));
    this.identity = this.store.getMeta<UserIdentity>('identity');
    this.config = this.store.getMeta<UserConfig>('config');
    this.nonceSecret = this.store.getMeta<string>('nonceSecret');
    void ctx.blockConcurrencyWhile(async () => {
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  // ---------------------------------------------------------------- WebSocket edge

  /** The upgrade, forwarded by the Worker after it checked the URL, rate limit and any token. */
  override async fetch(request: Request): Promise<Response> {
    const tenant = request.headers.get('X-Switchboard-Tenant') ?? '';
    const user = request.headers.get('X-Switchboard-User') ?? '';
    const auth: SocketAuth = request.headers.get('X-Switchboard-Auth') === 'token' ? 'token' : null;
    if (!this.config || !this.identity || this.identity.tenant !== tenant || this.identity.user !== user) {
      return jsonError(404, 'not_found', `no user ${user} in tenant ${tenant}`);
    }
    if (!this.config.credentials.enabled) return jsonError(403, 'user_disabled', `user ${user} is disabled`);
    if (this.ctx.getWebSockets().length >= this.config.policy.maxSockets) {
      return jsonError(429, 'too_many_sockets', `user ${user} already has ${this.config.policy.maxSockets} open sockets`);
    }
    const pair = new WebSocketPair();
    const server = pair[1];
    const conn = randomToken(9);
    this.ctx.acceptWebSocket(server, [conn]);
    const attachment: Attachment = { c: conn, a: auth, t: Date.now() };
    server.serializeAttachment(attachment);
    if (auth === null) this.scheduleAlarm(attachment.t + UNAUTHENTICATED_TTL_MS);
    // RFC 7118 §4.1: the server must name the negotiated subprotocol in the 101.
    return new Response(null, { status: 101, webSocket: pair[0], headers: { 'Sec-WebSocket-Protocol': 'sip' } });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    // Frames still queued behind a close we sent are dropped.
    if (ws.readyState !== WebSocket.READY_STATE_OPEN) return;
    const att = this.attachment(ws);
    // RFC 7118 §5: text and binary frames both carry one UTF-8 SIP message.
    const text = typeof message === 'string' ? message : new TextDecoder().decode(message);
    const policy = this.config?.policy;
    if (policy) {
      const now = Date.now();
      const taken = takeToken(this.buckets.get(att.c), now, policy.messagesPerSecond, policy.messageBurst);
      this.buckets.set(att.c, taken.bucket);
      if (!taken.allowed) {
        if (taken.abusive) {
          ws.close(1008, 'message rate limit exceeded');
          await this.onClosed(att.c);
          return;
        }
        const answer = refusal(text, 503, { reason: 'Rate Limit Exceeded', retryAfter: taken.retryAfterSeconds, newId: () => randomToken(8) });
        if (answer) ws.send(answer);
        return;
      }
    }
    const conn: ConnInfo = { id: att.c, auth: att.a };
    await this.run({ type: 'socket-message', conn, text });
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    const att = this.attachment(ws);
    // Close frames are always answered (RFC 6455 §5.5.1).
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // Already closed by the runtime.
    }
    await this.onClosed(att.c);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    const att = this.attachment(ws);
    await this.onClosed(att.c);
  }

  private async onClosed(conn: string): Promise<void> {
    this.buckets.delete(conn);
    this.sockets.delete(conn);
    await this.run({ type: 'socket-closed', conn });
  }

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    // A user whose calls changed since the last alarm is likely still busy: the alarm then
    // stays on the user's housekeeping grid (the next instant) instead of going back to the
    // next expiry, so the calls of the next few seconds find it already where their
    // write-behind needs it and set none of their own. Every `setAlarm` is a storage
    // write; this makes it one per grid instant for a busy user instead of one per call.
    // The first alarm that finds nothing to write lets the grid go.
    this.holdGrid = this.state !== null && this.state !== this.stored;
    this.flush();
    const now = Date.now();
    for (const ws of this.ctx.getWebSockets()) {
      const att = this.attachment(ws);
      if (att.a === null && now - att.t >= UNAUTHENTICATED_TTL_MS) {
        ws.close(1008, 'not authenticated within 30 s');
        await this.onClosed(att.c);
      }
    }
    if (now - this.prunedAt > 3_600_000) {
      this.store.pruneHistory();
      this.prunedAt = now;
    }
    this.scheduleAlarm(this.earliestUnauthenticatedDeadline());
    // This event commits anyway: what the timer changed is written with it.
    await this.run({ type: 'timer' }, { flush: true });
  }

  // ---------------------------------------------------------------- RPC between user objects

  /** A request relayed by `from`'s object to this user, with what its SDP was found to hold. */
  async relayRequest(to: UserIdentity, from: string, text: string, media: MediaSummary | null = null): Promise<void> {
    this.learnIdentity(to);
    await this.run({ type: 'peer-request', from, text, media });
  }

  async relayResponse(to: UserIdentity, from: string, text: string, media: MediaSummary | null = null): Promise<void> {
    this.learnIdentity(to);
    await this.run({ type: 'peer-response', from, text, media });
  }

  // ---------------------------------------------------------------- RPC from the tenant object

  /** Stores the user's credentials and the tenant's policy (pushed whenever they change). */
  async configure(identity: UserIdentity, config: UserConfig): Promise<void> {
    this.identity = identity;
    this.config = config;
    this.store.setMeta('identity', identity);
    this.store.setMeta('config', config);
    if (!this.nonceSecret) {
      this.nonceSecret = randomToken(32);
      this.store.setMeta('nonceSecret', this.nonceSecret);
    }
    if (!config.credentials.enabled) await this.closeAll('user disabled');
  }

  async snapshot(): Promise<UserSnapshot> {
    if (this.identity) await this.wake();
    this.flush();
    const state = this.loadState();
    return {
      registrations: state.bindings.map((b) => ({
        contact: b.contact,
        userAgent: b.userAgent,
        since: b.registeredAt,
        expiresAt: b.expiresAt,
        instance: b.instance,
      })),
      calls: this.store.calls(20, true),
      sockets: this.ctx.getWebSockets().length,
    };
  }

  async history(limit: number): Promise<CallRecord[]> {
    this.flush();
    return this.store.calls(limit);
  }

  /** The user is deleted: its calls end with BYE, its sockets close, its data goes. */
  async remove(): Promise<void> {
    await this.closeAll('user deleted');
    this.store.wipe();
    this.config = null;
    this.identity = null;
    this.nonceSecret = null;
    this.state = this.stored = EMPTY_STATE;
    this.flushAt = null;
  }

  // ---------------------------------------------------------------- the adapter itself

  /** Closes every socket; each close ends its calls with BYE and drops its bindings. */
  private async closeAll(reason: string): Promise<void> {
    for (const ws of this.ctx.getWebSockets()) {
      const att = this.attachment(ws);
      ws.close(1000, reason);
      await this.onClosed(att.c);
    }
  }

  private learnIdentity(who: UserIdentity): void {
    this.identity ??= who;
  }

  private loadState(): UserState {
    if (!this.state) this.state = this.stored = this.store.load(Date.now());
    return this.state;
  }

  /**
   * On the first event since the object was built (a no-op after that): load the state,
   * then close what it still holds for sockets that are gone without their close having
   * run (a close the runtime could not deliver, or a restart), so no binding or call
   * outlives its socket.
   */
  private async wake(): Promise<void> {
    if (this.state !== null) return;
    const state = this.loadState();
    const live = new Set(this.ctx.getWebSockets().map((ws) => this.attachment(ws).c));
    for (const conn of lostConnections(state, live)) await this.run({ type: 'socket-closed', conn });
  }

  /** Writes what changed since the last flush, in the current event's transaction. */
  private flush(): void {
    if (this.state && this.stored && this.state !== this.stored) this.store.persist(this.stored, this.state);
    this.stored = this.state;
    this.flushAt = null;
  }

  /** Registrations and nonces are written through; call state waits for the next flush. */
  private commit(prev: UserState, next: UserState, now: number, flushNow: boolean): void {
    this.state = next;
    if (flushNow || next.bindings !== prev.bindings || next.nonces !== prev.nonces) this.flush();
    // On the user's housekeeping grid (sip/timers.ts): the same alarm forgets ended calls.
    else if (next !== this.stored && this.flushAt === null) this.flushAt = onGrid(this.identity?.user ?? '', now + 1);
  }

  private context(): StepContext | null {
    if (!this.identity) return null;
    const policy: TenantPolicy = this.config?.policy ?? unknownUserPolicy(this.identity.tenant);
    return {
      now: Date.now(),
      user: this.identity.user,
      policy,
      credentials: this.config?.credentials ?? null,
      nonceSecret: this.nonceSecret ?? 'unconfigured',
      newId: () => randomToken(8),
    };
  }

  /** Runs one step of the core, records what changed, then carries out the effects. */
  private async run(input: Input, opts: { flush?: boolean } = {}): Promise<void> {
    const ctx = this.context();
    if (!ctx) return;
    await this.wake();
    let effects: readonly Effect[];
    try {
      const prev = this.loadState();
      const result = step(prev, input, ctx);
      this.commit(prev, result.state, ctx.now, opts.flush === true);
      effects = result.effects;
    } catch (err) {
      // A defect must not take the socket or its siblings down: answer 500 and carry on
      // with the state as it was before this input (the core never mutates it).
      console.error('switchboard: step failed', input.type, err instanceof Error ? err.message : err);
      if (input.type === 'socket-message') this.sendTo(input.conn.id, refusal(input.text, 500, { newId: ctx.newId }));
      return;
    }
    this.scheduleAlarm(this.nextCoreDeadline());
    await this.perform(effects, ctx.user);
  }

  /**
   * The core's next timer, or the pending flush, or (while the grid is held) the user's
   * next housekeeping instant, whichever comes first. Housekeeping alone sets no alarm
   * (sip/engine `nextHousekeeping`): it rides on the next alarm set for another reason.
   */
  private nextCoreDeadline(): number | null {
    const hold = this.holdGrid && this.identity ? onGrid(this.identity.user, Date.now() + 1) : null;
    return earliest(earliest(this.state ? nextDeadline(this.state) : null, this.flushAt), hold);
  }

  private async perform(effects: readonly Effect[], me: string): Promise<void> {
    const pending: Array<Promise<void>> = [];
    for (const e of effects) {
      switch (e.type) {
        case 'send':
          this.sendTo(e.conn, e.text);
          break;
        case 'authenticate':
          for (const ws of this.ctx.getWebSockets(e.conn)) {
            const att: Attachment = { ...this.attachment(ws), a: 'digest' };
            ws.serializeAttachment(att);
            this.attachments.set(ws, att);
          }
          // Its 30 s deadline is moot now: point the alarm at what is really next.
          this.repointAlarm();
          break;
        case 'relay-request':
        case 'relay-response':
          // Calls on one stub are delivered in order (E-order), so a CANCEL never overtakes its INVITE.
          pending.push(this.relay(e.type, e.to, me, e.text, e.media ?? null));
          break;
      }
    }
    await Promise.all(pending);
  }

  private async relay(kind: 'relay-request' | 'relay-response', to: string, me: string, text: string, media: MediaSummary | null): Promise<void> {
    const tenant = this.identity!.tenant;
    try {
      if (to === me) {
        // A call to oneself (another device): no RPC to our own object.
        await this.run({ type: kind === 'relay-request' ? 'peer-request' : 'peer-response', from: me, text, media });
        return;
      }
      const stub = this.peer(tenant, to);
      if (kind === 'relay-request') await stub.relayRequest({ tenant, user: to }, me, text, media);
      else await stub.relayResponse({ tenant, user: to }, me, text, media);
    } catch (err) {
      console.error('switchboard: relay failed', kind, to, err instanceof Error ? err.message : err);
      this.peers.delete(to);
      if (kind === 'relay-request') await this.answerFailedRelay(text);
    }
  }

  /** The peer's object could not be reached: the request is answered 503 (§16.9) through our own Via. */
  private async answerFailedRelay(text: string): Promise<void> {
    const r = parseMessage(text);
    if (!r.ok || r.message.kind !== 'request' || r.message.method === 'ACK') return;
    const res = responseFromHeaders(r.message.headers, 503, { reason: 'Peer Unreachable', toTag: randomToken(8) });
    await this.run({ type: 'peer-response', from: this.identity!.user, text: serialize(res) });
  }

  private peer(tenant: string, user: string): DurableObjectStub<UserObject> {
    let stub = this.peers.get(user);
    if (!stub) {
      stub = this.env.USERS.get(this.env.USERS.idFromName(`${tenant}/${user}`));
      this.peers.set(user, stub);
    }
    return stub;
  }

  private sendTo(conn: string, text: string | null): void {
    if (text === null) return;
    let ws = this.sockets.get(conn);
    if (!ws) {
      ws = this.ctx.getWebSockets(conn)[0];
      if (!ws) return;
      this.sockets.set(conn, ws);
    }
    try {
      ws.send(text);
    } catch (err) {
      console.warn('switchboard: send failed', err instanceof Error ? err.message : err);
    }
  }

  /**
   * One alarm, pointed at the earliest deadline: timers are data (sip/engine nextDeadline).
   * An alarm that fires early finds nothing due and is pointed at the next deadline.
   */
  private scheduleAlarm(at: number | null): void {
    if (at === null) return;
    if (this.alarmAt === null || at < this.alarmAt) {
      this.alarmAt = at;
      void this.ctx.storage.setAlarm(at);
    }
  }

  /** Sets the alarm to exactly the next deadline, later or earlier than the current one. */
  private repointAlarm(): void {
    const next = earliest(this.nextCoreDeadline(), this.earliestUnauthenticatedDeadline());
    if (next === this.alarmAt) return;
    this.alarmAt = next;
    void (next === null ? this.ctx.storage.deleteAlarm() : this.ctx.storage.setAlarm(next));
  }

  /** The socket's attachment, deserialised once per socket while this instance lives. */
  private attachment(ws: WebSocket): Attachment {
    let att = this.attachments.get(ws);
    if (!att) {
      att = ws.deserializeAttachment() as Attachment;
      this.attachments.set(ws, att);
    }
    return att;
  }

  private earliestUnauthenticatedDeadline(): number | null {
    let min: number | null = null;
    for (const ws of this.ctx.getWebSockets()) {
      const att = this.attachment(ws) as Attachment | null;
      if (att && att.a === null) {
        const d = att.t + UNAUTHENTICATED_TTL_MS;
        if (min === null || d < min) min = d;
      }
    }
    return min;
  }
}

/** The earlier of two optional deadlines. */
function earliest(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}

/** Policy for an object whose user was never provisioned: it can only answer 404. */
function unknownUserPolicy(tenant: string): TenantPolicy {
  return { tenant, domain: `${tenant}.invalid`, maxDevices: 0, maxSockets: 0, ringTimeoutMs: 0, videoAllowed: false, messagesPerSecond: 1, messageBurst: 1 };
}

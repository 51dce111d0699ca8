/**
 * One Durable Object per user: holds the user's hibernatable WebSockets, registrations and
 * dialogs, and is a thin adapter over the pure core in sip/. Every platform entry point
 * (fetch, webSocketMessage, webSocketClose, alarm, RPC) becomes an `Input`; the returned
 * effects become socket sends and RPCs to other users' objects. After every event the
 * one alarm is pointed at the earliest of what is due (`planAlarm`).
 */
import { DurableObject } from 'cloudflare:workers';
import { lostConnections, nextDeadline, refusal, step } from '../../sip/index.js';
import { withDefaultLimits, type ConnInfo, type Credentials, type Effect, type Input, type StepContext, type TenantPolicy } from '../../sip/io.js';
import { takeToken, type Bucket } from '../../sip/policy/rate-limit.js';
import type { MediaSummary } from '../../sip/policy/sdp.js';
import { onGrid } from '../../sip/timers.js';
import type { Env } from '../env.js';
import { jsonError, randomToken } from '../shared/http.js';
import { FlowWatcher } from './flows.js';
import { Peers } from './peers.js';
import { SocketBook, UNAUTHENTICATED_TTL_MS, notUtf8, type Attachment } from './sockets.js';
import type { Registration, UserConfig, UserIdentity, UserSnapshot } from './model.js';
import { AlarmPlan } from './alarm-plan.js';
import { StateCache } from './state-cache.js';
import { UserStore, type CallRecord } from './store.js';

export { UNAUTHENTICATED_TTL_MS };

export { WRITE_BEHIND_MS } from './state-cache.js';

export type { Registration, UserConfig, UserIdentity, UserSnapshot } from './model.js';

/** RFC 6455 §7.4.1: 1007 for a text frame that is not UTF-8, 1008 for a policy violation. */
const CLOSE_NOT_UTF8 = 1007;
const CLOSE_POLICY = 1008;
const lenientUtf8 = new TextDecoder();

export class UserObject extends DurableObject<Env> {
  private readonly store: UserStore;
  private readonly book: SocketBook;
  private identity: UserIdentity | null;
  private config: UserConfig | null;
  private nonceSecret: string | null;
  /** The state in memory and its write-behind (rebuilt from SQLite after any eviction). */
  private readonly cache: StateCache;
  /** The one alarm (alarm-plan.ts). */
  private readonly alarms: AlarmPlan;
  /** The last alarm found call state to write: keep the alarm on the grid (see `onAlarm`). */
  private holdGrid = false;
  private readonly buckets = new Map<string, Bucket>();
  /** Liveness of the flows whose death would hurt someone (sip/liveness.ts). */
  private readonly flows: FlowWatcher;
  /** Sockets by connection id, looked up once per socket while this instance lives. */
  private readonly sockets = new Map<string, WebSocket>();
  private prunedAt = 0;
  private readonly peers: Peers;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new UserStore(ctx.storage);
    this.alarms = new AlarmPlan(ctx.storage);
    this.cache = new StateCache(this.store);
    this.book = new SocketBook(ctx);
    this.flows = new FlowWatcher(ctx, this.book, (conn) => this.socket(conn));
    this.peers = new Peers(env, () => this.identity!.tenant);
    // RFC 5626 §4.4.1 CRLF keepalive: answered by the runtime without waking this object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('\r\n\r\n', '\r\n'));
    this.identity = this.store.getMeta<UserIdentity>('identity');
    this.config = this.store.getMeta<UserConfig>('config');
    this.nonceSecret = this.store.getMeta<string>('nonceSecret');
    void ctx.blockConcurrencyWhile(async () => {
      await this.alarms.load();
    });
  }

  // ---------------------------------------------------------------- WebSocket edge

  /** The upgrade, forwarded by the Worker after it checked the URL, rate limit and any token. */
  override async fetch(request: Request): Promise<Response> {
    const h = request.headers;
    const tenant = h.get('X-Switchboard-Tenant') ?? '';
    const user = h.get('X-Switchboard-User') ?? '';
    const auth = h.get('X-Switchboard-Auth') === 'token' ? 'token' : null;
    const ip = h.get('X-Switchboard-Client') ?? 'unknown';
    const config = this.config;
    if (!config || !this.identity || this.identity.tenant !== tenant || this.identity.user !== user) {
      return auth ? revoked() : jsonError(404, 'not_found', `no user ${user} in tenant ${tenant}`);
    }
    // The edge checked the token's signature; its generation and the user's state are ours to check.
    const generation = h.get('X-Switchboard-Token-Generation') ?? '';
    if (auth && (!config.credentials.enabled || generation !== (config.tokenGeneration ?? ''))) return revoked();
    const policy = withDefaultLimits(config.policy);
    const admission = this.book.admit(auth, ip, policy);
    if (!admission.ok) return jsonError(admission.status, admission.code, admission.message);
    if (admission.evict) await this.closeSocket(admission.evict, CLOSE_POLICY, 'replaced by a newer unauthenticated socket');

    const pair = new WebSocketPair();
    const server = pair[1];
    const conn = randomToken(9);
    this.ctx.acceptWebSocket(server, [conn]);
    const att: Attachment = auth ? { c: conn, a: auth, t: Date.now(), ip, g: generation } : { c: conn, a: null, t: Date.now(), ip };
    this.book.update(server, att);
    this.planAlarm();
    // RFC 7118 §4.1: the server must name the negotiated subprotocol in the 101.
    return new Response(null, { status: 101, webSocket: pair[0], headers: { 'Sec-WebSocket-Protocol': 'sip' } });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    // Frames still queued behind a close we sent are dropped.
    if (ws.readyState !== WebSocket.READY_STATE_OPEN) return;
    const att = this.book.attachment(ws);
    // A text frame that is not UTF-8 fails the connection (sockets.ts notUtf8). A binary
    // frame may hold a body that is not text at all (RFC 7118 §5): it is read leniently,
    // and the parser judges what it holds.
    if (typeof message === 'string' && notUtf8(message)) return this.closeSocket(ws, CLOSE_NOT_UTF8, 'text frame is not valid UTF-8');
    const text = typeof message === 'string' ? message : lenientUtf8.decode(message);
    this.flows.heard(ws, att, Date.now());
    const policy = this.config ? withDefaultLimits(this.config.policy) : null;
    if (policy) {
      const taken = takeToken(this.buckets.get(att.c), Date.now(), policy.messagesPerSecond, policy.messageBurst);
      this.buckets.set(att.c, taken.bucket);
      if (!taken.allowed) {
        if (taken.abusive) return this.closeSocket(ws, CLOSE_POLICY, 'message rate limit exceeded');
        const answer = refusal(text, 503, { reason: 'Rate Limit Exceeded', retryAfter: taken.retryAfterSeconds, newId: () => randomToken(8) });
        if (answer) ws.send(answer);
        return;
      }
    }
    // A signed-in socket is one of maxSockets; an unauthenticated one may sign in only into a free place.
    const mayAuthenticate = att.a !== null || (policy !== null && this.book.authenticatedCount() < policy.maxSockets);
    const conn: ConnInfo = { id: att.c, auth: att.a, source: att.ip, mayAuthenticate };
    await this.run({ type: 'socket-message', conn, text });
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    const att = this.book.attachment(ws);
    // Close frames are always answered (RFC 6455 §5.5.1).
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // Already closed by the runtime.
    }
    await this.onClosed(att.c);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.onClosed(this.book.attachment(ws).c);
  }

  override async alarm(): Promise<void> {
    await this.alarms.fire(() => this.onAlarm(), () => this.deadlines());
  }

  private async onAlarm(): Promise<void> {
    // A user whose calls changed since the last alarm is likely still busy: the alarm then
    // stays on the user's housekeeping grid (the next instant) instead of going back to the
    // next expiry, so the calls of the next few seconds find it already where their
    // write-behind needs it and set none of their own. Every `setAlarm` is a storage
    // write; this makes it one per grid instant for a busy user instead of one per call.
    // The first alarm that finds nothing to write lets the grid go.
    // Load the state first: the flows to watch, and the sockets lost while evicted, are in it.
    await this.wake();
    this.holdGrid = this.cache.flushAt !== null;
    this.cache.flush();
    const now = Date.now();
    for (const ws of this.book.overdue(now)) await this.closeSocket(ws, CLOSE_POLICY, 'not authenticated within 30 s');
    // Silent flows are asked whether anyone is there; those that did not answer are closed.
    if (this.config && this.identity) {
      for (const a of this.flows.due(this.cache.peek(), now, this.identity.user, this.config.policy.domain, () => randomToken(8))) {
        if (a.kind === 'probe') this.sendTo(a.conn, a.text);
        else await this.closeSocket(a.ws, 1001, 'flow did not answer a keepalive probe (RFC 5626)');
      }
    }
    if (now - this.prunedAt > 3_600_000) {
      this.store.pruneHistory();
      this.prunedAt = now;
    }
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
    if (!config.credentials.enabled) return this.closeAll('user disabled');
    // A revocation closes what the revoked tokens opened (sockets signed in by digest stay).
    const current = config.tokenGeneration ?? '';
    for (const ws of this.book.open()) {
      const att = this.book.attachment(ws);
      if (att.a === 'token' && att.g !== current) await this.closeSocket(ws, CLOSE_POLICY, 'token revoked');
    }
  }

  async snapshot(): Promise<UserSnapshot> {
    if (this.identity) await this.wake();
    this.cache.flush();
    const state = this.cache.get();
    return {
      registrations: state.bindings.map((b) => ({
        contact: b.contact,
        userAgent: b.userAgent,
        since: b.registeredAt,
        expiresAt: b.expiresAt,
        instance: b.instance,
      })),
      calls: this.store.calls(20, true),
      sockets: this.book.open().length,
    };
  }

  async history(limit: number): Promise<CallRecord[]> {
    this.cache.flush();
    return this.store.calls(limit);
  }

  /** The user is deleted: its calls end with BYE, its sockets close, its data goes. */
  async remove(): Promise<void> {
    await this.closeAll('user deleted');
    this.store.wipe();
    this.config = null;
    this.identity = null;
    this.nonceSecret = null;
    this.cache.clear();
  }

  // ---------------------------------------------------------------- the adapter itself

  /** Closes one socket we decided to end; its close ends its calls and drops its bindings. */
  private async closeSocket(ws: WebSocket, code: number, reason: string): Promise<void> {
    const conn = this.book.attachment(ws).c;
    try {
      ws.close(code, reason);
    } catch {
      // Already closing.
    }
    await this.onClosed(conn);
  }

  private async onClosed(conn: string): Promise<void> {
    this.buckets.delete(conn);
    this.flows.forget(conn);
    this.sockets.delete(conn);
    this.book.forget(conn);
    await this.run({ type: 'socket-closed', conn });
  }

  /** Closes every socket; each close ends its calls with BYE and drops its bindings. */
  private async closeAll(reason: string): Promise<void> {
    for (const ws of this.book.open()) await this.closeSocket(ws, 1000, reason);
  }

  private learnIdentity(who: UserIdentity): void {
    this.identity ??= who;
  }

  /**
   * On the first event since the object was built (a no-op after that): load the state,
   * then close what it still holds for sockets that are gone without their close having
   * run (a close the runtime could not deliver, or a restart), so no binding or call
   * outlives its socket.
   */
  private async wake(): Promise<void> {
    if (this.cache.loaded) return;
    const state = this.cache.get();
    const live = new Set(this.book.open().map((ws) => this.book.attachment(ws).c));
    for (const conn of lostConnections(state, live)) await this.run({ type: 'socket-closed', conn });
  }

  private context(): StepContext | null {
    if (!this.identity) return null;
    return {
      now: Date.now(),
      user: this.identity.user,
      policy: this.config ? withDefaultLimits(this.config.policy) : unknownUserPolicy(this.identity.tenant),
      credentials: this.config?.credentials ?? null,
      nonceSecret: this.nonceSecret ?? 'unconfigured',
      displayName: this.config?.displayName ?? null,
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
      const prev = this.cache.get();
      const result = step(prev, input, ctx);
      this.cache.commit(prev, result.state, ctx.now, ctx.user, opts.flush === true);
      effects = result.effects;
    } catch (err) {
      // A defect must not take the socket or its siblings down: answer 500 and carry on
      // with the state as it was before this input (the core never mutates it).
      console.error('switchboard: step failed', input.type, err instanceof Error ? err.message : err);
      if (input.type === 'socket-message') this.sendTo(input.conn.id, refusal(input.text, 500, { newId: ctx.newId }));
      return;
    }
    this.planAlarm();
    await this.perform(effects, ctx.user);
  }

  private async perform(effects: readonly Effect[], me: string): Promise<void> {
    const pending: Array<Promise<void>> = [];
    for (const e of effects) {
      switch (e.type) {
        case 'send':
          this.sendTo(e.conn, e.text);
          break;
        case 'authenticate':
          for (const ws of this.ctx.getWebSockets(e.conn)) this.book.update(ws, { ...this.book.attachment(ws), a: 'digest' });
          // Its 30 s is moot now: the alarm goes where the plan really is (often much
          // later), instead of waking the object for nothing.
          this.planAlarm(true);
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
      // An object addressed is an object created: a user the tenant does not have is
      // answered here, and nothing is stored for it anywhere (RFC 3261 §16.6 404).
      if (!(await this.peers.exists(to))) {
        if (kind === 'relay-request') await this.answerLocally(text, 404, 'User Not Found');
        return;
      }
      const stub = this.peers.stub(to);
      if (kind === 'relay-request') await stub.relayRequest({ tenant, user: to }, me, text, media);
      else await stub.relayResponse({ tenant, user: to }, me, text, media);
    } catch (err) {
      console.error('switchboard: relay failed', kind, to, err instanceof Error ? err.message : err);
      this.peers.drop(to);
      if (kind === 'relay-request') await this.answerLocally(text, 503, 'Peer Unreachable');
    }
  }

  /** A relayed request that cannot go on is answered (§16.9) through our own Via, as the peer would. */
  private async answerLocally(text: string, status: number, reason: string): Promise<void> {
    const answer = refusal(text, status, { reason, newId: () => randomToken(8) });
    if (answer) await this.run({ type: 'peer-response', from: this.identity!.user, text: answer });
  }

  private sendTo(conn: string, text: string | null): void {
    if (text === null) return;
    const ws = this.socket(conn);
    if (!ws) return;
    try {
      ws.send(text);
    } catch (err) {
      console.warn('switchboard: send failed', err instanceof Error ? err.message : err);
    }
  }

  private socket(conn: string): WebSocket | undefined {
    let ws = this.sockets.get(conn);
    if (!ws) {
      ws = this.ctx.getWebSockets(conn)[0];
      if (ws) this.sockets.set(conn, ws);
    }
    return ws;
  }

  // ---------------------------------------------------------------- the alarm plan

  /**
   * What the alarm must wake for: the core's next timer, the pending flush, the user's
   * next housekeeping instant while the grid is held, the next unauthenticated socket's
   * 30 s, and the next look at a watched flow (alarm-plan.ts takes the earliest).
   */
  private deadlines(): Array<number | null> {
    const now = Date.now();
    const state = this.cache.peek();
    const grid = this.holdGrid && this.identity ? onGrid(this.identity.user, now + 1) : null;
    return [state ? nextDeadline(state) : null, this.cache.flushAt, this.book.nextDeadline(), grid, this.flows.next(state, now)];
  }

  private planAlarm(exact = false): void {
    this.alarms.plan(this.deadlines(), exact);
  }
}

function revoked(): Response {
  return jsonError(401, 'token_revoked', 'the token is no longer valid');
}

/** Policy for an object whose user was never provisioned: it can only answer 404. */
function unknownUserPolicy(tenant: string): TenantPolicy {
  return withDefaultLimits({ tenant, domain: `${tenant}.invalid`, maxDevices: 0, maxSockets: 0, ringTimeoutMs: 0, videoAllowed: false, messagesPerSecond: 1, messageBurst: 1 } as TenantPolicy);
}

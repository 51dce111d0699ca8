/**
 * One Durable Object per user: the platform's entry points, and nothing else of its own.
 * Each entry point makes sure the object is awake (`awake`: one wake path), then hands
 * over: frames, closes, peers' relays and the alarm become inputs of the pure core
 * (sip/index.ts `step`), whose effects effects.ts carries out. Sockets and their
 * attachments are sockets.ts, the live state and where it is kept live-state.ts, what
 * outlives every socket store.ts, the one alarm alarm-plan.ts, flow liveness flows.ts.
 */
import type { TenantPush } from '../tenant/push-config.js';
import { tenantObject } from '../shared/names.js';
import { sendPush } from './push/providers.js';
import { DurableObject } from 'cloudflare:workers';
import { lostConnections, refusal, step } from '../../sip/index.js';
import { liveCalls } from '../../sip/dialog/dialog.js';
import { currentBindings } from '../../sip/registrar/registrar.js';
import { withDefaultLimits, type ConnInfo, type Input, type StepContext, type TenantPolicy } from '../../sip/io.js';
import type { AuthGuard } from '../../sip/policy/auth-guard.js';
import type { UserState } from '../../sip/state.js';
import { takeToken, type Bucket } from '../../sip/policy/rate-limit.js';
import type { MediaSummary } from '../../sip/policy/sdp.js';
import type { Env } from '../env.js';
import { jsonError, randomToken } from '../shared/http.js';
import { AlarmPlan, FLUSH_SOURCE, alarmSources, type DueReason } from './alarm-plan.js';
import { perform, sendTo, type EffectHost } from './effects.js';
import { FlowWatcher, type FlowAction } from './flows.js';
import { LiveState } from './live-state.js';
import type { UserConfig, UserIdentity, UserSnapshot } from './model.js';
import { Peers } from './peers.js';
import { SocketBook, UNAUTHENTICATED_TTL_MS, notUtf8, type Attachment } from './sockets.js';
import { UserStore, liveRecord, type CallRecord } from './store.js';

export { UNAUTHENTICATED_TTL_MS };

export type { Registration, UserConfig, UserIdentity, UserSnapshot } from './model.js';

/** RFC 6455 §7.4.1: 1007 for a text frame that is not UTF-8, 1008 for a policy violation. */
const CLOSE_NOT_UTF8 = 1007;
const CLOSE_POLICY = 1008;
const lenientUtf8 = new TextDecoder();

export class UserObject extends DurableObject<Env> {
  private readonly store: UserStore;
  private readonly book: SocketBook;
  private readonly live: LiveState;
  private readonly alarms: AlarmPlan;
  private readonly flows: FlowWatcher;
  private readonly peers: Peers;
  private readonly buckets = new Map<string, Bucket>();
  private readonly host: EffectHost;
  private identity: UserIdentity | null;
  private config: UserConfig | null = null;
  /** The tenant's policy with its defaults filled in, made once per configuration, not per frame (useConfig). */
  private limits: TenantPolicy | null = null;
  private nonceSecret: string | null;
  private guard: AuthGuard | null;
  /** Calls came back from their rows when the object was built (a restart); the first wake plans their grace. */
  private restored = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new UserStore(ctx.storage);
    this.alarms = new AlarmPlan(ctx.storage, (reason) => this.onAlarm(reason), () => this.dueTimes());
    this.book = new SocketBook(ctx);
    // One statement: what the tenant pushed, the password guard, and the held calls.
    const meta = this.store.load();
    this.live = new LiveState(this.book, this.store, meta.held, meta.push);
    this.flows = new FlowWatcher(ctx, this.book, (conn) => this.book.socket(conn), () => this.identity?.user ?? null);
    this.peers = new Peers(env, () => this.identity!.tenant);
    // RFC 5626 §4.4.1 CRLF keepalive: answered by the runtime without waking this object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('\r\n\r\n', '\r\n'));
    this.identity = meta.identity;
    this.useConfig(meta.config);
    this.nonceSecret = meta.nonceSecret;
    this.guard = meta.guard;
    // Built with no socket open: after a restart, the calls that were up are known only to
    // their rows. They come back held; the first wake plans their grace's end.
    const grace = this.limits?.flowGraceMs ?? 0;
    this.restored = grace > 0 && this.book.all().length === 0 && this.live.restore(this.store.openCalls(), Date.now(), grace);
    this.host = {
      book: this.book,
      peers: this.peers,
      identity: () => this.identity!,
      run: (input) => this.run(input),
      signedIn: () => this.alarms.plan(),
      push: async (binding, payload, ttlSeconds) => sendPush(env, binding, payload, ttlSeconds, binding.provider === 'webpush' ? undefined : await this.tenantPush()),
    };
    void ctx.blockConcurrencyWhile(() => this.alarms.load());
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
    await this.awake();
    const admission = this.book.admit(auth, ip, this.limits!);
    if (!admission.ok) return jsonError(admission.status, admission.code, admission.message);
    if (admission.evict) await this.closeSocket(admission.evict, CLOSE_POLICY, 'replaced by a newer unauthenticated socket');

    const pair = new WebSocketPair();
    const server = pair[1];
    const conn = randomToken(9);
    this.ctx.acceptWebSocket(server, [conn]);
    const att: Attachment = auth ? { c: conn, a: auth, t: Date.now(), ip, g: generation } : { c: conn, a: null, t: Date.now(), ip };
    this.book.update(server, att);
    this.alarms.plan();
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
    await this.awake();
    this.flows.heard(ws, att, Date.now());
    const policy = this.limits;
    if (policy) {
      const taken = takeToken(this.buckets.get(att.c), Date.now(), policy.messagesPerSecond, policy.messageBurst);
      this.buckets.set(att.c, taken.bucket);
      if (!taken.allowed) {
        if (taken.abusive) return this.closeSocket(ws, CLOSE_POLICY, 'message rate limit exceeded');
        return this.run({ type: 'socket-refused', conn: att.c, text, status: 503, reason: 'Rate Limit Exceeded', retryAfter: taken.retryAfterSeconds });
      }
    }
    // A signed-in socket is one of maxSockets; an unauthenticated one may sign in only into a free place.
    const mayAuthenticate = att.a !== null || (policy !== null && this.book.authenticatedCount() < policy.maxSockets);
    const conn: ConnInfo = { id: att.c, auth: att.a, source: att.ip, mayAuthenticate };
    await this.run({ type: 'socket-message', conn, text });
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    const conn = this.book.attachment(ws).c;
    // Close frames are always answered (RFC 6455 §5.5.1).
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // Already closed by the runtime.
    }
    await this.awake(ws);
    await this.onClosed(conn);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    const conn = this.book.attachment(ws).c;
    await this.awake(ws);
    await this.onClosed(conn);
  }

  override async alarm(): Promise<void> {
    await this.alarms.fireAlarm();
  }

  private async onAlarm(reason: DueReason): Promise<void> {
    // The timer of the attachments' write does only that (anything else due at the same
    // moment is planned again right after, and gets a run of its own).
    if (reason === FLUSH_SOURCE) return this.live.flush();
    // The state first: the flows to watch, and the sockets lost while evicted, are in it.
    await this.awake();
    const now = Date.now();
    for (const ws of this.book.overdue(now)) await this.closeSocket(ws, CLOSE_POLICY, 'not authenticated within 30 s');
    // Silent flows are asked whether anyone is there; those that did not answer are closed.
    if (this.config) await this.onFlows(this.flows.due(this.live.peek(), now, this.config.policy.domain, () => randomToken(8)));
    await this.run({ type: 'timer' });
    // Last, so that what the timer input changed goes with the rest.
    this.live.flush();
  }

  // ---------------------------------------------------------------- RPC between user objects

  /** A request relayed by `from`'s object to this user, with what its SDP was found to hold. */
  async relayRequest(to: UserIdentity, from: string, text: string, media: MediaSummary | null = null): Promise<void> {
    this.identity ??= to;
    await this.awake();
    await this.run({ type: 'peer-request', from, text, media });
  }

  async relayResponse(to: UserIdentity, from: string, text: string, media: MediaSummary | null = null): Promise<void> {
    this.identity ??= to;
    await this.awake();
    await this.run({ type: 'peer-response', from, text, media });
  }

  /** `from`'s object watches their call `callId` with this user and asks for a look at this user's flow in it (flows.ts). */
  async lookAtCall(to: UserIdentity, from: string, callId: string): Promise<void> {
    this.identity ??= to;
    await this.awake();
    if (!this.config) return;
    await this.onFlows(this.flows.lookAtCall(this.live.peek(), from, callId, Date.now(), this.config.policy.domain, () => randomToken(8)));
    this.alarms.plan();
  }

  // ---------------------------------------------------------------- RPC from the tenant object

  /** Stores the user's credentials and the tenant's policy (pushed whenever they change). */
  async configure(identity: UserIdentity, config: UserConfig): Promise<void> {
    this.identity = identity;
    this.useConfig(config);
    this.store.setMeta('identity', identity);
    this.store.setMeta('config', config);
    if (!this.nonceSecret) {
      this.nonceSecret = randomToken(32);
      this.store.setMeta('nonceSecret', this.nonceSecret);
    }
    await this.awake();
    if (!config.credentials.enabled) return this.closeAll('user disabled');
    // A revocation closes what the revoked tokens opened (sockets signed in by digest stay).
    const current = config.tokenGeneration ?? '';
    for (const ws of this.book.open()) {
      const att = this.book.attachment(ws);
      if (att.a === 'token' && att.g !== current) await this.closeSocket(ws, CLOSE_POLICY, 'token revoked', true);
    }
  }

  async snapshot(): Promise<UserSnapshot> {
    await this.awake();
    const state = this.live.get(this.guard);
    return {
      registrations: currentBindings(state, Date.now()).map((b) => ({ contact: b.contact, userAgent: b.userAgent, since: b.registeredAt, expiresAt: b.expiresAt, instance: b.instance })),
      calls: liveCalls(state, 20).map(liveRecord),
      sockets: this.book.open().length,
    };
  }

  async history(limit: number): Promise<CallRecord[]> {
    await this.awake();
    const state = this.live.get(this.guard);
    return this.store.calls(limit, new Map(state.dialogs.map((d) => [d.id, d])));
  }

  /** The user is deleted: its calls end with BYE, its sockets close, its data goes. */
  async remove(): Promise<void> {
    await this.awake();
    await this.closeAll('user deleted');
    this.store.wipe();
    this.useConfig(null);
    this.identity = null;
    this.nonceSecret = null;
    this.guard = null;
    this.live.clear();
  }

  // ---------------------------------------------------------------- the one wake path

  /**
   * On the first event since the object was built (a no-op after that): rebuild the live
   * state from the open sockets, then close what it still holds for sockets that are
   * gone without their close having run (a close the runtime could not deliver), so no
   * binding or call outlives its socket. No SQL: the meta was read when the object was built.
   */
  private async awake(closing?: WebSocket): Promise<void> {
    if (this.live.loaded || !this.identity) return;
    const state = this.live.get(this.guard, closing);
    const open = new Set(this.book.open().map((ws) => this.book.attachment(ws).c));
    for (const conn of lostConnections(state, open)) await this.run({ type: 'socket-closed', conn });
    if (this.restored) {
      this.restored = false;
      this.alarms.plan();
    }
  }

  /** Carries out what the flows' watch decided: probes, closes of dead flows, and asks of the other parties' objects. */
  private async onFlows(actions: readonly FlowAction[]): Promise<void> {
    const asks: Array<Promise<void>> = [];
    for (const a of actions) {
      if (a.kind === 'probe') sendTo(this.book, a.conn, a.text);
      else if (a.kind === 'dead') await this.closeSocket(a.ws, 1001, 'flow did not answer a keepalive probe (RFC 5626)');
      else asks.push(this.peers.lookAtCall(a.peer, this.identity!.user, a.callId));
    }
    await Promise.all(asks);
  }

  /**
   * Closes one socket we decided to end; its close drops its bindings and holds its calls
   * for the device to come back, or ends them when the close is `final`.
   */
  private async closeSocket(ws: WebSocket, code: number, reason: string, final = false): Promise<void> {
    const conn = this.book.attachment(ws).c;
    try {
      ws.close(code, reason);
    } catch {
      // Already closing.
    }
    await this.onClosed(conn, final);
  }

  private async onClosed(conn: string, final = false): Promise<void> {
    this.buckets.delete(conn);
    this.flows.forget(conn);
    await this.run({ type: 'socket-closed', conn, final });
    this.book.forget(conn);
  }

  /** Closes every socket for good; each close ends its calls with BYE and drops its bindings. */
  private async closeAll(reason: string): Promise<void> {
    for (const ws of this.book.open()) await this.closeSocket(ws, 1000, reason, true);
    await this.run({ type: 'end-held' });
  }

  /** The tenant's push credentials as last asked, for a minute: pushes are rare, and a change reaches them within it. */
  private pushCredentials: { value: TenantPush; until: number } | null = null;

  private async tenantPush(): Promise<TenantPush> {
    const now = Date.now();
    if (this.pushCredentials && this.pushCredentials.until > now) return this.pushCredentials.value;
    const value = await tenantObject(this.env, this.identity!.tenant).pushConfig();
    this.pushCredentials = { value, until: now + 60_000 };
    return value;
  }

  /** The configuration, and the limits derived from it: set together, never apart. */
  private useConfig(config: UserConfig | null): void {
    this.config = config;
    this.limits = config ? withDefaultLimits(config.policy) : null;
  }

  private context(): StepContext | null {
    if (!this.identity) return null;
    return {
      now: Date.now(),
      user: this.identity.user,
      policy: this.limits ?? unknownUserPolicy(this.identity.tenant),
      credentials: this.config?.credentials ?? null,
      nonceSecret: this.nonceSecret ?? 'unconfigured',
      gruuKey: this.config?.gruuKey ?? null,
      displayName: this.config?.displayName ?? null,
      newId: () => randomToken(8),
    };
  }

  /** Runs one step of the core, keeps what changed, then carries out the effects. */
  private async run(input: Input): Promise<void> {
    const ctx = this.context();
    if (!ctx) return;
    let result: ReturnType<typeof step>;
    let prev: UserState;
    try {
      prev = this.live.get(this.guard);
      result = step(prev, input, ctx);
      this.live.commit(prev, result.state);
      this.guard = result.state.guard;
    } catch (err) {
      // A defect must not take the socket or its siblings down: answer 500 and carry on
      // with the state as it was before this input (the core never mutates it).
      console.error('switchboard: step failed', input.type, err instanceof Error ? err.message : err);
      const answer = input.type === 'socket-message' ? refusal(input.text, 500, { newId: ctx.newId }) : null;
      if (answer !== null && input.type === 'socket-message') sendTo(this.book, input.conn.id, answer);
      return;
    }
    // The plan only ever moves earlier, and only a new fork, dialog or binding can bring
    // something earlier (a frame heard moves its flow's look later): most in-dialog
    // messages change none of them, and plan nothing.
    const next = result.state;
    if (next.forks !== prev.forks || next.dialogs !== prev.dialogs || next.bindings !== prev.bindings || next.wakes !== prev.wakes) this.alarms.plan();
    await perform(this.host, result.effects);
  }

  private dueTimes(): Array<number | null> {
    return alarmSources(this.live, this.book, this.flows, Date.now());
  }
}

function revoked(): Response {
  return jsonError(401, 'token_revoked', 'the token is no longer valid');
}

/** Policy for an object whose user was never provisioned: it can only answer 404. */
function unknownUserPolicy(tenant: string): TenantPolicy {
  return withDefaultLimits({ tenant, domain: `${tenant}.invalid`, maxDevices: 0, maxSockets: 0, ringTimeoutMs: 0, videoAllowed: false, messagesPerSecond: 1, messageBurst: 1 } as TenantPolicy);
}

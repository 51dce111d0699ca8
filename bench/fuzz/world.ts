/**
 * The users' objects of one tenant, simulated in memory as the adapter runs them
 * (durable-objects/user/user-object.ts): sockets with a token bucket each and the socket
 * limits, relays delivered in order, an alarm that fires at every deadline the core names
 * with the clock at that deadline, and unauthenticated sockets closed after 30 s. Every
 * `step` is watched: a throw, a timer that leaves its deadline due, or a state past its
 * bound is recorded as a failure with the input and the state that caused it.
 */
import { nextDeadline, nextHousekeeping, refusal, step } from '../../sip/index.js';
import { DEFAULT_LIMITS, type ConnInfo, type Credentials, type Input, type SocketAuth, type StepContext, type TenantPolicy } from '../../sip/io.js';
import { computeHa1 } from '../../sip/auth/digest.js';
import { takeToken, type Bucket } from '../../sip/policy/rate-limit.js';
import { EMPTY_STATE, type UserState } from '../../sip/state.js';
import { remember, type Speaker } from './messages.js';
import type { Rng } from './rng.js';

export const DOMAIN = 'fuzz.test';
/** Same as the adapter's UNAUTHENTICATED_TTL_MS. */
export const UNAUTHENTICATED_TTL_MS = 30_000;

export const PASSWORDS: Record<string, string> = { alice: 'alice-pw-1', bob: 'bob-pw-22', carol: 'carol-pw-333', dave: 'dave-pw-4444' };
/** alice, bob and carol are enabled; dave is disabled (no sockets, 480 as a callee); ghost and anything else is unknown (404). */
export const USERS = ['alice', 'bob', 'carol', 'dave'] as const;
export const CALLABLE = ['alice', 'bob', 'carol', 'dave', 'ghost', '+15550100', 'x.y-z_'] as const;
const SOURCES = ['192.0.2.1', '192.0.2.2', '198.51.100.7', '2001:db8::1'];

/**
 * The bound each user's state must stay under, whatever arrives: records counted over
 * every array of the state (and of its nested objects), and its JSON length. With the
 * default policy the core's own caps add up to 346 records (10 bindings, 2 × 32 dialogs,
 * 2 × 32 forks, 64 nonces, 64 + 16 addresses in the guard, 64 transactions); a core
 * without them keeps about 1,300 under the `flood` tempo of core-fuzz.ts. The largest
 * records are forks (a header section of at most 16 KiB and a stored answer of at most
 * 64 KiB) and dialogs (at most 16 KiB of headers): 64 × 80 KiB + 64 × 16 KiB and the
 * small rest stay under 8 MiB.
 */
export const MAX_RECORDS = 512;
export const MAX_STATE_JSON = 8 * 1024 * 1024;
/** What may be left once every socket has closed and the clock has passed every deadline. */
export const MAX_DRAINED_RECORDS = 32;

export interface Conn {
  readonly id: string;
  readonly user: string;
  auth: SocketAuth;
  readonly openedAt: number;
  readonly source: string;
  bucket: Bucket | undefined;
  open: boolean;
  /** Frames received so far, and how many of them the fuzzer has looked at. */
  frames: number;
  seen: number;
  readonly speaker: Speaker;
}

export interface Failure {
  readonly property: string;
  readonly detail: string;
  readonly user?: string;
  readonly input?: Input;
  readonly state?: UserState;
  readonly now?: number;
}

export interface Size {
  readonly records: number;
  readonly bytes: number;
  readonly fields: Record<string, number>;
}

/** Records of a state, counted generically: every array among its values, and among its objects' values. */
export function measure(state: UserState): Size {
  const fields: Record<string, number> = {};
  let records = 0;
  for (const [k, v] of Object.entries(state)) {
    if (Array.isArray(v)) {
      fields[k] = v.length;
      records += v.length;
    } else if (v !== null && typeof v === 'object') {
      for (const [k2, w] of Object.entries(v)) {
        if (!Array.isArray(w)) continue;
        fields[`${k}.${k2}`] = w.length;
        records += w.length;
      }
    }
  }
  return { records, bytes: JSON.stringify(state).length, fields };
}

export class World {
  now = Date.UTC(2026, 11, 1, 12, 0, 0);
  readonly policy: TenantPolicy = { tenant: 'fuzz', domain: DOMAIN, ...DEFAULT_LIMITS };
  readonly states = new Map<string, UserState>();
  readonly conns = new Map<string, Conn>();
  readonly failures: Failure[] = [];
  readonly stats = { steps: 0, socketMessages: 0, peerInputs: 0, closes: 0, timers: 0, refused: 0, abusiveCloses: 0, unauthenticatedCloses: 0, relays: 0, sends: 0, foreignSends: 0, openRefused: 0, digestAuthentications: 0, answeredCalls: 0, pushes: 0 };
  max: Size & { user: string } = { records: 0, bytes: 0, fields: {}, user: '' };
  private readonly credentials = new Map<string, Credentials>();
  private readonly sizes = new Map<string, { state: UserState; size: Size }>();
  private readonly overBound = new Set<string>();
  /** Users whose timer left a deadline due: their alarm waits until their state changes. */
  private readonly stuck = new Map<string, UserState>();
  private ids = 0;

  constructor(private readonly rng: Rng) {
    for (const u of USERS) {
      const pw = PASSWORDS[u]!;
      this.credentials.set(u, { ha1Md5: computeHa1('MD5', u, DOMAIN, pw), ha1Sha256: computeHa1('SHA-256', u, DOMAIN, pw), enabled: u !== 'dave' });
    }
  }

  state(user: string): UserState {
    return this.states.get(user) ?? EMPTY_STATE;
  }

  openConns(user?: string): Conn[] {
    return [...this.conns.values()].filter((c) => c.open && (user === undefined || c.user === user));
  }

  private context(user: string): StepContext {
    return this.contextAt(user, this.now);
  }

  /** The context a step of `user` gets at `now` (also to replay a failure). */
  contextAt(user: string, now: number): StepContext {
    return { now, user, policy: this.policy, credentials: this.credentials.get(user) ?? null, nonceSecret: `nonce-secret-${user}`, displayName: user, newId: () => `i${(++this.ids).toString(36)}` };
  }

  /** A new socket, refused as the adapter refuses it (socket limits); null when refused. */
  open(user: string, auth: SocketAuth, knowsPassword: boolean): Conn | null {
    const mine = this.openConns(user);
    const pending = mine.filter((c) => c.auth === null).length;
    // The adapter refuses the upgrade for an unknown (404) or disabled (403) user.
    if (!this.credentials.get(user)?.enabled || mine.length >= this.policy.maxSockets || (auth === null && pending >= (this.policy.maxPendingSockets ?? Infinity))) {
      this.stats.openRefused++;
      return null;
    }
    const id = `c${(++this.ids).toString(36)}`;
    const host = `${this.rng.token(10)}.invalid`;
    const conn: Conn = {
      id,
      user,
      auth,
      openedAt: this.now,
      source: this.rng.pick(SOURCES),
      bucket: undefined,
      open: true,
      frames: 0,
      seen: 0,
      speaker: { user, domain: DOMAIN, host, contact: `sip:${this.rng.token(8)}@${host};transport=ws`, instance: this.rng.chance(0.6) ? `${this.rng.token(8)}-4cda-b347-${this.rng.token(12)}` : null, password: knowsPassword ? (PASSWORDS[user] ?? null) : null, peers: CALLABLE, regCallId: this.rng.token(20), received: [], sent: [], cseq: 1 },
    };
    this.conns.set(id, conn);
    return conn;
  }

  close(conn: Conn): void {
    if (!conn.open) return;
    conn.open = false;
    this.conns.delete(conn.id);
    this.stats.closes++;
    this.deliver(conn.user, { type: 'socket-closed', conn: conn.id });
  }

  /** A frame from a socket: the token bucket first, as the adapter does. */
  socketMessage(conn: Conn, text: string): void {
    if (!conn.open) return;
    if (/^[A-Z]/.test(text) && !text.startsWith('SIP/')) remember(conn.speaker.sent, text);
    const taken = takeToken(conn.bucket, this.now, this.policy.messagesPerSecond, this.policy.messageBurst);
    conn.bucket = taken.bucket;
    if (!taken.allowed) {
      this.stats.refused++;
      if (taken.abusive) {
        this.stats.abusiveCloses++;
        this.close(conn);
        return;
      }
      const answer = this.guard('refusal never throws', conn.user, undefined, () => refusal(text, 503, { reason: 'Rate Limit Exceeded', retryAfter: taken.retryAfterSeconds, newId: () => `r${++this.ids}` }));
      if (answer) remember(conn.speaker.received, answer);
      return;
    }
    this.stats.socketMessages++;
    const authenticated = this.openConns(conn.user).filter((c) => c.auth !== null).length;
    const info: ConnInfo = { id: conn.id, auth: conn.auth, source: conn.source, userAgent: 'fuzz', mayAuthenticate: authenticated < this.policy.maxSockets };
    this.deliver(conn.user, { type: 'socket-message', conn: info, text });
  }

  /** A request or response injected as if another user's object had relayed it. */
  peerInput(user: string, type: 'peer-request' | 'peer-response', from: string, text: string): void {
    this.stats.peerInputs++;
    this.deliver(user, { type, from, text });
  }

  timer(user: string): void {
    this.stats.timers++;
    this.deliver(user, { type: 'timer' });
  }

  /** Runs the step and everything it relays, in order, as the objects would. */
  private deliver(user: string, input: Input): void {
    const queue: Array<{ user: string; input: Input }> = [{ user, input }];
    let n = 0;
    while (queue.length > 0) {
      const { user: u, input: i } = queue.shift()!;
      if (++n > 10_000) {
        this.fail({ property: 'one input causes a bounded number of steps', detail: `more than 10,000 relayed steps after one ${input.type}`, user, input });
        return;
      }
      const before = this.state(u);
      this.stats.steps++;
      const result = this.guard('step never throws', u, i, () => step(before, i, this.context(u)), before);
      if (!result) continue;
      this.setState(u, result.state, i);
      for (const e of result.effects) {
        if (e.type === 'send') {
          this.stats.sends++;
          const c = this.conns.get(e.conn);
          if (c && c.user !== u) this.stats.foreignSends++;
          else if (c?.open) {
            remember(c.speaker.received, e.text);
            c.frames++;
          }
          if (e.text.startsWith('SIP/2.0 200') && /\r\nCSeq:\s*\d+\s+INVITE\r\n/i.test(e.text)) this.stats.answeredCalls++;
        } else if (e.type === 'authenticate') {
          const c = this.conns.get(e.conn);
          if (c && c.user === u) c.auth = 'digest';
          this.stats.digestAuthentications++;
        } else if (e.type === 'push') {
          this.stats.pushes++;
        } else {
          this.stats.relays++;
          queue.push({ user: e.to, input: { type: e.type === 'relay-request' ? 'peer-request' : 'peer-response', from: u, text: e.text, media: e.media ?? null } });
        }
      }
    }
  }

  private guard<T>(property: string, user: string, input: Input | undefined, f: () => T, state?: UserState): T | null {
    try {
      return f();
    } catch (err) {
      const e = err instanceof Error ? `${err.name}: ${err.message}\n${(err.stack ?? '').split('\n').slice(1, 6).join('\n')}` : String(err);
      this.fail({ property, detail: e, user, input, state, now: this.now });
      return null;
    }
  }

  fail(f: Failure): void {
    if (this.failures.length < 1000) this.failures.push(f);
  }

  private setState(user: string, state: UserState, input: Input): void {
    if (state === EMPTY_STATE && !this.states.has(user)) return;
    this.states.set(user, state);
    const size = this.size(user, state);
    if (size.records > this.max.records || size.bytes > this.max.bytes) {
      this.max = { records: Math.max(size.records, this.max.records), bytes: Math.max(size.bytes, this.max.bytes), fields: size.records >= this.max.records ? size.fields : this.max.fields, user };
    }
    if ((size.records > MAX_RECORDS || size.bytes > MAX_STATE_JSON) && !this.overBound.has(user)) {
      this.overBound.add(user);
      this.fail({ property: `state stays under ${MAX_RECORDS} records and ${MAX_STATE_JSON} JSON characters`, detail: `${user}: ${size.records} records ${JSON.stringify(size.fields)}, ${size.bytes} JSON characters`, user, input, now: this.now });
    }
  }

  size(user: string, state = this.state(user)): Size {
    const cached = this.sizes.get(user);
    if (cached && cached.state === state) return cached.size;
    const size = measure(state);
    this.sizes.set(user, { state, size });
    return size;
  }

  /** The earliest moment the user's alarm must fire: the core's deadlines, housekeeping, an unauthenticated socket's 30 s. */
  private due(user: string): number | null {
    const st = this.state(user);
    let at = Math.min(nextDeadline(st) ?? Infinity, nextHousekeeping(st) ?? Infinity);
    for (const c of this.openConns(user)) if (c.auth === null) at = Math.min(at, c.openedAt + UNAUTHENTICATED_TTL_MS);
    return at === Infinity ? null : at;
  }

  /** Moves the clock, firing each alarm at its own instant, in order. */
  advance(ms: number): void {
    const target = this.now + ms;
    for (let guard = 0; guard < 100_000; guard++) {
      let next: { user: string; at: number } | null = null;
      for (const user of new Set([...this.states.keys(), ...this.openConns().map((c) => c.user)])) {
        if (this.stuck.get(user) === this.state(user)) continue;
        const at = this.due(user);
        if (at !== null && at <= target && (next === null || at < next.at)) next = { user, at };
      }
      if (!next) break;
      this.now = Math.max(this.now, next.at);
      this.alarm(next.user);
    }
    this.now = Math.max(this.now, target);
  }

  /** The adapter's alarm: close late unauthenticated sockets, then one timer input. */
  alarm(user: string): void {
    for (const c of this.openConns(user)) {
      if (c.auth === null && this.now - c.openedAt >= UNAUTHENTICATED_TTL_MS) {
        this.stats.unauthenticatedCloses++;
        this.close(c);
      }
    }
    this.timer(user);
    const st = this.state(user);
    const left = Math.min(nextDeadline(st) ?? Infinity, nextHousekeeping(st) ?? Infinity);
    if (left <= this.now) {
      this.fail({ property: 'a timer input leaves no deadline due', detail: `${user}: deadline ${left} <= now ${this.now} after the timer`, user, state: st, now: this.now });
      // The adapter would spin on this alarm; here it waits for the next change of state.
      this.stuck.set(user, st);
    }
  }
}

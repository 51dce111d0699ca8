/**
 * The pure core alone, without the runtime: how many microseconds `step` spends per call
 * (INVITE/100/180/200, ACK, hold re-INVITE/200/ACK, BYE/200), both users' objects summed,
 * with the state each object really holds under load (lingering ended calls, registrations).
 * `npm run bench:core`. Only the `step` calls are timed; the test UA's own work is not.
 */
import { performance } from 'node:perf_hooks';
import { nextDeadline, step } from '../../sip/index.js';
import { onGrid } from '../../sip/timers.js';
import { DEFAULT_LIMITS, type Input, type TenantPolicy } from '../../sip/io.js';
import { computeHa1 } from '../../sip/auth/digest.js';
import { EMPTY_STATE, type UserState } from '../../sip/state.js';
import { TestUA, webrtcSdp } from '../../test/support/ua.js';

const DOMAIN = 'bench.test';
const PAIRS = Number(process.env.PAIRS ?? 50);
// Registrations last an hour: the simulated time stays within it (CALLS * 2.5 s / PAIRS).
const CALLS = Number(process.env.CALLS ?? 20000);
const policy: TenantPolicy = { tenant: 'bench', domain: DOMAIN, ...DEFAULT_LIMITS };

let now = Date.UTC(2026, 11, 1);
let ids = 0;
let stepMs = 0;
const CREDENTIALS = { ha1Md5: computeHa1('MD5', 'u', DOMAIN, 'pw'), ha1Sha256: null, enabled: true };
const states = new Map<string, UserState>();
const inbox = new Map<string, string[]>();
const connUser = new Map<string, string>();
/** The adapter's alarm, modelled: write-behind on the user's grid, held while busy (user-object.ts). */
const alarms = new Map<string, { stored: UserState; flushAt: number | null; holdAt: number | null }>();

function run(user: string, input: Input): void {
  const queue: Array<{ user: string; input: Input }> = [{ user, input }];
  while (queue.length > 0) {
    const { user: u, input: i } = queue.shift()!;
    const ctx = { now, user: u, policy, credentials: CREDENTIALS, nonceSecret: 'x', newId: () => `id${++ids}` };
    const t0 = performance.now();
    const r = step(states.get(u) ?? EMPTY_STATE, i, ctx as never);
    stepMs += performance.now() - t0;
    const a = alarms.get(u) ?? { stored: EMPTY_STATE, flushAt: null, holdAt: null };
    if (r.state !== a.stored && a.flushAt === null) a.flushAt = onGrid(u, now + 1);
    alarms.set(u, a);
    states.set(u, r.state);
    for (const e of r.effects) {
      if (e.type === 'send') inbox.get(e.conn)?.push(e.text);
      else if (e.type === 'relay-request' || e.type === 'relay-response') {
        queue.push({ user: e.to, input: { type: e.type === 'relay-request' ? 'peer-request' : 'peer-response', from: u, text: e.text, media: e.media ?? null } });
      }
    }
  }
}

function send(conn: string, text: string): void {
  run(connUser.get(conn)!, { type: 'socket-message', conn: { id: conn, auth: 'token' }, text });
}
function take(conn: string): string[] {
  const f = inbox.get(conn)!;
  inbox.set(conn, []);
  return f;
}
function connect(user: string): { ua: TestUA; conn: string } {
  const ua = new TestUA(user, DOMAIN);
  const conn = `c${++ids}`;
  inbox.set(conn, []);
  connUser.set(conn, user);
  send(conn, ua.register({ expires: 3600 }).text);
  take(conn);
  return { ua, conn };
}

const pairs = Array.from({ length: PAIRS }, (_, i) => ({ a: connect(`caller${i}`), b: connect(`callee${i}`) }));
const sdps = { offer: webrtcSdp({ session: '1' }), answer: webrtcSdp({ session: '2' }), hold: webrtcSdp({ session: '3' }).replace('a=sendrecv', 'a=sendonly'), held: webrtcSdp({ session: '4' }).replace('a=sendrecv', 'a=recvonly') };

function call(p: (typeof pairs)[number]): void {
  const { a, b } = p;
  const invite = a.ua.invite(b.ua.user, { body: sdps.offer });
  send(a.conn, invite.text);
  take(a.conn);
  const [atB] = take(b.conn);
  send(b.conn, b.ua.respond(atB!, 180, { toTag: 'bt' }));
  take(a.conn);
  send(b.conn, b.ua.respond(atB!, 200, { toTag: 'bt', body: sdps.answer }));
  const [ok] = take(a.conn);
  const ad = a.ua.dialogAsCaller(invite, ok!);
  send(a.conn, a.ua.inDialog(ad, 'ACK').text);
  take(b.conn);
  send(a.conn, a.ua.inDialog(ad, 'INVITE', { body: sdps.hold }).text);
  take(a.conn);
  const [re] = take(b.conn);
  send(b.conn, b.ua.respond(re!, 200, { body: sdps.held }));
  take(a.conn);
  send(a.conn, a.ua.inDialog(ad, 'ACK').text);
  take(b.conn);
  send(a.conn, a.ua.inDialog(ad, 'BYE').text);
  const [bye] = take(b.conn);
  send(b.conn, b.ua.respond(bye!, 200));
  const [byeOk] = take(a.conn);
  if (!byeOk?.startsWith('SIP/2.0 200')) throw new Error(`call failed: ${byeOk}`);
}

/**
 * The clock moves on; every object whose alarm is due gets it: its next deadline, its
 * write-behind instant, or (held while it is busy) its next grid instant.
 */
function advance(ms: number): void {
  now += ms;
  for (const [user, state] of states) {
    const a = alarms.get(user)!;
    const at = Math.min(nextDeadline(state) ?? Infinity, a.flushAt ?? Infinity, a.holdAt ?? Infinity);
    if (at > now) continue;
    a.holdAt = state !== a.stored ? onGrid(user, now + 1) : null;
    run(user, { type: 'timer' });
    a.stored = states.get(user)!;
    a.flushAt = null;
  }
}

// Calls arrive at the rate the load test sees: each pair about every 2.5 s.
const tick = 2500 / PAIRS;
for (let i = 0; i < CALLS / 4; i++) { call(pairs[i % PAIRS]!); advance(tick); }
stepMs = 0;
const t0 = performance.now();
for (let i = 0; i < CALLS; i++) { call(pairs[i % PAIRS]!); advance(tick); }
const wall = performance.now() - t0;
console.log(`${CALLS} calls: ${((stepMs * 1000) / CALLS).toFixed(1)} µs in step per call (both objects), ${((wall * 1000) / CALLS).toFixed(1)} µs with the test UA`);

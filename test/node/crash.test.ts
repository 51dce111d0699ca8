/**
 * A crash loses no answered call, and lies about none. Twelve caller/callee pairs of raw
 * SIP phones (test/support/crash-phone.ts: digest REGISTER, callees answering with their
 * own 100, 180, then 200 with SDP, as JsSIP does) keep `wrangler dev` busy for 6 s:
 *
 * - four pairs place short calls over and over, each answered and ended by the caller's
 *   BYE a few hundred ms later, the last ones well under a second before the kill;
 * - four pairs place calls that are answered (200 at the caller, ACK sent) and left up,
 *   from the first second of the load to its last;
 * - four pairs place calls every second that only ring (180, never a 200), up to the kill.
 *
 * 150 ms before the kill no callee answers and no caller hangs up any more, so that at
 * the kill nearly every call is, from the client's side, plainly answered and ended,
 * answered and up, or not answered. Then the whole process group is SIGKILLed
 * (test/support/crash-server.ts) and started again on the same storage and port.
 *
 * Every call whose 200 reached the caller must have a record in both users' histories
 * (`GET /v1/tenants/{t}/users/{u}/calls`), and none may be false: a call whose BYE was
 * answered ended by 'caller-bye' at a time between the BYE and its 200; a call still up
 * at the kill says it was interrupted (state and endReason 'interrupted', no endedAt, a
 * `lastAliveAt` between its answer and the kill) instead of claiming an end that never
 * happened, or, within the tenant's grace after the restart (flowGraceSeconds, 3 s here),
 * that it is held for its devices to come back; a call that only rang is absent or not
 * answered. After the restart no user's live calls list the interrupted ones as
 * confirmed, the histories say the same once the objects have woken, and once the grace
 * has run out with no device back every such call reads interrupted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, provision } from '../support/dev-server.js';
import { startCrashServer, type CrashServer } from '../support/crash-server.js';
import { CrashPhone, type CallBook, type CallFacts } from '../support/crash-phone.js';

const TENANT = 'crash';
const ROLES = ['ended', 'up', 'ringing'] as const;
type Role = (typeof ROLES)[number];
const PAIRS_PER_ROLE = 4;
/** How long the load runs before the kill. */
const LOAD_MS = 6_000;
/** No new 200 and no new BYE this long before the kill: every answer and hang-up has landed. */
const FREEZE_MS = 150;
/** Clock granularity between this process and workerd, both on the same wall clock. */
const SLACK_MS = 25;

interface Pair {
  readonly role: Role;
  readonly caller: string;
  readonly callee: string;
}

const pairs: Pair[] = ROLES.flatMap((role) => Array.from({ length: PAIRS_PER_ROLE }, (_, k) => ({ role, caller: `${role}${k}-a`, callee: `${role}${k}-b` })));
const users = pairs.flatMap((p) => [p.caller, p.callee]);
const password = (user: string): string => `${user}-crash-pass`;

/** A call record as the history API returns it; `lastAliveAt` is the new contract's. */
interface CallRecord {
  readonly callId: string;
  readonly direction: 'in' | 'out';
  readonly state: string;
  readonly answeredAt: number | null;
  readonly endedAt: number | null;
  readonly endReason: string | null;
  readonly lastAliveAt?: number | null;
}

/** The tenant's grace for a call whose sockets are gone (restored calls wait this long after the restart). */
const GRACE_S = 3;
let stateDir: string;
let port: number;
let adminToken: string;
let server: CrashServer | null = null;
let domain: string;
let phones: CrashPhone[] = [];
let startedIn = 0;

beforeAll(async () => {
  const t = performance.now();
  stateDir = mkdtempSync(join(tmpdir(), 'switchboard-crash-'));
  port = await freePort();
  adminToken = `admin-${Math.random().toString(36).slice(2)}`;
  server = await startCrashServer({ stateDir, port, adminToken });
  ({ domain } = await provision(server, TENANT, Object.fromEntries(users.map((u) => [u, password(u)])), { flowGraceSeconds: GRACE_S }));
  startedIn = performance.now() - t;
}, 120_000);

afterAll(async () => {
  for (const p of phones) p.close();
  await server?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const sleepUntil = (t: number) => sleep(t - Date.now());

/** How the client saw a call at the kill. */
type Outcome = 'ended' | 'bye-in-flight' | 'up' | 'answer-in-flight' | 'not-answered';

function outcome(f: CallFacts): Outcome {
  if (f.answeredAt !== null) {
    if (f.byeOkAt !== null) return 'ended';
    return f.byeSentAt !== null ? 'bye-in-flight' : 'up';
  }
  return f.calleeAnsweredAt !== null ? 'answer-in-flight' : 'not-answered';
}

const show = (r: CallRecord): string => `state=${r.state} answeredAt=${r.answeredAt} endedAt=${r.endedAt} endReason=${r.endReason} lastAliveAt=${r.lastAliveAt}`;

interface Findings {
  /** An answered call without a record on one side. */
  missing: string[];
  /** A record of an answered call that does not say it was answered, or not when. */
  notAnswered: string[];
  /** A call ended by an answered BYE, recorded otherwise. */
  falseEnded: string[];
  /** A call up at the kill, recorded as anything but interrupted. */
  falseInterrupted: string[];
  /** A call that never got a 200 at the caller, recorded as answered. */
  falseRinging: string[];
}

/** What the call's record on one side must not say, for each way a call can have been at the kill. */
function checkRecord(f: CallFacts, side: 'caller' | 'callee', r: CallRecord | undefined, killAt: number, out: Findings): void {
  const who = `${f.caller}->${f.callee} ${f.callId} (${side}'s record)`;
  const kind = outcome(f);
  if (kind === 'answer-in-flight') return; // Either side may have seen the 200: nothing to hold it to.
  if (kind === 'not-answered') {
    if (r && (r.answeredAt !== null || r.state === 'confirmed')) out.falseRinging.push(`${who}: the caller never got a 200, the record says ${show(r)}`);
    return;
  }
  const answered = f.answeredAt!;
  if (!r) {
    out.missing.push(`${kind} ${who}: no record; its 200 reached the caller ${killAt - answered} ms before the kill${f.byeOkAt !== null ? `, its BYE was answered ${killAt - f.byeOkAt} ms before it` : ''}`);
    return;
  }
  const answeredFrom = (f.calleeAnsweredAt ?? f.inviteSentAt) - SLACK_MS;
  if (r.answeredAt === null || r.answeredAt < answeredFrom || r.answeredAt > answered + SLACK_MS) {
    out.notAnswered.push(`${kind} ${who}: answered between ${answeredFrom} and ${answered} by the client's clock, the record says ${show(r)}`);
    return;
  }
  const endedProblem = (): string | null => {
    if (r.state !== 'ended' || r.endReason !== 'caller-bye') return `expected state=ended endReason=caller-bye`;
    const endedTo = Math.min((f.byeOkAt ?? killAt) + SLACK_MS, killAt);
    if (r.endedAt === null || r.endedAt < f.byeSentAt! - SLACK_MS || r.endedAt > endedTo) return `expected endedAt between the BYE (${f.byeSentAt}) and ${endedTo}`;
    return null;
  };
  const interruptedProblem = (): string | null => {
    // Within the grace after the restart the call is held for its devices (flow recovery):
    // that claims no end either.
    const held = r.state === 'held' && r.endReason === null && r.endedAt === null;
    if (!held && (r.state !== 'interrupted' || r.endReason !== 'interrupted' || r.endedAt !== null)) return 'expected state=interrupted endReason=interrupted endedAt=null, or held';
    if (typeof r.lastAliveAt !== 'number' || r.lastAliveAt < r.answeredAt! || r.lastAliveAt > killAt) return `expected a lastAliveAt between answeredAt and the kill (${killAt})`;
    return null;
  };
  if (kind === 'ended') {
    const p = endedProblem();
    const seen = f.byeSentAt! - answered;
    const recorded = r.endedAt !== null && r.answeredAt !== null ? ` (${r.endedAt - r.answeredAt} ms long; the client saw ${seen} ms)` : '';
    if (p) out.falseEnded.push(`${who}: ${p}, got ${show(r)}${recorded}`);
  } else if (kind === 'up') {
    const p = interruptedProblem();
    if (p) out.falseInterrupted.push(`${who}: up at the kill, answered ${killAt - answered} ms before it; ${p}, got ${show(r)}`);
  } else {
    // The BYE went out and its 200 never came back: the record may say either, truthfully.
    const e = endedProblem();
    const i = interruptedProblem();
    if (e && i) out.falseEnded.push(`${who}: BYE sent ${killAt - f.byeSentAt!} ms before the kill, unanswered; neither ended by it (${e}) nor interrupted (${i}): ${show(r)}`);
  }
}

function check(book: CallBook, histories: Map<string, CallRecord[]>, killAt: number): Findings {
  const out: Findings = { missing: [], notAnswered: [], falseEnded: [], falseInterrupted: [], falseRinging: [] };
  for (const f of book.values()) {
    const mine = histories.get(f.caller)!.find((r) => r.callId === f.callId && r.direction === 'out');
    const theirs = histories.get(f.callee)!.find((r) => r.callId === f.callId && r.direction === 'in');
    checkRecord(f, 'caller', mine, killAt, out);
    checkRecord(f, 'callee', theirs, killAt, out);
  }
  return out;
}

async function readHistories(s: CrashServer): Promise<Map<string, CallRecord[]>> {
  const all = await Promise.all(
    users.map(async (u) => {
      const r = await s.api<{ calls: CallRecord[] }>('GET', `/v1/tenants/${TENANT}/users/${u}/calls?limit=100`);
      if (r.status !== 200) throw new Error(`history of ${u}: ${r.status} ${JSON.stringify(r.body)}`);
      return [u, r.body.calls] as const;
    }),
  );
  return new Map(all);
}

function report(label: string, f: Findings): void {
  const lines = Object.entries(f).map(([k, v]: [string, string[]]) => `  ${k}: ${v.length}${v.length ? `\n    ${v.slice(0, 6).join('\n    ')}${v.length > 6 ? `\n    ... ${v.length - 6} more` : ''}` : ''}`);
  console.log(`${label}:\n${lines.join('\n')}`);
}

function expectTruthful(label: string, f: Findings): void {
  expect.soft(f.missing, `${label}: every call whose 200 reached the caller has a record in both histories`).toEqual([]);
  expect.soft(f.notAnswered, `${label}: those records say when the call was answered`).toEqual([]);
  expect.soft(f.falseEnded, `${label}: a call whose BYE was answered ended by caller-bye, when it did`).toEqual([]);
  expect.soft(f.falseInterrupted, `${label}: a call up at the kill is interrupted, with lastAliveAt, and claims no end`).toEqual([]);
  expect.soft(f.falseRinging, `${label}: a call whose 200 never reached the caller is not recorded as answered`).toEqual([]);
}

describe('a runtime killed mid-load (SIGKILL) and restarted on the same storage', () => {
  it('keeps a record of every call whose 200 reached the caller, in both histories, and none of them is false', async () => {
    const t0 = performance.now();
    const book: CallBook = new Map();
    phones = await Promise.all(
      users.map((user, k) => CrashPhone.open({ wsBase: server!.wsBase, tenant: TENANT, user, domain, password: password(user), client: `198.51.100.${k + 1}`, book })),
    );
    const phone = new Map(phones.map((p) => [p.user, p]));
    await Promise.all(phones.map((p) => p.register()));
    const ready = performance.now();

    const start = Date.now();
    const killPlanned = start + LOAD_MS;
    const freezeAt = killPlanned - FREEZE_MS;
    const drivers: Array<Promise<unknown>> = [];
    for (const [j, pair] of pairs.entries()) {
      const a = phone.get(pair.caller)!;
      const b = phone.get(pair.callee)!;
      const k = j % PAIRS_PER_ROLE;
      if (pair.role === 'ended') {
        b.answerAfterMs = () => 20 + Math.random() * 60;
        drivers.push(
          (async () => {
            await sleep(k * 40);
            while (Date.now() < killPlanned && a.open) {
              const f = await a.call(pair.callee);
              if (f.answeredAt === null) {
                await sleep(50);
                continue;
              }
              await sleep(100 + Math.random() * 250);
              // Past the freeze the call stays up: it is then one of those up at the kill.
              if (Date.now() >= freezeAt) break;
              await a.hangUp(f);
              await sleep(20);
            }
          })(),
        );
      } else if (pair.role === 'up') {
        b.answerAfterMs = () => 50 + Math.random() * 100;
        for (let at = start + k * 250; at < freezeAt - 200; at += 1_500) drivers.push(sleepUntil(at).then(() => a.call(pair.callee)));
      } else {
        for (let at = start + k * 100; at < killPlanned - 20; at += 1_000) drivers.push(sleepUntil(at).then(() => a.call(pair.callee)));
      }
    }
    await sleepUntil(freezeAt);
    for (const p of phones) p.stopAnswering();
    await sleepUntil(killPlanned);
    const loaded = performance.now();
    const killAt = await server!.kill();
    const dead = server!;
    const groupGone = performance.now();
    // Every socket is gone with the runtime; whatever the phones were waiting for ends with it.
    await Promise.race([Promise.all(phones.map((p) => p.gone)), sleep(5_000)]);
    for (const p of phones) p.close();
    await Promise.all(drivers);
    const killed = performance.now();

    const calls = [...book.values()];
    const by = (o: Outcome) => calls.filter((f) => outcome(f) === o);
    const refused = calls.filter((f) => f.failedWith !== null).map((f) => `${f.caller}->${f.callee} ${f.failedWith}`);
    const ringing = by('not-answered').filter((f) => f.ringingAt !== null);
    const endedLate = by('ended').filter((f) => killAt - f.byeOkAt! < 1_000);
    console.log(
      `at the kill: ${calls.length} calls; ${by('ended').length} answered and ended by BYE (${endedLate.length} of them in the last second, the last ${Math.min(...by('ended').map((f) => killAt - f.byeOkAt!))} ms before the kill), ` +
        `${by('up').length} answered and up (answered ${Math.min(...by('up').map((f) => killAt - f.answeredAt!))}-${Math.max(...by('up').map((f) => killAt - f.answeredAt!))} ms before the kill), ` +
        `${ringing.length} ringing, ${by('not-answered').length - ringing.length} not yet ringing, ${by('bye-in-flight').length} BYE and ${by('answer-in-flight').length} 200 in flight; ${refused.length} refused`,
    );
    // The load was what this test is about: every state at the kill, no call refused.
    expect(refused).toEqual([]);
    expect(endedLate.length).toBeGreaterThanOrEqual(PAIRS_PER_ROLE);
    expect(by('up').length).toBeGreaterThanOrEqual(3 * PAIRS_PER_ROLE);
    expect(ringing.length).toBeGreaterThanOrEqual(3 * PAIRS_PER_ROLE);

    server = await startCrashServer({ stateDir, port, adminToken });
    const restarted = performance.now();
    expect(dead.pid).not.toBe(server.pid);

    // First read: straight after the restart.
    const first = check(book, await readHistories(server), killAt);
    report('histories after the restart', first);

    // A user's live calls (GET /v1/tenants/{t}/users/{u}; this wakes the user's object).
    const live: string[] = [];
    const upCalls = [...by('up'), ...by('bye-in-flight')];
    for (const user of users) {
      const r = await server.api<{ calls: CallRecord[] }>('GET', `/v1/tenants/${TENANT}/users/${user}`);
      expect(r.status).toBe(200);
      for (const c of r.body.calls) {
        if (c.state === 'confirmed' && upCalls.some((f) => f.callId === c.callId)) live.push(`${user}: ${c.callId} (${c.direction}) listed as a live confirmed call after the restart`);
      }
    }
    console.log(`live calls after the restart: ${live.length} interrupted calls listed as confirmed${live.length ? `\n  ${live.slice(0, 6).join('\n  ')}` : ''}`);

    // Second read: once every user's object has woken on the new runtime.
    const second = check(book, await readHistories(server), killAt);
    report('histories once the objects woke', second);

    // Third read: past the grace, with no device back, a call up at the kill reads interrupted, not held.
    await sleep(GRACE_S * 1000 + 1_500);
    const histories = await readHistories(server);
    const third = check(book, histories, killAt);
    report('histories once the grace ran out', third);
    const stillHeld = [...histories.values()].flat().filter((r) => r.state === 'held');
    expect(stillHeld.map((r) => r.callId)).toEqual([]);
    const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    console.log(
      `timing: first start and provisioning ${sec(startedIn)}, sockets and registration ${sec(ready - t0)}, load ${sec(loaded - ready)}, ` +
        `SIGKILL until the process group was gone ${sec(groupGone - loaded)}, until every socket had closed ${sec(killed - groupGone)}, restart ${sec(restarted - killed)}, checks ${sec(performance.now() - restarted)}`,
    );

    expectTruthful('after the restart', first);
    expect.soft(live, 'no call up at the kill is listed as a live confirmed call after the restart').toEqual([]);
    expectTruthful('once the objects woke', second);
    expectTruthful('once the grace ran out', third);
  }, 90_000);
});

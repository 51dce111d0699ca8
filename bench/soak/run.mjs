#!/usr/bin/env node
/**
 * `npm run soak`: holds SOAK_SOCKETS (5,000) registered sockets on the product under bare
 * workerd for SOAK_MINUTES (10), each re-REGISTERing on its own socket at about half its
 * Expires, with a trickle of calls between random registered users, and reports the
 * workerd process's memory at the start and at the end (both taken with every socket
 * registered and idle, after the objects have hibernated), registrations lost, calls
 * failed and errors in the server's log. Exits 1 when a target fails. See bench/README.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { foreignLoad } from '../lib/machine.mjs';
import { ensurePinned } from '../lib/pinning.mjs';
import { Population, userName } from '../lib/population.mjs';
import { sleep } from '../lib/proc.mjs';
import { Failures, summarize } from '../lib/stats.mjs';
import { readOptions, usage } from './options.mjs';
import { mib, settledMemory, startProduct } from './product-server.mjs';
import { RefreshingUa } from './refreshing-ua.mjs';
import { shortCall } from './short-call.mjs';
import { soakChecks, soakMarkdown } from './report.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const log = (...a) => console.log(...a);

/**
 * An object stays awake 10 s after each event, and one whose socket has just opened wakes
 * again 30 s later (the unauthenticated-socket deadline: the alarm is only ever moved
 * earlier, so it fires even though the socket has signed in). At `regRate` registrations
 * a second about 20 × regRate objects are awake at once, which must stay well under the
 * ~2,800 open databases workerd's SQLite heap allows (bench/README.md).
 */
const MAX_REG_RATE = 100;

export const OPTIONS = {
  sockets: [5000, 'registered sockets held (one user each)'],
  minutes: [10, 'how long the registrations are held, after all are registered and settled'],
  expires: [300, 'Expires of every REGISTER (s); each socket refreshes at about half of it'],
  callsPerSecond: [2, 'calls started per second between random registered users'],
  holdSeconds: [2, 'time between ACK and BYE of each call'],
  regRate: [80, `registrations a second while the sockets are opened (at most ${MAX_REG_RATE}, see MAX_REG_RATE)`],
  regConcurrency: [200, 'registrations in flight while the sockets are opened'],
  settleSeconds: [15, 'idle time before the start and end memory readings (objects hibernate 10 s after their last event)'],
  maxSettleSeconds: [90, 'at the start, the longest wait for every user object to hibernate'],
  sampleSeconds: [10, 'interval of the memory readings kept in the JSON'],
  maxGrowthPercent: [5, 'target: PSS growth from start to end, in %'],
  port: [18810, 'the product listens on 127.0.0.1:port'],
  generatorCore: [0, 'CPU the load generator is pinned to'],
  serverCore: [1, 'CPU workerd is pinned to'],
};

class SoakPopulation extends Population {
  constructor(target, { expires, onServerClose }) {
    super(target);
    this.expires = expires;
    this.onServerClose = onServerClose;
    this.registeredAt = [];
  }

  ua(i) {
    const user = userName(i);
    const ua = new RefreshingUa({
      user,
      domain: this.target.domain,
      password: this.target.password(user),
      url: this.target.url(user),
      calls: this.calls,
      tally: this.tally,
      expires: this.expires,
      onServerClose: this.onServerClose,
    });
    ua.index = i;
    return ua;
  }
}

/** Opens and registers users [0, users) at `rate` a second, `concurrency` at most in flight. */
async function registerAll(pop, users, { rate, concurrency }) {
  const total = { users, registered: 0, failures: 0, failuresByCause: {}, seconds: 0, ratePerSecond: rate, slowestSecondLatencyMs: null };
  const t0 = performance.now();
  let lastLog = t0;
  for (let start = 0, k = 0; start < users; start += rate, k++) {
    const wait = t0 + k * 1000 - performance.now();
    if (wait > 0) await sleep(wait);
    const end = Math.min(users, start + rate);
    const r = await pop.register(start, end, { concurrency });
    const now = Date.now();
    for (let i = start; i < end; i++) pop.registeredAt[i] = now;
    total.registered += r.registered;
    total.failures += r.failures;
    if (!total.slowestSecondLatencyMs || (r.latencyMs.p95 ?? 0) > total.slowestSecondLatencyMs.p95) total.slowestSecondLatencyMs = r.latencyMs;
    for (const [c, v] of Object.entries(r.failuresByCause)) total.failuresByCause[c] = (total.failuresByCause[c] ?? 0) + v;
    if (performance.now() - lastLog >= 10_000 || end === users) {
      lastLog = performance.now();
      log(`  registered ${end}/${users} (${total.failures} failed)`);
    }
  }
  total.seconds = Math.round((performance.now() - t0) / 100) / 10;
  return total;
}

/**
 * Waits `minSeconds`, then until no user object has its database open (all hibernated),
 * at most `maxSeconds` in all; then reads memory once it stops moving.
 */
async function settle(server, minSeconds, maxSeconds) {
  const t0 = Date.now();
  await sleep(minSeconds * 1000);
  while (server.openDatabases() > 0 && Date.now() - t0 < maxSeconds * 1000) await sleep(1000);
  const openBefore = server.openDatabases();
  const memory = await settledMemory(server);
  return { ...memory, openDatabases: server.openDatabases(), openDatabasesBefore: openBefore, settledAfterS: Math.round((Date.now() - t0) / 1000) };
}

async function main() {
  let opts;
  try {
    opts = readOptions(OPTIONS, 'SOAK');
  } catch (err) {
    console.error(`${err.message}\n\nOptions (environment or flag, default, meaning):\n${usage(OPTIONS, 'SOAK')}`);
    process.exit(2);
  }
  if (!ensurePinned(fileURLToPath(import.meta.url), opts.generatorCore)) return;
  if (opts.regRate > MAX_REG_RATE) log(`  WARNING: SOAK_REG_RATE ${opts.regRate} is above ${MAX_REG_RATE}: expect SQLITE_NOMEM while registering`);

  const started = new Date();
  const runDir = join(repo, 'bench', 'results', 'run', 'soak');
  const seconds = opts.minutes * 60;
  log(`Switchboard soak: ${opts.sockets} registered sockets for ${seconds} s, Expires ${opts.expires} s, ${opts.callsPerSecond} calls/s`);

  // Every phase is bounded; past this the run gives up, stops its server and fails.
  const budgetMs = (opts.sockets / 100 + opts.sockets / opts.regRate + seconds + opts.maxSettleSeconds + 2 * opts.settleSeconds + 300) * 1000;
  let server = null;
  const watchdog = setTimeout(async () => {
    console.error(`soak: still running after ${budgetMs / 1000} s; stopping`);
    await server?.close();
    process.exit(3);
  }, budgetMs);
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => void (server?.close() ?? Promise.resolve()).finally(() => process.exit(130)));

  const lostSockets = [];
  let phase = 'registering';
  let soakT0 = 0;
  let report;
  try {
    server = await startProduct({
      repo,
      runDir,
      port: opts.port,
      core: opts.serverCore,
      limits: { maxUsers: Math.max(1000, opts.sockets) },
      users: opts.sockets,
      names: userName,
      log,
    });
    const pop = new SoakPopulation(server, {
      expires: opts.expires,
      onServerClose: (ua) => {
        lostSockets.push({ user: ua.user, phase, code: ua.serverClosed.code, reason: ua.serverClosed.reason, atSoakSecond: soakT0 ? Math.round((Date.now() - soakT0) / 1000) : null });
        if (lostSockets.length <= 5) log(`  server closed ${ua.user}'s socket (${ua.serverClosed.code} ${ua.serverClosed.reason}) while ${phase}`);
      },
    });

    const registration = await registerAll(pop, opts.sockets, { rate: opts.regRate, concurrency: opts.regConcurrency });
    const uas = pop.uas.filter(Boolean);
    // Every path the soak takes runs once before the start reading, so that the code it
    // loads and compiles is not counted as growth: a few refreshes and calls.
    phase = 'warming up';
    const warm = uas.slice(0, Math.min(20, uas.length));
    await Promise.all(warm.map((ua) => ua.register()));
    for (let i = 0; i + 1 < warm.length; i += 2) await shortCall(warm[i], warm[i + 1], { calls: pop.calls, tally: pop.tally });
    phase = 'settling';
    const startMemory = await settle(server, opts.settleSeconds, opts.maxSettleSeconds);
    log(`  start: ${uas.length} registered, PSS ${mib(startMemory.pssKiB)} MiB, RSS ${mib(startMemory.rssKiB)} MiB`);

    // ------------------------------------------------------------------ the soak
    phase = 'soaking';
    soakT0 = Date.now();
    const soakEndAt = soakT0 + seconds * 1000;
    const cpu0 = server.cpuMs();
    const gen0 = process.cpuUsage();
    const others = foreignLoad(opts.generatorCore, opts.serverCore);
    let stopping = false;
    const inFlight = new Set();
    const track = (p) => {
      inFlight.add(p);
      p.finally(() => inFlight.delete(p));
    };

    const refresh = { sent: 0, ok: 0, failures: new Failures(), usersAffected: new Set(), latencies: [], oldestRegistrationAtStartS: 0 };
    const half = (opts.expires * 1000) / 2;
    const refreshOnce = async (ua) => {
      ua.refreshTimer = null;
      if (stopping || !ua.isOpen) return;
      refresh.sent++;
      const t = performance.now();
      try {
        await ua.register();
        refresh.ok++;
        refresh.latencies.push(performance.now() - t);
      } catch (err) {
        refresh.failures.add(err.cause ?? 'error');
        refresh.usersAffected.add(ua.user);
        if (refresh.failures.total <= 5) log(`  refresh of ${ua.user} failed: ${err.message}`);
      }
      // About half the Expires, ±10 %, so the refreshes stay spread out.
      if (!stopping && ua.isOpen) ua.refreshTimer = setTimeout(() => track(refreshOnce(ua)), half * (0.9 + 0.2 * Math.random()));
    };
    // The first refreshes spread over the first quarter of the Expires, each before its
    // binding is three quarters through its lifetime (the first batches registered a
    // minute or more before the soak starts).
    refresh.oldestRegistrationAtStartS = Math.round((soakT0 - Math.min(...pop.registeredAt.filter(Boolean))) / 1000);
    if (refresh.oldestRegistrationAtStartS > opts.expires * 0.75) {
      log(`  WARNING: the oldest binding is ${refresh.oldestRegistrationAtStartS} s old; Expires ${opts.expires} is too short for this many sockets`);
    }
    for (const ua of uas) {
      const left = pop.registeredAt[ua.index] + opts.expires * 750 - soakT0;
      ua.refreshTimer = setTimeout(() => track(refreshOnce(ua)), Math.random() * Math.max(0, Math.min(left, (opts.expires * 1000) / 4)));
    }

    const calls = { started: 0, ok: 0, failures: new Failures(), setups: [], skipped: 0 };
    const busy = new Set();
    const pickIdle = () => {
      for (let k = 0; k < 20; k++) {
        const ua = uas[Math.floor(Math.random() * uas.length)];
        if (ua.isOpen && !busy.has(ua)) return ua;
      }
      return null;
    };
    const startCall = () => {
      const caller = pickIdle();
      if (caller) busy.add(caller);
      const callee = caller && pickIdle();
      if (!caller || !callee) {
        if (caller) busy.delete(caller);
        calls.skipped++;
        return;
      }
      busy.add(callee);
      calls.started++;
      track(
        shortCall(caller, callee, { calls: pop.calls, tally: pop.tally, holdMs: opts.holdSeconds * 1000 })
          .then(({ setupMs }) => {
            calls.ok++;
            calls.setups.push(setupMs);
          })
          .catch((err) => {
            calls.failures.add(err.cause ?? 'error');
            if (calls.failures.total <= 5) log(`  call ${caller.user} -> ${callee.user} failed: ${err.message}`);
          })
          .finally(() => {
            busy.delete(caller);
            busy.delete(callee);
          }),
      );
    };
    const callTimer = opts.callsPerSecond > 0 ? setInterval(startCall, 1000 / opts.callsPerSecond) : null;

    const samples = [];
    const sample = () => {
      const m = server.memory();
      samples.push({ second: Math.round((Date.now() - soakT0) / 1000), ...m, serverCpuMs: Math.round(server.cpuMs() - cpu0) });
      return m;
    };
    sample();
    let lastLog = Date.now();
    while (Date.now() < soakEndAt) {
      await sleep(Math.min(opts.sampleSeconds * 1000, soakEndAt - Date.now()));
      const m = sample();
      if (Date.now() - lastLog >= 60_000 || Date.now() >= soakEndAt) {
        lastLog = Date.now();
        log(
          `  ${samples.at(-1).second} s: PSS ${mib(m.pssKiB)} MiB, RSS ${mib(m.rssKiB)} MiB; refreshes ${refresh.ok}/${refresh.sent} ok; ` +
            `calls ${calls.ok}/${calls.started} ok; ${lostSockets.length} sockets closed by the server`,
        );
      }
    }
    stopping = true;
    if (callTimer) clearInterval(callTimer);
    for (const ua of uas) if (ua.refreshTimer) clearTimeout(ua.refreshTimer);
    await Promise.all([...inFlight]);
    const soakSeconds = (Date.now() - soakT0) / 1000;
    const serverCpu = server.cpuMs() - cpu0;
    const gen = process.cpuUsage(gen0);
    const foreign = others((gen.user + gen.system) / 1000, serverCpu, soakSeconds * 1000);
    const activeEndMemory = server.memory();

    phase = 'settling at the end';
    const endMemory = await settle(server, opts.settleSeconds, opts.settleSeconds);
    const openAtEnd = uas.filter((u) => u.isOpen).length;
    const logFailures = server.failures();
    log(`  end: ${openAtEnd} sockets open, PSS ${mib(endMemory.pssKiB)} MiB, RSS ${mib(endMemory.rssKiB)} MiB`);

    phase = 'closing';
    await pop.closeAll();

    const growth = (a, b) => Math.round(((b - a) / a) * 10000) / 100;
    report = {
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version },
      runtime: server.runtime,
      tree: server.tree,
      options: opts,
      provisioning: server.provisioning,
      registration,
      memory: {
        start: startMemory,
        end: endMemory,
        endBeforeSettling: activeEndMemory,
        growthPercent: { pss: growth(startMemory.pssKiB, endMemory.pssKiB), rss: growth(startMemory.rssKiB, endMemory.rssKiB) },
        peakDuringSoak: samples.reduce((a, s) => (s.pssKiB > a.pssKiB ? s : a), samples[0]),
        samples,
      },
      refreshes: {
        sent: refresh.sent,
        ok: refresh.ok,
        failed: refresh.failures.total,
        failuresByCause: refresh.failures.byCause,
        usersAffected: refresh.usersAffected.size,
        latencyMs: summarize(refresh.latencies),
        perSecond: Math.round((refresh.sent / soakSeconds) * 10) / 10,
        oldestRegistrationAtStartS: refresh.oldestRegistrationAtStartS,
      },
      socketsClosedByServer: { total: lostSockets.length, byPhase: countBy(lostSockets, (s) => s.phase), byCode: countBy(lostSockets, (s) => `${s.code} ${s.reason}`), first: lostSockets.slice(0, 20) },
      // Users whose binding a refresh did not renew, or whose socket the server closed.
      registrationsLost: new Set([...refresh.usersAffected, ...lostSockets.filter((s) => s.phase !== 'closing').map((s) => s.user)]).size,
      openAtEnd,
      calls: {
        started: calls.started,
        ok: calls.ok,
        failed: calls.failures.total,
        failuresByCause: calls.failures.byCause,
        skippedNoIdleUser: calls.skipped,
        setupLatencyMs: summarize(calls.setups),
        sdpMismatches: pop.tally.sdpMismatches,
        acksReceived: pop.tally.acks,
        unexpectedFrames: pop.tally.unexpected,
      },
      soakSeconds: Math.round(soakSeconds * 10) / 10,
      serverCpuUtilisation: Math.round((serverCpu / (soakSeconds * 1000)) * 1000) / 1000,
      generatorCpuUtilisation: Math.round(((gen.user + gen.system) / 1000 / (soakSeconds * 1000)) * 1000) / 1000,
      otherProcessesCpuShare: foreign,
      serverLogFailures: logFailures,
      serverLog: server.logFile(),
    };
  } finally {
    clearTimeout(watchdog);
    await server?.close();
  }

  report.checks = soakChecks(report);
  const md = soakMarkdown(report);
  const out = join(repo, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'soak-latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(out, 'soak-latest.md'), `${md}\n`);
  log(`\n${md}\n\nWritten: bench/results/soak-latest.json, bench/results/soak-latest.md`);
  if (report.checks.some((c) => !c.pass)) process.exit(1);
}

function countBy(list, key) {
  const out = {};
  for (const x of list) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

#!/usr/bin/env node
/**
 * `npm run bench:abuse`: what one abusive user does to everyone else. On the product under
 * bare workerd with the tenant's default limits, other users' REGISTER latency (connect +
 * digest) and call setup latency (INVITE → 200) are sampled while the service is quiet,
 * then again while one user floods: from every socket it may open, at the sustained
 * message rate it is allowed, INVITEs to a registered user who never answers, each as
 * large as the service accepts. Reported side by side, with the flood's answers by status
 * and the workerd process's memory before, at the peak of and after the flood. Exits 1
 * when a check fails. See bench/README.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromeSdp } from '../lib/sdp.mjs';
import { ensurePinned } from '../lib/pinning.mjs';
import { Population } from '../lib/population.mjs';
import { sleep } from '../lib/proc.mjs';
import { token } from '../lib/sip-message.mjs';
import { readOptions, usage } from '../soak/options.mjs';
import { mib, settledMemory, startProduct, TENANT } from '../soak/product-server.mjs';
import { RefreshingUa } from '../soak/refreshing-ua.mjs';
import { FloodSocket, floodStats, probeLimits, startFlood } from './flood.mjs';
import { abuseChecks, abuseMarkdown } from './report.mjs';
import { callSample, registerSample, series } from './samplers.mjs';
import { SilentUa } from './silent-ua.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const log = (...a) => console.log(...a);

export const OPTIONS = {
  seconds: [60, 'flood duration'],
  samples: [50, 'latency samples per series, quiet and under flood'],
  quietIntervalMs: [0, 'pace of the samples while the service is quiet, ms (0: the pace they keep under flood)'],
  sampleDelaySeconds: [5, 'flood time before the first sample under flood'],
  sockets: [10, "flooder's sockets (the tenant's default per-user maximum)"],
  rate: [20, 'INVITEs per second per flooder socket (the default sustained rate)'],
  nameBytes: [3500, "display name in the flood's From, if the service takes it (else the largest it takes)"],
  maxBytes: [66560, 'upper end of the message-size probe (65 KiB)'],
  drainSeconds: [70, 'after the flood, time for its pending INVITEs to end (ring timeout 60 s) before the last memory reading'],
  maxGrowthMib: [256, "target: workerd PSS growth at the flood's peak over its start, MiB (it levels off at about 130)"],
  port: [18820, 'the product listens on 127.0.0.1:port'],
  generatorCore: [0, 'CPU the load generator is pinned to'],
  serverCore: [1, 'CPU workerd is pinned to'],
};

const FLOODER = 'mallory';
const VICTIM = 'victim';
const CALLER = 'alice';
const CALLEE = 'bob';
const regUser = (k) => `reg${String(k).padStart(4, '0')}`;
const WARM = 5;
/** Each sample round is 6 frames from the callee's socket (180, 200, 200 to BYE, twice): 12/s at most. */
const MIN_INTERVAL_MS = 500;

async function main() {
  let opts;
  try {
    opts = readOptions(OPTIONS, 'ABUSE');
  } catch (err) {
    console.error(`${err.message}\n\nOptions (environment or flag, default, meaning):\n${usage(OPTIONS, 'ABUSE')}`);
    process.exit(2);
  }
  if (!ensurePinned(fileURLToPath(import.meta.url), opts.generatorCore)) return;
  const started = new Date();
  log(`Switchboard abuse: ${opts.sockets} sockets × ${opts.rate} INVITE/s for ${opts.seconds} s; ${opts.samples} samples per series`);

  const names = [FLOODER, VICTIM, CALLER, CALLEE, ...Array.from({ length: WARM + 2 * opts.samples }, (_, k) => regUser(k))];
  // Under flood the samples spread over the flood's window; quiet ones keep the same pace,
  // which also keeps the callee's socket, answering two series at once, well under the
  // default 20 messages/s (its responses count against its own budget too).
  const sampleIntervalMs = Math.max(MIN_INTERVAL_MS, ((opts.seconds - opts.sampleDelaySeconds - 2) * 1000) / opts.samples);
  const quietIntervalMs = opts.quietIntervalMs || sampleIntervalMs;
  const budgetMs = (opts.seconds + opts.drainSeconds + (opts.samples * quietIntervalMs) / 1000 + 300) * 1000;
  let server = null;
  const watchdog = setTimeout(async () => {
    console.error(`bench:abuse: still running after ${budgetMs / 1000} s; stopping`);
    await server?.close();
    process.exit(3);
  }, budgetMs);
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => void (server?.close() ?? Promise.resolve()).finally(() => process.exit(130)));

  let report;
  const opened = [];
  const floodSockets = [];
  try {
    // Default tenant limits: the product's own, as a tenant gets them.
    server = await startProduct({ repo, runDir: join(repo, 'bench', 'results', 'run', 'abuse'), port: opts.port, core: opts.serverCore, limits: undefined, users: names.length, names: (i) => names[i], log });
    const tenant = await server.api('GET', `/v1/tenants/${TENANT}`);
    const limits = tenant.body?.limits ?? tenant.body?.tenant?.limits ?? null;
    log(`  tenant limits: ${JSON.stringify(limits)}`);

    const pop = new Population(server);
    const ua = (user, cls = RefreshingUa, url = server.url(user)) => {
      const u = new cls({ user, domain: server.domain, password: server.password(user), url, calls: pop.calls, tally: pop.tally, expires: 600 });
      opened.push(u);
      return u;
    };
    const tokenUrl = async (user) => {
      const r = await server.api('POST', `/v1/tenants/${TENANT}/users/${user}/tokens`, {});
      if (r.status !== 201) throw new Error(`token for ${user}: ${r.status} ${JSON.stringify(r.body)}`);
      return `${server.url(user)}?token=${encodeURIComponent(r.body.token)}`;
    };

    // The victim's registered device never answers; its second socket (a token, not
    // registered, so the flood is not forked to it) places the victim's own calls.
    const victim = ua(VICTIM, SilentUa);
    await victim.connect();
    await victim.register();
    const victimCaller = ua(VICTIM, RefreshingUa, await tokenUrl(VICTIM));
    await victimCaller.connect();
    const caller = ua(CALLER);
    const callee = ua(CALLEE);
    for (const u of [caller, callee]) {
      await u.connect();
      await u.register();
    }

    // Warm-up: every path once, so the quiet figures do not include compiling the code.
    for (let k = 0; k < WARM; k++) {
      await registerSample(server, pop, regUser(k))();
      await callSample(caller, callee, pop)();
      await callSample(victimCaller, callee, pop)();
    }
    // The warm-up spent part of the sockets' burst allowance (50 at 20/s): let it fill again.
    await sleep(3000);

    const sampleAll = async (offset, intervalMs, stopAt) => {
      const [register, calls, victimCalls] = await Promise.all([
        series({ samples: opts.samples, intervalMs, stopAt, log, label: 'REGISTER', fn: (k) => registerSample(server, pop, regUser(offset + k))() }),
        series({ samples: opts.samples, intervalMs, stopAt, log, label: 'call', fn: callSample(caller, callee, pop) }),
        series({ samples: opts.samples, intervalMs, stopAt, log, label: "victim's call", fn: callSample(victimCaller, callee, pop) }),
      ]);
      return { intervalMs, register, calls, victimCalls };
    };
    const quiet = await sampleAll(WARM, quietIntervalMs);
    log(`  quiet: REGISTER p50/p95 ${quiet.register.latencyMs.p50}/${quiet.register.latencyMs.p95} ms, call setup ${quiet.calls.latencyMs.p50}/${quiet.calls.latencyMs.p95} ms`);

    // ------------------------------------------------------------------ the flooder
    const floodUrl = await tokenUrl(FLOODER);
    const probeStats = floodStats();
    const openFlood = async (stats) => {
      const s = new FloodSocket(floodUrl, stats);
      await s.connect();
      return s;
    };
    const sockets = floodSockets;
    const refusedSockets = [];
    for (let k = 0; k < opts.sockets; k++) {
      try {
        sockets.push(await openFlood(probeStats));
      } catch (err) {
        refusedSockets.push(err.message);
      }
    }
    log(`  flooder: ${sockets.length}/${opts.sockets} token sockets open${refusedSockets.length ? ` (${refusedSockets[0]})` : ''}`);
    const shape = { user: FLOODER, victim: VICTIM, domain: server.domain, host: `${token()}.invalid`, sdp: chromeSdp() };
    const limitsFound = await probeLimits(sockets[0], victim, shape, { wanted: opts.nameBytes, maxBytes: opts.maxBytes, gapMs: 120, log });
    const floodShape = { ...shape, nameBytes: limitsFound.nameBytes, total: limitsFound.messageBytes };
    // Let the probing socket's bucket fill again (burst 50 at 20/s: 2.5 s).
    await sleep(3000);

    const stats = floodStats();
    for (const s of sockets) s.stats = stats;
    const memoryBefore = await settledMemory(server, 5000);
    const victimBefore = { ...victim.received };
    log(`  before the flood: PSS ${mib(memoryBefore.pssKiB)} MiB, RSS ${mib(memoryBefore.rssKiB)} MiB; INVITEs of ${floodShape.total} bytes, display name ${floodShape.nameBytes} bytes`);

    const samples = [];
    const t0 = Date.now();
    const cpu0 = server.cpuMs();
    const flood = startFlood({ sockets, open: () => openFlood(stats), rate: opts.rate, shape: floodShape, stats });
    const floodEndsAt = t0 + opts.seconds * 1000;
    const memoryTimer = setInterval(() => samples.push({ second: Math.round((Date.now() - t0) / 100) / 10, ...server.memory(), sent: stats.sent }), 1000);
    await sleep(opts.sampleDelaySeconds * 1000);
    const underFloodP = sampleAll(WARM + opts.samples, sampleIntervalMs, () => Date.now() >= floodEndsAt);
    await sleep(Math.max(0, floodEndsAt - Date.now()));
    await flood.stop();
    clearInterval(memoryTimer);
    const floodSeconds = (Date.now() - t0) / 1000;
    const floodCpuMs = server.cpuMs() - cpu0;
    const memoryAtEnd = server.memory();
    samples.push({ second: Math.round(floodSeconds * 10) / 10, ...memoryAtEnd, sent: stats.sent });
    const underFlood = await underFloodP;
    const half = samples.filter((s) => s.second <= opts.seconds / 2).at(-1) ?? samples[0];
    const peak = samples.reduce((a, s) => (s.pssKiB > a.pssKiB ? s : a), samples[0]);
    log(
      `  flood: ${stats.sent} INVITEs in ${Math.round(floodSeconds)} s (${Math.round(stats.sent / floodSeconds)}/s); PSS peak ${mib(peak.pssKiB)} MiB at ${peak.second} s, ` +
        `${mib(memoryAtEnd.pssKiB)} MiB at the end; answers ${JSON.stringify(stats.answers)}`,
    );
    log(`  under flood: REGISTER p50/p95 ${underFlood.register.latencyMs.p50}/${underFlood.register.latencyMs.p95} ms, call setup ${underFlood.calls.latencyMs.p50}/${underFlood.calls.latencyMs.p95} ms`);

    // ------------------------------------------------------------------ after the flood
    const usersOpenAfterFlood = { victim: victim.isOpen, victimCaller: victimCaller.isOpen, caller: caller.isOpen, callee: callee.isOpen };
    let victimRefresh;
    try {
      await victim.register();
      victimRefresh = 'ok';
    } catch (err) {
      victimRefresh = err.message;
    }
    log(`  draining ${opts.drainSeconds} s for the flood's pending INVITEs to end`);
    await sleep(opts.drainSeconds * 1000);
    const memoryAfterDrain = await settledMemory(server);
    const logFailures = server.failures();
    const victimDuring = Object.fromEntries(Object.entries(victim.received).map(([k, v]) => [k, v - victimBefore[k]]));

    report = {
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version },
      runtime: server.runtime,
      tree: server.tree,
      options: opts,
      tenantLimits: limits,
      probe: { ...limitsFound, tries: limitsFound.tries },
      quiet,
      underFlood,
      flood: {
        sockets: sockets.length,
        socketsRefused: refusedSockets,
        ratePerSocket: opts.rate,
        seconds: Math.round(floodSeconds * 10) / 10,
        messageBytes: floodShape.total,
        displayNameBytes: floodShape.nameBytes,
        invitesSent: stats.sent,
        invitesPerSecond: Math.round((stats.sent / floodSeconds) * 10) / 10,
        megabytesSent: Math.round((stats.bytes / 1e6) * 10) / 10,
        heldBackByGeneratorBuffer: stats.heldBack,
        // Copies: the victim's sockets close below, and the answers that brings must not count.
        answersByStatus: { ...stats.answers },
        finalAnswersByStatus: { ...stats.finals },
        withoutFinalAnswer: stats.pendingFinal.size,
        otherAnswers: { ...stats.otherAnswers },
        socketsClosedByServer: [...stats.closedByServer],
        reconnects: stats.reconnects,
        reconnectFailures: { ...stats.reconnectFailures },
        victimReceived: victimDuring,
        serverCpuUtilisation: Math.round((floodCpuMs / (floodSeconds * 1000)) * 1000) / 1000,
      },
      memory: { beforeFlood: memoryBefore, halfway: half, peak, endOfFlood: memoryAtEnd, afterDrain: memoryAfterDrain, samples },
      usersOpenAfterFlood,
      victimRefreshAfterFlood: victimRefresh,
      sdpMismatches: pop.tally.sdpMismatches,
      serverLogFailures: logFailures,
      serverLog: server.logFile(),
    };
  } finally {
    clearTimeout(watchdog);
    for (const u of opened) u.close();
    for (const s of floodSockets) s.close();
    await sleep(500);
    await server?.close();
  }

  report.checks = abuseChecks(report);
  const md = abuseMarkdown(report);
  const out = join(repo, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'abuse-latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(out, 'abuse-latest.md'), `${md}\n`);
  log(`\n${md}\n\nWritten: bench/results/abuse-latest.json, bench/results/abuse-latest.md`);
  if (report.checks.some((c) => !c.pass)) process.exit(1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

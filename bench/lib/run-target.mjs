/**
 * The phases for one target, each on a new server process started on the provisioned
 * storage (no object in memory, no alarm pending, nothing left over from before):
 *
 *  prepareTarget  build, provisioning (product only), then the storage is set aside;
 *  runLoad        bench load: registration of the users, calls at a fixed concurrency, then
 *                 on another new process idle sockets, memory, keepalives and (product) wake-ups;
 *  runSparse      the sparse scenario: registration, a quiet pause, sparse calls, the tail.
 *
 * With `meter: true` the server runs with SWITCHBOARD_METER=1 and the counts per call (and
 * per registration) are read from its log; the memory phase is skipped then (its figures
 * come from passes with the meter off, as do every CPU and latency figure).
 */
import { callLoad } from './call-load.mjs';
import { memoryPhase } from './memory-phase.mjs';
import { perUnit, readMeter } from './meter-counts.mjs';
import { Population, userName } from './population.mjs';
import { cpuMs, logErrors, sleep } from './proc.mjs';
import { sparseLoad } from './sparse-load.mjs';

/** Registrations in the sparse scenario last this long (the registrar's maximum): no refresh is needed. */
export const SPARSE_EXPIRES_S = 3600;

/** Error lines in the target's current log, less an earlier reading of the same log. */
function errorsSince(target, after = null) {
  const e = logErrors(target.logFile());
  if (after) {
    e.total -= after.total;
    for (const [k, v] of Object.entries(after.byMessage)) e.byMessage[k] -= v;
    for (const k of Object.keys(e.byMessage)) if (e.byMessage[k] <= 0) delete e.byMessage[k];
  }
  return e;
}

function noteErrors(out, phase, target, log, after = null) {
  const e = errorsSince(target, after);
  out.serverLogErrors[phase] = e;
  if (e.total > 0) log(`  server logged ${e.total} errors in the ${phase} phase, e.g. ${Object.keys(e.byMessage)[0]}`);
  return e;
}

function warnIfDisturbed(other, log) {
  if (other.serverCore > 0.05 || other.generatorCore > 0.05) {
    log(`  WARNING: other processes used ${Math.round(other.serverCore * 100)} % of the server core and ${Math.round(other.generatorCore * 100)} % of the generator core: figures are disturbed`);
  }
}

/** Build, provision `users` (product only) and set the storage aside for every later phase. */
export async function prepareTarget(target, users, log) {
  const out = { serverLogErrors: {} };
  try {
    await target.build();
    await target.start({ state: 'empty' });
    out.provisioning = await target.provision(users, userName);
    if (out.provisioning) log(`  provisioned ${users} users through the API in ${out.provisioning.seconds} s`);
    noteErrors(out, 'provisioning', target, log);
  } finally {
    await target.stop();
  }
  target.saveState();
  return out;
}

/** Registration, calls at bench load and (meter off, BENCH_MEMORY=1) the memory phase. */
export async function runLoad(target, opts, log, { meter = false } = {}) {
  const out = { runtime: target.runtime, meter, serverLogErrors: {} };
  const serverCpuMs = () => cpuMs(target.pids());
  try {
    await target.start({ state: 'saved', meter });
    const pop = new Population(target);
    const regFrom = Date.now();
    out.registration = await pop.register(0, opts.users, { concurrency: opts.regConcurrency, serverCpuMs });
    const regTo = Date.now();
    const reg = out.registration;
    log(`  registration: ${reg.registered}/${reg.users} in ${reg.seconds} s, ${reg.registrationsPerSecond}/s, ${reg.failures} failed`);

    out.calls = await callLoad({
      population: pop,
      pairs: pop.pairs(opts.users),
      concurrency: opts.concurrency,
      warmupMs: opts.warmupSeconds * 1000,
      windowMs: opts.seconds * 1000,
      maxCalls: opts.calls,
      serverCpuMs,
      cores: { generator: opts.generatorCore, server: opts.serverCore },
      log,
    });
    const c = out.calls;
    log(
      `  calls: ${c.setupsPerSecond} setups/s, p50/p95/p99 ${c.setupLatencyMs.p50}/${c.setupLatencyMs.p95}/${c.setupLatencyMs.p99} ms, ` +
        `${c.failedCalls} failed, ${c.sdpMismatches} SDP mismatches, ${c.serverCpuMsPerCall} ms server CPU per call, ` +
        `server ${Math.round(c.serverCpuUtilisation * 100)} % / generator ${Math.round(c.generatorCpuUtilisation * 100)} % busy`,
    );
    warnIfDisturbed(c.otherProcessesCpuShare, log);
    noteErrors(out, 'calls', target, log);
    if (meter) {
      out.countsPerRegistration = perUnit(await readMeter(target.logFile(), regFrom, regTo), reg.registered, target.meteredBindings);
      out.countsPerCall = perUnit(await readMeter(target.logFile(), c.windowStartedAt, c.windowEndedAt), c.callsCompletedInWindow, target.meteredBindings);
      log(`  counts per call: ${summaryLine(out.countsPerCall)}`);
    }
    await pop.closeAll();
    await target.stop();

    if (opts.memory && !meter) {
      await target.start({ state: 'saved' });
      const memory = await memoryPhase({
        target,
        steps: opts.memorySockets,
        idleMs: (opts.idleSeconds || target.settleSeconds) * 1000,
        concurrency: opts.regConcurrency,
        wake: target.name === 'product' ? opts.wakeSockets : 0,
        log,
      });
      out.memory = memory.result;
      const before = noteErrors(out, 'memory', target, log);
      // Thousands of sockets closing at once wake every object (close handlers): reported
      // apart, it is not part of what the phases measure.
      await memory.population.closeAll();
      await sleep(2000);
      noteErrors(out, 'teardown', target, log, before);
    }
  } finally {
    await target.stop();
  }
  return out;
}

/** Waits until the server spends under 1 % of a core over 2 s (at most `maxMs`); returns its last share. */
async function quiet(serverCpuMs, maxMs) {
  const deadline = Date.now() + maxMs;
  let share = 1;
  while (Date.now() < deadline) {
    const c0 = serverCpuMs();
    await sleep(2000);
    share = (serverCpuMs() - c0) / 2000;
    if (share < 0.01) break;
  }
  return Math.round(share * 1000) / 1000;
}

/** The sparse scenario's times, in ms, from the options. */
export function sparseTimes(opts) {
  return {
    ringMs: opts.sparseRingSeconds * 1000,
    talkMs: opts.sparseTalkSeconds * 1000,
    gapMs: opts.sparseGapSeconds * 1000,
    windowMs: opts.sparseSeconds * 1000,
    tailMs: opts.sparseTailSeconds * 1000,
  };
}

/** The sparse scenario on a new server process. */
export async function runSparse(target, opts, log, { meter = false } = {}) {
  const out = { runtime: target.runtime, meter, serverLogErrors: {} };
  const serverCpuMs = () => cpuMs(target.pids());
  try {
    await target.start({ state: 'saved', meter });
    const pop = new Population(target, { expires: SPARSE_EXPIRES_S });
    out.registration = await pop.registerPaced(0, opts.sparseUsers, { concurrency: opts.regConcurrency, serverCpuMs });
    const reg = out.registration;
    log(`  registration: ${reg.registered}/${reg.users} in ${reg.seconds} s of registering, ${reg.failures} failed`);
    // Every object hibernates and every timer of the registrations has run before the window.
    await sleep(target.settleSeconds * 1000);
    out.serverCpuShareBeforeWindow = await quiet(serverCpuMs, 30_000);

    out.calls = await sparseLoad({
      population: pop,
      pairs: pop.pairs(opts.sparseUsers),
      ...sparseTimes(opts),
      serverCpuMs,
      pids: () => target.pids(),
      cores: { generator: opts.generatorCore, server: opts.serverCore },
      log,
    });
    const c = out.calls;
    log(
      `  sparse calls: ${c.callsCompleted}/${c.callsStarted} completed (${c.callsStartedPerSecond}/s started), ${c.failedCalls} failed, ` +
        `${c.sdpMismatches} SDP mismatches; INVITE → 180 p50/p99 ${c.ringingLatencyMs.p50}/${c.ringingLatencyMs.p99} ms; ` +
        `${c.serverCpuMsPerCall} ms server CPU per call (window ${c.serverCpuMs.window}, drain ${c.serverCpuMs.drain}, tail ${c.serverCpuMs.tail} ms)`,
    );
    warnIfDisturbed(c.otherProcessesCpuShare, log);
    noteErrors(out, 'sparse', target, log);
    if (meter) {
      out.countsPerCall = perUnit(await readMeter(target.logFile(), c.startedAt, c.endedAt), c.callsCompleted, target.meteredBindings);
      log(`  counts per call: ${summaryLine(out.countsPerCall)}`);
    }
    await pop.closeAll();
  } finally {
    await target.stop();
  }
  return out;
}

function summaryLine(k) {
  return (
    `${k.billedRequests} billed requests, ${k.billedRowsWritten} billed rows written (${k.sqlRowsWritten} SQL + ${k.setAlarms} setAlarm), ` +
    `${k.wakes} wakes, ${k.rpcsOut} RPCs out, ${k.socketSends} sends, ${k.sqlStatements} SQL statements`
  );
}

/**
 * Calls at a fixed concurrency: `concurrency` slots, each placing one call after another
 * on its own caller/callee pairs (so no UA is in two calls at once). A warm-up, then a
 * measured window, then the calls in flight are drained. Server CPU and generator CPU are
 * read at the window's edges.
 */
import { placeCall } from './call-flow.mjs';
import { foreignLoad } from './machine.mjs';
import { Failures, summarize } from './stats.mjs';

export async function callLoad({ population, pairs, concurrency, warmupMs, windowMs, maxCalls, serverCpuMs, cores, onWindowStart, log }) {
  if (pairs.length < concurrency) throw new Error(`need at least ${concurrency} caller/callee pairs, have ${pairs.length}`);
  const { calls, tally } = population;
  const failures = new Failures();
  const setupsInWindow = [];
  let phase = 'warmup';
  let started = 0;
  let completedInWindow = 0;
  let completedTotal = 0;
  let stopping = false;

  async function slot(k) {
    for (let i = k; !stopping; i += concurrency) {
      if (maxCalls && started >= maxCalls) break;
      started++;
      const [caller, callee] = pairs[i % pairs.length];
      const inWindow = () => phase === 'window';
      try {
        await placeCall(caller, callee, calls, tally, (ms) => {
          if (inWindow()) setupsInWindow.push(ms);
        });
        completedTotal++;
        if (inWindow()) completedInWindow++;
      } catch (err) {
        failures.add(err.cause ?? 'error');
        if (failures.total <= 5) log(`  call failed: ${err.message}`);
        if (!caller.isOpen || !callee.isOpen) break;
      }
    }
  }

  const running = Array.from({ length: concurrency }, (_, k) => slot(k));
  await new Promise((r) => setTimeout(r, warmupMs));
  await onWindowStart?.();
  const cpu0 = serverCpuMs();
  const gen0 = process.cpuUsage();
  const others = foreignLoad(cores.generator, cores.server);
  const t0 = performance.now();
  const windowStartedAt = Date.now();
  phase = 'window';
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, windowMs);
    if (maxCalls) {
      const poll = setInterval(() => {
        if (started >= maxCalls) {
          clearInterval(poll);
          clearTimeout(timer);
          resolve();
        }
      }, 50);
      setTimeout(() => clearInterval(poll), windowMs);
    }
  });
  phase = 'drain';
  const windowEndedAt = Date.now();
  const elapsedS = (performance.now() - t0) / 1000;
  const cpu = serverCpuMs() - cpu0;
  const gen = process.cpuUsage(gen0);
  const foreign = others((gen.user + gen.system) / 1000, cpu, elapsedS * 1000);
  stopping = true;
  await Promise.all(running);

  const latency = summarize(setupsInWindow);
  return {
    concurrency,
    windowSeconds: Math.round(elapsedS * 100) / 100,
    setupsPerSecond: Math.round((latency.count / elapsedS) * 10) / 10,
    callsCompletedPerSecond: Math.round((completedInWindow / elapsedS) * 10) / 10,
    setupLatencyMs: latency,
    callsStarted: started,
    callsCompleted: completedTotal,
    callsCompletedInWindow: completedInWindow,
    failedCalls: failures.total,
    failuresByCause: failures.byCause,
    sdpMismatches: tally.sdpMismatches,
    acksReceived: tally.acks,
    acksExpected: 2 * completedTotal,
    unexpectedFrames: tally.unexpected,
    serverCpuMsPerCall: completedInWindow ? Math.round((cpu / completedInWindow) * 1000) / 1000 : null,
    serverCpuUtilisation: Math.round((cpu / (elapsedS * 1000)) * 1000) / 1000,
    generatorCpuUtilisation: Math.round(((gen.user + gen.system) / 1000 / (elapsedS * 1000)) * 1000) / 1000,
    otherProcessesCpuShare: foreign,
    // The window on the wall clock, which the meter's lines are matched against.
    windowStartedAt,
    windowEndedAt,
  };
}

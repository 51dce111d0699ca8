/**
 * The sparse scenario: every caller/callee pair in one call at a time, long calls far
 * apart, so the objects hibernate between a user's calls and every call wakes both.
 * Each pair's first call starts at a random point of one period (ring + talk + gap), so
 * calls are spread evenly over the window from its first second; each next call starts
 * `gapMs` after the pair's previous one ended. Calls start only inside the window; the
 * window is followed by the calls still running and then a tail of `tailMs` after the
 * last one ended, so that the alarms the calls left (write-behind, clean-up) fire inside
 * the measurement. Server CPU per call is everything the server spent from the window's
 * start to the tail's end, divided by the calls.
 */
import { placeSparseCall } from './call-flow.mjs';
import { foreignLoad } from './machine.mjs';
import { openDatabases, sleep } from './proc.mjs';
import { Failures, summarize } from './stats.mjs';

const round = (v, d = 3) => (v === null || v === undefined ? null : Math.round(v * 10 ** d) / 10 ** d);

export async function sparseLoad({ population, pairs, ringMs, talkMs, gapMs, windowMs, tailMs, serverCpuMs, pids, cores, log }) {
  const { calls, tally } = population;
  const failures = new Failures();
  const ringing = [];
  const answered = [];
  const period = ringMs + talkMs + gapMs;
  let started = 0;
  let completed = 0;
  let lastEnd = 0;

  const cpu0 = serverCpuMs();
  const gen0 = process.cpuUsage();
  const others = foreignLoad(cores.generator, cores.server);
  const startedAt = Date.now();
  const t0 = performance.now();
  const windowEnd = t0 + windowMs;
  const optionsBefore = tally.options ?? 0;

  async function pairLoop([caller, callee]) {
    let next = t0 + Math.random() * period;
    while (next < windowEnd) {
      await sleep(next - performance.now());
      if (!caller.isOpen || !callee.isOpen) break;
      started++;
      try {
        await placeSparseCall(caller, callee, calls, tally, {
          ringMs,
          talkMs,
          onRinging: (ms) => ringing.push(ms),
          onAnswer: (ms) => answered.push(ms),
        });
        completed++;
      } catch (err) {
        failures.add(err.cause ?? 'error');
        if (failures.total <= 5) log(`  call failed: ${err.message}`);
      }
      lastEnd = Math.max(lastEnd, performance.now());
      next = performance.now() + gapMs;
    }
  }

  // Awake objects (their databases open), every 5 s while calls start and end.
  const awake = [];
  const sampler = setInterval(() => awake.push(openDatabases(pids())), 5000);
  const running = Promise.all(pairs.map(pairLoop));
  await sleep(windowMs);
  const cpuWindow = serverCpuMs() - cpu0;
  const windowGen = process.cpuUsage(gen0);
  const foreign = others((windowGen.user + windowGen.system) / 1000, cpuWindow, windowMs);
  await running;
  clearInterval(sampler);
  const drainEnd = performance.now();
  const cpuDrain = serverCpuMs() - cpu0 - cpuWindow;
  await sleep(tailMs);
  const cpuTotal = serverCpuMs() - cpu0;
  const endedAt = Date.now();
  const gen = process.cpuUsage(gen0);
  const elapsedS = (performance.now() - t0) / 1000;

  return {
    pairs: pairs.length,
    ringSeconds: ringMs / 1000,
    talkSeconds: talkMs / 1000,
    gapSeconds: gapMs / 1000,
    windowSeconds: windowMs / 1000,
    drainSeconds: round((drainEnd - windowEnd) / 1000, 1),
    tailSeconds: tailMs / 1000,
    lastCallEndedSecondsAfterWindow: round((lastEnd - windowEnd) / 1000, 1),
    callsStarted: started,
    callsCompleted: completed,
    callsStartedPerSecond: round(started / (windowMs / 1000), 2),
    failedCalls: failures.total,
    failuresByCause: failures.byCause,
    sdpMismatches: tally.sdpMismatches,
    optionsProbesAnswered: (tally.options ?? 0) - optionsBefore,
    openDatabases: { mean: awake.length ? Math.round(awake.reduce((a, b) => a + b, 0) / awake.length) : null, max: awake.length ? Math.max(...awake) : null },
    ringingLatencyMs: summarize(ringing),
    answerLatencyMs: summarize(answered),
    serverCpuMs: { window: Math.round(cpuWindow), drain: Math.round(cpuDrain), tail: Math.round(cpuTotal - cpuWindow - cpuDrain), total: Math.round(cpuTotal) },
    serverCpuMsPerCall: completed ? round(cpuTotal / completed) : null,
    serverCpuUtilisation: round(cpuTotal / (elapsedS * 1000)),
    generatorCpuUtilisation: round((gen.user + gen.system) / 1000 / (elapsedS * 1000)),
    otherProcessesCpuShare: foreign,
    // The measured span on the wall clock, which the meter's lines are matched against.
    startedAt,
    endedAt,
  };
}

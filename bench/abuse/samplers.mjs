/**
 * What the other users see: series of latency samples taken at a fixed pace while the
 * service is quiet and again while it is flooded. A sample that fails is counted by cause.
 */
import { sleep } from '../lib/proc.mjs';
import { Failures, summarize } from '../lib/stats.mjs';
import { RefreshingUa } from '../soak/refreshing-ua.mjs';
import { shortCall } from '../soak/short-call.mjs';

/**
 * Sample k starts at start + k × intervalMs (or as soon as sample k-1 ends, if later);
 * none starts after `stopAt()` is true.
 */
export async function series({ samples, intervalMs, stopAt = () => false, fn, log, label }) {
  const latencies = [];
  const failures = new Failures();
  const t0 = performance.now();
  for (let k = 0; k < samples; k++) {
    const wait = t0 + k * intervalMs - performance.now();
    if (wait > 0) await sleep(wait);
    if (stopAt()) break;
    try {
      latencies.push(await fn(k));
    } catch (err) {
      failures.add(err.cause ?? 'error');
      if (failures.total <= 3) log(`  ${label} sample ${k} failed: ${err.message}`);
    }
  }
  return { attempted: latencies.length + failures.total, latencyMs: summarize(latencies), failed: failures.total, failuresByCause: failures.byCause };
}

/** Connect + digest REGISTER of a user that has no socket yet, then close: one sample. */
export function registerSample(server, population, user) {
  return async () => {
    const ua = new RefreshingUa({
      user,
      domain: server.domain,
      password: server.password(user),
      url: server.url(user),
      calls: population.calls,
      tally: population.tally,
      expires: 600,
    });
    const t = performance.now();
    try {
      await ua.connect();
      await ua.register();
      return performance.now() - t;
    } finally {
      ua.close();
    }
  };
}

/** One call (INVITE → 200 timed, then ACK, BYE) from `caller` to `callee`. */
export function callSample(caller, callee, population) {
  return async () => (await shortCall(caller, callee, { calls: population.calls, tally: population.tally })).setupMs;
}

/**
 * Everything measured for one target, in the same order for each:
 *  0. provisioning (product only), then the storage is set aside;
 *  1. new server process on that storage: registration of the users, calls;
 *  2. new server process on that storage again: idle sockets, memory, keepalives, and
 *     for the product a sample of wake-ups.
 */
import { callLoad } from './call-load.mjs';
import { memoryPhase } from './memory-phase.mjs';
import { Population, userName } from './population.mjs';
import { cpuMs, logErrors, sleep } from './proc.mjs';

export async function runTarget(target, opts, log) {
  const out = { runtime: target.runtime, serverLogErrors: {} };
  // Read before each stop: shutdown messages are not errors of the run.
  // Each server process writes a new log; `after` is an earlier reading of the same log.
  const noteErrors = (phase, after = null) => {
    const e = logErrors(target.logFile());
    if (after) {
      e.total -= after.total;
      for (const [k, v] of Object.entries(after.byMessage)) e.byMessage[k] -= v;
      for (const k of Object.keys(e.byMessage)) if (e.byMessage[k] <= 0) delete e.byMessage[k];
    }
    out.serverLogErrors[phase] = e;
    if (e.total > 0) log(`  server logged ${e.total} errors in the ${phase} phase, e.g. ${Object.keys(e.byMessage)[0]}`);
  };
  const serverCpuMs = () => cpuMs(target.pids());
  try {
    await target.build();
    await target.start({ state: 'empty' });
    const users = Math.max(opts.users, opts.memory ? Math.max(...opts.memorySockets) : 0);
    out.provisioning = await target.provision(users, userName);
    if (out.provisioning) log(`  provisioned ${users} users through the API in ${out.provisioning.seconds} s`);
    // Each phase starts a new process on the provisioned storage: no object in memory,
    // no alarm pending, nothing left over from the phase before.
    noteErrors('provisioning');
    await target.stop();
    target.saveState();
    await target.start({ state: 'saved' });

    const pop = new Population(target);
    out.registration = await pop.register(0, opts.users, { concurrency: opts.regConcurrency, serverCpuMs });
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
    const other = c.otherProcessesCpuShare;
    if (other.serverCore > 0.05 || other.generatorCore > 0.05) {
      log(`  WARNING: other processes used ${Math.round(other.serverCore * 100)} % of the server core and ${Math.round(other.generatorCore * 100)} % of the generator core: figures are disturbed`);
    }
    noteErrors('calls');
    await pop.closeAll();
    await target.stop();

    if (opts.memory) {
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
      noteErrors('memory');
      // Thousands of sockets closing at once wake every object (close handlers): reported
      // apart, it is not part of what the phases measure.
      await memory.population.closeAll();
      await sleep(2000);
      noteErrors('teardown', out.serverLogErrors.memory);
    }
  } finally {
    await target.stop();
  }
  return out;
}

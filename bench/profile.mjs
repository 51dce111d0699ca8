#!/usr/bin/env node
/**
 * Where a workerd target's CPU goes under the call load: `node bench/profile.mjs product`
 * (or `relay`; `product:register` profiles the registrations instead, `product:sparse` the
 * sparse scenario's calls between hibernated objects, with --sparse-users and --sparse-seconds). Same generator,
 * users and concurrency as `npm run bench` (same options); the Worker's isolate is
 * profiled through workerd's inspector during the measured window.
 * Writes bench/results/<target>.cpuprofile (open it in Chrome DevTools) and prints the
 * functions with the most inclusive and self time.
 *
 * The inspector costs CPU itself: use this for where, and `npm run bench` for how much.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { callLoad } from './lib/call-load.mjs';
import { connectInspector, summarizeProfile } from './lib/inspector.mjs';
import { readOptions } from './lib/options.mjs';
import { ensurePinned } from './lib/pinning.mjs';
import { Population, userName } from './lib/population.mjs';
import { cpuMs, sleep } from './lib/proc.mjs';
import { SPARSE_EXPIRES_S, sparseTimes } from './lib/run-target.mjs';
import { sparseLoad } from './lib/sparse-load.mjs';
import { makeTarget } from './targets/index.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const [which = 'product', ...rest] = process.argv.slice(2);
// `product:register` profiles the registrations (connect and digest REGISTER) instead of the calls;
// `product:sparse` the sparse scenario (every call wakes both objects).
const [name, phase = 'calls'] = which.split(':');
if (!['product', 'relay'].includes(name) || !['calls', 'register', 'sparse'].includes(phase)) {
  console.error('usage: node bench/profile.mjs product|relay[:register|:sparse] [--users=N --concurrency=N --seconds=N]');
  process.exit(2);
}
const opts = readOptions(rest);
if (ensurePinned(fileURLToPath(import.meta.url), opts.generatorCore)) await main();

async function main() {
  const runDir = join(here, 'results', 'run');
  mkdirSync(runDir, { recursive: true });
  const stateRoot = mkdtempSync('/dev/shm/switchboard-profile-');
  const target = makeTarget(name, { repo: resolve(here, '..'), runDir, stateRoot, portBase: opts.portBase, core: opts.serverCore });
  const inspectorPort = opts.portBase + 9;
  try {
    await target.build();
    await target.start({ state: 'empty', inspectorPort });
    await target.provision(phase === 'sparse' ? opts.sparseUsers : opts.users, userName);
    const pop = new Population(target);
    const inspector = await connectInspector(inspectorPort);
    let heapAtStart = null;
    await inspector.call('Profiler.enable');
    await inspector.call('Profiler.setSamplingInterval', { interval: 250 });
    const startProfile = async () => {
      heapAtStart = await inspector.call('Runtime.getHeapUsage');
      await inspector.call('Profiler.start');
    };
    let headline;
    if (phase === 'register') {
      await startProfile();
      const cpu0 = cpuMs(target.pids());
      const t0 = Date.now();
      await pop.register(0, opts.users, { concurrency: opts.regConcurrency });
      const perReg = (cpuMs(target.pids()) - cpu0) / opts.users;
      headline = `${name}: ${Math.round((opts.users * 1000) / (Date.now() - t0))} registrations/s under the profiler, ${perReg.toFixed(3)} ms server CPU per registration`;
    } else if (phase === 'sparse') {
      const sparsePop = new Population(target, { expires: SPARSE_EXPIRES_S });
      await sparsePop.register(0, opts.sparseUsers, { concurrency: opts.regConcurrency });
      // Every object hibernates before the window, as in the bench.
      await sleep(target.settleSeconds * 1000);
      await startProfile();
      const calls = await sparseLoad({
        population: sparsePop,
        pairs: sparsePop.pairs(opts.sparseUsers),
        ...sparseTimes(opts),
        serverCpuMs: () => cpuMs(target.pids()),
        pids: () => target.pids(),
        cores: { generator: opts.generatorCore, server: opts.serverCore },
        log: () => {},
      });
      headline = `${name}: ${calls.callsCompleted} sparse calls under the profiler, ${calls.serverCpuMsPerCall} ms server CPU per call`;
    } else {
      await pop.register(0, opts.users, { concurrency: opts.regConcurrency });
      const calls = await callLoad({
        population: pop,
        pairs: pop.pairs(opts.users),
        concurrency: opts.concurrency,
        warmupMs: opts.warmupSeconds * 1000,
        windowMs: opts.seconds * 1000,
        maxCalls: 0,
        serverCpuMs: () => cpuMs(target.pids()),
        onWindowStart: startProfile,
        cores: { generator: opts.generatorCore, server: opts.serverCore },
        log: console.log,
      });
      headline = `${name}: ${calls.setupsPerSecond} setups/s under the profiler, ${calls.serverCpuMsPerCall} ms server CPU per call`;
    }
    const heapAtEnd = await inspector.call('Runtime.getHeapUsage');
    const { profile } = await inspector.call('Profiler.stop');
    inspector.close();
    await pop.closeAll();
    const file = join(here, 'results', `${name}${phase === 'register' ? '-register' : ''}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    const summary = summarizeProfile(profile);
    console.log(headline);
    console.log(`isolate busy ${summary.busyMs} ms in the window; profile written to ${file}`);
    const mib = (h) => (h.usedSize / 1048576).toFixed(1);
    console.log(`isolate heap used (live and not yet collected): ${mib(heapAtStart)} MiB at the window's start, ${mib(heapAtEnd)} MiB at its end\n`);
    console.log('inclusive time (% of the isolate\'s busy samples):');
    for (const f of summary.inclusive) console.log(`  ${String(f.totalPct).padStart(5)} %  ${f.fn}`);
    console.log('\nself time:');
    for (const f of summary.functions.slice(0, 25)) console.log(`  ${String(f.selfPct).padStart(5)} %  ${f.fn}`);
  } finally {
    await target.stop();
    rmSync(stateRoot, { recursive: true, force: true });
  }
}

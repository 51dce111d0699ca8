#!/usr/bin/env node
/**
 * What the memory per idle socket is made of: `node bench/memory-probe.mjs product` (or
 * `relay`). Registers N sockets (BENCH_USERS, 2,000), lets the objects hibernate, and reads
 * the server's PSS and the isolate's V8 heap; then has V8 collect garbage through the
 * inspector and reads both again. What a full collection gives back was garbage that V8
 * had not yet collected, not state the sockets hold.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectInspector } from './lib/inspector.mjs';
import { readOptions } from './lib/options.mjs';
import { ensurePinned } from './lib/pinning.mjs';
import { Population, userName } from './lib/population.mjs';
import { pssKiB, sleep } from './lib/proc.mjs';
import { makeTarget } from './targets/index.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const [name = 'product', ...rest] = process.argv.slice(2);
const opts = readOptions(rest);

/** workerd's inspector runs a command when the isolate next runs: a request lets it. */
async function inspect(inspector, method) {
  const done = inspector.call(method);
  for (let i = 0; i < 100; i++) {
    const settled = await Promise.race([done.then(() => true), sleep(100).then(() => false)]);
    if (settled) return done;
    await fetch(`http://127.0.0.1:${opts.portBase + (name === 'relay' ? 1 : 0)}/healthz`).catch(() => null);
  }
  throw new Error(`the inspector did not answer ${method}`);
}

const mib = (h) => `${(h.usedSize / 1048576).toFixed(1)} MiB used of ${(h.totalSize / 1048576).toFixed(1)}`;

/** Sampled bytes by allocating function (self), per registration. */
function printAllocations(profile, units) {
  const by = new Map();
  const walk = (n) => {
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url ? f.url.split('/').pop() : ''}:${f.lineNumber + 1}`;
    by.set(key, (by.get(key) ?? 0) + n.selfSize);
    for (const c of n.children ?? []) walk(c);
  };
  walk(profile.head);
  const total = [...by.values()].reduce((a, b) => a + b, 0);
  console.log(`allocated (sampled, garbage included): ${(total / units / 1024).toFixed(1)} KiB per registration; by function:`);
  for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${(v / units / 1024).toFixed(2).padStart(7)} KiB  ${k}`);
}

async function main() {
  const runDir = join(here, 'results', 'run');
  mkdirSync(runDir, { recursive: true });
  const stateRoot = mkdtempSync('/dev/shm/switchboard-memory-');
  const target = makeTarget(name, { repo: resolve(here, '..'), runDir, stateRoot, portBase: opts.portBase, core: opts.serverCore });
  try {
    await target.build();
    await target.start({ state: 'empty', inspectorPort: opts.portBase + 9 });
    await target.provision(opts.users, userName);
    const inspector = await connectInspector(opts.portBase + 9);
    const warm = new Population(target);
    await warm.register(0, 20, { concurrency: 20 });
    await warm.closeAll();
    await sleep(15_000);
    await inspect(inspector, 'HeapProfiler.collectGarbage');
    await sleep(2_000);
    const base = pssKiB(target.pids());
    console.log(`${name}: baseline ${base} KiB PSS, heap ${mib(await inspect(inspector, 'Runtime.getHeapUsage'))}`);
    const pop = new Population(target);
    // BENCH_ALLOCATIONS=1: which functions allocated the bytes of the registrations (sampled,
    // garbage included: that is what grows the heap between two full collections).
    const sampling = process.env.BENCH_ALLOCATIONS === '1';
    if (sampling) await inspector.call('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    await pop.registerPaced(0, opts.users, { concurrency: opts.regConcurrency });
    if (sampling) printAllocations((await inspect(inspector, 'HeapProfiler.stopSampling')).profile, opts.users);
    await sleep(15_000);
    const idle = pssKiB(target.pids());
    console.log(`${opts.users} idle sockets: ${idle} KiB PSS (${((idle - base) / opts.users).toFixed(1)} KiB/socket), heap ${mib(await inspect(inspector, 'Runtime.getHeapUsage'))}`);
    await inspect(inspector, 'HeapProfiler.collectGarbage');
    await sleep(3_000);
    const gc = pssKiB(target.pids());
    console.log(`after a full GC: ${gc} KiB PSS (${((gc - base) / opts.users).toFixed(1)} KiB/socket), heap ${mib(await inspect(inspector, 'Runtime.getHeapUsage'))}`);
    inspector.close();
    await pop.closeAll();
  } finally {
    await target.stop();
    rmSync(stateRoot, { recursive: true, force: true });
  }
}

if (ensurePinned(fileURLToPath(import.meta.url), opts.generatorCore)) await main();

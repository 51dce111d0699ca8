#!/usr/bin/env node
/**
 * `npm run bench`: Switchboard side by side with a bare relay Worker (same runtime) and
 * Kamailio 5.6, driven by the same load generator, at bench load and in a sparse
 * scenario; interleaved runs (product, relay, product, relay, ...), then a metered pass
 * for the counts per call. See bench/README.md.
 *
 * The script re-executes itself with the highest file-descriptor limit allowed and pinned
 * to the generator's core; every server it starts is pinned to the other core.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readOptions, usage } from './lib/options.mjs';
import { ensurePinned } from './lib/pinning.mjs';
import { prepareTarget, runLoad, runSparse } from './lib/run-target.mjs';
import { checks, markdown, ratios, summarize } from './lib/report.mjs';
import { makeTarget } from './targets/index.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');
const log = (...a) => console.log(...a);
const SCENARIO = { load: 'bench load', sparse: 'sparse' };

async function main() {
  let opts;
  try {
    opts = readOptions();
  } catch (err) {
    console.error(`${err.message}\n\nOptions (environment or flag, default, meaning):\n${usage()}`);
    process.exit(2);
  }
  if (!ensurePinned(fileURLToPath(import.meta.url), opts.generatorCore)) return;

  const runDir = join(here, 'results', 'run');
  mkdirSync(runDir, { recursive: true });
  const ownState = !opts.stateDir;
  const stateRoot = opts.stateDir || mkdtempSync('/dev/shm/switchboard-bench-');
  const common = { repo, runDir, stateRoot, portBase: opts.portBase, core: opts.serverCore, baseline: opts.baseline };
  const started = new Date();
  const workerd = opts.targets.filter((n) => n !== 'kamailio');
  const kamailio = opts.targets.includes('kamailio') && opts.scenarios.includes('load');
  log(
    `Switchboard bench: ${opts.targets.join(', ')}; ${opts.scenarios.map((s) => SCENARIO[s]).join(' and ')}, ${opts.runs} run(s)` +
      `${opts.meter ? ', then the metered pass' : ''}`,
  );

  const targets = Object.fromEntries(opts.targets.map((n) => [n, makeTarget(n, common)]));
  let current = null;
  const stopCurrent = async () => current?.stop();
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      stopCurrent().finally(() => process.exit(130));
    });
  }
  const phase = async (name, label, fn) => {
    current = targets[name];
    log(`\n== ${label}: ${current.label}`);
    const t0 = Date.now();
    const out = await fn(current);
    out.phaseSeconds = Math.round((Date.now() - t0) / 1000);
    log(`  (${out.phaseSeconds} s)`);
    current = null;
    return out;
  };

  const report = {
    startedAt: started.toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version },
    options: opts,
    runtimes: Object.fromEntries(Object.entries(targets).map(([n, t]) => [n, t.runtime])),
    provisioning: {},
    runs: [],
    kamailio: null,
    meter: null,
  };
  try {
    // Provisioned once per target; every phase after starts a new process on a copy.
    const users = Math.max(
      opts.scenarios.includes('load') ? opts.users : 0,
      opts.scenarios.includes('load') && opts.memory ? Math.max(...opts.memorySockets) : 0,
      opts.scenarios.includes('sparse') ? opts.sparseUsers : 0,
    );
    for (const name of opts.targets) {
      if (name === 'kamailio' && !kamailio) continue;
      report.provisioning[name] = await phase(name, 'preparing', (t) => prepareTarget(t, users, log));
    }
    for (let run = 1; run <= opts.runs; run++) {
      const results = {};
      for (const scenario of opts.scenarios) {
        results[scenario] = {};
        const runScenario = scenario === 'load' ? runLoad : runSparse;
        for (const name of workerd) {
          results[scenario][name] = await phase(name, `run ${run}/${opts.runs}, ${SCENARIO[scenario]}`, (t) => runScenario(t, opts, log));
        }
        if (scenario === 'load' && run === 1 && kamailio) {
          report.kamailio = await phase('kamailio', `run 1, ${SCENARIO.load} (Kamailio runs once)`, (t) => runLoad(t, opts, log));
        }
      }
      report.runs.push(results);
    }
    if (opts.meter) {
      report.meter = {};
      for (const scenario of opts.scenarios) {
        report.meter[scenario] = {};
        const runScenario = scenario === 'load' ? runLoad : runSparse;
        for (const name of workerd) {
          report.meter[scenario][name] = await phase(name, `metered pass (SWITCHBOARD_METER=1), ${SCENARIO[scenario]}`, (t) => runScenario(t, opts, log, { meter: true }));
        }
      }
    }
  } finally {
    await stopCurrent();
    if (ownState) rmSync(stateRoot, { recursive: true, force: true });
  }

  report.finishedAt = new Date().toISOString();
  report.minutes = Math.round((Date.now() - started.getTime()) / 6000) / 10;
  report.summary = summarize(report);
  report.ratios = ratios(report);
  report.checks = checks(report);
  const md = markdown(report);
  writeFileSync(join(here, 'results', 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(here, 'results', 'latest.md'), `${md}\n`);
  log(`\n${md}\n\nWritten: bench/results/latest.json, bench/results/latest.md`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

#!/usr/bin/env node
/**
 * `npm run bench`: Switchboard side by side with a bare relay Worker (same runtime) and
 * Kamailio 5.6, driven by the same load generator. See bench/README.md.
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
import { runTarget } from './lib/run-target.mjs';
import { checks, markdown, ratios } from './lib/report.mjs';
import { makeTarget } from './targets/index.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');
const log = (...a) => console.log(...a);

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
  const common = { repo, runDir, stateRoot, portBase: opts.portBase, core: opts.serverCore };
  const started = new Date();
  log(`Switchboard bench: ${opts.targets.join(', ')}; ${opts.users} users, ${opts.concurrency} calls in flight, ${opts.seconds} s window`);

  const targets = {};
  let current = null;
  const stopCurrent = async () => current?.stop();
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      stopCurrent().finally(() => process.exit(130));
    });
  }
  try {
    for (const name of opts.targets) {
      current = makeTarget(name, common);
      log(`\n== ${current.label}: ${current.runtime}`);
      targets[name] = await runTarget(current, opts, log);
      current = null;
    }
  } finally {
    await stopCurrent();
    if (ownState) rmSync(stateRoot, { recursive: true, force: true });
  }

  const report = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version },
    options: opts,
    targets,
  };
  report.ratios = ratios(targets, opts.memorySockets);
  report.checks = checks(targets, opts.memorySockets);
  const md = markdown(report);
  writeFileSync(join(here, 'results', 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(here, 'results', 'latest.md'), `${md}\n`);
  log(`\n${md}\n\nWritten: bench/results/latest.json, bench/results/latest.md`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

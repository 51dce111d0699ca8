#!/usr/bin/env node
/**
 * `npm run bench:storage`: the server CPU each storage or timer operation of a user's
 * object costs under the bench's runtime (bare workerd, SQLite-backed objects on local
 * disk), priced one kind at a time against a request that does nothing but reach the
 * object. Modes are interleaved over several rounds and the median is reported, because
 * this machine's speed drifts from one minute to the next.
 *
 * Options (environment): STORAGE_OPS per mode and round (4000), STORAGE_ROUNDS (5),
 * STORAGE_OBJECTS (500).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import { build } from 'esbuild';
import { cpuMs, sleep } from '../lib/proc.mjs';
import { ensurePinned } from '../lib/pinning.mjs';
import { compatibilityDate, startWorkerd, workerdVersion } from '../targets/workerd.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const OPS = Number(process.env.STORAGE_OPS ?? 4000);
const ROUNDS = Number(process.env.STORAGE_ROUNDS ?? 5);
const OBJECTS = Number(process.env.STORAGE_OBJECTS ?? 500);
const PORT = 18790;
const MODES = ['event', 'dialog', 'dialogs2', 'set-alarm', 'dialog-and-set-alarm', 'alarm-fires'];

if (ensurePinned(fileURLToPath(import.meta.url), 0)) await main();

async function main() {
  const outDir = join(repo, 'node_modules', '.cache', 'switchboard', 'storage-bench');
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [join(here, 'worker.ts')],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    external: ['cloudflare:workers'],
    outfile: join(outDir, 'worker.js'),
    logLevel: 'warning',
  });
  const stateDir = mkdtempSync('/dev/shm/switchboard-storage-');
  const server = await startWorkerd({
    name: 'storage',
    core: 1,
    port: PORT,
    configDir: outDir,
    stateDir,
    compatibilityDate: compatibilityDate(repo),
    modules: [{ name: 'worker.js', path: join(outDir, 'worker.js') }],
    durableObjects: [{ binding: 'OBJECTS', className: 'StorageProbe' }],
    text: {},
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const get = (path) =>
    new Promise((ok, fail) => {
      http
        .get({ host: '127.0.0.1', port: PORT, path, agent }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => (res.statusCode === 200 ? ok(body) : fail(new Error(`${path}: ${res.statusCode} ${body}`))));
        })
        .on('error', fail);
    });
  const fired = async () => {
    let total = 0;
    for (let i = 0; i < OBJECTS; i++) total += Number(await get(`/fired?object=o${i}`));
    return total;
  };

  /** Server CPU (µs) per operation of `mode`, and how many alarms fired meanwhile. */
  async function phase(mode, ops) {
    const firedBefore = mode === 'alarm-fires' ? await fired() : 0;
    const cpu0 = cpuMs(server.pids());
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < ops) {
          const i = next++;
          await get(`/?mode=${mode}&object=o${i % OBJECTS}`);
        }
      }),
    );
    // Alarms set 1 ms ahead: let them all run before reading the CPU.
    if (mode === 'alarm-fires') await sleep(500);
    const cpu = cpuMs(server.pids()) - cpu0;
    const alarms = mode === 'alarm-fires' ? (await fired()) - firedBefore : 0;
    return { us: (cpu * 1000) / ops, alarms };
  }

  try {
    for (const mode of MODES) await phase(mode, Math.min(OPS, 2000)); // JIT and every object warm
    const samples = Object.fromEntries(MODES.map((m) => [m, []]));
    let alarmsFired = 0;
    for (let r = 0; r < ROUNDS; r++) {
      for (const mode of MODES) {
        const { us, alarms } = await phase(mode, OPS);
        samples[mode].push(us);
        alarmsFired += alarms;
      }
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const base = median(samples.event);
    const rows = MODES.map((m) => {
      const med = median(samples[m]);
      return { mode: m, usPerRequest: Math.round(med), usAboveEvent: Math.round(med - base), spread: `${Math.round(Math.min(...samples[m]))}–${Math.round(Math.max(...samples[m]))}` };
    });
    console.log(`workerd ${workerdVersion()}, ${OBJECTS} objects, ${ROUNDS} rounds of ${OPS} requests per mode (medians)`);
    console.log('| operation in one event | µs per request | above the bare event | range over rounds |');
    console.log('|---|---:|---:|---|');
    for (const r of rows) console.log(`| ${r.mode} | ${r.usPerRequest} | ${r.usAboveEvent} | ${r.spread} |`);
    console.log(`alarms fired in the alarm-fires rounds: ${alarmsFired} of ${ROUNDS * OPS} set`);
  } finally {
    await server.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

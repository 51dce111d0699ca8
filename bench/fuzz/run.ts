/**
 * `npm run fuzz`: the core fuzzer at full length. FUZZ_SEED (default: from the clock,
 * printed) and FUZZ_INPUTS (default 1,000,000) choose the run; the same seed and count
 * give the same inputs. Failures are printed and written to test-results/fuzz-core.json;
 * the exit code is 1 when any property failed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './corpus.js';
import { runCoreFuzz, type CoreFuzzReport } from './core-fuzz.js';

const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;
const inputs = Number(process.env.FUZZ_INPUTS ?? 1_000_000);
const drainEvery = Number(process.env.FUZZ_DRAIN_EVERY ?? 50_000);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

function line(r: CoreFuzzReport): string {
  const failed = r.failures.reduce((n, f) => n + f.count, 0);
  return `${fmt(r.inputs)}/${fmt(inputs)} inputs, ${r.seconds.toFixed(1)} s, ${fmt(r.inputsPerSecond)} inputs/s, ${fmt(r.steps)} steps, max state ${fmt(r.maxRecords)} records / ${fmt(r.maxBytes)} JSON chars, failures ${failed}`;
}

console.log(`fuzz: seed ${seed}, ${fmt(inputs)} inputs, drain every ${fmt(drainEvery)} (reproduce with FUZZ_SEED=${seed} FUZZ_INPUTS=${inputs})`);
const r = runCoreFuzz({ seed, inputs, drainEvery, progressEvery: 50_000, onProgress: (p) => console.log(`fuzz: ${line(p)}`) });
console.log(`fuzz: done: ${line(r)}`);
console.log(`fuzz: bound per user: ${fmt(r.bound.records)} records, ${fmt(r.bound.bytes)} JSON chars; at most ${r.bound.drained} records once drained`);
console.log(`fuzz: largest state: ${fmt(r.maxRecords)} records (${r.maxUser}: ${JSON.stringify(r.maxFields)}), ${fmt(r.maxBytes)} JSON chars; after ${r.drains} drains at most ${r.maxDrainedRecords} records left`);
console.log(`fuzz: counts: ${Object.entries(r.stats).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}`);
for (const f of r.failures) {
  console.log(`\nFAILED (${f.count}x): ${f.property}\n  user ${f.first.user ?? '-'}, input ${f.first.input?.type ?? '-'}\n  ${f.first.detail.split('\n').join('\n  ')}`);
  if (f.first.input && 'text' in f.first.input) console.log(`  input text: ${JSON.stringify(f.first.input.text.slice(0, 3000))}`);
  if (f.first.minimal !== undefined) console.log(`  minimal input text: ${JSON.stringify(f.first.minimal)}`);
}
const dir = join(repoRoot(), 'test-results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'fuzz-core.json'), JSON.stringify(r, null, 1));
process.exitCode = r.failures.length > 0 ? 1 : 0;

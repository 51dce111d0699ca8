/**
 * The seeds the fuzzers mutate: the real JsSIP/SIP.js captures of test/fixtures/sip-traces
 * and the RFC 4475-style torture corpus, each also rewritten to name the fuzzed tenant's
 * users and domain so that mutations reach the registrar, the proxy and the dialogs and do
 * not stop at "404 User Not Found".
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readTrace } from '../../test/support/traces.js';
import { INVALID, VALID } from '../../test/fixtures/torture.js';

export interface Seed {
  readonly origin: string;
  readonly text: string;
}

export interface Corpus {
  /** The messages exactly as captured or written. */
  readonly raw: readonly Seed[];
  /** Rewritten for (self, peer, domain) on demand. */
  retarget(seed: Seed, self: string, peer: string, domain: string): string;
}

/** The repository root, from the source tree or from a bundle under node_modules/.cache. */
export function repoRoot(): string {
  for (const start of [dirname(fileURLToPath(import.meta.url)), process.cwd()]) {
    for (let dir = start; ; dir = dirname(dir)) {
      const pkg = join(dir, 'package.json');
      if (existsSync(pkg) && /"name":\s*"switchboard"/.test(readFileSync(pkg, 'utf8'))) return dir;
      if (dirname(dir) === dir) break;
    }
  }
  throw new Error('fuzz: cannot find the repository root (package.json of "switchboard")');
}

export function loadCorpus(): Corpus {
  const tracesDir = join(repoRoot(), 'test/fixtures/sip-traces');
  const raw: Seed[] = [];
  for (const dir of readdirSync(tracesDir).sort()) {
    for (const f of readdirSync(join(tracesDir, dir)).sort()) {
      for (const [i, t] of readTrace(join(tracesDir, dir, f)).entries()) raw.push({ origin: `trace ${dir}/${f}#${i}`, text: t.text });
    }
  }
  if (raw.length < 60) throw new Error(`fuzz: only ${raw.length} captured messages found in ${tracesDir}`);
  for (const c of VALID) raw.push({ origin: `torture valid: ${c.name}`, text: c.text });
  for (const c of INVALID) raw.push({ origin: `torture invalid: ${c.name}`, text: c.text });
  return { raw, retarget };
}

/**
 * The captures name Kamailio's users `hbkwh4y<n>a` (caller) and `hbkwh4y<n>b` (callee) at
 * 127.0.0.1; the torture cases name alice, bob and example.com. Only header lines change,
 * so every Content-Length stays true.
 */
function retarget(seed: Seed, self: string, peer: string, domain: string): string {
  const split = seed.text.search(/\r?\n\r?\n/);
  const head = split < 0 ? seed.text : seed.text.slice(0, split);
  const body = split < 0 ? '' : seed.text.slice(split);
  const rewritten = head
    .replace(/hbkwh4y\d+a/g, self)
    .replace(/hbkwh4y\d+b/g, peer)
    .replace(/\b(alice|jdrosen|vivekg|user)@/g, `${self}@`)
    .replace(/\bbob@/g, `${peer}@`)
    .replace(/@(127\.0\.0\.1|example\.com|example\.net|chair-dnrc\.example\.com)\b/g, `@${domain}`)
    .replace(/\b(sips?):(127\.0\.0\.1|example\.com)\b/g, `$1:${domain}`)
    .replace(/realm="127\.0\.0\.1"/g, `realm="${domain}"`);
  return rewritten + body;
}

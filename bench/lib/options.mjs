/**
 * Bench options: environment variables (BENCH_USERS=2000) or flags (--users=2000), flags
 * winning. Every option, its default and its meaning is listed here and in bench/README.md.
 */

export const OPTIONS = {
  targets: ['product,relay,kamailio', 'targets to run, in order (Kamailio: bench load, first run only; `baseline`: the product at BENCH_BASELINE, for an A/B in one run)'],
  baseline: ['HEAD~1', 'the git ref the `baseline` target builds the product from (a worktree of this repository)'],
  scenarios: ['load,sparse', 'scenarios: load (calls at a fixed concurrency, memory), sparse (long calls far apart)'],
  runs: [3, 'interleaved runs of each scenario (product, relay, product, relay, ...): medians and spread'],
  meter: [1, 'a last pass with SWITCHBOARD_METER=1 for the counts per call (0 skips it)'],
  users: [2000, 'users that register and then make calls'],
  concurrency: [200, 'calls in flight'],
  regConcurrency: [200, 'registrations in flight'],
  seconds: [20, 'measured window of the call phase'],
  warmupSeconds: [32, 'calls before the window, not measured (JIT tiers, caches, write-behind cycles)'],
  calls: [0, 'stop the window after this many calls (0: time only)'],
  memory: [1, '0 skips the memory and keepalive phase'],
  memorySockets: ['2000,5000', 'idle socket counts to measure memory at'],
  idleSeconds: [0, 'idle time before reading memory (0: the target\'s settling time, 15 s)'],
  wakeSockets: [1000, 'sockets whose objects are woken by OPTIONS for the comparison (product)'],
  sparseUsers: [4000, 'sparse: users (caller/callee pairs of two), each in one call at a time'],
  sparseSeconds: [120, 'sparse: window in which calls start (about users / 2 x window / (ring + talk + gap) calls)'],
  sparseTailSeconds: [70, 'sparse: measured on after the last call ended (the alarms the calls left)'],
  sparseRingSeconds: [5, 'sparse: the callee answers this long after its 180'],
  sparseTalkSeconds: [30, 'sparse: from ACK to BYE'],
  sparseGapSeconds: [60, 'sparse: from the end of a pair\'s call to the start of its next'],
  portBase: [18800, 'product on this port, relay +1, Kamailio +2, durable relay +3'],
  generatorCore: [0, 'CPU the load generator is pinned to'],
  serverCore: [1, 'CPU the server under test is pinned to'],
  stateDir: ['', 'Durable Object storage (default: a fresh directory in /dev/shm)'],
};

const toEnv = (key) => `BENCH_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
const toFlag = (key) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export function readOptions(argv = process.argv.slice(2), env = process.env) {
  const flags = new Map();
  for (const a of argv) {
    const m = /^(--[a-z-]+)=(.*)$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a}; use --name=value (see bench/README.md)`);
    flags.set(m[1], m[2]);
  }
  const known = new Set(Object.keys(OPTIONS).map(toFlag));
  for (const f of flags.keys()) if (!known.has(f)) throw new Error(`unknown option ${f}; known: ${[...known].join(' ')}`);
  const out = {};
  for (const [key, [def]] of Object.entries(OPTIONS)) {
    const raw = flags.get(toFlag(key)) ?? env[toEnv(key)];
    if (raw === undefined || raw === '') out[key] = def;
    else if (typeof def === 'number') {
      if (!/^\d+(\.\d+)?$/.test(raw)) throw new Error(`${toEnv(key)} must be a number, got ${raw}`);
      out[key] = Number(raw);
    } else out[key] = raw;
  }
  out.targets = out.targets.split(',').map((t) => t.trim()).filter(Boolean);
  for (const t of out.targets) if (!['product', 'baseline', 'relay', 'durable', 'kamailio'].includes(t)) throw new Error(`unknown target ${t}`);
  out.memorySockets = out.memorySockets.split(',').map(Number);
  out.scenarios = out.scenarios.split(',').map((t) => t.trim()).filter(Boolean);
  for (const s of out.scenarios) if (!['load', 'sparse'].includes(s)) throw new Error(`unknown scenario ${s}`);
  if (out.runs < 1 || !Number.isInteger(out.runs)) throw new Error(`BENCH_RUNS must be a whole number of at least 1, got ${out.runs}`);
  if (out.sparseUsers < 2 || out.sparseUsers % 2 !== 0) throw new Error(`BENCH_SPARSE_USERS must be even and at least 2, got ${out.sparseUsers}`);
  // Sparse users register once, for the registrar's maximum of 3600 s.
  const sparseSpan = out.sparseSeconds + out.sparseRingSeconds + out.sparseTalkSeconds + out.sparseGapSeconds + out.sparseTailSeconds;
  if (sparseSpan > 3000) throw new Error(`the sparse scenario would last ${sparseSpan} s, longer than its registrations (3600 s, less registering)`);
  if (out.scenarios.includes('load') && out.users < 2 * out.concurrency) throw new Error(`BENCH_USERS (${out.users}) must be at least twice BENCH_CONCURRENCY (${out.concurrency})`);
  return out;
}

export function usage() {
  return Object.entries(OPTIONS)
    .map(([k, [def, doc]]) => `  ${toEnv(k).padEnd(28)} ${toFlag(k).padEnd(22)} ${String(def).padEnd(24)} ${doc}`)
    .join('\n');
}

/**
 * Bench options: environment variables (BENCH_USERS=2000) or flags (--users=2000), flags
 * winning. Every option, its default and its meaning is listed here and in bench/README.md.
 */

export const OPTIONS = {
  targets: ['product,relay,kamailio', 'targets to run, in order'],
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
  portBase: [18800, 'product on this port, relay +1, Kamailio +2'],
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
  for (const t of out.targets) if (!['product', 'relay', 'kamailio'].includes(t)) throw new Error(`unknown target ${t}`);
  out.memorySockets = out.memorySockets.split(',').map(Number);
  if (out.users < 2 * out.concurrency) throw new Error(`BENCH_USERS (${out.users}) must be at least twice BENCH_CONCURRENCY (${out.concurrency})`);
  return out;
}

export function usage() {
  return Object.entries(OPTIONS)
    .map(([k, [def, doc]]) => `  ${toEnv(k).padEnd(24)} ${toFlag(k).padEnd(18)} ${String(def).padEnd(24)} ${doc}`)
    .join('\n');
}

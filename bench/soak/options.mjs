/**
 * Options of the soak and abuse checks: an environment variable with the script's prefix
 * (SOAK_SECONDS=60) or a flag (--seconds=60), flags winning; every option is numeric.
 * Each script passes its own table { key: [default, meaning] }.
 */

const toEnv = (prefix, key) => `${prefix}_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
const toFlag = (key) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export function readOptions(table, prefix, argv = process.argv.slice(2), env = process.env) {
  const flags = new Map();
  for (const a of argv) {
    const m = /^(--[a-z-]+)=(.*)$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a}; use --name=value`);
    flags.set(m[1], m[2]);
  }
  const known = new Set(Object.keys(table).map(toFlag));
  for (const f of flags.keys()) if (!known.has(f)) throw new Error(`unknown option ${f}; known: ${[...known].join(' ')}`);
  const out = {};
  for (const [key, [def]] of Object.entries(table)) {
    const raw = flags.get(toFlag(key)) ?? env[toEnv(prefix, key)];
    if (raw === undefined || raw === '') out[key] = def;
    else if (!/^\d+(\.\d+)?$/.test(raw)) throw new Error(`${toEnv(prefix, key)} must be a number, got ${raw}`);
    else out[key] = Number(raw);
  }
  return out;
}

export function usage(table, prefix) {
  return Object.entries(table)
    .map(([k, [def, doc]]) => `  ${toEnv(prefix, k).padEnd(30)} ${toFlag(k).padEnd(24)} ${String(def).padEnd(8)} ${doc}`)
    .join('\n');
}

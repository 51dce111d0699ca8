/**
 * Runs a Worker under the bare workerd runtime (the binary Miniflare and wrangler use, with
 * no proxy in front): a generated Cap'n Proto config, SQLite-backed Durable Objects on local
 * disk, one HTTP socket on 127.0.0.1, the process pinned to the server core.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { createRequire } from 'node:module';
import { spawnPinned, stopProcess, waitForPort } from '../lib/proc.mjs';

const require = createRequire(import.meta.url);

export function workerdBinary() {
  const pkg = require.resolve('@cloudflare/workerd-linux-64/package.json');
  return join(pkg, '..', 'bin', 'workerd');
}

export function workerdVersion() {
  return require('workerd/package.json').version;
}

/** The compatibility date the product deploys with (wrangler.toml), used for both Workers. */
export function compatibilityDate(repo) {
  const m = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(readFileSync(join(repo, 'wrangler.toml'), 'utf8'));
  if (!m) throw new Error('no compatibility_date in wrangler.toml');
  return m[1];
}

const quote = (s) => JSON.stringify(String(s));

/**
 * @param o.modules      [{ name, path }] ES modules; the first is the entry point
 * @param o.durableObjects [{ binding, className }]
 * @param o.text         { NAME: value } plain-text bindings
 */
export function workerdConfig(o) {
  const dir = o.configDir;
  const modules = o.modules.map((m) => `(name = ${quote(m.name)}, esModule = embed ${quote(relative(dir, m.path))})`);
  const bindings = [
    ...o.durableObjects.map((d) => `(name = ${quote(d.binding)}, durableObjectNamespace = (className = ${quote(d.className)}))`),
    ...Object.entries(o.text).map(([k, v]) => `(name = ${quote(k)}, text = ${quote(v)})`),
  ];
  const namespaces = o.durableObjects.map((d) => `(className = ${quote(d.className)}, uniqueKey = ${quote(`${o.name}-${d.className}`)}, enableSql = true)`);
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "do-disk", disk = (path = ${quote(o.stateDir)}, writable = true)),
  ],
  sockets = [(name = "http", address = ${quote(`127.0.0.1:${o.port}`)}, http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [
    ${modules.join(',\n    ')}
  ],
  compatibilityDate = ${quote(o.compatibilityDate)},
  bindings = [
    ${bindings.join(',\n    ')}
  ],
  durableObjectNamespaces = [
    ${namespaces.join(',\n    ')}
  ],
  durableObjectStorage = (localDisk = "do-disk"),
);
`;
}

/**
 * Durable Object storage before a start: 'empty', 'kept' as the last run left it, or
 * 'saved' (the copy saveState made, e.g. right after provisioning: objects that exist but
 * have no alarms pending and nothing in memory).
 */
export function prepareState(stateDir, mode) {
  if (mode === 'kept') return;
  rmSync(stateDir, { recursive: true, force: true });
  if (mode === 'saved' && existsSync(`${stateDir}.saved`)) cpSync(`${stateDir}.saved`, stateDir, { recursive: true });
}

export function saveState(stateDir) {
  rmSync(`${stateDir}.saved`, { recursive: true, force: true });
  if (existsSync(stateDir)) cpSync(stateDir, `${stateDir}.saved`, { recursive: true });
}

/**
 * What a workerd target holds between phases: one server process at a time on one state
 * directory. `run` (re)starts it; the rest is spread into the target.
 */
export function workerdSlot(stateDir) {
  let server = null;
  return {
    /** @param state 'empty' | 'kept' | 'saved' (see prepareState) */
    async run(state, options) {
      prepareState(stateDir, state);
      server = await startWorkerd({ ...options, stateDir });
    },
    controls: {
      saveState: () => saveState(stateDir),
      logFile: () => server?.logFile ?? null,
      pids: () => server.pids(),
      async stop() {
        await server?.stop();
        server = null;
      },
    },
  };
}

/** A started workerd: its child process, its PIDs for /proc readings, and stop(). */
export async function startWorkerd(o) {
  mkdirSync(o.stateDir, { recursive: true });
  mkdirSync(o.configDir, { recursive: true });
  const configPath = join(o.configDir, `${o.name}.capnp`);
  writeFileSync(configPath, workerdConfig(o));
  const args = [
    'serve',
    '--experimental',
    basename(configPath),
    ...(o.inspectorPort ? [`--inspector-addr=127.0.0.1:${o.inspectorPort}`] : []),
    ...(process.env.BENCH_WORKERD_VERBOSE === '1' ? ['--verbose'] : []),
  ];
  const logFile = join(o.configDir, `${o.name}.log`);
  const child = spawnPinned(o.core, workerdBinary(), args, { cwd: o.configDir, logFile });
  await waitForPort(o.port, { child });
  return {
    child,
    logFile,
    pids: () => [child.pid],
    stop: () => stopProcess(child),
  };
}

/**
 * Starts the real product under `wrangler dev` (workerd) for tests that need a network
 * listener: real JsSIP in Node, real browsers. Each server gets its own port and its own
 * state directory, and is stopped by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/**
 * Ends a process we spawned detached, and its children (wrangler runs workerd as one), by
 * its PID's group: SIGTERM, then SIGKILL after 5 s.
 */
export async function stopGroup(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (child.exitCode !== null || !pid) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // already gone
    }
  };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  signal('SIGTERM');
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      signal('SIGKILL');
      resolve();
    }, 5000);
  });
  await Promise.race([exited, late]);
  clearTimeout(timer);
}

export interface DevServer {
  readonly url: string;
  readonly wsBase: string;
  readonly adminToken: string;
  readonly logs: () => string;
  /** The directory given to `--persist-to`: Durable Object storage lives under it. */
  readonly stateDir: string;
  /** The PID of the wrangler process we spawned (workerd runs as one of its descendants). */
  readonly pid: number;
  api<T = any>(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

/** The command line of `wrangler dev` on loopback with its own port, inspector port, state directory and vars. */
export function wranglerDevArgs(port: number, inspector: number, stateDir: string, vars: Record<string, string>): string[] {
  return [
    join(ROOT, 'scripts/wrangler.mjs'),
    'dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--inspector-port',
    String(inspector),
    '--persist-to',
    stateDir,
    '--show-interactive-dev-session=false',
    ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
  ];
}

/**
 * Starts `wrangler dev` detached (the child leads a process group of its own, so one
 * signal ends it and workerd), collecting its output.
 */
export function spawnWranglerDev(args: string[]): { child: ChildProcess; output: { text: string } } {
  const output = { text: '' };
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout!.on('data', (d) => (output.text += d.toString()));
  child.stderr!.on('data', (d) => (output.text += d.toString()));
  return { child, output };
}

/**
 * Starts `wrangler dev` on free ports. A port found free can be taken by another server
 * before workerd binds it (tests start several at once): then it starts again on others.
 */
export async function startDevServer(o: { vars?: Record<string, string>; port?: number } = {}): Promise<DevServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDevServerOnce(o);
    } catch (err) {
      const taken = err instanceof Error && /Address already in use/.test(err.message);
      if (!taken || o.port !== undefined || attempt >= 3) throw err;
    }
  }
}

async function startDevServerOnce(o: { vars?: Record<string, string>; port?: number }): Promise<DevServer> {
  const port = o.port ?? (await freePort());
  const inspector = await freePort();
  const state = mkdtempSync(join(tmpdir(), 'switchboard-dev-'));
  const adminToken = `admin-${Math.random().toString(36).slice(2)}`;
  const vars = { ADMIN_TOKEN: adminToken, UPGRADE_RATE_LIMIT: 'off', API_RATE_LIMIT: 'off', ...(o.vars ?? {}) };
  const { child, output } = spawnWranglerDev(wranglerDevArgs(port, inspector, state, vars));
  const url = `http://127.0.0.1:${port}`;

  const stop = async (): Promise<void> => {
    await stopGroup(child);
    rmSync(state, { recursive: true, force: true });
  };

  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) {
      rmSync(state, { recursive: true, force: true });
      throw new Error(`wrangler dev exited (${child.exitCode}):\n${output.text}`);
    }
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not come up on ${url}:\n${output.text}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }

  return {
    url,
    wsBase: `ws://127.0.0.1:${port}`,
    adminToken,
    logs: () => output.text,
    stateDir: state,
    pid: child.pid!,
    api: (method, path, body, token) => apiCall(url, token ?? adminToken, method, path, body),
    stop,
  };
}

/** A JSON API call with a bearer token: the status, and the body parsed when it is JSON. */
export async function apiCall<T>(url: string, bearer: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${bearer}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed as T };
}

/** Creates a tenant and users through the API; returns the tenant's domain and API key. */
export async function provision(server: DevServer, tenant: string, users: Record<string, string>, limits: Record<string, unknown> = {}): Promise<{ domain: string; apiKey: string }> {
  const created = await server.api('POST', '/v1/tenants', { id: tenant, limits });
  if (created.status !== 201) throw new Error(`tenant: ${created.status} ${JSON.stringify(created.body)}`);
  for (const [user, password] of Object.entries(users)) {
    const r = await server.api('PUT', `/v1/tenants/${tenant}/users/${user}`, { password, displayName: user });
    if (r.status !== 201) throw new Error(`user ${user}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  return { domain: created.body.tenant.domain, apiKey: created.body.apiKey };
}

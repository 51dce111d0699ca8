/**
 * `wrangler dev` for the crash test: started on a state directory the caller owns (so it
 * outlives the process), killed the way a crash kills it (SIGKILL to the whole process
 * group: our launcher, wrangler and its workerd die at the same instant, nothing is
 * flushed or closed in order), and started again on the same directory and port. The
 * arguments are those of dev-server.ts; the caller creates and deletes the directory.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { apiCall, freePort, spawnWranglerDev, stopGroup, wranglerDevArgs, type DevServer } from './dev-server.js';

export interface CrashServer extends DevServer {
  readonly port: number;
  /**
   * SIGKILLs the process group; resolves, once every process of it is dead, with the
   * wall-clock time taken right after the signal was sent (nothing in the runtime can
   * have happened after it).
   */
  kill(): Promise<number>;
}

export async function startCrashServer(o: { stateDir: string; port: number; adminToken: string; vars?: Record<string, string> }): Promise<CrashServer> {
  const inspector = await freePort();
  const vars = { ADMIN_TOKEN: o.adminToken, UPGRADE_RATE_LIMIT: 'off', API_RATE_LIMIT: 'off', ...(o.vars ?? {}) };
  // Detached: the child leads a process group of its own, which kill() ends in one signal.
  const { child, output } = spawnWranglerDev(wranglerDevArgs(o.port, inspector, o.stateDir, vars));
  const pid = child.pid!;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${o.port}`;

  // A process that has died but not been reaped yet (a zombie) holds no socket and no
  // file any more: it does not count. Where /proc is missing, any member counts.
  const groupAlive = (): boolean => {
    if (!existsSync('/proc/self/stat')) {
      try {
        process.kill(-pid, 0);
        return true;
      } catch {
        return false;
      }
    }
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue; // gone meanwhile
      }
      // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its ')'.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pid && state !== 'Z' && state !== 'X') return true;
    }
    return false;
  };

  const kill = async (): Promise<number> => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
    const at = Date.now();
    await exited;
    // The grandchildren (wrangler's CLI, esbuild, workerd) die with it; init reaps them later.
    const deadline = Date.now() + 5_000;
    while (groupAlive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (groupAlive()) throw new Error(`process group ${pid} still alive 5 s after SIGKILL`);
    return at;
  };

  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${output.text}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stopGroup(child);
      throw new Error(`wrangler dev did not come up on ${url}:\n${output.text}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }

  return {
    url,
    wsBase: `ws://127.0.0.1:${o.port}`,
    port: o.port,
    adminToken: o.adminToken,
    logs: () => output.text,
    stateDir: o.stateDir,
    pid,
    api: (method, path, body, token) => apiCall(url, token ?? o.adminToken, method, path, body),
    kill,
    // The state directory is the caller's: stopping leaves it in place.
    stop: () => stopGroup(child),
  };
}

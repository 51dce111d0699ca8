/**
 * Kamailio 5.6 with bench/kamailio/kamailio.cfg: started in the foreground (-DD -E) on the
 * server core with 1 GiB of shared memory, stopped by its PID. Its figures are summed over
 * every process it forks.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { processTree, spawnPinned, stopProcess, waitForPort } from '../lib/proc.mjs';

const BINARY = '/usr/sbin/kamailio';
const MODULES = '/usr/lib/x86_64-linux-gnu/kamailio/modules';

export function kamailioVersion() {
  try {
    return /version: (kamailio \S+)/.exec(execFileSync(BINARY, ['-v'], { encoding: 'utf8' }))?.[1] ?? 'kamailio';
  } catch {
    return null;
  }
}

export function kamailioTarget({ repo, runDir, port, core }) {
  const workDir = join(runDir, 'kamailio');
  let child = null;
  return {
    name: 'kamailio',
    label: 'Kamailio',
    runtime: `${kamailioVersion()} (native, -m 1024, 2 TCP workers)`,
    domain: 'kamailio.bench.invalid',
    settleSeconds: 15,
    meteredBindings: [],
    async build() {
      if (!kamailioVersion()) throw new Error(`${BINARY} not found: install kamailio and kamailio-websocket-modules`);
    },
    async start() {
      mkdirSync(workDir, { recursive: true });
      const args = [
        '-DD', '-E',
        '-f', join(repo, 'bench', 'kamailio', 'kamailio.cfg'),
        '-L', MODULES,
        '-l', `tcp:127.0.0.1:${port}`,
        '-m', '1024',
        '-M', '8',
        '-Y', workDir,
        '-P', join(workDir, 'kamailio.pid'),
      ];
      child = spawnPinned(core, BINARY, args, { cwd: workDir, logFile: join(workDir, 'kamailio.log') });
      await waitForPort(port, { child });
    },
    async provision() {
      return null;
    },
    url: (user) => `ws://127.0.0.1:${port}/sip/${user}`,
    password: (user) => `pw-${user}-bench`,
    saveState() {},
    logFile: () => join(workDir, 'kamailio.log'),
    pids: () => (child ? processTree(child.pid) : []),
    async stop() {
      await stopProcess(child);
      child = null;
    },
  };
}

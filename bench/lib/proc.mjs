/**
 * Processes the bench starts: pinned to a core, logged to a file, tracked by PID and
 * stopped by PID only. Also the /proc readings the report needs: CPU time of a process
 * tree (nanosecond schedstat, summed over threads) and its proportional set size.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, readlinkSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { connect } from 'node:net';

/** Starts `cmd args` pinned to `core` (taskset execs, so the child's PID is the server's). */
export function spawnPinned(core, cmd, args, { cwd, env, logFile } = {}) {
  const out = logFile ? openSync(logFile, 'w') : 'ignore';
  const child = spawn('taskset', ['-c', String(core), cmd, ...args], { cwd, env: env ?? process.env, stdio: ['ignore', out, out] });
  child.on('exit', (code, signal) => {
    child.exited = { code, signal };
  });
  return child;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port, { timeoutMs = 30_000, child } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child?.exited) throw new Error(`server exited while starting (${JSON.stringify(child.exited)})`);
    const ok = await new Promise((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing listened on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

/** SIGTERM, then SIGKILL after `graceMs`; only the PID we started. */
export async function stopProcess(child, graceMs = 5000) {
  if (!child || child.exited) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (!child.exited) child.kill('SIGKILL');
  }, graceMs);
  await gone;
  clearTimeout(timer);
}

/** The PID and all its descendants (Kamailio forks its workers). */
export function processTree(root) {
  const parents = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!parents.has(ppid)) parents.set(ppid, []);
      parents.get(ppid).push(Number(name));
    } catch {
      // exited while we looked
    }
  }
  const out = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift();
    out.push(pid);
    queue.push(...(parents.get(pid) ?? []));
  }
  return out;
}

/** On-CPU time of the processes, in milliseconds (sum of every thread's schedstat). */
export function cpuMs(pids) {
  let ns = 0;
  for (const pid of pids) {
    let tasks = [];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // thread ended
      }
    }
  }
  return ns / 1e6;
}

/**
 * Durable Object databases the processes have open: an object's SQLite file is open while
 * it is awake and closed once it hibernates, so for the product this is its awake objects.
 */
export function openDatabases(pids) {
  let n = 0;
  for (const pid of pids) {
    let fds = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (/\/[0-9a-f]+\.sqlite$/.test(readlinkSync(`/proc/${pid}/fd/${fd}`))) n++;
      } catch {
        // closed while we looked
      }
    }
  }
  return n;
}

/** Proportional set size of the processes, in KiB (shared pages split among sharers). */
export function pssKiB(pids) {
  let kib = 0;
  for (const pid of pids) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      if (m) kib += Number(m[1]);
    } catch {
      // exited
    }
  }
  return kib;
}

/** Calls `fn` with each line of a file, a megabyte at a time (a metered server's log runs to hundreds of MB). */
function forEachLine(file, fn) {
  const fd = openSync(file, 'r');
  const buf = Buffer.alloc(1 << 20);
  const decoder = new StringDecoder('utf8');
  let rest = '';
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) {
      const lines = (rest + decoder.write(buf.subarray(0, n))).split('\n');
      rest = lines.pop();
      for (const line of lines) fn(line);
    }
    if (rest) fn(rest + decoder.end());
  } finally {
    closeSync(fd);
  }
}

/** Error lines a server wrote to its log so far, by message (numbers and ids folded). */
export function logErrors(file) {
  if (!file || !existsSync(file)) return { total: 0, byMessage: {} };
  const byMessage = {};
  let total = 0;
  forEachLine(file, (line) => {
    // The meter's lines (durable-objects/shared/meter.ts) name a `ws-error` event kind.
    if (line.startsWith('stack:') || line.startsWith('sbmeter ') || !/\berror\b|CRITICAL|SQLITE_/i.test(line)) return;
    total++;
    const key = line.replace(/^\s*\d+\(\d+\)\s*/, '').replace(/reference = \S+/, 'reference = #').replace(/0x[0-9a-f]+|[0-9a-f]{16,}|\d+/gi, '#').slice(0, 160);
    byMessage[key] = (byMessage[key] ?? 0) + 1;
  });
  return { total, byMessage };
}

/**
 * The product under bare workerd for the soak and abuse checks, exactly as the call bench
 * runs it (bench/targets/product.mjs): the `wrangler deploy --dry-run` bundle, a generated
 * config, SQLite-backed objects in /dev/shm, the server pinned to its own core. Users are
 * provisioned through the API, then the server is restarted on that storage so the run
 * starts with no object in memory. Also the readings both checks take: PSS and RSS of the
 * workerd process, how many user objects are awake, errors in its log, and which bundle
 * was run.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cpuMs, pssKiB, sleep } from '../lib/proc.mjs';
import { productTarget, TENANT } from '../targets/product.mjs';

export { TENANT };

/** Resident set size of the processes, in KiB. */
export function rssKiB(pids) {
  let kib = 0;
  for (const pid of pids) {
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) kib += Number(m[1]);
    } catch {
      // exited
    }
  }
  return kib;
}

/**
 * User objects in memory: the user databases the workerd process has open. An object's
 * database is open while it is awake and closed once it hibernates.
 */
export function openUserDatabases(pid) {
  let n = 0;
  let fds = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return 0;
  }
  for (const fd of fds) {
    try {
      if (/-UserObject\/[0-9a-f]+\.sqlite$/.test(readlinkSync(`/proc/${pid}/fd/${fd}`))) n++;
    } catch {
      // closed while we looked
    }
  }
  return n;
}

/**
 * Lines of the server's log that report a failure: "error", "uncaught", an exception,
 * SQLite trouble. Folded by message (numbers and ids replaced) so the report stays short.
 */
export function logFailures(file) {
  if (!file || !existsSync(file)) return { total: 0, byMessage: {} };
  const byMessage = {};
  let total = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('stack:') || !/\berror\b|uncaught|exception|CRITICAL|SQLITE_/i.test(line)) continue;
    total++;
    const key = line.replace(/0x[0-9a-f]+|[0-9a-f]{16,}|\d+/gi, '#').slice(0, 200);
    byMessage[key] = (byMessage[key] ?? 0) + 1;
  }
  return { total, byMessage };
}

/**
 * What was run, without asking git (other people commit while this runs): the bundle's
 * SHA-256 and the newest modification time among the product's sources.
 */
export function buildState(repo, bundleFile) {
  let newest = 0;
  let newestFile = null;
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|mjs|js|toml)$/.test(e.name)) {
        const t = statSync(p).mtimeMs;
        if (t > newest) [newest, newestFile] = [t, p.slice(repo.length + 1)];
      }
    }
  };
  for (const d of ['sip', 'durable-objects', 'worker']) if (existsSync(join(repo, d))) walk(join(repo, d));
  return {
    bundleSha256: existsSync(bundleFile) ? createHash('sha256').update(readFileSync(bundleFile)).digest('hex').slice(0, 16) : null,
    newestSource: newestFile,
    newestSourceAt: newest ? new Date(newest).toISOString() : null,
  };
}

/**
 * @param o.repo, o.runDir (logs, bundle, config), o.port, o.core, o.limits (tenant limits,
 *   undefined for the product's defaults), o.users and o.names (who to provision)
 * Returns the target with memory(), cpuMs(), failures(), api() and close() added.
 */
export async function startProduct({ repo, runDir, port, core, limits, users, names, log }) {
  mkdirSync(runDir, { recursive: true });
  const stateRoot = mkdtempSync('/dev/shm/switchboard-hardening-');
  const adminToken = randomBytes(16).toString('hex');
  const target = productTarget({ repo, runDir, stateRoot, port, core, adminToken, limits });
  log('  building the bundle (wrangler deploy --dry-run)');
  await target.build();
  const tree = buildState(repo, join(runDir, 'product-bundle', 'index.js'));
  log(`  bundle ${tree.bundleSha256}; newest product source ${tree.newestSource} (${tree.newestSourceAt})`);
  try {
    await target.start({ state: 'empty' });
    const provisioning = await target.provision(users, names);
    log(`  provisioned ${users} users in ${provisioning.seconds} s`);
    await target.stop();
    await target.start({ state: 'kept' });
    return {
      ...target,
      target,
      tree,
      provisioning,
      adminToken,
      runtimePid: () => target.pids()[0],
      memory: () => ({ pssKiB: pssKiB(target.pids()), rssKiB: rssKiB(target.pids()) }),
      openDatabases: () => openUserDatabases(target.pids()[0]),
      cpuMs: () => cpuMs(target.pids()),
      failures: () => logFailures(target.logFile()),
      async api(method, path, body) {
        const res = await fetch(`http://127.0.0.1:${port}${path}`, {
          method,
          headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        return { status: res.status, body: text ? JSON.parse(text) : null };
      },
      async close() {
        await target.stop();
        rmSync(stateRoot, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await target.stop();
    rmSync(stateRoot, { recursive: true, force: true });
    throw err;
  }
}

/** PSS (and RSS) once PSS stops moving: two readings a second apart within 0.5 %, at most `maxMs`. */
export async function settledMemory(server, maxMs = 10_000) {
  let prev = server.memory();
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    await sleep(1000);
    const cur = server.memory();
    if (Math.abs(cur.pssKiB - prev.pssKiB) <= prev.pssKiB * 0.005) return cur;
    prev = cur;
  }
  return prev;
}

export const mib = (kib) => Math.round((kib / 1024) * 10) / 10;

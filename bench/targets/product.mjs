/**
 * Switchboard itself: the bundle `wrangler deploy --dry-run` produces, run under bare
 * workerd with its two SQLite-backed Durable Object classes, users provisioned through
 * the management API.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { sleep } from '../lib/proc.mjs';
import { compatibilityDate, workerdSlot, workerdVersion } from './workerd.mjs';

export const TENANT = 'bench';
const PROVISION_BATCH = 2000;
const PROVISION_PAUSE_MS = 12_000;

function run(cmd, args, cwd) {
  return new Promise((resolve, reject) => {
    let out = '';
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} failed (${code}):\n${out}`))));
  });
}

export function productTarget({ repo, runDir, stateRoot, port, core, adminToken, limits }) {
  const bundleDir = join(runDir, 'product-bundle');
  const slot = workerdSlot(join(stateRoot, 'product'));

  let retries = 0;
  async function api(method, path, body) {
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}${path}`, {
          method,
          headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        return { status: res.status, body: text ? JSON.parse(text) : null };
      } catch (err) {
        // A kept-alive connection the server closed under us: PUT and GET are idempotent.
        if (method === 'POST' || attempt >= 3) throw err;
        retries++;
      }
    }
  }

  return {
    name: 'product',
    label: 'Switchboard',
    runtime: `workerd ${workerdVersion()} (bare: generated config, no proxy)`,
    domain: null,
    // Idle sockets settle after 15 s: an object hibernates 10 s after its last event (the
    // REGISTER; digest authentication cancels the unauthenticated-socket alarm, and a
    // binding is written through, so no write-behind alarm is pending).
    settleSeconds: 15,
    /** Env bindings whose objects carry the meter (the rest are counted where calls leave for them). */
    meteredBindings: ['USERS'],

    /** `wrangler deploy --dry-run`: the exact bundle a deploy would upload. */
    async build() {
      await run(process.execPath, ['scripts/wrangler.mjs', 'deploy', '--dry-run', '--outdir', bundleDir], repo);
    },

    /**
     * @param state 'empty' | 'kept' | 'saved' (see prepareState)
     * @param meter counts per event, printed on workerd's stdout (the log file)
     */
    async start({ state = 'kept', inspectorPort, meter = false } = {}) {
      await slot.run(state, {
        name: 'switchboard',
        core,
        port,
        inspectorPort,
        configDir: bundleDir,
        compatibilityDate: compatibilityDate(repo),
        modules: [{ name: 'index.js', path: join(bundleDir, 'index.js') }],
        durableObjects: [
          { binding: 'USERS', className: 'UserObject' },
          { binding: 'TENANTS', className: 'TenantObject' },
          { binding: 'DIRECTORY', className: 'DirectoryObject' },
        ],
        // SWITCHBOARD_METER=1: the user objects count per event (durable-objects/shared/meter.ts).
        text: { ADMIN_TOKEN: adminToken, UPGRADE_RATE_LIMIT: 'off', API_RATE_LIMIT: 'off', ...(meter ? { SWITCHBOARD_METER: '1' } : {}) },
      });
      const existing = await api('GET', `/v1/tenants/${TENANT}`);
      if (existing.status === 200) {
        this.domain = existing.body.domain ?? existing.body.tenant?.domain;
        return;
      }
      const created = await api('POST', '/v1/tenants', { id: TENANT, limits });
      if (created.status !== 201) throw new Error(`tenant creation: ${created.status} ${JSON.stringify(created.body)}`);
      this.domain = created.body.tenant.domain;
    },

    /**
     * PUT every user through the API, 32 at a time, in batches with a pause between them:
     * each PUT wakes the user's object, which stays in memory for 10 s with its SQLite
     * database open, and workerd caps SQLite's memory for the whole process
     * (sqlite3_hard_heap_limit64, 512 MiB): past roughly 2,800 open databases every
     * further one fails with SQLITE_NOMEM.
     */
    async provision(users, names) {
      let next = 0;
      const t0 = performance.now();
      const worker = async (end) => {
        while (next < end) {
          const user = names(next++);
          const r = await api('PUT', `/v1/tenants/${TENANT}/users/${user}`, { password: this.password(user) });
          if (r.status !== 201 && r.status !== 200) throw new Error(`provisioning ${user}: ${r.status} ${JSON.stringify(r.body)}`);
        }
      };
      for (let start = 0; start < users; start += PROVISION_BATCH) {
        if (start > 0) await sleep(PROVISION_PAUSE_MS);
        const end = Math.min(users, start + PROVISION_BATCH);
        await Promise.all(Array.from({ length: 32 }, () => worker(end)));
      }
      return { users, seconds: Math.round((performance.now() - t0) / 10) / 100, retriedRequests: retries };
    },

    url: (user) => `ws://127.0.0.1:${port}/sip/${TENANT}/${user}`,
    password: (user) => `pw-${user}-bench`,
    ...slot.controls,
  };
}

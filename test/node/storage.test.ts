/**
 * Issue 11, point 6: requests naming tenants or users that do not exist are answered
 * without creating or writing any Durable Object's storage. Against a fresh `wrangler dev`,
 * the files under its `--persist-to` directory are counted before and after a thousand
 * such requests: bearer `sbk_<random>_x` keys, logins to random tenants (and to unknown
 * users of a real one), WebSocket upgrades to random tenants and to random users of a
 * real tenant (REGISTER, 401, close), ICE requests with forged tokens, admin reads and
 * deletes of users and tenants that are not there, and a signed-in user's MESSAGEs to
 * users that do not exist (404).
 *
 * Workerd keeps one SQLite database per object (`<id>.sqlite`, with `-wal` and `-shm`
 * beside it while open) under `v3/do/<script>-<Class>/`. A new object is a new
 * `.sqlite`; a write to an existing one grows its `-wal` (no checkpoint shrinks it while
 * the object is open, and SQLite writes nothing on a read). The objects this test touches
 * (the directory, the tenant's, alice's) stay busy throughout, so none is evicted and
 * checkpointed mid-run: the file list and every file's size must be exactly the same.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { provision, startDevServer, type DevServer } from '../support/dev-server.js';
import { TestUA } from '../support/ua.js';

const TENANT = 'storage';
let server: DevServer;
let domain: string;

beforeAll(async () => {
  // The dev server turns the per-address upgrade and API limits off, so a thousand
  // requests from one address are all answered on their merits.
  server = await startDevServer();
  ({ domain } = await provision(server, TENANT, { alice: 'alice-storage-pw-1' }));
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

interface DiskView {
  readonly files: Map<string, number>;
  readonly sqliteFiles: number;
  readonly bytes: number;
  readonly dirs: Set<string>;
}

/** Every file under the state directory with its size, and every directory. */
function disk(root: string): DiskView {
  const files = new Map<string, number>();
  const dirs = new Set<string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        dirs.add(relative(root, p));
        walk(p);
      } else if (e.isFile()) files.set(relative(root, p), statSync(p).size);
    }
  };
  walk(root);
  let bytes = 0;
  let sqliteFiles = 0;
  for (const [name, size] of files) {
    bytes += size;
    if (name.endsWith('.sqlite')) sqliteFiles++;
  }
  return { files, sqliteFiles, bytes, dirs };
}

const rnd = (n = 10): string => randomBytes(n).toString('hex').slice(0, n);
const randomTenant = (): string => `t${rnd(12)}`;
const randomUser = (): string => `u${rnd(10)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const statusOf = (t: string): number => Number(/^SIP\/2\.0 (\d{3})/.exec(t)?.[1] ?? 0);

/** A forged user token: a well-formed HS256 JWT, a signature nobody made. */
function forgedToken(tenant: string, user: string): string {
  const part = (json: unknown): string => Buffer.from(JSON.stringify(json)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: user, tenant, domain: `${tenant}.switchboard.invalid`, gen: rnd(11), iat: now, exp: now + 3600 };
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}.${randomBytes(32).toString('base64url')}`;
}

/** A WebSocket that hands out its frames to whoever waits for them. */
class Sip {
  private readonly frames: string[] = [];
  private readonly waiters: Array<(t: string) => boolean> = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      const t = d.toString();
      const i = this.waiters.findIndex((w) => w(t));
      if (i >= 0) this.waiters.splice(i, 1);
      else this.frames.push(t);
    });
    ws.on('error', () => undefined);
  }

  static open(url: string): Promise<Sip> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, 'sip', { perMessageDeflate: false });
      ws.once('open', () => resolve(new Sip(ws)));
      ws.once('unexpected-response', (_q, res) => reject(new Error(`upgrade to ${url} answered ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  next(pred: (t: string) => boolean, ms = 10_000): Promise<string> {
    const i = this.frames.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching frame within ${ms} ms`)), ms);
      this.waiters.push((t) => {
        if (!pred(t)) return false;
        clearTimeout(timer);
        resolve(t);
        return true;
      });
    });
  }

  close(): void {
    this.ws.close(1000);
  }
}

/** Runs `jobs` with at most `width` at a time; resolves with their results in order. */
async function pool<T>(jobs: ReadonlyArray<() => Promise<T>>, width: number): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) {
        const k = next++;
        out[k] = await jobs[k]!();
      }
    }),
  );
  return out;
}

async function http(method: string, path: string, o: { bearer?: string; body?: unknown } = {}): Promise<number> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...(o.bearer ? { Authorization: `Bearer ${o.bearer}` } : {}), ...(o.body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    body: o.body !== undefined ? JSON.stringify(o.body) : undefined,
  });
  await res.arrayBuffer();
  return res.status;
}

/** Upgrade, REGISTER, the 401 (what an existing user's unauthenticated socket gets too), close. */
async function probeUpgrade(tenant: string, user: string): Promise<string> {
  const sock = await Sip.open(`${server.wsBase}/sip/${tenant}/${user}`);
  try {
    const ua = new TestUA(user, tenant === TENANT ? domain : `${tenant}.switchboard.invalid`);
    sock.ws.send(ua.register().text);
    return `upgrade ${statusOf(await sock.next((t) => t.startsWith('SIP/2.0 ') && !t.startsWith('SIP/2.0 100')))}`;
  } finally {
    sock.close();
  }
}

describe('requests for tenants or users that do not exist', () => {
  it('create no storage: a thousand of them leave every file under the state directory as it was', async () => {
    const t0 = performance.now();
    // alice is signed in with a token; her object already exists (provisioning made it).
    const issued = await server.api('POST', `/v1/tenants/${TENANT}/users/alice/tokens`, {});
    expect(issued.status).toBe(201);
    // The default per-socket budget is a burst of 50: five sockets send about 40 MESSAGEs each.
    const senders = await Promise.all(Array.from({ length: 5 }, () => Sip.open(`${server.wsBase}/sip/${TENANT}/alice?token=${encodeURIComponent(issued.body.token)}`)));
    const alice = new TestUA('alice', domain);
    const message = async (sock: Sip): Promise<string> => {
      const to = randomUser();
      const sent = alice.request('MESSAGE', `sip:${to}@${domain}`, { body: `hello ${to}`, contentType: 'text/plain', contact: null });
      sock.ws.send(sent.text);
      const answer = await sock.next((t) => t.startsWith('SIP/2.0 ') && t.includes(sent.callId) && statusOf(t) >= 200);
      return `message ${statusOf(answer)}`;
    };
    // One request of each kind first: every path is warm, and every object the thousand
    // will touch (the directory, the tenant's, alice's) was touched a moment ago, so none
    // is evicted (and its -wal checkpointed away) between the two counts. Then the disk
    // must be still.
    const warm = await Promise.all([
      http('GET', `/v1/tenants/${randomTenant()}`, { bearer: `sbk_${randomTenant()}_x` }).then((s) => `sbk ${s}`),
      http('POST', `/v1/tenants/${TENANT}/login`, { body: { user: randomUser(), password: 'guess-1234' } }).then((s) => `login ${s}`),
      probeUpgrade(randomTenant(), randomUser()),
      probeUpgrade(TENANT, randomUser()),
      http('GET', `/v1/tenants/${TENANT}/users/${randomUser()}`, { bearer: server.adminToken }).then((s) => `admin ${s}`),
      message(senders[0]!),
    ]);
    expect(warm).toEqual(['sbk 401', 'login 401', 'upgrade 401', 'upgrade 401', 'admin 404', 'message 404']);
    await sleep(1_500);
    const before = disk(server.stateDir);
    await sleep(1_000);
    const still = disk(server.stateDir);
    expect([...still.files]).toEqual([...before.files]);
    console.log(`storage before: ${before.sqliteFiles} .sqlite files, ${before.files.size} files, ${before.bytes} bytes`);

    const jobs: Array<() => Promise<string>> = [];
    const add = (n: number, job: () => Promise<string>) => {
      for (let k = 0; k < n; k++) jobs.push(job);
    };
    // 200: a tenant API key for a tenant that does not exist, on several endpoints.
    add(50, async () => `sbk ${await http('GET', `/v1/tenants/${randomTenant()}`, { bearer: `sbk_${randomTenant()}_x` })}`);
    add(50, async () => {
      const t = randomTenant();
      return `sbk ${await http('GET', `/v1/tenants/${t}/users`, { bearer: `sbk_${t}_x` })}`;
    });
    add(50, async () => `sbk ${await http('PUT', `/v1/tenants/${TENANT}/users/${randomUser()}`, { bearer: `sbk_${randomTenant()}_x`, body: { password: 'whatever-123' } })}`);
    add(50, async () => {
      const t = randomTenant();
      return `sbk ${await http('GET', `/v1/tenants/${t}/ice-servers`, { bearer: `sbk_${t}_x` })}`;
    });
    // 150: logins to tenants that do not exist, 50 to users that do not exist.
    add(150, async () => `login ${await http('POST', `/v1/tenants/${randomTenant()}/login`, { body: { user: randomUser(), password: 'guess-1234' } })}`);
    add(50, async () => `login ${await http('POST', `/v1/tenants/${TENANT}/login`, { body: { user: randomUser(), password: 'guess-1234' } })}`);
    // 200: upgrades to random tenants and to random users of the real tenant.
    add(100, () => probeUpgrade(randomTenant(), randomUser()));
    add(100, () => probeUpgrade(TENANT, randomUser()));
    // 100: ICE servers with a forged token naming a random tenant, or a random user of the real one.
    add(70, async () => {
      const t = randomTenant();
      return `ice ${await http('GET', `/v1/tenants/${t}/ice-servers`, { bearer: forgedToken(t, randomUser()) })}`;
    });
    add(30, async () => `ice ${await http('GET', `/v1/tenants/${TENANT}/ice-servers`, { bearer: forgedToken(TENANT, randomUser()) })}`);
    // 100: the admin asking for tenants and users that are not there.
    add(40, async () => `admin ${await http('GET', `/v1/tenants/${randomTenant()}`, { bearer: server.adminToken })}`);
    add(30, async () => `admin ${await http('GET', `/v1/tenants/${TENANT}/users/${randomUser()}`, { bearer: server.adminToken })}`);
    add(30, async () => `admin ${await http('DELETE', `/v1/tenants/${TENANT}/users/${randomUser()}`, { bearer: server.adminToken })}`);
    // 200: the signed-in user's MESSAGEs to users that do not exist.
    const messages: Array<() => Promise<string>> = [];
    for (let k = 0; k < 200; k++) {
      const sock = senders[k % senders.length]!;
      messages.push(() => message(sock));
    }
    expect(jobs.length + messages.length).toBe(1000);

    const [answers, messageAnswers] = await Promise.all([pool(jobs, 16), pool(messages, 40)]);
    const tally: Record<string, number> = {};
    for (const a of [...answers, ...messageAnswers]) tally[a] = (tally[a] ?? 0) + 1;
    console.log(`answers: ${JSON.stringify(tally)}`);
    for (const s of senders) s.close();

    // A write-behind would land on the user's 5 s housekeeping grid: give it the time.
    await sleep(6_000);
    const after = disk(server.stateDir);
    console.log(`storage after: ${after.sqliteFiles} .sqlite files, ${after.files.size} files, ${after.bytes} bytes; ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // Every request got the answer a missing tenant or user gets.
    expect(tally).toEqual({
      'sbk 401': 200,
      'login 401': 200,
      'upgrade 401': 200,
      'ice 401': 100,
      'admin 404': 100,
      'message 404': 200,
    });
    // No object was made: the same .sqlite files and directories.
    expect(after.sqliteFiles).toBe(before.sqliteFiles);
    expect([...after.dirs].sort()).toEqual([...before.dirs].sort());
    expect([...after.files.keys()].filter((f) => !before.files.has(f))).toEqual([]);
    // Nothing was written to one that exists: every file is the size it was.
    const grown = [...after.files].filter(([f, size]) => before.files.get(f) !== size).map(([f, size]) => `${f}: ${before.files.get(f)} -> ${size}`);
    expect(grown).toEqual([]);
    expect(after.bytes).toBe(before.bytes);
    expect(performance.now() - t0).toBeLessThan(60_000);
  }, 90_000);
});

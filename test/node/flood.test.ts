/**
 * Issue 11, point 1: one signed-in user flooding at its full allowed rate cannot exhaust
 * the runtime or take service away from others. For 60 s, mallory sends from as many
 * token sockets as a user may hold (10) at the per-socket sustained rate (20 messages/s)
 * the biggest INVITEs the service accepts, to a registered user who never answers: a
 * display name of 256 characters (the most a From may carry), three extension header
 * lines just under the 4,096-byte line limit (as many as fit in the 16 KiB header
 * section), and an SDP body padded to just under the 64 KiB message limit. Every 5 s the
 * resident memory of the server's workerd processes is read from /proc/<pid>/status, and
 * another user registers afresh with digest and places an OPTIONS through the service to
 * a third user's device; each of those must succeed, within the 5 s before the next, and
 * the memory must stay under RSS_BOUND_MIB. The flood runs once (beforeAll); each test
 * below checks one claim about it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { provision, startDevServer, type DevServer } from '../support/dev-server.js';
import { TestUA, asRequest, asResponse, webrtcSdp } from '../support/ua.js';
import { headerLines } from '../../sip/message/message.js';
import { MAX_DISPLAY_NAME, MAX_HEADER_LINE, MAX_HEADER_SECTION, MAX_MESSAGE_BYTES } from '../../sip/message/limits.js';

/**
 * The bound on the resident memory of this server's workerd processes (the runtime and
 * wrangler's proxy, summed). Measured on a 2-core machine (Node 20, wrangler 4.87): 152 MiB
 * before the flood (runtime 91, proxy 60), rising over the first 30 s to a plateau where
 * the garbage collector holds it: at most 300 MiB (runtime 235, proxy 68) in a 180 s run,
 * the same whether the flood's INVITEs are forked to the victim or not. The bound is twice
 * that. Before the limits of issue 11 the isolate grew to its 1.4 GB heap limit within 20 s
 * and workerd aborted.
 */
const RSS_BOUND_MIB = 600;
const FLOOD_SECONDS = 60;
const SAMPLE_EVERY_MS = 5_000;
const SOCKETS = 10;
const RATE = 20;

const TENANT = 'flood';
const PASSWORDS = { mallory: 'mallory-pass-1', victim: 'victim-pass-1', alice: 'alice-pass-1', bob: 'bob-pass-1', carol: 'carol-pass-1' };
let server: DevServer;
let domain: string;
const opened: WebSocket[] = [];

beforeAll(async () => {
  server = await startDevServer();
  ({ domain } = await provision(server, TENANT, PASSWORDS));
}, 120_000);

afterAll(async () => {
  for (const ws of opened) ws.terminate();
  await server?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const mib = (kib: number) => Math.round(kib / 1024);

// ---------------------------------------------------------------- workerd's memory

/**
 * The workerd processes among the descendants of the wrangler process we started.
 * `wrangler dev` runs two: the runtime that runs the Worker and its Durable Objects (it
 * has the inspector, `--inspector-addr`) and a proxy in front of it on the public port,
 * through which every WebSocket frame passes too.
 */
function workerdPids(root: number): Array<{ pid: number; role: 'runtime' | 'proxy' }> {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // exited while we looked
    }
  }
  const found: Array<{ pid: number; role: 'runtime' | 'proxy' }> = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'workerd') {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        found.push({ pid, role: cmdline.includes('--inspector-addr') ? 'runtime' : 'proxy' });
      }
    } catch {
      continue;
    }
    queue.push(...(children.get(pid) ?? []));
  }
  if (!found.some((p) => p.role === 'runtime')) throw new Error(`no workerd runtime under PID ${root}: ${JSON.stringify(found)}`);
  return found;
}

interface MemorySample {
  readonly at: number;
  /** VmRSS of the runtime, of the proxy, and of both (all workerd processes of this server), MiB. */
  readonly runtimeMiB: number;
  readonly proxyMiB: number;
  readonly totalMiB: number;
}

function vmRssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for PID ${pid}`);
  return Number(m[1]);
}

function sampleMemory(root: number, at: number): MemorySample {
  let runtime = 0;
  let proxy = 0;
  for (const p of workerdPids(root)) {
    if (p.role === 'runtime') runtime += vmRssKiB(p.pid);
    else proxy += vmRssKiB(p.pid);
  }
  return { at, runtimeMiB: mib(runtime), proxyMiB: mib(proxy), totalMiB: mib(runtime + proxy) };
}

// ---------------------------------------------------------------- a raw SIP-over-WebSocket client

/** A socket whose frames are handed to whoever waits for them, or to `onRequest`. */
class Sip {
  private readonly waiters: Array<(t: string) => boolean> = [];
  onRequest: (text: string) => void = () => undefined;
  onResponse: (text: string) => void = () => undefined;
  closedWith: number | null = null;

  private constructor(readonly ws: WebSocket) {
    opened.push(ws);
    ws.on('message', (d) => {
      const t = d.toString();
      const i = this.waiters.findIndex((w) => w(t));
      if (i >= 0) this.waiters.splice(i, 1);
      else if (t.startsWith('SIP/2.0 ')) this.onResponse(t);
      else this.onRequest(t);
    });
    ws.on('error', () => undefined);
    ws.on('close', (code) => (this.closedWith = code));
  }

  static open(path: string): Promise<Sip> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${server.wsBase}${path}`, 'sip', { perMessageDeflate: false });
      ws.once('open', () => resolve(new Sip(ws)));
      ws.once('unexpected-response', (_q, res) => reject(new Error(`upgrade to ${path} answered ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  /** Sends `text` and resolves with the final response carrying `callId`. */
  request(text: string, callId: string, ms = 5_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no final response within ${ms} ms`)), ms);
      this.waiters.push((t) => {
        if (!t.startsWith('SIP/2.0 ') || t.startsWith('SIP/2.0 1') || !t.includes(callId)) return false;
        clearTimeout(timer);
        resolve(t);
        return true;
      });
      this.ws.send(text);
    });
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }
}

/** RFC 2617 §3.2.2 with qop=auth, answering the MD5 challenge of a 401. */
function authorization(challengeResponse: string, user: string, password: string, uri: string): string {
  const values = headerLines(asResponse(challengeResponse), 'www-authenticate');
  const p = values
    .map((v) => Object.fromEntries([...v.replace(/^\s*Digest\s+/i, '').matchAll(/([A-Za-z0-9_-]+)\s*=\s*(?:"([^"]*)"|([^,\s]*))/g)].map((m) => [m[1]!.toLowerCase(), m[2] ?? m[3] ?? ''])))
    .find((x) => (x.algorithm ?? 'MD5').toUpperCase() === 'MD5');
  if (!p) throw new Error('no MD5 challenge');
  const cnonce = randomBytes(6).toString('hex');
  const ha1 = md5(`${user}:${p.realm}:${password}`);
  const response = md5(`${ha1}:${p.nonce}:00000001:${cnonce}:auth:${md5(`REGISTER:${uri}`)}`);
  return `Digest username="${user}", realm="${p.realm}", nonce="${p.nonce}", uri="${uri}", algorithm=MD5, response="${response}", qop=auth, nc=00000001, cnonce="${cnonce}"${p.opaque !== undefined ? `, opaque="${p.opaque}"` : ''}`;
}

/** Opens a socket for `user` and registers it with digest; resolves with the socket and the 200. */
async function registerWithDigest(user: keyof typeof PASSWORDS, ua = new TestUA(user, domain)): Promise<{ sock: Sip; ua: TestUA; status: number }> {
  const sock = await Sip.open(`/sip/${TENANT}/${user}`);
  const first = ua.register({ expires: 600 });
  const challenge = await sock.request(first.text, first.callId);
  if (asResponse(challenge).status !== 401) return { sock, ua, status: asResponse(challenge).status };
  const second = ua.register({ expires: 600, headers: [`Authorization: ${authorization(challenge, user, PASSWORDS[user], `sip:${domain}`)}`] });
  return { sock, ua, status: asResponse(await sock.request(second.text, second.callId)).status };
}

/** A registered device that answers what a UA must (OPTIONS, BYE, CANCEL) and never an INVITE. */
function answerAllButInvites(sock: Sip, ua: TestUA, seen: { invites: number; inviteBytes: number; minInviteBytes: number; other: Record<string, number> }): void {
  sock.onRequest = (text) => {
    // An INVITE is only counted: as relayed (our Via and Record-Route added) it may be a
    // little over what the parser takes from a client.
    if (text.startsWith('INVITE ')) {
      seen.invites++;
      const bytes = Buffer.byteLength(text);
      seen.inviteBytes += bytes;
      seen.minInviteBytes = Math.min(seen.minInviteBytes, bytes);
      return;
    }
    const req = asRequest(text);
    const key = /^From:[^\r\n]*<sip:carol@/im.test(text) ? `${req.method} from carol` : req.method;
    seen.other[key] = (seen.other[key] ?? 0) + 1;
    if (req.method === 'ACK') return;
    sock.ws.send(ua.respond(text, 200, { reason: 'OK' }));
    // §9.2: the CANCELled INVITE gets 487 (the CANCEL carries its Via, From, To, Call-ID and CSeq number).
    if (req.method === 'CANCEL') sock.ws.send(ua.respond(text, 487, { reason: 'Request Terminated' }).replace(/^CSeq: (\d+) CANCEL$/m, 'CSeq: $1 INVITE'));
  };
}

// ---------------------------------------------------------------- the flood's INVITE

const NAME = 'Mallory the Flooder of Every Header Line '.repeat(10).slice(0, MAX_DISPLAY_NAME);

/** The biggest INVITE the limits allow: 256-character display name, long header lines, a padded body. */
function floodInvite(to: string, host: string): { text: string; callId: string } {
  const callId = randomBytes(24).toString('hex');
  const tag = randomBytes(8).toString('hex');
  const padLine = (k: number) => {
    const name = `X-Flood-${k}: `;
    return name + 'f'.repeat(MAX_HEADER_LINE - 1 - name.length);
  };
  const head = (bodyLength: number) =>
    [
      `INVITE sip:${to}@${domain} SIP/2.0`,
      `Via: SIP/2.0/WSS ${host};branch=z9hG4bK${randomBytes(10).toString('hex')}`,
      'Max-Forwards: 70',
      `To: <sip:${to}@${domain}>`,
      `From: "${NAME}" <sip:mallory@${domain}>;tag=${tag}`,
      `Call-ID: ${callId}`,
      'CSeq: 1 INVITE',
      `Contact: <sip:mallory@${host};transport=ws>`,
      padLine(1),
      padLine(2),
      padLine(3),
      'Content-Type: application/sdp',
      `Content-Length: ${bodyLength}`,
      '',
      '',
    ].join('\r\n');
  const target = MAX_MESSAGE_BYTES - 16;
  const sdp = webrtcSdp();
  let room = target - head(99_999).length - sdp.length;
  const pad: string[] = [];
  while (room > 0) {
    const n = Math.min(room, 1000);
    if (n < 12) break;
    pad.push(`a=x-pad:${'p'.repeat(n - 10)}\r\n`);
    room -= n;
  }
  const body = sdp + pad.join('');
  const text = head(body.length) + body;
  if (head(body.length).length - 4 > MAX_HEADER_SECTION) throw new Error('header section too long');
  return { text, callId };
}

interface FloodReport {
  readonly samples: MemorySample[];
  readonly checks: Array<{ at: number; register: string; options: string; ms: number }>;
  readonly stats: { sent: number; bytes: number; heldBack: number; reopened: number; closes: number[]; reopenRefused: string[] };
  readonly answers: Record<string, number>;
  readonly seen: { invites: number; inviteBytes: number; minInviteBytes: number; other: Record<string, number> };
  readonly bobSeen: { invites: number; inviteBytes: number; minInviteBytes: number; other: Record<string, number> };
  readonly sizes: { invite: number; headerSection: number; longestHeaderLine: number };
}

/** Runs the flood and the checks beside it; prints what it saw. */
async function flood(): Promise<FloodReport> {
  const t0 = performance.now();
  const at = () => Math.round((performance.now() - t0) / 100) / 10;

  // The victim: registered, never answers an INVITE.
  const seen = { invites: 0, inviteBytes: 0, minInviteBytes: Infinity, other: {} as Record<string, number> };
  const victim = await registerWithDigest('victim');
  expect(victim.status).toBe(200);
  answerAllButInvites(victim.sock, victim.ua, seen);
  // bob's device answers the OPTIONS carol sends it through the service.
  const bob = await registerWithDigest('bob');
  expect(bob.status).toBe(200);
  const bobSeen = { invites: 0, inviteBytes: 0, minInviteBytes: Infinity, other: {} as Record<string, number> };
  answerAllButInvites(bob.sock, bob.ua, bobSeen);
  const token = async (user: string): Promise<string> => {
    const r = await server.api('POST', `/v1/tenants/${TENANT}/users/${user}/tokens`, {});
    expect(r.status).toBe(201);
    return encodeURIComponent(r.body.token);
  };
  const carol = await Sip.open(`/sip/${TENANT}/carol?token=${await token('carol')}`);
  const carolUa = new TestUA('carol', domain);

  // The checks another user relies on: a fresh digest REGISTER, and an OPTIONS to bob through the service.
  const checks: Array<{ at: number; register: string; options: string; ms: number }> = [];
  const check = async (): Promise<void> => {
    const start = performance.now();
    let register = 'failed';
    let options = 'failed';
    try {
      const r = await registerWithDigest('alice');
      register = String(r.status);
      r.sock.ws.close(1000);
    } catch (err) {
      register = `failed: ${(err as Error).message}`;
    }
    try {
      const sent = carolUa.request('OPTIONS', `sip:bob@${domain}`, { contact: null });
      options = String(asResponse(await carol.request(sent.text, sent.callId)).status);
    } catch (err) {
      options = `failed: ${(err as Error).message}`;
    }
    checks.push({ at: at(), register, options, ms: Math.round(performance.now() - start) });
  };

  const pids = workerdPids(server.pid);
  const samples: MemorySample[] = [sampleMemory(server.pid, at())];
  await check();

  // The flooder's sockets, with tokens (as an attacker would: no digest to get wrong).
  const url = `/sip/${TENANT}/mallory?token=${await token('mallory')}`;
  const floodSockets = await Promise.all(Array.from({ length: SOCKETS }, () => Sip.open(url)));
  const answers: Record<string, number> = {};
  const stats = { sent: 0, bytes: 0, heldBack: 0, reopened: 0, closes: [] as number[], reopenRefused: [] as string[] };
  const countAnswer = (t: string) => {
    const key = t.slice(8, t.indexOf('\r\n'));
    answers[key] = (answers[key] ?? 0) + 1;
  };
  for (const s of floodSockets) s.onResponse = countAnswer;

  let flooding = true;
  const floodStart = performance.now();
  const loops = floodSockets.map(async (first, k) => {
    let sock = first;
    let sent = 0;
    const host = `${randomBytes(5).toString('hex')}.invalid`;
    while (flooding) {
      if (!sock.isOpen) {
        // A socket the service closed is replaced, as an attacker would.
        stats.closes.push(sock.closedWith ?? 0);
        await sleep(1000);
        if (!flooding) break;
        try {
          sock = await Sip.open(url);
        } catch (err) {
          stats.reopenRefused.push((err as Error).message);
          continue;
        }
        sock.onResponse = countAnswer;
        floodSockets[k] = sock;
        stats.reopened++;
      }
      // Paced on the clock at RATE per second, never ahead of it.
      const due = Math.floor(((performance.now() - floodStart) / 1000) * RATE) + 1;
      while (sent < due && flooding && sock.isOpen) {
        sent++;
        if (sock.ws.bufferedAmount > 4 * 1024 * 1024) {
          stats.heldBack++;
          continue;
        }
        const { text } = floodInvite('victim', host);
        sock.ws.send(text);
        stats.sent++;
        stats.bytes += text.length;
      }
      await sleep(1000 / RATE);
    }
  });

  for (let k = 1; k * SAMPLE_EVERY_MS <= FLOOD_SECONDS * 1000; k++) {
    const wait = floodStart + k * SAMPLE_EVERY_MS - performance.now();
    if (wait > 0) await sleep(wait);
    samples.push(sampleMemory(server.pid, at()));
    await check();
  }
  flooding = false;
  await Promise.all(loops);
  // What was accepted last is still on its way (a 64 KiB INVITE through two objects on a
  // loaded machine, after its 100 Trying came back): wait until nothing more arrives.
  const arrived = () => seen.invites + Object.values(answers).reduce((n, x) => n + x, 0);
  for (let i = 0, last = -1; i < 20 && arrived() !== last; i++) {
    last = arrived();
    await sleep(500);
  }
  samples.push(sampleMemory(server.pid, at()));

  const floodMs = performance.now() - floodStart;
  console.log(`workerd ${pids.map((p) => `${p.role} PID ${p.pid}`).join(', ')}; VmRSS MiB (runtime + proxy = total) every ${SAMPLE_EVERY_MS / 1000} s:\n  ${samples.map((x) => `${x.at}s ${x.runtimeMiB}+${x.proxyMiB}=${x.totalMiB}`).join('\n  ')}`);
  console.log(`flood: ${stats.sent} INVITEs (${(stats.bytes / 1048576).toFixed(0)} MiB) in ${(floodMs / 1000).toFixed(1)} s from ${SOCKETS} sockets; held back ${stats.heldBack}; reopened ${stats.reopened} (closes ${JSON.stringify(stats.closes)}, refused ${JSON.stringify(stats.reopenRefused)})`);
  console.log(`flood answers: ${JSON.stringify(answers)}`);
  console.log(`victim received ${seen.invites} INVITEs (smallest ${seen.minInviteBytes} bytes), other requests ${JSON.stringify(seen.other)}`);
  console.log(`checks: ${checks.map((c) => `${c.at}s REGISTER ${c.register} OPTIONS ${c.options} ${c.ms}ms`).join('; ')}`);

  const sample = floodInvite('victim', 'sample.invalid').text;
  const headerSection = sample.slice(0, sample.indexOf('\r\n\r\n'));
  const sizes = { invite: Buffer.byteLength(sample), headerSection: headerSection.length, longestHeaderLine: Math.max(...headerSection.split('\r\n').map((l) => l.length)) };
  console.log(`flood INVITE: ${sizes.invite} bytes, header section ${sizes.headerSection} bytes, longest header line ${sizes.longestHeaderLine} bytes, display name ${NAME.length} characters`);
  return { samples, checks, stats, answers, seen, bobSeen, sizes };
}

let report: FloodReport;

describe(`one user flooding at its full allowed rate for ${FLOOD_SECONDS} s with the biggest messages it may send`, () => {
  beforeAll(async () => {
    report = await flood();
  }, (FLOOD_SECONDS + 45) * 1000);

  it(`keeps workerd's resident memory under ${RSS_BOUND_MIB} MiB (runtime and proxy together)`, () => {
    expect(report.samples).toHaveLength(FLOOD_SECONDS / (SAMPLE_EVERY_MS / 1000) + 2);
    expect(Math.max(...report.samples.map((s) => s.totalMiB))).toBeLessThan(RSS_BOUND_MIB);
  });

  it('lets another user register with digest and place an OPTIONS through the service every 5 s, throughout', () => {
    const { checks, bobSeen } = report;
    expect(checks).toHaveLength(1 + FLOOD_SECONDS / (SAMPLE_EVERY_MS / 1000));
    expect(checks.filter((c) => c.register !== '200' || c.options !== '200')).toEqual([]);
    expect(Math.max(...checks.map((c) => c.ms))).toBeLessThan(SAMPLE_EVERY_MS);
    // The OPTIONS went through the service to bob's device, and bob's 200 came back.
    expect(bobSeen.other['OPTIONS from carol']).toBe(checks.length);
  });

  it('was the full allowed rate from every socket, of messages within every limit', () => {
    const { stats, answers, sizes } = report;
    expect(stats.sent).toBeGreaterThan(0.95 * SOCKETS * RATE * FLOOD_SECONDS);
    expect(stats.heldBack).toBe(0);
    expect(sizes.invite).toBeGreaterThan(MAX_MESSAGE_BYTES - 64);
    expect(sizes.invite).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(sizes.longestHeaderLine).toBe(MAX_HEADER_LINE - 1);
    expect(sizes.headerSection).toBeLessThanOrEqual(MAX_HEADER_SECTION);
    // None was refused as malformed or too large: the sizes are ones the service accepts.
    expect(Object.keys(answers).filter((k) => /^(400|413|414|513)\b/.test(k))).toEqual([]);
    expect(answers['100 Trying']).toBeGreaterThan(0);
  });

  it('has the INVITEs the service accepted reach the victim whole (an accepted request is not lost)', () => {
    const { seen, answers } = report;
    // Every INVITE answered 100 Trying was taken on by the flooder's object; the victim's
    // object either forked it to the device or refused it as busy (one caller may hold a
    // quarter of its places for incoming requests): none vanished in between.
    expect(seen.invites).toBeGreaterThan(0);
    expect(seen.invites).toBe(answers['100 Trying']! - (answers['486 Busy Here'] ?? 0));
    expect(seen.minInviteBytes).toBeGreaterThan(MAX_MESSAGE_BYTES - 64);
  });

  it('leaves the runtime up', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});

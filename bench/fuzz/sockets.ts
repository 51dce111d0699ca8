/**
 * The socket fuzzer: the generators of the core fuzzer, over real WebSockets, into the
 * product under `wrangler dev` (workerd). Several sockets with API tokens and some without
 * (which may answer the digest challenge, or not) send mutated frames as fast as the
 * runtime takes them, text and binary (invalid UTF-8 included), with the tenant's message
 * rate raised so that the rate limit does not absorb them. Throughout and at the end, a
 * user the fuzz never touches must still register with digest and answer OPTIONS, and
 * the service must answer its OPTIONS; the log must show no uncaught exception.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import type { DevServer } from '../../test/support/dev-server.js';
import { loadCorpus } from './corpus.js';
import { generate, type GenContext } from './generate.js';
import { remember, request, type Speaker } from './messages.js';
import { answerChallenge, harvestHops } from './replies.js';
import { parseMessage } from '../../sip/message/parser.js';
import { header, headerLines, type SipRequest } from '../../sip/message/message.js';
import { Rng } from './rng.js';

export interface SocketFuzzReport {
  readonly seed: number;
  readonly tenant: string;
  readonly messages: number;
  readonly binaryFrames: number;
  readonly seconds: number;
  readonly messagesPerSecond: number;
  readonly socketsOpened: number;
  readonly closedByServer: Record<string, number>;
  readonly framesReceived: number;
  /** Frames received on the fuzzed sockets, by status code or method. */
  readonly received: Record<string, number>;
  readonly checks: { readonly passed: number; readonly failed: string[]; readonly maxMs: number };
  readonly healthzAtEnd: number;
  /** Log lines naming an uncaught exception, and the adapter's "step failed" (the core threw). */
  readonly uncaught: string[];
  readonly stepFailed: string[];
  /** Every other log line that looks like a failure, folded by message. */
  readonly otherErrors: Record<string, number>;
}

const PASSWORDS: Record<string, string> = { alice: 'alice-fuzz-pw-1', bob: 'bob-fuzz-pw-22', carol: 'carol-fuzz-pw-333', watcher: 'watcher-pw-4444', observer: 'observer-pw-55555' };
const PEERS = ['alice', 'bob', 'carol', 'ghost', 'watcher', '+15550100'];

class FuzzSocket {
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  closed: number | null = null;
  /** We closed it ourselves: not counted as closed by the server. */
  closing = false;
  frames = 0;
  seen = 0;
  private waiters: Array<(t: string) => boolean> = [];

  constructor(
    url: string,
    readonly speaker: Speaker,
    onClose: (code: number, byUs: boolean) => void,
    onFrame: (text: string) => void,
  ) {
    this.ws = new WebSocket(url, 'sip', { perMessageDeflate: false });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      this.ws.once('error', reject);
    });
    this.ws.on('error', () => undefined);
    this.ws.on('message', (data) => {
      const text = data.toString();
      onFrame(text);
      remember(this.speaker.received, text);
      this.frames++;
      this.waiters = this.waiters.filter((w) => !w(text));
    });
    this.ws.on('close', (code) => {
      this.closed = code;
      onClose(code, this.closing);
    });
  }

  send(data: string | Buffer): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(data);
    if (typeof data === 'string' && /^[A-Z]/.test(data) && !data.startsWith('SIP/')) remember(this.speaker.sent, data);
  }

  /** The next frame matching `pred`, or a rejection after `ms`. */
  next(pred: (t: string) => boolean, ms: number, what: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
      this.waiters.push((t) => {
        if (!pred(t)) return false;
        clearTimeout(timer);
        resolve(t);
        return true;
      });
    });
  }

  close(): void {
    this.closing = true;
    this.ws.terminate();
  }
}

function speakerFor(rng: Rng, user: string, domain: string, password: string | null): Speaker {
  const host = `${rng.token(10)}.invalid`;
  return { user, domain, host, contact: `sip:${rng.token(8)}@${host};transport=ws`, instance: rng.chance(0.5) ? `${rng.token(8)}-4cda-b347-${rng.token(12)}` : null, password, peers: PEERS, regCallId: rng.token(20), received: [], sent: [], cseq: 1 };
}

/** Raw bytes that are not UTF-8: overlong forms, lone continuation bytes, surrogates, a cut sequence. */
function invalidUtf8(rng: Rng, text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const bad = rng.pick([[0xc0, 0x80], [0xff], [0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]]);
  const at = rng.int(bytes.length + 1);
  return Buffer.concat([bytes.subarray(0, at), Buffer.from(bad), bytes.subarray(at)]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const statusOf = (t: string) => Number(/^SIP\/2\.0 (\d{3})/.exec(t)?.[1] ?? 0);

export async function fuzzSockets(server: DevServer, o: { messages: number; seed: number; checkEvery: number; log?: (s: string) => void }): Promise<SocketFuzzReport> {
  const log = o.log ?? (() => undefined);
  const rng = new Rng(o.seed);
  const tenant = `fz${(o.seed >>> 0).toString(36)}${rng.token(4)}`.slice(0, 40);
  const created = await server.api('POST', '/v1/tenants', { id: tenant });
  if (created.status !== 201) throw new Error(`tenant: ${created.status} ${JSON.stringify(created.body)}`);
  const domain: string = created.body.tenant.domain;
  const apiKey: string = created.body.apiKey;
  for (const [user, password] of Object.entries(PASSWORDS)) {
    const r = await server.api('PUT', `/v1/tenants/${tenant}/users/${user}`, { password }, apiKey);
    if (r.status !== 201) throw new Error(`user ${user}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  const limits = await server.api('PATCH', `/v1/tenants/${tenant}`, { limits: { messagesPerSecond: 1000, messageBurst: 10000 } });
  if (limits.status !== 200) throw new Error(`limits: ${limits.status} ${JSON.stringify(limits.body)}`);
  const token = async (user: string): Promise<string> => {
    const r = await server.api('POST', `/v1/tenants/${tenant}/users/${user}/tokens`, { ttl: 3600 }, apiKey);
    if (r.status !== 201) throw new Error(`token ${user}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.token;
  };
  const tokens: Record<string, string> = {};
  for (const u of ['alice', 'bob', 'carol', 'observer']) tokens[u] = await token(u);

  const closedByServer: Record<string, number> = {};
  const received: Record<string, number> = {};
  let socketsOpened = 0;
  let fuzzFrames = 0;
  const onFrame = (t: string, fuzzed: boolean) => {
    if (fuzzed) fuzzFrames++;
    // 503s by reason: a "Rate Limit Exceeded" among them would mean the limit absorbed frames.
    const status = /^SIP\/2\.0 (\d{3})( [^\r\n]*)?/.exec(t);
    const key = status ? (status[1] === '503' ? `503${status[2] ?? ''}` : status[1]!) : (/^([A-Z]+) /.exec(t)?.[1] ?? 'other');
    received[key] = (received[key] ?? 0) + 1;
  };
  const connect = async (user: string, withToken: boolean, knowsPassword: boolean): Promise<FuzzSocket> => {
    const url = `${server.wsBase}/sip/${tenant}/${user}${withToken ? `?token=${encodeURIComponent(tokens[user]!)}` : ''}`;
    const s = new FuzzSocket(url, speakerFor(rng, user, domain, knowsPassword ? PASSWORDS[user]! : null), (code, byUs) => {
      if (!byUs) closedByServer[code] = (closedByServer[code] ?? 0) + 1;
    }, (t) => onFrame(t, user !== 'watcher' && user !== 'observer'));
    socketsOpened++;
    await s.opened;
    return s;
  };

  // The fuzzed sockets: tokens for alice, bob and carol, and three without (one without the password).
  const plan: Array<[string, boolean, boolean]> = [['alice', true, true], ['alice', true, true], ['bob', true, true], ['bob', true, true], ['carol', true, true], ['alice', false, true], ['bob', false, false], ['carol', false, true]];
  const slots: FuzzSocket[] = [];
  for (const [u, t, p] of plan) slots.push(await connect(u, t, p));

  // The bystanders: observer (token) keeps one socket; watcher registers anew at each check.
  const observer = await connect('observer', true, true);
  const checks = { passed: 0, failed: [] as string[], maxMs: 0 };
  const check = async (label: string): Promise<void> => {
    const t0 = performance.now();
    let watcher: FuzzSocket | null = null;
    try {
      watcher = await connect('watcher', false, true);
      const w = watcher;
      const reg = request(rng, w.speaker, { method: 'REGISTER', uri: `sip:${domain}`, to: `<sip:watcher@${domain}>`, from: `<sip:watcher@${domain}>`, callId: w.speaker.regCallId, headers: ['Expires: 600'] });
      w.send(reg);
      const challenge = parseMessage(await w.next((t) => statusOf(t) === 401, 10_000, 'challenge to REGISTER'), { trusted: true });
      if (!challenge.ok || challenge.message.kind !== 'response') throw new Error('the 401 does not parse');
      const authed = answerChallenge(rng, w.speaker, reg, challenge.message, false);
      if (!authed) throw new Error('the 401 has no challenge');
      w.send(authed);
      const ok = await w.next((t) => /^SIP\/2\.0 [2-6]\d\d/.test(t) && /CSeq: \d+ REGISTER/.test(t), 10_000, 'answer to the digest REGISTER');
      if (statusOf(ok) !== 200) throw new Error(`REGISTER answered ${ok.split('\r\n')[0]}`);
      // The service answers OPTIONS addressed to it.
      w.send(request(rng, w.speaker, { method: 'OPTIONS', uri: `sip:${domain}` }));
      await w.next((t) => statusOf(t) === 200 && /CSeq: \d+ OPTIONS/.test(t), 10_000, '200 to OPTIONS sip:domain');
      // And routes an OPTIONS from another user to the watcher's socket, and its 200 back.
      const incoming = w.next((t) => t.startsWith('OPTIONS '), 10_000, 'OPTIONS relayed to the watcher');
      observer.send(request(rng, observer.speaker, { method: 'OPTIONS', uri: `sip:watcher@${domain}` }));
      const req = parseMessage(await incoming);
      if (!req.ok || req.message.kind !== 'request') throw new Error('relayed OPTIONS does not parse');
      // The bystander answers as a well-behaved UA does (§8.2.6): every Via, in order.
      // (The fuzzers' `respond` drops the top Via now and then, on purpose.)
      w.send(wellFormed200(req.message));
      await observer.next((t) => statusOf(t) === 200 && /CSeq: \d+ OPTIONS/.test(t), 10_000, '200 to OPTIONS sip:watcher at the observer');
      checks.passed++;
      checks.maxMs = Math.max(checks.maxMs, performance.now() - t0);
      log(`sockets: check ${label}: watcher registered and answered OPTIONS in ${Math.round(performance.now() - t0)} ms`);
    } catch (err) {
      checks.failed.push(`${label}: ${err instanceof Error ? err.message : String(err)}`);
      log(`sockets: check ${label} FAILED: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      watcher?.close();
    }
  };

  await check('before');
  const corpus = loadCorpus();
  const t0 = performance.now();
  let binaryFrames = 0;
  let ctx: GenContext = { corpus, conns: [], dialogIds: [] };
  for (let i = 0; i < o.messages; i++) {
    if (i % 50 === 0) {
      const hops = slots.flatMap((s) => harvestHops(s.speaker));
      const ids = slots.flatMap((s) => s.speaker.received.flatMap((t) => {
        const m = /\r\nCall-ID:\s*(\S+)/i.exec(t);
        return m ? [{ callId: m[1]!, tags: [...t.matchAll(/;tag=([^;,\s>]+)/g)].map((x) => x[1]!) }] : [];
      }));
      ctx = { corpus, conns: hops.map((h) => h.conn).slice(-32), dialogIds: ids.slice(-64) };
    }
    const waiting = slots.map((s, k) => [s, k] as const).filter(([s]) => s.frames > s.seen);
    const k = waiting.length > 0 && rng.chance(0.5) ? rng.pick(waiting)[1] : rng.int(slots.length);
    let s = slots[k]!;
    if (s.closed !== null || s.ws.readyState !== WebSocket.OPEN) {
      const [u, t, p] = plan[k]!;
      try {
        s = slots[k] = await connect(u, t, p);
      } catch (err) {
        log(`sockets: reconnect ${u} refused: ${err instanceof Error ? err.message : String(err)}`);
        await sleep(200);
        continue;
      }
    }
    const answering = s.frames > s.seen;
    s.seen = s.frames;
    const g = generate(rng, s.speaker, ctx, answering);
    if (rng.chance(0.08)) {
      s.send(invalidUtf8(rng, g.text));
      binaryFrames++;
    } else if (rng.chance(0.04)) {
      s.send(Buffer.from(g.text, 'utf8'));
      binaryFrames++;
    } else s.send(g.text);
    // Let answers come back now and then, so that replies have something to answer.
    if (i % 20 === 19) await sleep(rng.range(1, 15));
    if ((i + 1) % o.checkEvery === 0 && i + 1 < o.messages) {
      log(`sockets: ${i + 1}/${o.messages} messages, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      await check(`after ${i + 1}`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  await sleep(1000);
  await check('at the end');
  // Counted over every fuzzing socket, those the server closed and that were replaced too.
  const framesReceived = fuzzFrames;
  for (const s of slots) s.close();
  observer.close();
  const healthz = await fetch(`${server.url}/healthz`).then((r) => r.status, () => 0);
  await sleep(500);

  const lines = server.logs().split('\n');
  const uncaught = lines.filter((l) => /uncaught|unhandled/i.test(l));
  const stepFailed = lines.filter((l) => /step failed/.test(l));
  const otherErrors: Record<string, number> = {};
  for (const l of lines) {
    if (uncaught.includes(l) || stepFailed.includes(l) || !/\berror\b|exception|CRITICAL|SQLITE_/i.test(l)) continue;
    const key = l.replace(/0x[0-9a-f]+|[0-9a-f]{16,}|\d+/gi, '#').slice(0, 200);
    otherErrors[key] = (otherErrors[key] ?? 0) + 1;
  }
  return { seed: o.seed, tenant, messages: o.messages, binaryFrames, seconds, messagesPerSecond: o.messages / seconds, socketsOpened, closedByServer, framesReceived, received, checks, healthzAtEnd: healthz, uncaught, stepFailed, otherErrors };
}

function wellFormed200(req: SipRequest): string {
  const to = header(req, 'to') ?? '';
  return [
    'SIP/2.0 200 OK',
    ...headerLines(req, 'via').map((v) => `Via: ${v}`),
    `From: ${header(req, 'from') ?? ''}`,
    `To: ${/;\s*tag=/i.test(to) ? to : `${to};tag=bystander`}`,
    `Call-ID: ${header(req, 'call-id') ?? ''}`,
    `CSeq: ${header(req, 'cseq') ?? ''}`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

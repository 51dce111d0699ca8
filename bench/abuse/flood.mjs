/**
 * The flooder: one user's token sockets (the per-user maximum), each sending INVITEs to
 * the silent victim at the tenant's sustained message rate, every INVITE as large as the
 * service accepts: a long From display name and an SDP-like body padded to the largest
 * message the victim still receives. What is accepted is found by asking: a probe INVITE
 * either reaches the victim's socket (accepted; it is then CANCELled) or is answered with a
 * final status first (refused, e.g. 400 or 513). The flooder never ACKs its refused
 * INVITEs and never CANCELs the flood's: an attacker does neither.
 */
import WebSocket from 'ws';
import { chromeSdp } from '../lib/sdp.mjs';
import { SipMessage, token } from '../lib/sip-message.mjs';
import { sleep } from '../lib/proc.mjs';

const ALLOW = 'Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY';
const NAME_TEXT = 'Mallory the Flooder of Every Header Line ';

/** A display name of exactly `bytes` ASCII characters (a quoted-string, RFC 3261 §25.1). */
export function displayName(bytes) {
  return NAME_TEXT.repeat(Math.ceil(bytes / NAME_TEXT.length) + 1).slice(0, bytes);
}

/**
 * The INVITE, `total` bytes long (null: no padding), its body a Chrome-shaped offer
 * followed by `a=x-pad:` lines of at most 1,000 bytes (an SDP-like attribute the
 * service forwards untouched).
 */
export function floodInvite(o) {
  const head = (bodyLength) =>
    [
      `INVITE sip:${o.victim}@${o.domain} SIP/2.0`,
      `Via: SIP/2.0/WSS ${o.host};branch=z9hG4bK${o.branch}`,
      'Max-Forwards: 70',
      `To: <sip:${o.victim}@${o.domain}>`,
      `From: "${displayName(o.nameBytes)}" <sip:${o.user}@${o.domain}>;tag=${o.tag}`,
      `Call-ID: ${o.callId}`,
      'CSeq: 1 INVITE',
      `Contact: <sip:${o.user}@${o.host};transport=ws>`,
      ALLOW,
      'Supported: ice,replaces,outbound',
      'User-Agent: switchboard-bench-flooder/1',
      'Content-Type: application/sdp',
      `Content-Length: ${bodyLength}`,
      '',
      '',
    ].join('\r\n');
  const base = o.sdp;
  if (o.total == null) return { text: head(base.length) + base, body: base };
  let bodyLength = o.total - head(o.total).length;
  bodyLength = o.total - head(bodyLength).length;
  const body = pad(base, bodyLength);
  const text = head(body.length) + body;
  return { text, body };
}

function pad(base, length) {
  let rest = length - base.length;
  if (rest < 0) throw new Error(`an INVITE of this size cannot hold the SDP (${-rest} bytes short)`);
  const lines = [];
  const line = (n) => `a=x-pad:${'p'.repeat(n - 10)}\r\n`; // n bytes, CRLF included
  while (rest > 0) {
    let n = Math.min(rest, 1000);
    if (rest - n > 0 && rest - n < 11) n = rest - 11; // leave room for a last line
    if (n < 11) {
      // Fewer bytes than the smallest pad line: lengthen the session name instead.
      return base.replace('\r\ns=-\r\n', `\r\ns=-${'-'.repeat(rest)}\r\n`) + lines.join('');
    }
    lines.push(line(n));
    rest -= n;
  }
  return base + lines.join('');
}

/** The CANCEL of a probe INVITE (§9.1: same Request-URI, Via branch, From, To, Call-ID, CSeq number). */
export function cancelFor(invite) {
  const lines = invite.split('\r\n');
  const take = (prefix) => lines.find((l) => l.startsWith(prefix));
  return [
    lines[0].replace(/^INVITE/, 'CANCEL'),
    take('Via:'),
    'Max-Forwards: 70',
    take('To:'),
    take('From:'),
    take('Call-ID:'),
    'CSeq: 1 CANCEL',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** One of the flooder's token sockets: sends frames, counts every answer by status. */
export class FloodSocket {
  constructor(url, stats) {
    this.url = url;
    this.stats = stats;
    this.finals = new Map();
    this.waiters = new Map();
    this.closedByUs = false;
    this.serverClosed = null;
  }

  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, 'sip', { perMessageDeflate: false, skipUTF8Validation: true, generateMask: (m) => m.fill(0) });
      this.ws = ws;
      ws.once('open', () => {
        ws.removeListener('error', reject);
        ws.on('error', () => {});
        resolve();
      });
      ws.once('error', reject);
      ws.on('message', (data) => this.onFrame(data.toString()));
      ws.on('close', (code, reason) => {
        if (!this.closedByUs) this.serverClosed = { code, reason: reason.toString() };
        this.onClose?.(this);
      });
    });
  }

  get isOpen() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  close() {
    this.closedByUs = true;
    this.ws?.close(1000, 'bench done');
  }

  onFrame(text) {
    if (!text.startsWith('SIP/2.0 ')) {
      this.stats.requestsReceived = (this.stats.requestsReceived ?? 0) + 1;
      return;
    }
    const eol = text.indexOf('\r\n');
    const key = text.slice(8, eol);
    const status = Number(key.slice(0, 3));
    const msg = new SipMessage(text);
    const [, method] = msg.cseq;
    if (method !== 'INVITE') {
      this.stats.otherAnswers[`${method} ${key}`] = (this.stats.otherAnswers[`${method} ${key}`] ?? 0) + 1;
      return;
    }
    this.stats.answers[key] = (this.stats.answers[key] ?? 0) + 1;
    if (status < 200) return;
    const callId = msg.callId;
    if (this.stats.pendingFinal.delete(callId)) this.stats.finals[key] = (this.stats.finals[key] ?? 0) + 1;
    const w = this.waiters.get(callId);
    if (w) {
      this.waiters.delete(callId);
      w({ status, reason: key.slice(4) });
    }
  }

  /** Resolves with the final answer to the INVITE of `callId`. */
  awaitFinal(callId) {
    return new Promise((resolve) => this.waiters.set(callId, resolve));
  }
}

const ids = () => ({ callId: `${token()}${token()}${token()}`, branch: `${token()}${token()}`, tag: token() });

/**
 * Sends one INVITE of the given shape from `sock` and says whether the victim got it
 * (then CANCELs it and waits for the 487) or what refused it.
 */
export async function probe(sock, victim, shape, timeoutMs = 5000) {
  const id = ids();
  const { text, body } = floodInvite({ ...shape, ...id });
  const bytes = Buffer.byteLength(text);
  const arrived = victim.awaitInvite(id.callId).then((req) => ({ kind: 'arrived', req }));
  const final = sock.awaitFinal(id.callId).then((res) => ({ kind: 'final', res }));
  const late = sleep(timeoutMs).then(() => ({ kind: 'timeout' }));
  sock.ws.send(text);
  const first = await Promise.race([arrived, final, late]);
  victim.forget(id.callId);
  if (first.kind === 'arrived') {
    sock.ws.send(cancelFor(text));
    const end = await Promise.race([final, sleep(timeoutMs).then(() => null)]);
    sock.waiters.delete(id.callId);
    return { bytes, accepted: true, bodyIntact: first.req.body === body, cancelAnswer: end ? `${end.res.status} ${end.res.reason}` : 'none' };
  }
  sock.waiters.delete(id.callId);
  if (first.kind === 'final') return { bytes, accepted: false, answer: `${first.res.status} ${first.res.reason}` };
  return { bytes, accepted: false, answer: 'no answer' };
}

/**
 * The largest display name (up to `wanted` bytes) and then the largest whole INVITE the
 * victim still receives, each by bisection over probes `gapMs` apart (so the probing stays
 * under the socket's message rate).
 */
export async function probeLimits(sock, victim, shape, { wanted, maxBytes, gapMs, log }) {
  const tries = [];
  const attempt = async (s) => {
    const r = await probe(sock, victim, s);
    tries.push({ nameBytes: s.nameBytes, total: s.total ?? null, ...r });
    await sleep(gapMs);
    return r;
  };

  // 1. The display name, with an ordinary body.
  const full = await attempt({ ...shape, nameBytes: wanted, total: null });
  let nameBytes = wanted;
  let nameRefusal = null;
  if (!full.accepted) {
    nameRefusal = full.answer;
    let lo = 0;
    let hi = wanted;
    if (!(await attempt({ ...shape, nameBytes: 0, total: null })).accepted) throw new Error('an INVITE with no display name was refused: the probe cannot go on');
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if ((await attempt({ ...shape, nameBytes: mid, total: null })).accepted) lo = mid;
      else hi = mid;
    }
    nameBytes = lo;
  }
  log(`  display name: ${wanted} bytes ${full.accepted ? 'accepted' : `refused (${nameRefusal}); the largest accepted is ${nameBytes}`}`);

  // 2. The whole message, padded.
  const smallest = Buffer.byteLength(floodInvite({ ...shape, nameBytes, ...ids(), total: null }).text) + 16;
  if (!(await attempt({ ...shape, nameBytes, total: smallest })).accepted) throw new Error(`an INVITE of ${smallest} bytes was refused: the probe cannot go on`);
  let lo = smallest;
  let hi = maxBytes;
  const top = await attempt({ ...shape, nameBytes, total: hi });
  let sizeRefusal = top.accepted ? null : top.answer;
  if (top.accepted) lo = hi;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const r = await attempt({ ...shape, nameBytes, total: mid });
    if (r.accepted) lo = mid;
    else {
      hi = mid;
      sizeRefusal = r.answer;
    }
  }
  log(`  largest INVITE the victim receives: ${lo} bytes${sizeRefusal ? `; ${lo + 1} bytes: ${sizeRefusal}` : ''}`);
  const bodyIntact = tries.filter((t) => t.accepted).every((t) => t.bodyIntact);
  return { wantedNameBytes: wanted, nameBytes, nameRefusal, messageBytes: lo, sizeRefusal, bodyIntact, probes: tries.length, tries };
}

/**
 * The flood: every socket sends at `rate` INVITEs/s (paced on the clock, catching up after
 * a stall, which the service's burst allowance covers) until `stop()`. A socket the server
 * closes is replaced after a second, as an attacker would.
 */
export function startFlood({ sockets, open, rate, shape, stats, maxBuffered = 4 * 1024 * 1024 }) {
  let stopped = false;
  const loops = sockets.map(async (first, k) => {
    let sock = first;
    let sent = 0;
    const t0 = performance.now();
    while (!stopped) {
      if (!sock.isOpen) {
        stats.closedByServer.push({ socket: k, ...(sock.serverClosed ?? { code: null, reason: 'closed' }), atMs: Math.round(performance.now() - t0) });
        await sleep(1000);
        if (stopped) break;
        try {
          sock = await open();
          stats.reconnects++;
        } catch (err) {
          stats.reconnectFailures[err.message] = (stats.reconnectFailures[err.message] ?? 0) + 1;
          continue;
        }
        sockets[k] = sock;
      }
      const due = Math.floor(((performance.now() - t0) / 1000) * rate) + 1;
      while (sent < due && sock.isOpen && !stopped) {
        sent++;
        if (sock.ws.bufferedAmount > maxBuffered) {
          stats.heldBack++;
          continue;
        }
        const id = ids();
        const { text } = floodInvite({ ...shape, ...id });
        stats.pendingFinal.add(id.callId);
        sock.ws.send(text);
        stats.sent++;
        stats.bytes += text.length;
      }
      await sleep(1000 / rate);
    }
  });
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** Fresh counters for one flood. */
export function floodStats() {
  return { sent: 0, bytes: 0, heldBack: 0, answers: {}, finals: {}, otherAnswers: {}, pendingFinal: new Set(), closedByServer: [], reconnects: 0, reconnectFailures: {} };
}

export { chromeSdp };

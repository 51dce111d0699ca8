/**
 * One simulated browser: a SIP user agent on one WebSocket (RFC 7118), the way JsSIP
 * behaves. As UAC it sends requests and awaits their final responses; as UAS it answers
 * what arrives (100 to every INVITE, as JsSIP's and SIP.js's INVITE server transactions
 * do at once, RFC 3261 §17.2.1; then 180 + 200 to an INVITE, after the call's ring time;
 * 200 to re-INVITE, BYE and OPTIONS) and checks that every session description arrived
 * byte-for-byte as its sender wrote it.
 */
import WebSocket from 'ws';
import { authorization, md5Challenge } from './digest.mjs';
import { frame, response, SipMessage, tagOf, token } from './sip-message.mjs';
import { ScenarioFailure } from './stats.mjs';

export const TRANSACTION_TIMEOUT_MS = 15_000;
const ALLOW = 'Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY';
const USER_AGENT = 'User-Agent: switchboard-bench/1';

export class SipUa {
  /**
   * @param o.calls  shared registry Call-ID -> call record (SDPs to expect and to answer with)
   * @param o.tally  shared counters (acks, sdpMismatches, unexpected)
   */
  constructor({ user, domain, password, url, calls, tally, expires = 600 }) {
    this.user = user;
    this.domain = domain;
    this.password = password;
    this.url = url;
    this.calls = calls;
    this.tally = tally;
    this.host = `${token()}.invalid`;
    this.contact = `sip:${token()}@${this.host};transport=ws`;
    this.aor = `sip:${user}@${domain}`;
    this.regCallId = token() + token();
    this.regTag = token();
    this.expires = expires;
    this.waiters = new Map();
    this.keepalive = null;
    this.ws = null;
  }

  connect(timeoutMs = TRANSACTION_TIMEOUT_MS) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, 'sip', {
        perMessageDeflate: false,
        handshakeTimeout: timeoutMs,
        skipUTF8Validation: true,
        // An all-zero masking key is legal (RFC 6455 §5.3) and spares the generator the
        // random key and the XOR over every byte; servers unmask the same way regardless.
        generateMask: (mask) => mask.fill(0),
      });
      this.ws = ws;
      ws.once('open', () => {
        ws.removeListener('error', reject);
        ws.on('error', () => {});
        resolve();
      });
      ws.once('error', (err) => reject(new ScenarioFailure('connect', err.message)));
      ws.on('message', (data) => this.onFrame(data.toString()));
      ws.on('close', () => this.failAll('closed'));
    });
  }

  close() {
    this.ws?.close(1000, 'bench done');
  }

  get isOpen() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  send(text) {
    this.ws.send(text);
  }

  // ------------------------------------------------------------------ frames in

  onFrame(text) {
    if (text === '\r\n') {
      this.keepalive?.();
      this.keepalive = null;
      return;
    }
    const msg = new SipMessage(text);
    if (msg.isResponse) this.onResponse(msg);
    else this.onRequest(msg);
  }

  onResponse(res) {
    const method = res.cseq[1];
    const key = this.waiters.has(`${method}|${res.callId}`) ? `${method}|${res.callId}` : `${method}|*`;
    const w = this.waiters.get(key);
    if (res.status < 200) {
      w?.onProvisional?.(res);
      return;
    }
    if (!w) {
      this.tally.unexpected++;
      return;
    }
    this.waiters.delete(key);
    clearTimeout(w.timer);
    w.resolve(res);
  }

  failAll(cause) {
    for (const [key, w] of this.waiters) {
      this.waiters.delete(key);
      clearTimeout(w.timer);
      w.reject(new ScenarioFailure(cause));
    }
  }

  /**
   * Sends a request and resolves with its final response. `callId` '*' matches any.
   * `onProvisional(res)` is told of each 1xx.
   */
  transact(method, callId, text, { timeoutMs = TRANSACTION_TIMEOUT_MS, onProvisional = null } = {}) {
    return new Promise((resolve, reject) => {
      const key = `${method}|${callId}`;
      const timer = setTimeout(() => {
        this.waiters.delete(key);
        reject(new ScenarioFailure('timeout', `${method} as ${this.user}`));
      }, timeoutMs);
      this.waiters.set(key, { resolve, reject, timer, onProvisional });
      if (!this.isOpen) {
        this.failAll('closed');
        return;
      }
      this.send(text);
    });
  }

  /** RFC 5626 §4.4.1 CRLF keepalive; resolves on the "\r\n" pong. */
  ping(timeoutMs = TRANSACTION_TIMEOUT_MS) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new ScenarioFailure('keepalive-timeout')), timeoutMs);
      this.keepalive = () => {
        clearTimeout(timer);
        resolve();
      };
      this.send('\r\n\r\n');
    });
  }

  // ------------------------------------------------------------------ UAC

  request(method, uri, { to, from, callId, cseq, contact = true, route = [], auth = null, body = '', extra = [] }) {
    const headers = [
      `Via: SIP/2.0/WSS ${this.host};branch=z9hG4bK${token()}${token()}`,
      'Max-Forwards: 70',
      ...route.map((r) => `Route: ${r}`),
      `To: ${to}`,
      `From: ${from}`,
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} ${method}`,
      ...(contact ? [`Contact: <${this.contact}>`] : []),
      ...(auth ? [`Authorization: ${auth}`] : []),
      ...extra,
    ];
    return frame(`${method} ${uri} SIP/2.0`, headers, body);
  }

  registerRequest(cseq, auth) {
    return this.request('REGISTER', `sip:${this.domain}`, {
      to: `<${this.aor}>`,
      from: `<${this.aor}>;tag=${this.regTag}`,
      callId: this.regCallId,
      cseq,
      contact: false,
      auth,
      extra: [`Contact: <${this.contact}>;expires=${this.expires}`, `Expires: ${this.expires}`, ALLOW, 'Supported: path,gruu,outbound', USER_AGENT],
    });
  }

  /** REGISTER, answer the 401 with MD5 digest (qop=auth), expect 200. */
  async register() {
    const first = await this.transact('REGISTER', '*', this.registerRequest(1, null));
    if (first.status === 200) return;
    if (first.status !== 401) throw new ScenarioFailure(first.status, 'REGISTER');
    const challenge = md5Challenge(first.all('www-authenticate').map((l) => l.slice(l.indexOf(':') + 1).trim()));
    if (!challenge) throw new ScenarioFailure('no-md5-challenge');
    const auth = authorization(challenge, { user: this.user, password: this.password, method: 'REGISTER', uri: `sip:${this.domain}` });
    const second = await this.transact('REGISTER', '*', this.registerRequest(2, auth));
    if (second.status !== 200) throw new ScenarioFailure(second.status, 'REGISTER with credentials');
  }

  /** OPTIONS to the service itself: a request that must wake the user's object. */
  options() {
    const callId = token() + token();
    const text = this.request('OPTIONS', `sip:${this.domain}`, {
      to: `<sip:${this.domain}>`,
      from: `<${this.aor}>;tag=${token()}`,
      callId,
      cseq: 1,
      contact: false,
      extra: ['Accept: application/sdp'],
    });
    return this.transact('OPTIONS', callId, text);
  }

  invite(callee, call) {
    return this.request('INVITE', `sip:${callee}@${this.domain}`, {
      to: `<sip:${callee}@${this.domain}>`,
      from: `"${this.user}" <${this.aor}>;tag=${call.callerTag}`,
      callId: call.callId,
      cseq: 1,
      body: call.offer,
      extra: [ALLOW, 'Supported: ice,replaces,outbound', USER_AGENT],
    });
  }

  /** A request within the dialog (§12.2.1.1): remote target, route set, tags. */
  inDialog(method, d, cseq, body = '') {
    return this.request(method, d.target, {
      to: `${d.remote};tag=${d.remoteTag}`,
      from: `"${this.user}" <${this.aor}>;tag=${d.localTag}`,
      callId: d.callId,
      cseq,
      route: d.route,
      contact: method === 'INVITE',
      body,
      extra: method === 'INVITE' ? [ALLOW, USER_AGENT] : [],
    });
  }

  // ------------------------------------------------------------------ UAS

  onRequest(req) {
    switch (req.method) {
      case 'INVITE':
        this.answerInvite(req);
        break;
      case 'ACK':
        this.tally.acks++;
        break;
      case 'BYE':
        this.send(response(req, 200, 'OK'));
        break;
      case 'OPTIONS':
        // The service asking whether a silent flow is alive (RFC 5626 §4.4, RFC 3261 §11.2).
        this.tally.options = (this.tally.options ?? 0) + 1;
        this.send(response(req, 200, 'OK', { extra: [ALLOW, 'Accept: application/sdp'] }));
        break;
      default:
        this.tally.unexpected++;
        this.send(response(req, 200, 'OK'));
    }
  }

  answerInvite(req) {
    const call = this.calls.get(req.callId);
    if (!call) {
      this.tally.unexpected++;
      this.send(response(req, 481, 'Call/Transaction Does Not Exist', { toTag: token() }));
      return;
    }
    const initial = tagOf(req.get('to')) === null;
    // The INVITE server transaction's own 100, without a To tag (JsSIP Transactions.js,
    // SIP.js invite-server-transaction.ts).
    this.send(response(req, 100, 'Trying'));
    if (req.body !== (initial ? call.offer : call.holdOffer)) this.tally.sdpMismatches++;
    const extra = [ALLOW, 'Supported: ice,replaces,outbound', USER_AGENT];
    if (initial) {
      this.send(response(req, 180, 'Ringing', { toTag: call.calleeTag, contact: this.contact, extra: [USER_AGENT] }));
      const answer = () => {
        call.answeredAt = performance.now();
        if (this.isOpen) this.send(response(req, 200, 'OK', { toTag: call.calleeTag, contact: this.contact, body: call.answer, extra }));
      };
      if (call.ringMs > 0) setTimeout(answer, call.ringMs);
      else answer();
    } else {
      this.send(response(req, 200, 'OK', { contact: this.contact, body: call.holdAnswer, extra }));
    }
  }
}

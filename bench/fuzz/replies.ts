/**
 * A fuzzed client answering what its socket received, as a browser would and as it should
 * not: responses to forked requests (with the right Vias, or not), digest answers to 401 and
 * 407 (right, wrong, replayed), ACK/BYE/re-INVITE after a 2xx, CANCEL after a 1xx, BYE
 * from the callee; and responses with forged Vias whose branches (`z9hG4bK-sb~...`,
 * sip/hops.ts) name other users and other sockets.
 */
import { createHash } from 'node:crypto';
import { parseMessage } from '../../sip/message/parser.js';
import { header, headerLines, type SipMessage, type SipRequest, type SipResponse } from '../../sip/message/message.js';
import { callId, cseq, nameAddrs, toTag } from '../../sip/message/headers.js';
import { BRANCH_PREFIX } from '../../sip/hops.js';
import { webrtcSdp } from '../../test/support/ua.js';
import { offer, request, utf8Length, type Speaker } from './messages.js';
import type { Rng } from './rng.js';

function parsed(text: string): SipMessage | null {
  const r = parseMessage(text, { trusted: true });
  return r.ok ? r.message : null;
}

/** The To tag this UA uses for a Call-ID: the same for the 180 and the 200 of one call. */
export function tagFor(sp: Speaker, cid: string): string {
  return createHash('md5').update(`${sp.host}:${cid}`).digest('hex').slice(0, 12);
}

const STATUSES = [100, 180, 180, 183, 200, 200, 200, 200, 202, 302, 401, 404, 407, 408, 480, 481, 486, 486, 487, 488, 500, 503, 600, 603, 699];

/** §8.2.6: a response copies Via, From, To (tagged), Call-ID, CSeq; a 2xx/1xx copies Record-Route. */
const INVITE_STATUSES = [100, 180, 180, 183, 200, 200, 200, 200, 200, 200, 480, 486, 487, 488, 603];

export function respond(rng: Rng, sp: Speaker, req: SipRequest, status = rng.pick(req.method === 'INVITE' && rng.chance(0.8) ? INVITE_STATUSES : STATUSES)): string {
  const to = header(req, 'to') ?? '';
  const tag = rng.chance(0.9) ? tagFor(sp, callId(req)) : rng.token(8);
  const isInvite = req.method === 'INVITE';
  const answer = () => (rng.chance(0.7) ? { body: webrtcSdp({ session: String(1e9 + rng.int(1e9)) }) } : offer(rng));
  const body = isInvite && status >= 180 && status < 300 && rng.chance(status >= 200 ? 0.95 : 0.3) ? answer() : { body: '' };
  const vias = headerLines(req, 'via');
  const lines = [
    `SIP/2.0 ${status} ${rng.pick(['OK', 'Ringing', 'Whatever', ''])}`.trimEnd(),
    ...(rng.chance(0.95) ? vias : vias.slice(1)).map((v) => `Via: ${v}`),
    ...(status < 300 ? headerLines(req, 'record-route').map((v) => `Record-Route: ${v}`) : []),
    `From: ${header(req, 'from') ?? ''}`,
    `To: ${status > 100 && toTag(req) === null ? `${to};tag=${tag}` : to}`,
    `Call-ID: ${callId(req)}`,
    `CSeq: ${header(req, 'cseq') ?? '1 INVITE'}`,
    ...(rng.chance(0.9) ? [`Contact: <${sp.contact}>`] : []),
    ...(body.body !== '' ? [`Content-Type: ${body.contentType ?? 'application/sdp'}`] : []),
    `Content-Length: ${utf8Length(body.body)}`,
    '',
    body.body,
  ];
  return lines.join('\r\n');
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The request again with an answer to the challenge (RFC 7616 §3.4), right or subtly wrong. */
export function answerChallenge(rng: Rng, sp: Speaker, sentText: string, res: SipResponse, flaws = true): string | null {
  const challenges = headerLines(res, res.status === 401 ? 'www-authenticate' : 'proxy-authenticate');
  if (challenges.length === 0) return null;
  const ch = rng.pick(challenges);
  const nonce = /nonce="([^"]*)"/.exec(ch)?.[1] ?? '';
  const realm = /realm="([^"]*)"/.exec(ch)?.[1] ?? sp.domain;
  const algorithm = /algorithm=([A-Za-z0-9-]+)/.exec(ch)?.[1] ?? 'MD5';
  const hash = algorithm.toUpperCase() === 'SHA-256' ? sha256 : md5;
  const reqLine = /^(\S+) (\S+)/.exec(sentText);
  if (!reqLine) return null;
  const [, method, uri] = reqLine as unknown as [string, string, string];
  const flaw = !flaws ? 'none' : rng.weighted<string>([[14, 'none'], [2, 'password'], [1, 'username'], [1, 'realm'], [1, 'nonce'], [1, 'no-qop'], [1, 'nc'], [1, 'garbage']]);
  const username = flaw === 'username' ? rng.pick(sp.peers) : sp.user;
  const password = flaw === 'password' || sp.password === null ? `wrong-${rng.token(4)}` : sp.password;
  const usedRealm = flaw === 'realm' ? 'other.invalid' : realm;
  const usedNonce = flaw === 'nonce' ? `${nonce}x` : nonce;
  const nc = flaw === 'nc' ? rng.pick(['00000000', 'zzzzzzzz', '1']) : rng.pick(['00000001', '00000001', '00000002']);
  const cnonce = rng.token(12);
  const ha1 = hash(`${username}:${usedRealm}:${password}`);
  const ha2 = hash(`${method}:${uri}`);
  const response = flaw === 'no-qop' ? hash(`${ha1}:${usedNonce}:${ha2}`) : hash(`${ha1}:${usedNonce}:${nc}:${cnonce}:auth:${ha2}`);
  const qop = flaw === 'no-qop' ? '' : `, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
  const value = flaw === 'garbage' ? `Digest ${rng.pick(['', 'username', 'realm="', 'a=b, c', '"'])}` : `Digest algorithm=${algorithm}, username="${username}", realm="${usedRealm}", nonce="${usedNonce}", uri="${uri}", response="${response}"${qop}`;
  const name = res.status === 401 ? 'Authorization' : 'Proxy-Authorization';
  // Same Call-ID and From tag, CSeq one higher, a new branch (§22.2).
  return sentText
    .replace(/^(Authorization|Proxy-Authorization):.*\r\n/gim, '')
    .replace(/branch=[^;\r\n]+/, `branch=z9hG4bK${rng.token(12)}`)
    .replace(/CSeq: (\d+) /, (_m, n: string) => `CSeq: ${Number(n) + 1} `)
    .replace(/\r\nContent-Length:/i, `\r\n${name}: ${value}\r\nContent-Length:`);
}

/** A request within the dialog a 2xx to our INVITE made (§12.2.1.1), or CANCEL/ACK of it. */
function asCaller(rng: Rng, sp: Speaker, sent: SipRequest, res: SipResponse): string {
  const seq = cseq(sent)?.seq ?? 1;
  const routes = (nameAddrs(res, 'record-route') ?? []).map((r) => `Route: <${r.uriText}>`).reverse();
  const target = (nameAddrs(res, 'contact') ?? [])[0]?.uriText ?? sent.uri;
  const dialog = { to: header(res, 'to') ?? '', from: (header(sent, 'from') ?? '').replace(/;tag=.*$/, ''), fromTag: /;tag=([^;]+)/.exec(header(sent, 'from') ?? '')?.[1] ?? null, callId: callId(sent) };
  if (res.status < 200) {
    // CANCEL: same Request-URI, top Via, From, To, Call-ID and CSeq number (§9.1).
    return [`CANCEL ${sent.uri} SIP/2.0`, `Via: ${headerLines(sent, 'via')[0] ?? ''}`, 'Max-Forwards: 70', `To: ${header(sent, 'to')}`, `From: ${header(sent, 'from')}`, `Call-ID: ${dialog.callId}`, `CSeq: ${seq} CANCEL`, ...(rng.chance(0.3) ? ['Reason: SIP;cause=487;text="fuzz"'] : []), 'Content-Length: 0', '', ''].join('\r\n');
  }
  if (res.status >= 300) {
    return [`ACK ${sent.uri} SIP/2.0`, `Via: ${headerLines(sent, 'via')[0] ?? ''}`, 'Max-Forwards: 70', `To: ${header(res, 'to')}`, `From: ${header(sent, 'from')}`, `Call-ID: ${dialog.callId}`, `CSeq: ${seq} ACK`, 'Content-Length: 0', '', ''].join('\r\n');
  }
  const method = rng.weighted<string>([[5, 'ACK'], [4, 'BYE'], [1, 'INVITE'], [1, 'INFO'], [1, 'UPDATE'], [1, 'REFER'], [1, 'NOTIFY']]);
  const o = method === 'INVITE' || method === 'UPDATE' ? offer(rng) : { body: '' };
  return request(rng, sp, {
    method,
    uri: target,
    to: dialog.to,
    from: dialog.from,
    fromTag: dialog.fromTag,
    callId: dialog.callId,
    cseq: method === 'ACK' ? seq : seq + rng.range(1, 3),
    headers: [...routes, ...(method === 'REFER' ? [`Refer-To: <sip:${rng.pick(sp.peers)}@${sp.domain}>`] : []), ...(method === 'NOTIFY' ? ['Event: refer', 'Subscription-State: terminated'] : [])],
    body: o.body,
    contentType: o.contentType,
  });
}

/** As callee, after answering `req`: BYE (or another in-dialog request) toward the caller. */
function asCallee(rng: Rng, sp: Speaker, req: SipRequest): string {
  const routes = (nameAddrs(req, 'record-route') ?? []).map((r) => `Route: <${r.uriText}>`);
  const target = (nameAddrs(req, 'contact') ?? [])[0]?.uriText ?? `sip:${sp.domain}`;
  return request(rng, sp, {
    method: rng.pick(['BYE', 'BYE', 'INFO', 'INVITE', 'UPDATE', 'NOTIFY']),
    uri: target,
    to: header(req, 'from') ?? '',
    from: header(req, 'to') ?? '',
    fromTag: toTag(req) === null ? tagFor(sp, callId(req)) : null,
    callId: callId(req),
    cseq: 1000 + rng.int(10),
    headers: routes,
  });
}

/** Something that follows from a frame this socket received, or null when nothing does. */
export function reply(rng: Rng, sp: Speaker): string | null {
  if (sp.received.length === 0) return null;
  // Mostly the newest frames: that is what a UA answers.
  const i = sp.received.length - 1 - Math.min(sp.received.length - 1, rng.chance(0.7) ? 0 : rng.int(sp.received.length));
  const msg = parsed(sp.received[i]!);
  if (!msg) return null;
  if (msg.kind === 'request') {
    if (msg.method === 'ACK') return null;
    return rng.chance(0.85) ? respond(rng, sp, msg) : asCallee(rng, sp, msg);
  }
  const sentText = sp.sent.find((t) => {
    const s = parsed(t);
    return s !== null && callId(s) === callId(msg) && cseq(s)?.seq === cseq(msg)?.seq;
  });
  const sent = sentText ? parsed(sentText) : null;
  if (!sentText || !sent || sent.kind !== 'request') return null;
  if ((msg.status === 401 || msg.status === 407) && rng.chance(0.9)) return answerChallenge(rng, sp, sentText, msg);
  if (sent.method === 'INVITE' && msg.status > 100) return asCaller(rng, sp, sent, msg);
  return null;
}

/** Connection ids and users that our own branches revealed in what this socket received. */
export function harvestHops(sp: Speaker): Array<{ conn: string; user: string }> {
  const out: Array<{ conn: string; user: string }> = [];
  const re = /z9hG4bK-sb~[a-z][^~\s;,]*~([^~\s;,]+)~([^\s;,>]+)/g;
  for (const f of sp.received) for (const m of f.matchAll(re)) out.push({ conn: m[1]!, user: m[2]! });
  return out;
}

/**
 * A response whose Vias claim to be our hops: the top one for this socket's user or
 * another, the next one naming another user's socket, so that a response would be routed
 * into someone else's object or socket if the core believed it.
 */
export function forgedResponse(rng: Rng, sp: Speaker, knownConns: readonly string[]): string {
  const hops = harvestHops(sp);
  const conns = [...knownConns, ...hops.map((h) => h.conn), '-', '', rng.token(9), '~', 'c1'];
  const users = [sp.user, ...sp.peers, '', '~', 'x'.repeat(300)];
  const via = () => {
    const h = hops.length > 0 && rng.chance(0.3) ? rng.pick(hops) : { conn: rng.pick(conns), user: rng.pick(users) };
    const kind = rng.pick(['u', 'r', 'f', 'g', 'x', '']);
    return `Via: SIP/2.0/WSS ${sp.domain};branch=${BRANCH_PREFIX}${kind}${rng.token(rng.pick([1, 14]))}~${h.conn}~${h.user}${rng.chance(0.1) ? '~extra' : ''}`;
  };
  const basis = sp.received.length > 0 && rng.chance(0.6) ? parsed(rng.pick(sp.received)) : null;
  const cid = basis ? callId(basis) : rng.token(20);
  const method = rng.pick(['INVITE', 'INVITE', 'BYE', 'CANCEL', 'OPTIONS', 'MESSAGE', 'SUBSCRIBE', 'REGISTER', 'ACK']);
  const peer = rng.pick(sp.peers);
  const status = rng.pick(STATUSES);
  const body = method === 'INVITE' && status === 200 ? offer(rng) : { body: '' };
  const lines = [
    `SIP/2.0 ${status} Forged`,
    ...Array.from({ length: rng.pick([1, 2, 2, 3, 8]) }, via),
    ...(rng.chance(0.5) ? [`Via: SIP/2.0/WSS ${sp.host};branch=z9hG4bK${rng.token(8)}`] : []),
    `From: ${basis ? header(basis, 'from') : `<sip:${peer}@${sp.domain}>;tag=${rng.token(8)}`}`,
    `To: ${basis ? header(basis, 'to') : `<sip:${sp.user}@${sp.domain}>`};tag=${rng.token(8)}`,
    `Call-ID: ${cid}`,
    `CSeq: ${basis ? (cseq(basis)?.seq ?? 1) : rng.range(1, 5)} ${basis && rng.chance(0.7) ? (cseq(basis)?.method ?? method) : method}`,
    `Contact: <${sp.contact}>`,
    ...(body.body !== '' ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${utf8Length(body.body)}`,
    '',
    body.body,
  ];
  return lines.join('\r\n');
}

/** Dialog identifiers seen anywhere, recombined: requests that almost match a dialog. */
export function nearDialog(rng: Rng, sp: Speaker, ids: ReadonlyArray<{ callId: string; tags: readonly string[] }>): string | null {
  if (ids.length === 0) return null;
  const d = rng.pick(ids);
  const tag = () => (d.tags.length > 0 && rng.chance(0.85) ? rng.pick(d.tags) : rng.token(8));
  const method = rng.pick(['BYE', 'ACK', 'CANCEL', 'INVITE', 'INFO', 'NOTIFY', 'UPDATE', 'PRACK', 'MESSAGE', 'REFER']);
  const peer = rng.pick(sp.peers);
  return request(rng, sp, {
    method,
    uri: rng.chance(0.5) ? `sip:${peer}@${sp.domain}` : sp.contact,
    to: `<sip:${peer}@${sp.domain}>${rng.chance(0.8) ? `;tag=${tag()}` : ''}`,
    fromTag: tag(),
    callId: d.callId,
    cseq: rng.pick([1, 2, 1000, 2147483647]),
    branch: rng.chance(0.2) ? `${BRANCH_PREFIX}u${rng.token(14)}~-~${sp.user}` : undefined,
    headers: rng.chance(0.6) ? [`Route: <sip:${sp.domain};transport=ws;lr>`] : [],
    body: method === 'INVITE' ? offer(rng).body : '',
  });
}

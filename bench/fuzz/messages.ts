/**
 * What a fuzzed client says on its socket: fresh requests written the way browsers write
 * them (REGISTER, INVITE with a WebRTC offer, OPTIONS, MESSAGE, SUBSCRIBE, REFER...),
 * requests that need a dialog sent without one, and odd methods. `replies.ts` answers
 * what the socket received. Both are mutated afterwards by mutate.ts.
 */
import { PLAIN_SDP, webrtcSdp } from '../../test/support/ua.js';
import type { Rng } from './rng.js';

/** A simulated UA on one socket, and what it remembers. */
export interface Speaker {
  readonly user: string;
  readonly domain: string;
  readonly host: string;
  readonly contact: string;
  readonly instance: string | null;
  /** To answer digest challenges; null for a socket that does not know it. */
  readonly password: string | null;
  /** Users it may call (its tenant's, a disabled one, unknown ones, itself). */
  readonly peers: readonly string[];
  readonly regCallId: string;
  /** Frames received on this socket, newest last (bounded). */
  readonly received: string[];
  /** Requests this UA sent, newest last (bounded). */
  readonly sent: string[];
  cseq: number;
}

export const REMEMBER = 12;

export function remember(list: string[], text: string): void {
  list.push(text);
  if (list.length > REMEMBER) list.shift();
}

export interface RequestParts {
  readonly method: string;
  readonly uri: string;
  readonly to?: string;
  readonly from?: string;
  readonly callId?: string;
  readonly fromTag?: string | null;
  readonly cseq?: number;
  readonly branch?: string;
  readonly contact?: string | null;
  readonly headers?: readonly string[];
  readonly body?: string;
  readonly contentType?: string;
}

export const utf8Length = (s: string): number => new TextEncoder().encode(s).length;

export function request(rng: Rng, sp: Speaker, p: RequestParts): string {
  const body = p.body ?? '';
  const tag = p.fromTag === undefined ? rng.token(10) : p.fromTag;
  const lines = [
    `${p.method} ${p.uri} SIP/2.0`,
    `Via: SIP/2.0/WSS ${sp.host};branch=${p.branch ?? `z9hG4bK${rng.token(12)}`}`,
    'Max-Forwards: 70',
    `To: ${p.to ?? `<${p.uri}>`}`,
    `From: ${p.from ?? `"${sp.user}" <sip:${sp.user}@${sp.domain}>`}${tag === null ? '' : `;tag=${tag}`}`,
    `Call-ID: ${p.callId ?? rng.token(22)}`,
    `CSeq: ${p.cseq ?? sp.cseq++} ${p.method}`,
    ...(p.contact === null ? [] : [`Contact: <${p.contact ?? sp.contact}>`]),
    ...(p.headers ?? []),
    ...(body !== '' ? [`Content-Type: ${p.contentType ?? 'application/sdp'}`] : []),
    `Content-Length: ${utf8Length(body)}`,
    '',
    body,
  ];
  return lines.join('\r\n');
}

export function offer(rng: Rng): { body: string; contentType?: string } {
  return rng.weighted<{ body: string; contentType?: string }>([
    [6, { body: webrtcSdp({ session: String(1e9 + rng.int(1e9)) }) }],
    [1, { body: webrtcSdp({ session: String(1e9 + rng.int(1e9)), video: true }) }],
    [1, { body: PLAIN_SDP }],
    [1, { body: 'v=0\r\no=- x\r\nm=audio\r\n' }],
    [1, { body: '' }],
    [1, { body: 'not sdp at all \u0000\ud800', contentType: rng.pick(['application/sdp', 'text/plain', 'multipart/mixed;boundary=x']) }],
  ]);
}

export function register(rng: Rng, sp: Speaker, user = sp.user): string {
  const inst = sp.instance ? `;+sip.instance="<urn:uuid:${sp.instance}>";reg-id=${rng.pick(['1', '1', '2', 'x', ''])}` : '';
  const contact = rng.weighted([
    [8, `<${sp.contact}>${inst}`],
    [1, '*'],
    [1, `<sip:${rng.token(6)}@${rng.token(8)}.invalid;transport=ws>;expires=${rng.pick(['0', '30', '60', '3600', '99999', 'x'])}`],
    [1, Array.from({ length: rng.pick([2, 5, 11, 20]) }, () => `<sip:${rng.token(6)}@${rng.token(6)}.invalid;transport=ws>`).join(', ')],
  ]);
  const expires = rng.weighted<string | null>([[4, null], [2, '600'], [1, '0'], [1, '59'], [1, '3600'], [1, '7200']]);
  return request(rng, sp, {
    method: 'REGISTER',
    uri: `sip:${sp.domain}`,
    to: `<sip:${user}@${sp.domain}>`,
    from: `<sip:${user}@${sp.domain}>`,
    callId: sp.regCallId,
    contact: null,
    headers: [`Contact: ${contact}`, ...(expires !== null ? [`Expires: ${expires}`] : []), `Supported: ${rng.pick(['path, gruu, outbound', 'gruu', ''])}`, 'User-Agent: fuzz JsSIP/3.13.8', ...(rng.chance(0.05) ? ['Require: frobnication'] : [])],
  });
}

export function invite(rng: Rng, sp: Speaker, to: string): string {
  const o = offer(rng);
  return request(rng, sp, { method: 'INVITE', uri: `sip:${to}@${sp.domain}`, body: o.body, contentType: o.contentType, headers: rng.chance(0.1) ? [`Route: <sip:${rng.pick([sp.domain, 'evil.example'])};transport=ws;lr>`] : [] });
}

/** A fresh request of any kind, in or out of place. */
export function freshRequest(rng: Rng, sp: Speaker): string {
  const peer = rng.pick(sp.peers);
  const userUri = `sip:${peer}@${sp.domain}`;
  const kind = rng.weighted<string>([
    [12, 'REGISTER'],
    [14, 'INVITE'],
    [5, 'OPTIONS-service'],
    [4, 'OPTIONS'],
    [5, 'MESSAGE'],
    [3, 'SUBSCRIBE'],
    [2, 'REFER'],
    [2, 'NOTIFY'],
    [3, 'BYE'],
    [3, 'CANCEL'],
    [3, 'ACK'],
    [1, 'PRACK'],
    [1, 'UPDATE'],
    [1, 'INFO'],
    [2, 'odd'],
    [1, 'spoof'],
  ]);
  switch (kind) {
    case 'REGISTER':
      return register(rng, sp, rng.chance(0.05) ? peer : sp.user);
    case 'INVITE':
      return invite(rng, sp, peer);
    case 'OPTIONS-service':
      return request(rng, sp, { method: 'OPTIONS', uri: `sip:${sp.domain}`, headers: rng.chance(0.1) ? ['Require: 100rel'] : [] });
    case 'MESSAGE':
      return request(rng, sp, { method: 'MESSAGE', uri: userUri, body: rng.pick(['hello', 'h\u00e9llo \u{1F600}', 'x'.repeat(3000)]), contentType: 'text/plain', contact: null });
    case 'SUBSCRIBE':
      return request(rng, sp, { method: 'SUBSCRIBE', uri: userUri, headers: ['Event: presence', `Expires: ${rng.pick(['0', '60', '3600'])}`] });
    case 'REFER':
      return request(rng, sp, { method: 'REFER', uri: userUri, headers: [`Refer-To: <sip:${rng.pick(sp.peers)}@${sp.domain}>`] });
    case 'NOTIFY':
      return request(rng, sp, { method: 'NOTIFY', uri: userUri, headers: ['Event: refer', `Subscription-State: ${rng.pick(['active;expires=60', 'terminated;reason=noresource'])}`], body: 'SIP/2.0 200 OK', contentType: 'message/sipfrag' });
    case 'BYE':
    case 'PRACK':
    case 'UPDATE':
    case 'INFO':
    case 'ACK':
      // Requests that need a dialog, sent without one (and with a made-up To tag, or none).
      return request(rng, sp, { method: kind, uri: rng.chance(0.5) ? userUri : `sip:${rng.token(6)}@${rng.token(8)}.invalid;transport=ws`, to: `<${userUri}>${rng.chance(0.7) ? `;tag=${rng.token(8)}` : ''}`, headers: rng.chance(0.5) ? [`Route: <sip:${sp.domain};transport=ws;lr>`] : [] });
    case 'CANCEL':
      return request(rng, sp, { method: 'CANCEL', uri: userUri, contact: null });
    case 'spoof':
      return request(rng, sp, { method: rng.pick(['INVITE', 'MESSAGE', 'REGISTER']), uri: userUri, from: `<sip:${peer}@${sp.domain}>`, body: '', headers: [`Authorization: Digest username="${peer}", realm="${sp.domain}", nonce="1.x", uri="${userUri}", response="00", qop=auth, nc=00000001, cnonce="c"`] });
    case 'odd':
      return request(rng, sp, { method: rng.pick(['FOO', 'PUBLISH', 'invite', 'X'.repeat(200), 'UNSUBSCRIBE']), uri: rng.pick([userUri, `sip:${sp.domain}`, `tel:+1${rng.range(1000000, 9999999)}`, `sips:${peer}@${sp.domain}`]) });
    default:
      return request(rng, sp, { method: 'OPTIONS', uri: userUri });
  }
}

/** Not SIP at all: binary noise, HTTP, JSON, lone keepalives. */
export function noise(rng: Rng): string {
  return rng.weighted<() => string>([
    [3, () => Array.from({ length: rng.int(300) }, () => String.fromCharCode(rng.int(0x10000))).join('')],
    [1, () => 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'],
    [1, () => '{"jsonrpc":"2.0"}'],
    [1, () => rng.pick(['\r\n', '\r\n\r\n', ' ', '\n\n\n'])],
    [1, () => 'SIP/2.0 200 OK\r\n\r\n'],
    [1, () => 'INVITE sip:x SIP/2.0\r\n\r\n'],
  ])();
}

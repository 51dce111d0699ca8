/**
 * A small, honest SIP user agent for tests: it writes requests and responses the way
 * RFC 3261 UAs do (route sets from Record-Route, remote targets from Contact, CSeq
 * handling) so scenarios can be driven frame by frame. Runtime-agnostic: used by the pure
 * core tests and by the tests that run inside workerd.
 */
import { parseMessage } from '../../sip/message/parser.js';
import { header, headerLines, type SipMessage, type SipRequest, type SipResponse } from '../../sip/message/message.js';
import { callId, cseq, fromTag, nameAddrs, toTag } from '../../sip/message/headers.js';

let counter = 0;
export const rand = (): string => `${Date.now().toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 8)}`;

export function parse(text: string): SipMessage {
  const r = parseMessage(text);
  if (!r.ok) throw new Error(`test UA could not parse: ${r.status} ${r.reason}\n${text}`);
  return r.message;
}

export function asResponse(text: string): SipResponse {
  const m = parse(text);
  if (m.kind !== 'response') throw new Error(`expected a response, got ${m.method}`);
  return m;
}

export function asRequest(text: string): SipRequest {
  const m = parse(text);
  if (m.kind !== 'request') throw new Error(`expected a request, got ${m.status}`);
  return m;
}

/** A realistic Chrome offer/answer of about 2.5 KB, with ICE credentials and a fingerprint. */
export function webrtcSdp(opts: { video?: boolean; session?: string } = {}): string {
  const id = opts.session ?? String(Math.floor(Math.random() * 1e15));
  const audio = [
    'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    `a=candidate:1467250027 1 udp 2122260223 192.0.2.10 ${40000 + (Number(id.slice(-3)) % 1000)} typ host generation 0 network-id 1`,
    'a=candidate:3178510583 1 udp 1686052607 198.51.100.7 54400 typ srflx raddr 192.0.2.10 rport 40000 generation 0 network-id 1',
    'a=candidate:2214367455 1 tcp 1518280447 192.0.2.10 9 typ host tcptype active generation 0 network-id 1',
    'a=ice-ufrag:W4s1',
    'a=ice-pwd:8S4kHlJ7d2cFVvYq1bQ6RmTz',
    'a=ice-options:trickle',
    'a=fingerprint:sha-256 74:AD:1F:F6:14:0A:02:4B:66:2E:71:D2:7B:EC:A9:3C:99:ED:EC:1E:07:80:34:82:35:DB:04:86:98:93:F5:1E',
    'a=setup:actpass',
    'a=mid:0',
    'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
    'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
    'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
    'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
    'a=sendrecv',
    'a=msid:441da6f5-edd4-4962-b74a-7299e8c29e13 616b0c18-4501-4242-829a-9730b17c0fc8',
    'a=rtcp-mux',
    'a=rtcp-rsize',
    'a=rtpmap:111 opus/48000/2',
    'a=rtcp-fb:111 transport-cc',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    'a=rtpmap:63 red/48000/2',
    'a=fmtp:63 111/111',
    'a=rtpmap:9 G722/8000',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:13 CN/8000',
    'a=rtpmap:110 telephone-event/48000',
    'a=rtpmap:126 telephone-event/8000',
    'a=ssrc:1038024573 cname:fS0i7jZ8mBgsV79A',
    'a=ssrc:1038024573 msid:441da6f5-edd4-4962-b74a-7299e8c29e13 616b0c18-4501-4242-829a-9730b17c0fc8',
  ];
  const video = opts.video
    ? [
        'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102',
        'c=IN IP4 0.0.0.0',
        'a=rtcp:9 IN IP4 0.0.0.0',
        'a=ice-ufrag:W4s1',
        'a=ice-pwd:8S4kHlJ7d2cFVvYq1bQ6RmTz',
        'a=ice-options:trickle',
        'a=fingerprint:sha-256 74:AD:1F:F6:14:0A:02:4B:66:2E:71:D2:7B:EC:A9:3C:99:ED:EC:1E:07:80:34:82:35:DB:04:86:98:93:F5:1E',
        'a=setup:actpass',
        'a=mid:1',
        'a=sendrecv',
        'a=rtcp-mux',
        'a=rtpmap:96 VP8/90000',
        'a=rtcp-fb:96 nack pli',
        'a=rtpmap:97 rtx/90000',
        'a=fmtp:97 apt=96',
        'a=rtpmap:102 H264/90000',
        'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f',
      ]
    : [];
  const bundle = opts.video ? 'a=group:BUNDLE 0 1' : 'a=group:BUNDLE 0';
  return [
    'v=0',
    `o=- ${id} 2 IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    bundle,
    'a=extmap-allow-mixed',
    'a=msid-semantic: WMS 441da6f5-edd4-4962-b74a-7299e8c29e13',
    ...audio,
    ...video,
    '',
  ].join('\r\n');
}

/** An SDP without ICE or DTLS: valid SDP, but not something a browser can use. */
export const PLAIN_SDP = ['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'm=audio 4000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');

export interface UaDialog {
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  readonly localUri: string;
  readonly remoteUri: string;
  readonly remoteTarget: string;
  readonly routeSet: readonly string[];
  cseq: number;
}

export interface SentRequest {
  readonly text: string;
  readonly callId: string;
  readonly fromTag: string;
  readonly branch: string;
  readonly cseq: number;
}

export interface RequestOptions {
  readonly to?: string;
  readonly from?: string;
  readonly callId?: string;
  readonly fromTag?: string;
  readonly headers?: readonly string[];
  readonly body?: string;
  readonly contentType?: string;
  readonly cseq?: number;
  readonly branch?: string;
  readonly contact?: string | null;
}

export class TestUA {
  readonly host = `${rand()}.invalid`;
  readonly contactUri: string;
  private cseqCounter = 1;
  readonly regCallId = rand();

  constructor(
    readonly user: string,
    readonly domain: string,
    readonly instance: string | null = null,
  ) {
    this.contactUri = `sip:${rand()}@${this.host};transport=ws`;
  }

  get aor(): string {
    return `sip:${this.user}@${this.domain}`;
  }

  nextCseq(): number {
    return this.cseqCounter++;
  }

  request(method: string, uri: string, o: RequestOptions = {}): SentRequest {
    const branch = o.branch ?? `z9hG4bK${rand()}`;
    const cid = o.callId ?? rand();
    const ftag = o.fromTag ?? rand();
    const seq = o.cseq ?? this.nextCseq();
    const body = o.body ?? '';
    const lines = [
      `${method} ${uri} SIP/2.0`,
      `Via: SIP/2.0/WSS ${this.host};branch=${branch}`,
      'Max-Forwards: 70',
      `To: ${o.to ?? `<${uri}>`}`,
      `From: ${o.from ?? `"${this.user}" <${this.aor}>`};tag=${ftag}`,
      `Call-ID: ${cid}`,
      `CSeq: ${seq} ${method}`,
      ...(o.contact === null ? [] : [`Contact: <${o.contact ?? this.contactUri}>`]),
      ...(o.headers ?? []),
      ...(body !== '' ? [`Content-Type: ${o.contentType ?? 'application/sdp'}`] : []),
      `Content-Length: ${new TextEncoder().encode(body).length}`,
      '',
      body,
    ];
    return { text: lines.join('\r\n'), callId: cid, fromTag: ftag, branch, cseq: seq };
  }

  register(o: { expires?: number; contactParams?: string; headers?: readonly string[]; wildcard?: boolean; cseq?: number; user?: string; callId?: string } = {}): SentRequest {
    const inst = this.instance ? `;+sip.instance="<urn:uuid:${this.instance}>";reg-id=1` : '';
    const contact = o.wildcard ? '*' : `<${this.contactUri}>${inst}${o.contactParams ?? ''}`;
    const to = `<sip:${o.user ?? this.user}@${this.domain}>`;
    const r = this.request('REGISTER', `sip:${this.domain}`, {
      to,
      from: `${to}`,
      callId: o.callId ?? this.regCallId,
      contact: null,
      cseq: o.cseq,
      headers: [`Contact: ${contact}`, ...(o.expires !== undefined ? [`Expires: ${o.expires}`] : []), 'Supported: path, gruu, outbound', ...(o.headers ?? [])],
    });
    return r;
  }

  invite(toUser: string, o: RequestOptions = {}): SentRequest {
    return this.request('INVITE', `sip:${toUser}@${this.domain}`, { body: webrtcSdp(), ...o });
  }

  /** Answers a request the way a UAS does (§8.2.6): copies Via/From/To/Call-ID/CSeq and Record-Route. */
  respond(reqText: string, status: number, o: { toTag?: string; body?: string; reason?: string; contact?: boolean; headers?: readonly string[] } = {}): string {
    const req = asRequest(reqText);
    const to = header(req, 'to')!;
    const tag = o.toTag ?? rand();
    const toValue = status > 100 && toTag(req) === null ? `${to};tag=${tag}` : to;
    const body = o.body ?? '';
    const lines = [
      `SIP/2.0 ${status} ${o.reason ?? 'Reason'}`,
      ...headerLines(req, 'via').map((v) => `Via: ${v}`),
      ...(status > 100 && status < 300 ? headerLines(req, 'record-route').map((v) => `Record-Route: ${v}`) : []),
      `From: ${header(req, 'from')}`,
      `To: ${toValue}`,
      `Call-ID: ${callId(req)}`,
      `CSeq: ${header(req, 'cseq')}`,
      ...(o.contact === false ? [] : [`Contact: <${this.contactUri}>`]),
      ...(o.headers ?? []),
      ...(body !== '' ? ['Content-Type: application/sdp'] : []),
      `Content-Length: ${new TextEncoder().encode(body).length}`,
      '',
      body,
    ];
    return lines.join('\r\n');
  }

  /** UAC view of the dialog a 2xx (or 1xx with tag) creates (§12.1.2). */
  dialogAsCaller(sent: SentRequest, responseText: string): UaDialog {
    const res = asResponse(responseText);
    const rr = nameAddrs(res, 'record-route') ?? [];
    return {
      callId: sent.callId,
      localTag: sent.fromTag,
      remoteTag: toTag(res)!,
      localUri: header(parse(sent.text), 'from')!.replace(/;tag=.*$/, ''),
      remoteUri: header(res, 'to')!.replace(/;tag=.*$/, ''),
      remoteTarget: (nameAddrs(res, 'contact') ?? [])[0]?.uriText ?? '',
      routeSet: rr.map((r) => `<${r.uriText}>`).reverse(),
      cseq: sent.cseq,
    };
  }

  /** UAS view of the dialog created by answering `reqText` with tag `localTag` (§12.1.1). */
  dialogAsCallee(reqText: string, localTag: string): UaDialog {
    const req = asRequest(reqText);
    const rr = nameAddrs(req, 'record-route') ?? [];
    return {
      callId: callId(req),
      localTag,
      remoteTag: fromTag(req)!,
      localUri: header(req, 'to')!.replace(/;tag=.*$/, ''),
      remoteUri: header(req, 'from')!.replace(/;tag=.*$/, ''),
      remoteTarget: (nameAddrs(req, 'contact') ?? [])[0]?.uriText ?? '',
      routeSet: rr.map((r) => `<${r.uriText}>`),
      cseq: this.nextCseq() + 1000,
    };
  }

  /** A request within the dialog (§12.2.1.1). ACK reuses the INVITE's CSeq number. */
  inDialog(d: UaDialog, method: string, o: { body?: string; headers?: readonly string[]; cseq?: number } = {}): SentRequest {
    const seq = o.cseq ?? (method === 'ACK' ? d.cseq : ++d.cseq);
    return this.request(method, d.remoteTarget, {
      to: `${d.remoteUri};tag=${d.remoteTag}`,
      from: d.localUri,
      fromTag: d.localTag,
      callId: d.callId,
      cseq: seq,
      body: o.body,
      headers: [...d.routeSet.map((r) => `Route: ${r}`), ...(o.headers ?? [])],
    });
  }

  /** CANCEL for a pending INVITE (§9.1): same Request-URI, branch, From, To, Call-ID, CSeq number. */
  cancel(invite: SentRequest): string {
    const req = asRequest(invite.text);
    return [
      `CANCEL ${req.uri} SIP/2.0`,
      `Via: ${headerLines(req, 'via')[0]}`,
      'Max-Forwards: 70',
      `To: ${header(req, 'to')}`,
      `From: ${header(req, 'from')}`,
      `Call-ID: ${callId(req)}`,
      `CSeq: ${cseq(req)!.seq} CANCEL`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
  }

  /** ACK for a non-2xx final response (§17.1.1.3). */
  ackNon2xx(invite: SentRequest, responseText: string): string {
    const req = asRequest(invite.text);
    const res = asResponse(responseText);
    return [
      `ACK ${req.uri} SIP/2.0`,
      `Via: ${headerLines(req, 'via')[0]}`,
      'Max-Forwards: 70',
      `To: ${header(res, 'to')}`,
      `From: ${header(req, 'from')}`,
      `Call-ID: ${callId(req)}`,
      `CSeq: ${cseq(req)!.seq} ACK`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
  }
}

/** Short description of a frame, for assertion messages: "INVITE" or "180". */
export function describe(text: string): string {
  const m = parse(text);
  return m.kind === 'request' ? m.method : `${m.status} ${cseq(m)!.method}`;
}

export function statusOf(text: string): number {
  return asResponse(text).status;
}

export function methodOf(text: string): string {
  return asRequest(text).method;
}

export function bodyOf(text: string): string {
  return parse(text).body;
}

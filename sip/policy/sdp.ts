/**
 * Inspects session descriptions without changing them: the body is forwarded
 * byte-for-byte, and this only decides whether to accept it (RFC 3264, RFC 8829 §5) and
 * what to record about it.
 */
import { parse, type MediaDescription, type SessionDescription } from 'sdp-transform';
import { memoize } from '../message/grammar.js';

export interface MediaSummary {
  /** Active media kinds in order: audio, video, application. */
  readonly kinds: readonly string[];
  /** Codec names per m-line order, without retransmission and FEC helpers. */
  readonly codecs: readonly string[];
}

export type SdpCheck =
  | { readonly ok: true; readonly summary: MediaSummary }
  | { readonly ok: false; readonly warnCode: number; readonly warning: string };

const HELPERS = new Set(['rtx', 'red', 'ulpfec', 'flexfec-03', 'cn', 'telephone-event']);

/** What one section (index 0: the session level) says about ICE and DTLS; absent: null. */
interface Credentials {
  ufrag: string | null;
  pwd: string | null;
  fingerprint: boolean | null;
}

/**
 * One pass over the body. It keeps for the grammar parser the lines the summary reads: the
 * version and media lines, rtpmap and bundle-only. A browser's description is mostly
 * candidates, extmaps, rtcp-fb, fmtp and ssrc lines (RFC 8839, 8285, 4585) on which the
 * parser would try dozens of patterns, and what is left is the same for every call a
 * browser makes, so its parse is memoised. The same pass notes the ICE credentials and
 * fingerprint of each section, which differ in every call. The body itself is never changed.
 */
function scan(body: string): { structure: string; sections: Credentials[] } {
  let structure = '';
  const sections: Credentials[] = [{ ufrag: null, pwd: null, fingerprint: null }];
  let current = sections[0]!;
  for (let start = 0; start < body.length; ) {
    let end = body.indexOf('\n', start);
    if (end < 0) end = body.length;
    const c = body.charCodeAt(start);
    if (c === 109 /* m */) {
      current = { ufrag: null, pwd: null, fingerprint: null };
      sections.push(current);
      structure += `${body.slice(start, end)}\n`;
    } else if (c === 118 /* v */ || body.startsWith('a=rtpmap:', start) || body.startsWith('a=bundle-only', start)) {
      structure += `${body.slice(start, end)}\n`;
    } else if (body.startsWith('a=ice-ufrag:', start)) {
      current.ufrag = firstWord(body, start + 12, end);
    } else if (body.startsWith('a=ice-pwd:', start)) {
      current.pwd = firstWord(body, start + 10, end);
    } else if (body.startsWith('a=fingerprint:', start)) {
      // fingerprint-attribute = "fingerprint" ":" hash-func SP fingerprint (RFC 8122 §5)
      current.fingerprint = /^\S* \S*/.test(body.slice(start + 14, end));
    }
    start = end + 1;
  }
  return { structure, sections };
}

function firstWord(s: string, from: number, to: number): string {
  const m = /^\S*/.exec(s.slice(from, to));
  return m ? m[0] : '';
}

/** The grammar parser's reading of a description's structure, or null when it throws. */
const parseStructure = memoize((structure: string): SessionDescription | null => {
  try {
    return parse(structure);
  } catch {
    return null;
  }
}, 256);

export function isSdp(contentType: string | undefined): boolean {
  return contentType !== undefined && /^\s*application\/sdp\s*(;|$)/i.test(contentType);
}

/**
 * A WebRTC description must carry ICE credentials and a DTLS fingerprint, at session level
 * or in every active media section (RFC 8839 §5.4, RFC 8122 §5).
 */
export function checkSdp(body: string, opts: { videoAllowed: boolean }): SdpCheck {
  if (!/^v=0\r?\n/.test(body)) return { ok: false, warnCode: 399, warning: 'SDP does not start with v=0' };
  const { structure, sections } = scan(body);
  const session = parseStructure(structure);
  if (!session) return { ok: false, warnCode: 399, warning: 'SDP does not parse' };
  const media = session.media ?? [];
  if (media.length === 0) return { ok: false, warnCode: 304, warning: 'SDP has no media sections' };
  const top = sections[0]!;
  const active: MediaDescription[] = [];
  for (let i = 0; i < media.length; i++) {
    const m = media[i]!;
    if (m.port === 0 && m.type !== 'application' && !hasBundleOnly(m)) continue;
    active.push(m);
    if (typeof m.port !== 'number' || !m.protocol) return { ok: false, warnCode: 399, warning: 'SDP m-line does not parse' };
    const own = sections[i + 1] ?? { ufrag: null, pwd: null, fingerprint: null };
    if (!(own.ufrag ?? top.ufrag) || !(own.pwd ?? top.pwd)) {
      return { ok: false, warnCode: 399, warning: 'not a WebRTC SDP: missing ICE ufrag/pwd' };
    }
    if (!(own.fingerprint ?? top.fingerprint)) {
      return { ok: false, warnCode: 399, warning: 'not a WebRTC SDP: missing DTLS fingerprint' };
    }
  }
  if (!opts.videoAllowed && active.some((m) => m.type === 'video' && m.port !== 0)) {
    return { ok: false, warnCode: 304, warning: 'video is not allowed for this tenant' };
  }
  const kinds: string[] = [];
  const codecs: string[] = [];
  for (const m of active) {
    if (!kinds.includes(m.type)) kinds.push(m.type);
    for (const r of m.rtp ?? []) {
      if (!HELPERS.has(r.codec.toLowerCase()) && !codecs.includes(r.codec)) codecs.push(r.codec);
    }
  }
  return { ok: true, summary: { kinds, codecs } };
}

/** RFC 8843 §6: a bundle-only section has port 0 yet is active. */
function hasBundleOnly(m: MediaDescription): boolean {
  return m.bundleOnly !== undefined;
}

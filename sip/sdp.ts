/**
 * Inspects session descriptions without changing them: the body is forwarded
 * byte-for-byte, and this only decides whether to accept it (RFC 3264, RFC 8829 §5) and
 * what to record about it.
 */
import { parse, type MediaDescription, type SessionDescription } from 'sdp-transform';

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

/**
 * The lines the check reads: every non-attribute line (v, o, s, c, t, m...) and the
 * attributes below. A browser's description is mostly candidates, extmaps, rtcp-fb, fmtp
 * and ssrc lines (RFC 8839, 8285, 4585); the grammar parser tries dozens of patterns on
 * each, so they are left out before parsing. The body itself is never changed.
 */
const WANTED_ATTRIBUTE = /^a=(?:ice-ufrag|ice-pwd|fingerprint|bundle-only|rtpmap|mid|group)(?::|\r?$)/;

function relevantLines(body: string): string {
  const lines = body.split('\n');
  let kept = '';
  for (const line of lines) {
    if (line.charCodeAt(0) !== 97 /* a */ || WANTED_ATTRIBUTE.test(line)) kept += `${line}\n`;
  }
  return kept;
}

export function isSdp(contentType: string | undefined): boolean {
  return contentType !== undefined && /^\s*application\/sdp\s*(;|$)/i.test(contentType);
}

/**
 * A WebRTC description must carry ICE credentials and a DTLS fingerprint, at session level
 * or in every active media section (RFC 8839 §5.4, RFC 8122 §5).
 */
export function checkSdp(body: string, opts: { videoAllowed: boolean }): SdpCheck {
  let session: SessionDescription;
  try {
    if (!/^v=0\r?\n/.test(body)) return { ok: false, warnCode: 399, warning: 'SDP does not start with v=0' };
    session = parse(relevantLines(body));
  } catch {
    return { ok: false, warnCode: 399, warning: 'SDP does not parse' };
  }
  const media = session.media ?? [];
  if (media.length === 0) return { ok: false, warnCode: 304, warning: 'SDP has no media sections' };
  const active = media.filter((m) => m.port !== 0 || m.type === 'application' || hasBundleOnly(m));
  for (const m of active) {
    if (typeof m.port !== 'number' || !m.protocol) return { ok: false, warnCode: 399, warning: 'SDP m-line does not parse' };
    if (!(m.iceUfrag ?? session.iceUfrag) || !(m.icePwd ?? session.icePwd)) {
      return { ok: false, warnCode: 399, warning: 'not a WebRTC SDP: missing ICE ufrag/pwd' };
    }
    if (!(m.fingerprint ?? session.fingerprint)) {
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

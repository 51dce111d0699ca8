/**
 * Serializes a message for one WebSocket frame (RFC 3261 §7, RFC 7118 §5). Content-Length
 * is always written and always computed from the body, so a body passes through
 * byte-for-byte while its length header can never disagree with it.
 */
import { utf8Length } from './grammar.js';
import type { SipMessage } from './message.js';

export function serialize(msg: SipMessage): string {
  let s = msg.kind === 'request' ? `${msg.method} ${msg.uri} SIP/2.0\r\n` : `SIP/2.0 ${msg.status} ${msg.reason}\r\n`;
  const hs = msg.headers;
  for (let i = 0; i < hs.length; i++) {
    const h = hs[i]!;
    if (h.key === 'content-length') continue;
    if (h.src !== undefined) {
      // Splice: the longest run of untouched, adjacent lines goes as one slice of the original.
      let end = h.end!;
      while (i + 1 < hs.length && hs[i + 1]!.src === h.src && hs[i + 1]!.start === end && hs[i + 1]!.key !== 'content-length') end = hs[++i]!.end!;
      s += h.src.slice(h.start, end);
      continue;
    }
    s += `${h.name}: ${h.value}\r\n`;
  }
  s += `Content-Length: ${utf8Length(msg.body)}\r\n\r\n`;
  return s + msg.body;
}

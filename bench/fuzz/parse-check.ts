/**
 * What must hold of `parseMessage` for any text: it returns (never throws); a failure
 * carries a 4xx/5xx status and a one-line reason (it becomes a status line); a success
 * serialises to text that parses again to the same message, since that text is what one
 * object relays to another and parses there as trusted.
 */
import { parseMessage } from '../../sip/message/parser.js';
import { serialize } from '../../sip/message/serializer.js';
import type { SipMessage } from '../../sip/message/message.js';

function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}\n${(err.stack ?? '').split('\n').slice(1, 6).join('\n')}` : String(err);
}

const same = (a: SipMessage, b: SipMessage): boolean =>
  a.kind === b.kind &&
  a.body === b.body &&
  (a.kind === 'request' ? b.kind === 'request' && a.method === b.method && a.uri === b.uri : b.kind === 'response' && a.status === b.status) &&
  a.headers.filter((h) => h.key !== 'content-length').every((h, i, hs) => {
    const other = b.headers.filter((x) => x.key !== 'content-length');
    // Whitespace at either end of a value is not part of it (RFC 3261 §7.3.1).
    return other.length === hs.length && other[i]!.name === h.name && other[i]!.value.trim() === h.value.trim();
  });

/** Null when every property holds, else which one failed and how. */
export function checkParse(text: string): { property: string; detail: string } | null {
  let r: ReturnType<typeof parseMessage>;
  try {
    r = parseMessage(text);
    parseMessage(text, { trusted: true });
  } catch (err) {
    return { property: 'parseMessage never throws', detail: describeError(err) };
  }
  if (!r.ok) {
    if (!Number.isInteger(r.status) || r.status < 400 || r.status > 599) return { property: 'a parse failure has a 4xx/5xx status', detail: `status ${r.status}` };
    if (typeof r.reason !== 'string' || r.reason === '' || /[\r\n]/.test(r.reason)) return { property: 'a parse failure has a one-line reason', detail: JSON.stringify(r.reason) };
    return null;
  }
  try {
    const again = parseMessage(serialize(r.message));
    if (!again.ok) return { property: 'a parsed message serialises to text that parses', detail: `${again.status} ${again.reason}` };
    if (!same(r.message, again.message)) return { property: 'a parsed message serialises to text that parses to the same message', detail: 'headers, start line or body differ after a round trip' };
  } catch (err) {
    return { property: 'serialising a parsed message never throws', detail: describeError(err) };
  }
  return null;
}

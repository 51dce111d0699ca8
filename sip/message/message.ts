/**
 * SIP message model (RFC 3261 §7). Header values are kept as raw text so that a proxy
 * forwards what it does not touch unchanged; typed views are parsed on demand by
 * `headers.ts`. The body is opaque.
 */

export interface HeaderField {
  /** The name as it appeared on the wire (or the canonical name for generated headers). */
  readonly name: string;
  /** Lower-case long form used for lookup: compact forms are expanded (§7.3.3). */
  readonly key: string;
  readonly value: string;
  /**
   * Where the parser found the field, as it was: the message text and the line's span,
   * CRLF included. A field that is changed is a new object without it, so the serializer
   * copies every run of untouched lines from the original text instead of writing them
   * again (a proxy adds its hops and leaves the rest as it came, §16.6).
   */
  readonly src?: string;
  readonly start?: number;
  readonly end?: number;
}

interface MessageBase {
  readonly headers: readonly HeaderField[];
  readonly body: string;
}

export interface SipRequest extends MessageBase {
  readonly kind: 'request';
  readonly method: string;
  readonly uri: string;
}

export interface SipResponse extends MessageBase {
  readonly kind: 'response';
  readonly status: number;
  readonly reason: string;
}

export type SipMessage = SipRequest | SipResponse;

/** Compact header forms (§7.3.3, plus RFC 3265, 3515, 3841, 3892, 4028, 4474, 6665). */
const COMPACT: Record<string, string> = {
  a: 'accept-contact',
  b: 'referred-by',
  c: 'content-type',
  d: 'request-disposition',
  e: 'content-encoding',
  f: 'from',
  i: 'call-id',
  j: 'reject-contact',
  k: 'supported',
  l: 'content-length',
  m: 'contact',
  n: 'identity-info',
  o: 'event',
  r: 'refer-to',
  s: 'subject',
  t: 'to',
  u: 'allow-events',
  v: 'via',
  x: 'session-expires',
  y: 'identity',
};

const CANONICAL: Record<string, string> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'min-se': 'Min-SE',
  'mime-version': 'MIME-Version',
  'rack': 'RAck',
  'rseq': 'RSeq',
};

/** Keys of the header names seen so far, as they were spelt: a handful in practice. */
const KEYS = new Map<string, string>();

export function headerKey(name: string): string {
  let key = KEYS.get(name);
  if (key === undefined) {
    const lower = name.toLowerCase();
    key = COMPACT[lower] ?? lower;
    // Bounded, so odd spellings from a hostile peer cannot grow it without end.
    if (KEYS.size < 512) KEYS.set(name, key);
  }
  return key;
}

/** Canonical display form of a header name: `record-route` -> `Record-Route`. */
export function canonicalName(key: string): string {
  return CANONICAL[key] ?? key.replace(/(^|-)([a-z])/g, (_, d: string, c: string) => d + c.toUpperCase());
}

export function field(name: string, value: string): HeaderField {
  const key = headerKey(name);
  return { name: name.length === 1 ? canonicalName(key) : name, key, value };
}

/** All raw values of a header, in order, one entry per header line. */
export function headerLines(msg: SipMessage, name: string): string[] {
  const key = headerKey(name);
  const out: string[] = [];
  for (const h of msg.headers) if (h.key === key) out.push(h.value);
  return out;
}

export function header(msg: SipMessage, name: string): string | undefined {
  const key = headerKey(name);
  for (const h of msg.headers) if (h.key === key) return h.value;
  return undefined;
}

export function hasHeader(msg: SipMessage, name: string): boolean {
  return header(msg, name) !== undefined;
}

export function withHeaders<T extends SipMessage>(msg: T, headers: readonly HeaderField[]): T {
  // Built field by field rather than spread: every message keeps one of two shapes.
  const out: SipMessage =
    msg.kind === 'request'
      ? { kind: 'request', method: msg.method, uri: msg.uri, headers, body: msg.body }
      : { kind: 'response', status: msg.status, reason: msg.reason, headers, body: msg.body };
  return out as T;
}

/** Adds header fields above all others (a proxy's Via and Record-Route, §16.6). */
export function prependHeaders<T extends SipMessage>(msg: T, fields: readonly HeaderField[]): T {
  return withHeaders(msg, [...fields, ...msg.headers]);
}

export function removeHeader<T extends SipMessage>(msg: T, name: string): T {
  const key = headerKey(name);
  return withHeaders(msg, msg.headers.filter((h) => h.key !== key));
}

/** Replaces every line of a header with one value (or appends it when absent). */
export function setHeader<T extends SipMessage>(msg: T, name: string, value: string): T {
  const key = headerKey(name);
  const idx = msg.headers.findIndex((h) => h.key === key);
  if (idx < 0) return withHeaders(msg, [...msg.headers, field(name, value)]);
  const out: HeaderField[] = [];
  msg.headers.forEach((h, i) => {
    if (i === idx) out.push({ name: h.name, key, value });
    else if (h.key !== key) out.push(h);
  });
  return withHeaders(msg, out);
}

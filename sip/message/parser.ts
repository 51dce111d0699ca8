/**
 * Parses one SIP message from one WebSocket frame (RFC 7118 §5: one message per frame)
 * and validates what the core relies on. Never throws: a message either parses or
 * yields a `ParseFailure` naming the problem, which for a request becomes the status and
 * reason phrase of the answer (RFC 3261 §8.2, §16.3, §21).
 */
import { isToken, utf8Length } from './grammar.js';
import { contacts, cseq, from, integerHeader, isValidCallId, nameAddrs, to, vias } from './headers.js';
import { MAX_CALL_ID, MAX_DISPLAY_NAME, MAX_HEADER_LINE, MAX_HEADER_SECTION, MAX_HEADER_URI, MAX_MESSAGE_BYTES, MAX_RELAYED_BYTES, MAX_REQUEST_URI, MAX_TAG } from './limits.js';
import { canonicalName, field, header, headerKey, type HeaderField, type SipMessage, type SipRequest } from './message.js';
import type { NameAddr } from './name-addr.js';
import { tagOf } from './name-addr.js';
import { parseUri } from './uri.js';

export { MAX_MESSAGE_BYTES } from './limits.js';

export interface ParseFailure {
  readonly status: number;
  readonly reason: string;
  /** True when the first line was a status line: malformed responses are dropped, not answered. */
  readonly isResponse: boolean;
  /** The header fields recovered before the failure, used to address the error answer. */
  readonly headers: readonly HeaderField[];
  /** The request method, when the request line could be read. */
  readonly method: string | null;
}

export type ParseResult = { readonly ok: true; readonly message: SipMessage } | ({ readonly ok: false } & ParseFailure);

const REQUEST_LINE_RE = /^([A-Za-z0-9\-.!%*_+`'~]+) (\S+) (\S+)$/;
const STATUS_LINE_RE = /^SIP\/(\S+) (\d{3})(?: (.*))?$/i;

/**
 * `trusted` skips the header validation for text this service serialised itself (relays
 * between users' objects): it was validated where it entered from a socket.
 */
export function parseMessage(text: string, opts: { trusted?: boolean } = {}): ParseResult {
  const isResponse = text.startsWith('SIP/');
  const fail = (status: number, reason: string, headers: readonly HeaderField[] = [], method: string | null = null): ParseResult => ({
    ok: false,
    status,
    reason,
    isResponse,
    headers,
    method,
  });

  // A UTF-16 unit is at most 3 UTF-8 bytes: only long texts need counting.
  const max = opts.trusted ? MAX_RELAYED_BYTES : MAX_MESSAGE_BYTES;
  if (text.length > max || (text.length * 3 > max && utf8Length(text) > max)) {
    return fail(513, 'Message Too Large', recoverHeaders(text));
  }

  // The header section ends at the first empty line; bare LF is tolerated (§7.5 robustness).
  // One pass: each line runs to the next LF, less a CR just before it.
  const headers: HeaderField[] = [];
  let firstLine: string | null = null;
  let body = '';
  let pos = 0;
  /** The first header line over MAX_HEADER_LINE; parsing goes on so the 513 can be addressed. */
  let tooLong: string | null = null;
  while (pos < text.length) {
    const lf = text.indexOf('\n', pos);
    const stop = lf < 0 ? text.length : lf;
    const end = stop > pos && text.charCodeAt(stop - 1) === 13 ? stop - 1 : stop;
    const lineStart = pos;
    pos = lf < 0 ? text.length : lf + 1;
    if (firstLine === null) {
      firstLine = text.slice(lineStart, end);
      continue;
    }
    if (end === lineStart) {
      if (!opts.trusted && pos > MAX_HEADER_SECTION) return fail(513, 'Header Section Too Large', headers);
      body = text.slice(pos);
      break;
    }
    const c = text.charCodeAt(lineStart);
    if (c === 32 || c === 9) {
      // Line folding (§7.3.1): a continuation line joins the previous header value.
      const prev = headers.pop();
      if (!prev) return fail(400, 'Malformed header folding', headers);
      const value = `${prev.value} ${text.slice(lineStart, end).trim()}`;
      if (!opts.trusted && tooLong === null && prev.name.length + value.length + 2 > MAX_HEADER_LINE) tooLong = prev.name;
      // The folded field is spliced as its lines were, folding included.
      headers.push(prev.src !== undefined && lf >= 0 && end !== stop ? { ...prev, value, end: pos } : { name: prev.name, key: prev.key, value });
      continue;
    }
    const colon = text.indexOf(':', lineStart);
    if (colon <= lineStart || colon >= end) return fail(400, `Malformed header line: ${clip(text.slice(lineStart, end))}`, headers);
    let nameEnd = colon;
    while (nameEnd > lineStart && (text.charCodeAt(nameEnd - 1) === 32 || text.charCodeAt(nameEnd - 1) === 9)) nameEnd--;
    const name = text.slice(lineStart, nameEnd);
    if (!isToken(name)) return fail(400, `Malformed header name: ${clip(name)}`, headers);
    if (!opts.trusted && tooLong === null && end - lineStart > MAX_HEADER_LINE) tooLong = name;
    // The value without its surrounding whitespace, cut once (no slice and then trim).
    let vs = colon + 1;
    let ve = end;
    while (vs < ve && isSpace(text.charCodeAt(vs))) vs++;
    while (ve > vs && isSpace(text.charCodeAt(ve - 1))) ve--;
    const value = text.slice(vs, ve);
    // A line that ends in CRLF can be copied as it is; one with a bare LF is written anew.
    headers.push(lf >= 0 && end !== stop && name.length > 1 ? { name, key: headerKey(name), value, src: text, start: lineStart, end: pos } : field(name, value));
  }
  firstLine ??= '';
  if (!opts.trusted && pos > MAX_HEADER_SECTION && body === '') return fail(513, 'Header Section Too Large', headers);
  if (tooLong !== null) return fail(513, `Header Too Long: ${clip(tooLong)}`, headers, requestMethod(firstLine));

  let message: SipMessage;
  let method: string | null = null;
  if (isResponse) {
    const m = STATUS_LINE_RE.exec(firstLine);
    if (!m || m[1] !== '2.0') return fail(400, 'Malformed status line', headers);
    const status = Number(m[2]);
    if (status < 100 || status > 699) return fail(400, 'Status code out of range', headers);
    message = { kind: 'response', status, reason: m[3] ?? '', headers, body };
  } else {
    const m = REQUEST_LINE_RE.exec(firstLine);
    if (!m) return fail(400, 'Malformed request line', headers);
    method = m[1]!;
    const version = m[3]!;
    if (!/^SIP\/\d+\.\d+$/i.test(version)) return fail(400, 'Malformed SIP version', headers, method);
    if (version.toUpperCase() !== 'SIP/2.0') return fail(505, 'Version Not Supported', headers, method);
    message = { kind: 'request', method, uri: m[2]!, headers, body };
  }

  if (!opts.trusted) {
    const problem = validate(message);
    if (problem) return fail(problem.status, problem.reason, headers, method);
  }
  return { ok: true, message };
}

/** Whether a header appears on more than one line (counted, no list built: asked 7 times per message). */
function repeated(msg: SipMessage, key: string): boolean {
  let seen = false;
  for (const h of msg.headers) {
    if (h.key !== key) continue;
    if (seen) return true;
    seen = true;
  }
  return false;
}

interface Problem {
  status: number;
  reason: string;
}

/** Mandatory header fields of every request (§8.1.1) and response (§8.2.6.2, §20). */
const MANDATORY = ['via', 'from', 'to', 'call-id', 'cseq'] as const;
/** Headers that must appear at most once (§20, "single-valued"). */
const SINGLE = ['from', 'to', 'call-id', 'cseq', 'max-forwards', 'content-length', 'expires'] as const;

function validate(msg: SipMessage): Problem | null {
  for (const key of MANDATORY) {
    if (header(msg, key) === undefined) return { status: 400, reason: `Missing ${canonicalName(key)} header` };
  }
  for (const key of SINGLE) {
    if (repeated(msg, key)) return { status: 400, reason: `Duplicate ${canonicalName(key)} header` };
  }
  const viaList = vias(msg);
  if (!viaList || viaList.length === 0) return { status: 400, reason: 'Malformed Via header' };
  // The views (headers.ts) keep what they parse: the core reads From and To again.
  const f = from(msg);
  if (!f) return { status: 400, reason: 'Malformed From header' };
  const t = to(msg);
  if (!t) return { status: 400, reason: 'Malformed To header' };
  const sized = oversized('From', f) ?? oversized('To', t);
  if (sized) return sized;
  const cid = header(msg, 'call-id')!;
  if (!isValidCallId(cid)) return { status: 400, reason: 'Malformed Call-ID header' };
  if (cid.length > MAX_CALL_ID) return { status: 400, reason: 'Call-ID Too Long' };
  const cs = cseq(msg);
  if (!cs) return { status: 400, reason: 'Malformed CSeq header' };

  const contentLength = integerHeader(msg, 'content-length');
  if (contentLength === null) return { status: 400, reason: 'Malformed Content-Length header' };
  // Content-Length is optional on WebSocket (RFC 7118 §5); when present it must be exact.
  if (contentLength !== undefined && contentLength !== utf8Length(msg.body)) {
    return { status: 400, reason: 'Content-Length mismatch' };
  }
  if (integerHeader(msg, 'max-forwards') === null) return { status: 400, reason: 'Malformed Max-Forwards header' };
  if (integerHeader(msg, 'expires') === null) return { status: 400, reason: 'Malformed Expires header' };
  if (header(msg, 'contact') !== undefined) {
    const list = contacts(msg);
    if (!list) return { status: 400, reason: 'Malformed Contact header' };
    if (list !== '*') for (const c of list) if (oversized('Contact', c)) return oversized('Contact', c);
  }
  for (const name of ['route', 'record-route', 'path']) {
    if (header(msg, name) !== undefined && !nameAddrs(msg, name)) {
      return { status: 400, reason: `Malformed ${canonicalName(name)} header` };
    }
  }
  if (msg.kind === 'request') return validateRequest(msg, cs.method);
  return null;
}

function validateRequest(req: SipRequest, cseqMethod: string): Problem | null {
  // §8.2.2.1 comes after the syntax checks: the method must match CSeq (§8.1.1.5).
  if (cseqMethod !== req.method) return { status: 400, reason: 'CSeq method does not match request method' };
  if (req.uri.length > MAX_REQUEST_URI) return { status: 414, reason: 'Request-URI Too Long' };
  const uri = parseUri(req.uri);
  if (!uri) return { status: 400, reason: 'Malformed Request-URI' };
  if (uri.scheme !== 'sip' && uri.scheme !== 'sips' && uri.scheme !== 'tel') {
    return { status: 416, reason: 'Unsupported URI Scheme' };
  }
  return null;
}

/** The parts of a name-addr a record may keep, each within its bound (limits.ts). */
function oversized(name: string, na: NameAddr): Problem | null {
  if (na.displayName !== null && na.displayName.length > MAX_DISPLAY_NAME) return { status: 400, reason: `${name} Display Name Too Long` };
  if (na.uriText.length > MAX_HEADER_URI) return { status: 400, reason: `${name} URI Too Long` };
  const tag = tagOf(na);
  if (tag !== null && tag.length > MAX_TAG) return { status: 400, reason: `${name} Tag Too Long` };
  return null;
}

/** The method of a request line, for an answer to a request refused before it was read whole. */
function requestMethod(firstLine: string): string | null {
  const m = REQUEST_LINE_RE.exec(firstLine);
  return m ? m[1]! : null;
}

/** Best-effort header recovery for answering a message we refuse to parse fully. */
function recoverHeaders(text: string): HeaderField[] {
  const out: HeaderField[] = [];
  const end = text.search(/\r?\n\r?\n/);
  const head = end >= 0 ? text.slice(0, Math.min(end, 16 * 1024)) : text.slice(0, 16 * 1024);
  for (const line of head.split(/\r?\n/).slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0 && isToken(line.slice(0, colon).trim())) out.push(field(line.slice(0, colon).trim(), line.slice(colon + 1).trim()));
  }
  return out;
}

/** What String.prototype.trim removes from a header value that matters here: SP, HTAB, and stray CR/LF. */
function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 10 || c === 11 || c === 12;
}

function clip(s: string): string {
  const printable = s.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 40 ? `${printable.slice(0, 40)}...` : printable;
}


/**
 * A request this service serialised itself and kept (a relay, a request waiting on a held
 * call or a sleeping device): parsed as trusted, or null if it is somehow not a request.
 */
export function keptRequest(text: string): SipRequest | null {
  const r = parseMessage(text, { trusted: true });
  return r.ok && r.message.kind === 'request' ? r.message : null;
}

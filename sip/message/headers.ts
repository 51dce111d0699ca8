/**
 * Typed views of the headers the core reasons about. The parser validates every one of
 * them before a message is accepted (parser.ts), so on a parsed message these return
 * values, not nulls, for mandatory headers.
 */
import { getParam, isToken, memoize, parseParams, splitTopLevel, type Params } from './grammar.js';
import { headerKey, headerLines, header, withHeaders, type HeaderField, type SipMessage } from './message.js';
import { parseNameAddr, parseNameAddrList, tagOf, type NameAddr } from './name-addr.js';
import { isValidHost } from './uri.js';

/**
 * Parsed views are memoised per message object: messages are immutable (every change makes
 * a new object), so a view never goes stale, and each header is parsed once per message
 * however many rules look at it. They hang off the message itself under a symbol, not in
 * a WeakMap: a message lives for one step, and a WeakMap entry per message made every
 * garbage collection trace them. Not enumerable, so a spread copy (`{ ...req, uri }`)
 * starts without them and nothing derived from the original can follow it.
 */
const VIEWS = Symbol('views');
type Viewed = SipMessage & { [VIEWS]?: Map<string, unknown> };

function view<T>(msg: SipMessage, key: string, compute: () => T): T {
  const holder = msg as Viewed;
  let m = holder[VIEWS];
  if (!m) {
    m = new Map();
    Object.defineProperty(holder, VIEWS, { value: m, enumerable: false });
  }
  // No view is ever undefined (a view that finds nothing is null): one lookup decides.
  const seen = m.get(key);
  if (seen !== undefined) return seen as T;
  const v = compute();
  m.set(key, v);
  return v;
}

export interface Via {
  readonly protocol: string;
  readonly transport: string;
  readonly host: string;
  readonly port: number | null;
  readonly params: Params;
  readonly branch: string | null;
}

/** via-parm = sent-protocol LWS sent-by *( SEMI via-params ) (§20.42, §25.1) */
export function parseVia(text: string): Via | null {
  const m = /^\s*([A-Za-z0-9\-.!%*_+`'~]+)\s*\/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s*\/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s+([^;\s]+?)(?:\s*:\s*(\d{1,5}))?\s*(;.*)?$/s.exec(
    text,
  );
  if (!m) return null;
  const [, name, version, transport, host, portText, paramText] = m;
  if (!isValidHost(host!)) return null;
  const port = portText !== undefined ? Number(portText) : null;
  if (port !== null && port > 65535) return null;
  const params = parseParams(paramText ?? '');
  if (!params) return null;
  const branch = getParam(params, 'branch');
  if (branch === null) return null;
  return {
    protocol: `${name!.toUpperCase()}/${version}`,
    transport: transport!.toUpperCase(),
    host: host!,
    port,
    params,
    branch: branch ?? null,
  };
}

/** Every Via value, top first, across all Via lines. Null if any is malformed. */
export function vias(msg: SipMessage): Via[] | null {
  return view(msg, 'via', () => parseVias(msg));
}

function parseVias(msg: SipMessage): Via[] | null {
  const out: Via[] = [];
  for (const line of headerLines(msg, 'via')) {
    const list = parseViaLine(line);
    if (!list) return null;
    out.push(...list);
  }
  return out;
}

/** One Via header line: one or more comma-separated via-parms (§7.3.1). */
const parseViaLine = memoize((line: string): readonly Via[] | null => {
  const parts = splitTopLevel(line);
  if (!parts) return null;
  const out: Via[] = [];
  for (const p of parts) {
    const v = parseVia(p);
    if (!v) return null;
    out.push(v);
  }
  return out;
});

export function topVia(msg: SipMessage): Via | null {
  const all = vias(msg);
  return all && all.length > 0 ? all[0]! : null;
}

export interface CSeq {
  readonly seq: number;
  readonly method: string;
}

/** CSeq = 1*DIGIT LWS Method; the number is below 2**31 (§8.1.1.5, §20.16). */
export const parseCSeq: (text: string) => CSeq | null = memoize(parseCSeqText);

function parseCSeqText(text: string): CSeq | null {
  const m = /^\s*(\d{1,10})\s+(\S+)\s*$/.exec(text);
  if (!m || !isToken(m[2]!)) return null;
  const seq = Number(m[1]);
  if (seq >= 2 ** 31) return null;
  return { seq, method: m[2]! };
}

export function cseq(msg: SipMessage): CSeq | null {
  return view(msg, 'cseq', () => {
    const v = header(msg, 'cseq');
    return v === undefined ? null : parseCSeq(v);
  });
}

export function callId(msg: SipMessage): string {
  return (header(msg, 'call-id') ?? '').trim();
}

/** Call-ID = word [ "@" word ] (§25.1); any visible characters without spaces. */
export function isValidCallId(text: string): boolean {
  return /^[\x21-\x7e]+$/.test(text.trim());
}

export function from(msg: SipMessage): NameAddr | null {
  return view(msg, 'from', () => {
    const v = header(msg, 'from');
    return v === undefined ? null : parseNameAddr(v);
  });
}

export function to(msg: SipMessage): NameAddr | null {
  return view(msg, 'to', () => {
    const v = header(msg, 'to');
    return v === undefined ? null : parseNameAddr(v);
  });
}

export function fromTag(msg: SipMessage): string | null {
  const f = from(msg);
  return f ? tagOf(f) : null;
}

export function toTag(msg: SipMessage): string | null {
  const t = to(msg);
  return t ? tagOf(t) : null;
}

/** All values of a list-valued name-addr header (Contact, Route, Record-Route, Path). */
export function nameAddrs(msg: SipMessage, name: string): NameAddr[] | null {
  return view(msg, `list:${headerKey(name)}`, () => parseNameAddrs(msg, name));
}

function parseNameAddrs(msg: SipMessage, name: string): NameAddr[] | null {
  const out: NameAddr[] = [];
  for (const line of headerLines(msg, name)) {
    const list = parseNameAddrList(line);
    if (!list) return null;
    out.push(...list);
  }
  return out;
}

/** The Contact values; `'*'` for the wildcard used to remove all bindings (§10.2.2). */
export function contacts(msg: SipMessage): NameAddr[] | '*' | null {
  const lines = headerLines(msg, 'contact');
  if (lines.length === 1 && lines[0]!.trim() === '*') return '*';
  if (lines.some((l) => l.trim() === '*')) return null;
  return nameAddrs(msg, 'contact');
}

export function integerHeader(msg: SipMessage, name: string): number | null | undefined {
  const v = header(msg, name);
  if (v === undefined) return undefined;
  const m = /^\s*(\d{1,10})\s*$/.exec(v);
  return m ? Number(m[1]) : null;
}

/** Option tags of Require / Supported / Proxy-Require / Unsupported (§20.32). */
export function optionTags(msg: SipMessage, name: string): string[] {
  const out: string[] = [];
  for (const line of headerLines(msg, name)) {
    for (const t of line.split(',')) {
      const tag = t.trim();
      if (tag !== '') out.push(tag.toLowerCase());
    }
  }
  return out;
}

/**
 * Removes the first value of a list-valued header (the top Via of a response, the top
 * Route a proxy consumed, §16.4, §16.7 step 3), keeping the rest of that line.
 */
export function removeFirstValue<T extends SipMessage>(msg: T, name: string): T {
  const key = headerKey(name);
  const idx = msg.headers.findIndex((h) => h.key === key);
  if (idx < 0) return msg;
  const h = msg.headers[idx]!;
  const parts = splitTopLevel(h.value) ?? [h.value];
  const next: HeaderField[] = [...msg.headers];
  if (parts.length <= 1) next.splice(idx, 1);
  else next[idx] = { ...h, value: parts.slice(1).join(', ') };
  return withHeaders(msg, next);
}

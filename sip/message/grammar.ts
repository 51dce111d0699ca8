/**
 * Lexical helpers shared by the header parsers (RFC 3261 §25.1).
 *
 * Everything here is total: malformed input yields `null`, never an exception.
 */

/** token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") (§25.1) */
const TOKEN_RE = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

export function isToken(s: string): boolean {
  return TOKEN_RE.test(s);
}

export function isWhitespace(c: string | undefined): boolean {
  return c === ' ' || c === '\t';
}

/**
 * Reads a quoted-string starting at `start` (which must be a DQUOTE) and returns its
 * unescaped content and the index just past the closing quote (§25.1 quoted-pair).
 */
export function readQuoted(s: string, start: number): { value: string; end: number } | null {
  if (s[start] !== '"') return null;
  // Most quoted strings hold no quoted-pair: one slice, not a string built char by char.
  // Without a backslash before it, the first DQUOTE is the closing one. The search for a
  // backslash stays within the quoted string: a line of many short quoted strings must
  // not cost a scan to its end for each of them.
  const close = s.indexOf('"', start + 1);
  if (close >= 0) {
    const value = s.slice(start + 1, close);
    if (!value.includes('\\')) return { value, end: close + 1 };
  }
  let out = '';
  for (let i = start + 1; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      if (i + 1 >= s.length) return null;
      out += s[i + 1];
      i++;
    } else if (c === '"') {
      return { value: out, end: i + 1 };
    } else {
      out += c;
    }
  }
  return null;
}

/** Quotes a value for use as a quoted-string, escaping `"` and `\` (§25.1). */
export function quote(value: string): string {
  return `"${value.replace(/(["\\])/g, '\\$1')}"`;
}

/**
 * Splits a header value at top-level commas: commas inside quoted strings or angle
 * brackets do not separate values (§7.3.1). Returns null on an unterminated quote or bracket.
 */
export function splitTopLevel(value: string, sep = ','): string[] | null {
  const parts: string[] = [];
  let depth = 0;
  let inQuote = false;
  let startIdx = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (inQuote) {
      if (c === '\\') i++;
      else if (c === '"') inQuote = false;
      continue;
    }
    if (c === '"') inQuote = true;
    else if (c === '<') depth++;
    else if (c === '>') {
      if (depth === 0) return null;
      depth--;
    } else if (c === sep && depth === 0) {
      parts.push(value.slice(startIdx, i).trim());
      startIdx = i + 1;
    }
  }
  if (inQuote || depth !== 0) return null;
  parts.push(value.slice(startIdx).trim());
  return parts;
}

/** Header or URI parameters, keys lower-cased, in order of appearance. `null` = flag without value. */
export type Params = ReadonlyArray<readonly [string, string | null]>;

export function getParam(params: Params, name: string): string | null | undefined {
  const key = name.toLowerCase();
  for (const [k, v] of params) if (k === key) return v;
  return undefined;
}

export function hasParam(params: Params, name: string): boolean {
  return getParam(params, name) !== undefined;
}

/**
 * Parses `;name[=value]` pairs (generic-param, §25.1). Values may be tokens, hosts
 * (including bracketed IPv6 references) or quoted strings; quoted values are returned
 * unescaped. Returns null when the text is not a parameter list.
 */
export function parseParams(text: string): Array<[string, string | null]> | null {
  const out: Array<[string, string | null]> = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && isWhitespace(text[i])) i++;
    if (i >= n) break;
    if (text[i] !== ';') return null;
    i++;
    while (i < n && isWhitespace(text[i])) i++;
    let j = i;
    while (j < n && text[j] !== '=' && text[j] !== ';' && !isWhitespace(text[j])) j++;
    const name = text.slice(i, j);
    if (!isToken(name)) return null;
    i = j;
    while (i < n && isWhitespace(text[i])) i++;
    if (text[i] === '=') {
      i++;
      while (i < n && isWhitespace(text[i])) i++;
      if (text[i] === '"') {
        const q = readQuoted(text, i);
        if (!q) return null;
        out.push([name.toLowerCase(), q.value]);
        i = q.end;
      } else {
        j = i;
        while (j < n && text[j] !== ';' && !isWhitespace(text[j])) j++;
        const value = text.slice(i, j);
        if (value === '' || !/^[\x21-\x7e]+$/.test(value) || value.includes('"')) return null;
        out.push([name.toLowerCase(), value]);
        i = j;
      }
    } else {
      out.push([name.toLowerCase(), null]);
    }
  }
  return out;
}

/** Serializes parameters back to `;k=v` form, quoting values that are not tokens or hosts. */
export function formatParams(params: Params): string {
  let s = '';
  for (const [k, v] of params) {
    if (v === null) s += `;${k}`;
    else if (/^[A-Za-z0-9\-.!%*_+`'~:[\]]+$/.test(v)) s += `;${k}=${v}`;
    else s += `;${k}=${quote(v)}`;
  }
  return s;
}

/**
 * A copy of `s` that shares no memory with the text it was cut from. V8 makes a substring
 * of 13 or more characters a view on its parent (a "sliced string"), and a concatenation
 * a pair of pointers to its parts: a Call-ID cut from an INVITE keeps the whole INVITE,
 * SDP and all, alive for as long as anything holds the Call-ID. Records the state keeps
 * for seconds or hours (dialogs, forks, bindings) own their strings (step.ts). Shorter
 * strings are always copies already. On any engine the result equals `s`.
 */
export function own(s: string): string {
  // Slicing a concatenation flattens it into a new string first: the result is a view on
  // that private copy (one character longer), not on the message.
  return s.length < 13 ? s : (s + ' ').slice(0, -1);
}

/**
 * A copy of the flat record `next` whose string fields are owned (`own`). Where `prev`
 * (the record `next` replaces) holds an equal string in the same field, that one is
 * reused, already owned, so an update copies only what changed; `prev` itself comes back
 * unchanged. Fields holding arrays or objects are left as they are.
 */
export function ownFields<T extends object>(next: T, prev?: T): T {
  if (next === prev) return next;
  const out = { ...next } as Record<string, unknown>;
  const before = prev as Record<string, unknown> | undefined;
  for (const k in out) {
    const v = out[k];
    if (typeof v === 'string' && v.length >= 13) {
      const p = before?.[k];
      out[k] = p === v ? p : own(v);
    }
  }
  return out as T;
}

/**
 * Memoises a pure parser of header text. The same values come back again and again: a
 * call's From, To and Contact appear in every message of its dialog, a UA's Via in every
 * response to its request, and each message is read by two users' objects. Parsed values
 * are immutable, so one result can serve every message that carries the same text.
 * Bounded: two generations of `size` entries each, the older dropped when the younger
 * fills, so memory stays flat whatever a peer sends. The result is still a function of
 * the text alone: the core stays pure from the outside.
 */
export function memoize<T>(parse: (text: string) => T, size = 2048): (text: string) => T {
  let young = new Map<string, T>();
  let old = new Map<string, T>();
  return (text) => {
    let v = young.get(text);
    if (v !== undefined) return v;
    v = old.get(text);
    if (v === undefined) v = parse(text);
    if (young.size >= size) {
      old = young;
      young = new Map();
    }
    young.set(text, v);
    return v;
  };
}

const NON_ASCII = /[^\x00-\x7f]/;

/** UTF-8 byte length of a string, without TextEncoder (the core uses no runtime APIs). */
export function utf8Length(s: string): number {
  // A body is measured where it is validated and again where it is serialised: the same string.
  if (s === lastMeasured) return lastLength;
  // Most SIP and SDP text is ASCII: one native scan decides that.
  const n = NON_ASCII.test(s) ? countUtf8(s) : s.length;
  if (s.length > 256) {
    lastMeasured = s;
    lastLength = n;
  }
  return n;
}

let lastMeasured = '';
let lastLength = 0;

function countUtf8(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** Encodes a string as UTF-8 bytes (used by the hash functions). */
export function utf8Encode(s: string): Uint8Array {
  const out = new Uint8Array(utf8Length(s));
  let p = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c < 0x80) out[p++] = c;
    else if (c < 0x800) {
      out[p++] = 0xc0 | (c >> 6);
      out[p++] = 0x80 | (c & 0x3f);
    } else if (c < 0x10000) {
      out[p++] = 0xe0 | (c >> 12);
      out[p++] = 0x80 | ((c >> 6) & 0x3f);
      out[p++] = 0x80 | (c & 0x3f);
    } else {
      out[p++] = 0xf0 | (c >> 18);
      out[p++] = 0x80 | ((c >> 12) & 0x3f);
      out[p++] = 0x80 | ((c >> 6) & 0x3f);
      out[p++] = 0x80 | (c & 0x3f);
    }
  }
  return out;
}

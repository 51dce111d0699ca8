/**
 * name-addr / addr-spec values with header parameters: From, To, Contact, Route,
 * Record-Route, Refer-To (RFC 3261 §20.10, §25.1).
 */
import { getParam, isToken, isWhitespace, memoize, parseParams, readQuoted, splitTopLevel, type Params } from './grammar.js';
import { parseUri, type Uri } from './uri.js';

export interface NameAddr {
  readonly displayName: string | null;
  /** The URI text exactly as written between the angle brackets (or the addr-spec). */
  readonly uriText: string;
  readonly uri: Uri;
  /** Header parameters after the URI (tag, expires, +sip.instance, ...). */
  readonly params: Params;
}

/**
 * Parses one name-addr or addr-spec. In the addr-spec form everything after the first
 * `;` belongs to the header, not the URI (§20.10).
 */
export const parseNameAddr: (text: string) => NameAddr | null = memoize(parseNameAddrText);

function parseNameAddrText(text: string): NameAddr | null {
  const s = text.trim();
  if (s === '') return null;
  let i = 0;
  let displayName: string | null = null;
  let uriText: string;
  let rest: string;
  if (s[0] === '"') {
    const q = readQuoted(s, 0);
    if (!q) return null;
    displayName = q.value;
    i = q.end;
    while (isWhitespace(s[i])) i++;
    if (s[i] !== '<') return null;
  }
  const lt = s.indexOf('<', i);
  if (lt >= 0 && (displayName !== null || !/[;,]/.test(s.slice(0, lt)))) {
    if (displayName === null) {
      const name = s.slice(0, lt).trim();
      if (name !== '') {
        // display-name = *(token LWS) — a sequence of tokens (§25.1)
        if (!name.split(/[ \t]+/).every(isToken)) return null;
        displayName = name;
      }
    }
    const gt = s.indexOf('>', lt);
    if (gt < 0) return null;
    uriText = s.slice(lt + 1, gt);
    rest = s.slice(gt + 1);
  } else {
    const semi = s.indexOf(';');
    uriText = semi >= 0 ? s.slice(0, semi) : s;
    rest = semi >= 0 ? s.slice(semi) : '';
    if (/[\s<>]/.test(uriText.trim())) return null;
    uriText = uriText.trim();
  }
  const uri = parseUri(uriText);
  if (!uri) return null;
  const params = parseParams(rest);
  if (!params) return null;
  return { displayName, uriText, uri, params };
}

/** Parses a comma-separated list of name-addrs (Contact, Route, Record-Route). */
export const parseNameAddrList: (value: string) => readonly NameAddr[] | null = memoize(parseNameAddrListText);

function parseNameAddrListText(value: string): readonly NameAddr[] | null {
  const parts = splitTopLevel(value);
  if (!parts) return null;
  const out: NameAddr[] = [];
  for (const p of parts) {
    if (p === '') return null;
    const na = parseNameAddr(p);
    if (!na) return null;
    out.push(na);
  }
  return out;
}

export function tagOf(na: NameAddr): string | null {
  const t = getParam(na.params, 'tag');
  return typeof t === 'string' ? t : null;
}

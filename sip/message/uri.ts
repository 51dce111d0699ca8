/**
 * SIP, SIPS and tel URIs (RFC 3261 §19.1, §25.1; RFC 3966).
 */
import { formatParams, memoize, parseParams, type Params } from './grammar.js';

export interface SipUri {
  readonly scheme: 'sip' | 'sips';
  /** User part, still %-escaped as received (§19.1.2). */
  readonly user: string | null;
  readonly password: string | null;
  /** Host as written; IPv6 references keep their brackets. */
  readonly host: string;
  readonly port: number | null;
  readonly params: Params;
  /** The `?hname=hvalue&...` part without the `?`, or null. */
  readonly headers: string | null;
}

export interface TelUri {
  readonly scheme: 'tel';
  readonly number: string;
  readonly params: Params;
}

/** Any other absoluteURI (§25.1): kept opaque, recognised only by its scheme. */
export interface OtherUri {
  readonly scheme: string;
  readonly opaque: string;
}

export type Uri = SipUri | TelUri | OtherUri;

const SCHEME_RE = /^([A-Za-z][A-Za-z0-9+\-.]*):/;
/** user = 1*( unreserved / escaped / user-unreserved ) (§25.1) */
const USER_RE = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+$/;
const PASSWORD_RE = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,]|%[0-9A-Fa-f]{2})*$/;
const HOSTNAME_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.?$/;
const IPV4_RE = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const IPV6_RE = /^\[[0-9A-Fa-f:.]+\]$/;
const TEL_RE = /^\+?[0-9A-Fa-f*#\-.()pw]+$/;
const HEADERS_RE = /^(?:[A-Za-z0-9\-_.!~*'()[\]/?:+$=&]|%[0-9A-Fa-f]{2})*$/;

export function isSipUri(uri: Uri): uri is SipUri {
  return uri.scheme === 'sip' || uri.scheme === 'sips';
}

export function isTelUri(uri: Uri): uri is TelUri {
  return uri.scheme === 'tel';
}

export function isValidHost(host: string): boolean {
  if (IPV6_RE.test(host)) return isIpv6(host.slice(1, -1));
  if (IPV4_RE.test(host)) return host.split('.').every((o) => Number(o) <= 255);
  return HOSTNAME_RE.test(host) && host.length <= 255;
}

function isIpv6(s: string): boolean {
  const dbl = s.split('::');
  if (dbl.length > 2) return false;
  const groups = s.split(':').filter((g) => g !== '');
  let max = 8;
  if (groups.length > 0 && groups[groups.length - 1]!.includes('.')) {
    if (!IPV4_RE.test(groups[groups.length - 1]!)) return false;
    groups.pop();
    max = 6;
  }
  if (!groups.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return false;
  return dbl.length === 2 ? groups.length < max : groups.length === max;
}

/** Parses a URI; returns null when it is not a well-formed absoluteURI. */
export const parseUri: (text: string) => Uri | null = memoize(parseUriText);

function parseUriText(text: string): Uri | null {
  const m = SCHEME_RE.exec(text);
  if (!m) return null;
  const scheme = m[1]!.toLowerCase();
  const rest = text.slice(m[0].length);
  if (scheme === 'sip' || scheme === 'sips') return parseSip(scheme, rest);
  if (scheme === 'tel') return parseTel(rest);
  if (rest === '' || /[\s<>"]/.test(rest)) return null;
  return { scheme, opaque: rest };
}

function parseSip(scheme: 'sip' | 'sips', rest: string): SipUri | null {
  let user: string | null = null;
  let password: string | null = null;
  const at = rest.indexOf('@');
  let hostPart = rest;
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    hostPart = rest.slice(at + 1);
    const colon = userinfo.indexOf(':');
    user = colon >= 0 ? userinfo.slice(0, colon) : userinfo;
    if (colon >= 0) {
      password = userinfo.slice(colon + 1);
      if (!PASSWORD_RE.test(password)) return null;
    }
    if (!USER_RE.test(user)) return null;
  }
  let headers: string | null = null;
  const q = hostPart.indexOf('?');
  if (q >= 0) {
    headers = hostPart.slice(q + 1);
    hostPart = hostPart.slice(0, q);
    if (!HEADERS_RE.test(headers)) return null;
  }
  let paramText = '';
  let hostport = hostPart;
  const semi = hostPart.indexOf(';');
  if (semi >= 0) {
    paramText = hostPart.slice(semi);
    hostport = hostPart.slice(0, semi);
  }
  let host: string;
  let portText: string | null = null;
  if (hostport.startsWith('[')) {
    const close = hostport.indexOf(']');
    if (close < 0) return null;
    host = hostport.slice(0, close + 1);
    const after = hostport.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) return null;
      portText = after.slice(1);
    }
  } else {
    const colon = hostport.indexOf(':');
    host = colon >= 0 ? hostport.slice(0, colon) : hostport;
    if (colon >= 0) portText = hostport.slice(colon + 1);
  }
  if (!isValidHost(host)) return null;
  let port: number | null = null;
  if (portText !== null) {
    if (!/^\d{1,5}$/.test(portText)) return null;
    port = Number(portText);
    if (port > 65535) return null;
  }
  if (/\s/.test(paramText)) return null;
  const params = parseParams(paramText);
  if (!params) return null;
  return { scheme, user, password, host, port, params, headers };
}

function parseTel(rest: string): TelUri | null {
  const semi = rest.indexOf(';');
  const number = semi >= 0 ? rest.slice(0, semi) : rest;
  if (!TEL_RE.test(number)) return null;
  const params = parseParams(semi >= 0 ? rest.slice(semi) : '');
  if (!params) return null;
  return { scheme: 'tel', number, params };
}

export function formatUri(uri: Uri): string {
  if (isSipUri(uri)) {
    let s = `${uri.scheme}:`;
    if (uri.user !== null) s += uri.password !== null ? `${uri.user}:${uri.password}@` : `${uri.user}@`;
    s += uri.host;
    if (uri.port !== null) s += `:${uri.port}`;
    s += formatParams(uri.params);
    if (uri.headers !== null) s += `?${uri.headers}`;
    return s;
  }
  if (isTelUri(uri)) return `tel:${uri.number}${formatParams(uri.params)}`;
  return `${uri.scheme}:${(uri as OtherUri).opaque}`;
}

/** Decodes %-escapes in a user part; invalid escapes are left as they are. */
export function unescapeUser(user: string): string {
  return user.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/**
 * The user a URI addresses inside a tenant: the unescaped user part of a sip/sips URI,
 * or the number of a tel URI. Null for a URI that names no user (the service itself).
 */
export function addressedUser(uri: Uri): string | null {
  if (isSipUri(uri)) return uri.user === null || uri.user === '' ? null : unescapeUser(uri.user);
  if (isTelUri(uri)) return uri.number;
  return null;
}

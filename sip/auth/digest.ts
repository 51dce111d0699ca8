/**
 * HTTP Digest for SIP (RFC 3261 §22, RFC 7616, RFC 8760): challenges, credential parsing,
 * response verification and stateless nonces. Pure functions; the secret and the clock
 * are inputs.
 */
import { hmac, type _HMAC } from '@noble/hashes/hmac.js';
import { md5 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { memoize, quote, readQuoted, isWhitespace, utf8Encode } from '../message/grammar.js';
import { timingSafeEqual } from './timing-safe-equal.js';

export type DigestAlgorithm = 'MD5' | 'SHA-256';

/** Nonces older than this are answered with stale=true (RFC 7616 §3.3). */
export const NONCE_LIFETIME_MS = 5 * 60 * 1000;

/**
 * H(data) of RFC 7616 §3.4.1 as lowercase hex, over the UTF-8 bytes (§4). MD5 is the
 * `legacy` module of @noble/hashes: still what SIP clients answer, never a signature.
 */
export function digestHash(algorithm: DigestAlgorithm, text: string): string {
  return bytesToHex((algorithm === 'MD5' ? md5 : sha256)(utf8Encode(text)));
}

/** HMAC-SHA256 (RFC 2104) as lowercase hex; the key is a string's UTF-8 bytes, or bytes. */
export function hmacSha256Hex(key: string | Uint8Array, text: string): string {
  return bytesToHex(hmac(sha256, typeof key === 'string' ? utf8Encode(key) : key, utf8Encode(text)));
}

/** HA1 = H(username ":" realm ":" password) (RFC 7616 §3.4.2). Only HA1 values are stored. */
export function computeHa1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return digestHash(algorithm, `${username}:${realm}:${password}`);
}

export interface DigestCredentials {
  readonly username: string;
  readonly realm: string;
  readonly nonce: string;
  readonly uri: string;
  readonly response: string;
  readonly algorithm: DigestAlgorithm;
  readonly qop: string | null;
  readonly nc: string | null;
  readonly cnonce: string | null;
  readonly opaque: string | null;
}

/** Parses `Digest k=v, k="v", ...` from Authorization / Proxy-Authorization (§25.1). */
export function parseDigestCredentials(value: string): DigestCredentials | null {
  const m = /^\s*Digest\s+/i.exec(value);
  if (!m) return null;
  const fields = new Map<string, string>();
  let i = m[0].length;
  const s = value;
  while (i < s.length) {
    while (i < s.length && (isWhitespace(s[i]) || s[i] === ',')) i++;
    if (i >= s.length) break;
    const eq = s.indexOf('=', i);
    if (eq < 0) return null;
    const key = s.slice(i, eq).trim().toLowerCase();
    if (!/^[a-z0-9\-_]+$/.test(key)) return null;
    i = eq + 1;
    while (isWhitespace(s[i])) i++;
    let val: string;
    if (s[i] === '"') {
      const q = readQuoted(s, i);
      if (!q) return null;
      val = q.value;
      i = q.end;
    } else {
      let j = i;
      while (j < s.length && s[j] !== ',' && !isWhitespace(s[j])) j++;
      val = s.slice(i, j);
      i = j;
    }
    fields.set(key, val);
  }
  const algorithmText = (fields.get('algorithm') ?? 'MD5').toUpperCase();
  if (algorithmText !== 'MD5' && algorithmText !== 'SHA-256') return null;
  const username = fields.get('username');
  const realm = fields.get('realm');
  const nonce = fields.get('nonce');
  const uri = fields.get('uri');
  const response = fields.get('response');
  if (username === undefined || realm === undefined || nonce === undefined || uri === undefined || response === undefined) return null;
  return {
    username,
    realm,
    nonce,
    uri,
    response: response.toLowerCase(),
    algorithm: algorithmText,
    qop: fields.get('qop') ?? null,
    nc: fields.get('nc') ?? null,
    cnonce: fields.get('cnonce') ?? null,
    opaque: fields.get('opaque') ?? null,
  };
}

/** The expected `response` value for qop=auth or for no qop (RFC 7616 §3.4.1, RFC 2617 §3.2.2.1). */
export function expectedResponse(creds: DigestCredentials, method: string, ha1: string): string {
  const ha2 = digestHash(creds.algorithm, `${method}:${creds.uri}`);
  if (creds.qop === 'auth') {
    return digestHash(creds.algorithm, `${ha1}:${creds.nonce}:${creds.nc}:${creds.cnonce}:auth:${ha2}`);
  }
  return digestHash(creds.algorithm, `${ha1}:${creds.nonce}:${ha2}`);
}

export function verifyResponse(creds: DigestCredentials, method: string, ha1: string): boolean {
  if (creds.qop !== null && creds.qop !== 'auth') return false;
  if (creds.qop === 'auth' && (creds.nc === null || creds.cnonce === null || !/^[0-9a-fA-F]{8}$/.test(creds.nc))) return false;
  return timingSafeEqual(expectedResponse(creds, method, ha1), creds.response);
}

/**
 * Stateless nonce, bound to the socket it was issued on: issue time, a salt of its own,
 * and an HMAC over both and the connection id, so any instance holding the secret can
 * check it without storing anything (RFC 7616 §3.3 leaves the format to the server).
 *
 * Replay protection (§3.4.5, §5.11) comes from the binding instead of nonce counts: a
 * nonce answers only on the socket that was challenged, and that socket is never
 * challenged again once it has authenticated (auth/authenticate.ts), so a captured
 * Authorization is worth nothing on any other socket and nothing more on its own. The
 * salt keeps two challenges of the same second apart.
 */
export function createNonce(secret: string, now: number, salt: string, conn: string): string {
  const ts = Math.floor(now / 1000).toString(36);
  return `${ts}.${salt}.${nonceMac(secret, ts, salt, conn)}`;
}

/** The first 128 bits of the HMAC, in hex. */
function nonceMac(secret: string, ts: string, salt: string, conn: string): string {
  return bytesToHex(keyedHmac(secret).update(utf8Encode(`nonce:${ts}:${salt}:${conn}`)).digest()).slice(0, 32);
}

/**
 * The HMAC state after the key's inner and outer pads (RFC 2104 §2), kept per nonce secret:
 * a user object's secret never changes, so each nonce costs a copy of that state and the
 * hashing of its own text, not the key's two blocks again. Bounded like every memoised
 * view (a pure cache: losing it changes no answer); the state is copied, never written.
 */
type KeyedHmac = _HMAC<ReturnType<typeof sha256.create>>;
const keyedState = memoize((secret: string) => hmac.create(sha256, utf8Encode(secret)) as KeyedHmac, 1024);

function keyedHmac(secret: string): KeyedHmac {
  return keyedState(secret).clone();
}

export type NonceCheck = 'valid' | 'stale' | 'invalid';

const NONCE_RE = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{1,32})\.([0-9a-f]{32})$/;

export function checkNonce(secret: string, nonce: string, now: number, conn: string): NonceCheck {
  const m = NONCE_RE.exec(nonce);
  if (!m) return 'invalid';
  if (!timingSafeEqual(nonceMac(secret, m[1]!, m[2]!, conn), m[3]!)) return 'invalid';
  const issued = nonceIssuedAt(nonce);
  if (issued > now + 60_000) return 'invalid';
  return now - issued > NONCE_LIFETIME_MS ? 'stale' : 'valid';
}

function nonceIssuedAt(nonce: string): number {
  return parseInt(nonce.slice(0, nonce.indexOf('.')), 36) * 1000;
}

/**
 * Challenge header values, the preferred (SHA-256) first as RFC 7616 §3.7 asks. MD5 comes
 * last on purpose: JsSIP 3.x and SIP.js 0.21 keep only the last challenge of a response
 * and answer only MD5.
 */
export function challenges(realm: string, nonce: string, stale: boolean): string[] {
  const staleText = stale ? ', stale=true' : '';
  return (['SHA-256', 'MD5'] as const).map(
    (alg) => `Digest realm=${quote(realm)}, nonce=${quote(nonce)}, algorithm=${alg}, qop="auth"${staleText}`,
  );
}

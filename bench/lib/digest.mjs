/**
 * The client side of SIP digest (RFC 3261 §22.4, RFC 2617 §3.2.2): pick the MD5 challenge
 * (what JsSIP and SIP.js answer) and compute an Authorization value with qop=auth.
 */
import { createHash } from 'node:crypto';
import { token } from './sip-message.mjs';

const md5 = (s) => createHash('md5').update(s).digest('hex');

function params(challenge) {
  const out = {};
  for (const m of challenge.replace(/^\s*Digest\s+/i, '').matchAll(/([A-Za-z0-9_-]+)\s*=\s*(?:"([^"]*)"|([^,\s]*))/g)) {
    out[m[1].toLowerCase()] = m[2] ?? m[3];
  }
  return out;
}

/** The MD5 challenge among a 401's WWW-Authenticate values (no algorithm means MD5). */
export function md5Challenge(values) {
  for (const v of values) {
    const p = params(v);
    if ((p.algorithm ?? 'MD5').toUpperCase() === 'MD5') return p;
  }
  return null;
}

/** The Authorization header value answering `challenge` for `method uri`. */
export function authorization(challenge, { user, password, method, uri }) {
  const ha1 = md5(`${user}:${challenge.realm}:${password}`);
  const ha2 = md5(`${method}:${uri}`);
  const base = `Digest username="${user}", realm="${challenge.realm}", nonce="${challenge.nonce}", uri="${uri}", algorithm=MD5`;
  const opaque = challenge.opaque !== undefined ? `, opaque="${challenge.opaque}"` : '';
  if (!/\bauth\b/.test(challenge.qop ?? '')) {
    return `${base}, response="${md5(`${ha1}:${challenge.nonce}:${ha2}`)}"${opaque}`;
  }
  const nc = '00000001';
  const cnonce = token();
  const response = md5(`${ha1}:${challenge.nonce}:${nc}:${cnonce}:auth:${ha2}`);
  return `${base}, response="${response}", qop=auth, nc=${nc}, cnonce="${cnonce}"${opaque}`;
}

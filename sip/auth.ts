/**
 * Digest authentication of a socket's requests (RFC 3261 §22, RFC 7616). A socket that was
 * opened with a valid token, or that already passed a digest challenge, is bound to its
 * identity and is not challenged again.
 */
import type { ConnInfo } from './context.js';
import { challenges, checkNonce, createNonce, nonceExpiry, parseDigestCredentials, verifyResponse } from './digest.js';
import { field, header, type SipRequest } from './message.js';
import type { Step } from './step.js';

export type AuthOutcome = 'authenticated' | 'answered';

export function authenticate(s: Step, conn: ConnInfo, req: SipRequest): AuthOutcome {
  if (conn.auth !== null) return 'authenticated';
  const { credentials, policy, user, now, nonceSecret } = s.ctx;
  if (!credentials) {
    s.reply(conn.id, req, 404, { reason: 'User Not Found' });
    return 'answered';
  }
  if (!credentials.enabled) {
    s.reply(conn.id, req, 403, { reason: 'User Disabled' });
    return 'answered';
  }
  const isRegister = req.method === 'REGISTER';
  const raw = header(req, isRegister ? 'authorization' : 'proxy-authorization') ?? header(req, isRegister ? 'proxy-authorization' : 'authorization');
  const challenge = (stale: boolean): AuthOutcome => {
    const nonce = createNonce(nonceSecret, now);
    const name = isRegister ? 'WWW-Authenticate' : 'Proxy-Authenticate';
    s.reply(conn.id, req, isRegister ? 401 : 407, { headers: challenges(policy.domain, nonce, stale).map((v) => field(name, v)) });
    return 'answered';
  };
  if (raw === undefined) return challenge(false);

  const creds = parseDigestCredentials(raw);
  if (!creds) {
    s.reply(conn.id, req, 400, { reason: 'Malformed Authorization header' });
    return 'answered';
  }
  if (creds.realm !== policy.domain) return challenge(false);
  if (creds.username !== user) {
    s.reply(conn.id, req, 403, { reason: 'Digest username does not match the socket user' });
    return 'answered';
  }
  const nonceState = checkNonce(nonceSecret, creds.nonce, now);
  if (nonceState === 'invalid') return challenge(false);
  if (nonceState === 'stale') return challenge(true);
  // qop=auth is what we offer; without it a nonce count cannot protect against replay.
  if (creds.qop !== 'auth') return challenge(false);
  const ha1 = creds.algorithm === 'MD5' ? credentials.ha1Md5 : credentials.ha1Sha256;
  if (ha1 === null) {
    s.reply(conn.id, req, 403, { reason: 'No password set for this user; connect with a token' });
    return 'answered';
  }
  if (!verifyResponse(creds, req.method, ha1)) return challenge(false);

  // RFC 7616 §3.4.5: the nonce count must grow for each use of a nonce.
  const nc = parseInt(creds.nc!, 16);
  const live = s.state.nonces.filter((n) => n.expiresAt > now);
  const used = live.find((n) => n.nonce === creds.nonce);
  if (used && nc <= used.nc) return challenge(false);
  s.putNonces([...live.filter((n) => n.nonce !== creds.nonce), { nonce: creds.nonce, nc, expiresAt: nonceExpiry(creds.nonce) }]);
  s.effects.push({ type: 'authenticate', conn: conn.id });
  return 'authenticated';
}

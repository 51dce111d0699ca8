/**
 * Digest authentication of a socket's requests (RFC 3261 §22, RFC 7616). A socket that was
 * opened with a valid token, or that already passed a digest challenge, is bound to its
 * identity and is not challenged again.
 */
import { checkGuard, recordFailure, recordSuccess } from '../policy/auth-guard.js';
import type { ConnInfo } from '../io.js';
import { challenges, checkNonce, createNonce, parseDigestCredentials, verifyResponse } from './digest.js';
import { field, header, type SipRequest } from '../message/message.js';
import type { Step } from '../step.js';

export type AuthOutcome = 'authenticated' | 'answered';

/** The address a guess is counted against when the edge named none. */
const UNKNOWN_SOURCE = 'unknown';

export function authenticate(s: Step, conn: ConnInfo, req: SipRequest): AuthOutcome {
  if (conn.auth !== null) return 'authenticated';
  const { credentials, policy, user, now, nonceSecret } = s.ctx;
  if (!credentials) {
    s.reply(conn.id, req, 404, { reason: 'User Not Found' });
    return 'answered';
  }
  const isRegister = req.method === 'REGISTER';
  const raw = header(req, isRegister ? 'authorization' : 'proxy-authorization') ?? header(req, isRegister ? 'proxy-authorization' : 'authorization');
  const challenge = (stale: boolean): AuthOutcome => {
    const nonce = createNonce(nonceSecret, now, s.ctx.newId(), conn.id);
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
  // A locked-out address is refused before its answer is looked at, right or wrong.
  const source = conn.source ?? UNKNOWN_SOURCE;
  const verdict = checkGuard(s.state.guard, source, now, policy);
  if (verdict.locked) {
    s.reply(conn.id, req, 503, { reason: 'Too Many Failed Attempts', headers: [field('Retry-After', String(verdict.retryAfterSeconds))] });
    return 'answered';
  }
  const nonceState = checkNonce(nonceSecret, creds.nonce, now, conn.id);
  if (nonceState === 'invalid') return challenge(false);
  if (nonceState === 'stale') return challenge(true);
  // qop=auth is what we offer (RFC 7616 §3.3): the cnonce makes each answer the client's own.
  if (creds.qop !== 'auth') return challenge(false);
  // A disabled user, or one without a password, is answered exactly as a wrong password
  // is: nothing an unauthenticated client sees tells them apart (no password oracle).
  const ha1 = creds.algorithm === 'MD5' ? credentials.ha1Md5 : credentials.ha1Sha256;
  if (!credentials.enabled || ha1 === null || !verifyResponse(creds, req.method, ha1)) {
    s.putGuard(recordFailure(s.state.guard, source, now, policy));
    return challenge(false);
  }

  if (conn.mayAuthenticate === false) {
    s.reply(conn.id, req, 403, { reason: 'Too Many Sockets', headers: [field('Warning', `399 ${policy.domain} "at most ${policy.maxSockets} signed-in sockets per user"`)] });
    return 'answered';
  }
  s.putGuard(recordSuccess(s.state.guard, source, now));
  s.effects.push({ type: 'authenticate', conn: conn.id });
  return 'authenticated';
}

/**
 * The stand-in for a user who does not exist, or may not sign in (RFC 3261 §22 and
 * RFC 7616 §5.6 ask that a challenge not tell users apart). The socket is held by the
 * Worker and runs the same pure core as a user's object, with credentials no answer can
 * match, under the tenant's policy, so every request gets the answer a real user's
 * unauthenticated socket would get: OPTIONS 200, REGISTER 401, other requests 407, and a
 * wrong answer challenged again, then throttled like a guess at a real user. It keeps
 * the same caps and closes 30 s after it opened, as an unauthenticated socket does, and
 * it addresses no Durable Object: probing for users creates no storage.
 *
 * What it shares across sockets (open sockets per address, failed guesses per user) is
 * per isolate: on one machine exactly what the user's object would count, on Cloudflare
 * at least as permissive, never stricter. Both maps are bounded.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import type { StepContext, TenantPolicy } from '../sip/io.js';
import { EMPTY_GUARD, type AuthGuard } from '../sip/policy/auth-guard.js';
import { refusal, step } from '../sip/index.js';
import { takeToken, type Bucket } from '../sip/policy/rate-limit.js';
import { EMPTY_STATE, type UserState } from '../sip/state.js';
import { jsonError, randomToken } from '../durable-objects/shared/http.js';
import { UNAUTHENTICATED_TTL_MS, notUtf8 } from '../durable-objects/user/sockets.js';

const MAX_KEYS = 10_000;
/** Open stand-in sockets by tenant, user and client address. */
const open = new Map<string, number>();
/** Failed answers by tenant and user (sip/auth-guard.ts), as a user's object keeps them. */
const guards = new Map<string, AuthGuard>();

export function standInSocket(user: string, policy: TenantPolicy, ip: string): Response {
  const key = `${policy.tenant}/${user}/${ip}`;
  const who = `${policy.tenant}/${user}`;
  // The same refusal a user's object gives past its per-address cap (sockets.ts admit).
  if ((open.get(key) ?? 0) >= policy.maxPendingSocketsPerAddress) {
    return jsonError(429, 'too_many_pending_sockets', `this address already has ${policy.maxPendingSocketsPerAddress} sockets waiting to authenticate`);
  }
  if (open.size >= MAX_KEYS && !open.has(key)) open.delete(open.keys().next().value!);
  open.set(key, (open.get(key) ?? 0) + 1);

  const pair = new WebSocketPair();
  const ws = pair[1];
  ws.accept();
  const secret = randomToken(32);
  // Random "HA1s": no password hashes to them.
  const credentials = { ha1Md5: randomHex(32), ha1Sha256: randomHex(64), enabled: true };
  let state: UserState = EMPTY_STATE;
  let bucket: Bucket | undefined;
  let closed = false;
  const close = (code: number, reason: string) => {
    if (closed) return;
    closed = true;
    clearTimeout(timer);
    const left = (open.get(key) ?? 1) - 1;
    if (left > 0) open.set(key, left);
    else open.delete(key);
    try {
      ws.close(code, reason);
    } catch {
      // already closed
    }
  };
  const timer = setTimeout(() => close(1008, 'not authenticated within 30 s'), UNAUTHENTICATED_TTL_MS);
  ws.addEventListener('message', (e) => {
    if (closed) return;
    if (typeof e.data === 'string' && notUtf8(e.data)) return close(1007, 'text frame is not valid UTF-8');
    const text = typeof e.data === 'string' ? e.data : new TextDecoder().decode(e.data as ArrayBuffer);
    const now = Date.now();
    const taken = takeToken(bucket, now, policy.messagesPerSecond, policy.messageBurst);
    bucket = taken.bucket;
    if (!taken.allowed) {
      if (taken.abusive) close(1008, 'message rate limit exceeded');
      else {
        const answer = refusal(text, 503, { reason: 'Rate Limit Exceeded', retryAfter: taken.retryAfterSeconds, newId: () => randomToken(8) });
        if (answer) ws.send(answer);
      }
      return;
    }
    const ctx: StepContext = { now, user, policy, credentials, nonceSecret: secret, newId: () => randomToken(8) };
    try {
      const result = step({ ...state, guard: guards.get(who) ?? EMPTY_GUARD }, { type: 'socket-message', conn: { id: 'stand-in', auth: null, source: ip }, text }, ctx);
      state = result.state;
      if (result.state.guard !== EMPTY_GUARD || guards.has(who)) {
        guards.delete(who);
        if (guards.size >= MAX_KEYS) guards.delete(guards.keys().next().value!);
        guards.set(who, result.state.guard);
      }
      for (const effect of result.effects) if (effect.type === 'send') ws.send(effect.text);
    } catch (err) {
      console.error('switchboard: stand-in step failed', err instanceof Error ? err.message : err);
    }
  });
  ws.addEventListener('close', () => close(1000, 'closed'));
  return new Response(null, { status: 101, webSocket: pair[0], headers: { 'Sec-WebSocket-Protocol': 'sip' } });
}

function randomHex(chars: number): string {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(chars / 2)));
}

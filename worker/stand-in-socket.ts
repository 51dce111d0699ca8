/**
 * The stand-in for a user who does not exist, or may not sign in (RFC 3261 §22 and
 * RFC 7616 §5.6 ask that a challenge not tell users apart). The socket is held by the
 * Worker and runs the same pure core as a user's object, with credentials no answer can
 * match, so every request gets the answer a real user's unauthenticated socket would get:
 * OPTIONS 200, REGISTER 401, other requests 407, and a wrong-answer challenge again. It
 * closes 30 s after it opened, as an unauthenticated socket does, and it addresses no
 * Durable Object: probing for users creates no storage.
 */
import { DEFAULT_LIMITS, type StepContext } from '../sip/context.js';
import { refusal, step } from '../sip/engine.js';
import { takeToken, type Bucket } from '../sip/rate-limit.js';
import { EMPTY_STATE, type UserState } from '../sip/state.js';
import { randomToken } from '../durable-objects/shared/http.js';
import { UNAUTHENTICATED_TTL_MS } from '../durable-objects/user/sockets.js';

export function standInSocket(tenant: string, user: string, domain: string): Response {
  const pair = new WebSocketPair();
  const ws = pair[1];
  ws.accept();
  const secret = randomToken(32);
  // Random "HA1s": no password hashes to them.
  const credentials = { ha1Md5: randomHex(32), ha1Sha256: randomHex(64), enabled: true };
  const policy = { ...DEFAULT_LIMITS, tenant, domain };
  let state: UserState = EMPTY_STATE;
  let bucket: Bucket | undefined;
  const timer = setTimeout(() => ws.close(1008, 'not authenticated within 30 s'), UNAUTHENTICATED_TTL_MS);
  ws.addEventListener('message', (e) => {
    const text = typeof e.data === 'string' ? e.data : new TextDecoder().decode(e.data as ArrayBuffer);
    const now = Date.now();
    const taken = takeToken(bucket, now, policy.messagesPerSecond, policy.messageBurst);
    bucket = taken.bucket;
    if (!taken.allowed) {
      if (taken.abusive) ws.close(1008, 'message rate limit exceeded');
      else {
        const answer = refusal(text, 503, { reason: 'Rate Limit Exceeded', retryAfter: taken.retryAfterSeconds, newId: () => randomToken(8) });
        if (answer) ws.send(answer);
      }
      return;
    }
    const ctx: StepContext = { now, user, policy, credentials, nonceSecret: secret, newId: () => randomToken(8) };
    try {
      const result = step(state, { type: 'socket-message', conn: { id: 'stand-in', auth: null }, text }, ctx);
      state = result.state;
      for (const effect of result.effects) if (effect.type === 'send') ws.send(effect.text);
    } catch (err) {
      console.error('switchboard: stand-in step failed', err instanceof Error ? err.message : err);
    }
  });
  ws.addEventListener('close', () => clearTimeout(timer));
  return new Response(null, { status: 101, webSocket: pair[0], headers: { 'Sec-WebSocket-Protocol': 'sip' } });
}

function randomHex(chars: number): string {
  const b = new Uint8Array(chars / 2);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

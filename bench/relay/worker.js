/**
 * The bare relay: the runtime's own limit for what Switchboard does. One Durable Object
 * per user (SQLite-backed class, hibernatable WebSockets, the same CRLF auto-response),
 * and a frame from a user's socket goes by JS RPC to the peer's object and out on the
 * peer's socket. No SIP logic: the pairing is given in the URL
 * (`/relay/{user}?peer={peer}`), and REGISTER gets canned answers (401 until the request
 * carries Authorization, then 200) so that registration costs the same round trips.
 *
 * It carries the product's meter (durable-objects/shared/meter.ts, on with
 * SWITCHBOARD_METER=1), so it is bundled with it by esbuild (targets/relay.mjs).
 */
import { DurableObject } from 'cloudflare:workers';
import { metered } from '../../durable-objects/shared/meter.ts';

const CHALLENGE = [
  'SIP/2.0 401 Unauthorized',
  'Via: SIP/2.0/WSS relay.invalid;branch=z9hG4bK-relay',
  'From: <sip:relay@relay.invalid>;tag=relay',
  'To: <sip:relay@relay.invalid>;tag=relay',
  'Call-ID: relay',
  'CSeq: 1 REGISTER',
  'WWW-Authenticate: Digest realm="relay.invalid", nonce="bHd5cmVsYXkubm9uY2UuZml4ZWQ", algorithm=SHA-256, qop="auth"',
  'WWW-Authenticate: Digest realm="relay.invalid", nonce="bHd5cmVsYXkubm9uY2UuZml4ZWQ", algorithm=MD5, qop="auth"',
  'Content-Length: 0',
  '',
  '',
].join('\r\n');

const REGISTERED = [
  'SIP/2.0 200 OK',
  'Via: SIP/2.0/WSS relay.invalid;branch=z9hG4bK-relay',
  'From: <sip:relay@relay.invalid>;tag=relay',
  'To: <sip:relay@relay.invalid>;tag=relay',
  'Call-ID: relay',
  'CSeq: 2 REGISTER',
  'Contact: <sip:relay@relay.invalid;transport=ws>;expires=600',
  'Supported: outbound, path, gruu',
  'Content-Length: 0',
  '',
  '',
].join('\r\n');

class RelayUser extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('\r\n\r\n', '\r\n'));
  }

  async fetch(request) {
    const peer = new URL(request.url).searchParams.get('peer') ?? '';
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    pair[1].serializeAttachment({ peer });
    return new Response(null, { status: 101, webSocket: pair[0], headers: { 'Sec-WebSocket-Protocol': 'sip' } });
  }

  async webSocketMessage(ws, message) {
    const text = typeof message === 'string' ? message : new TextDecoder().decode(message);
    if (text.startsWith('REGISTER ')) {
      ws.send(text.includes('\r\nAuthorization:') ? REGISTERED : CHALLENGE);
      return;
    }
    const { peer } = ws.deserializeAttachment();
    await this.env.RELAY.get(this.env.RELAY.idFromName(peer)).deliver(text);
  }

  /** A frame from the peer's object, out on this user's socket(s). */
  async deliver(text) {
    for (const ws of this.ctx.getWebSockets()) ws.send(text);
  }

  async webSocketClose(ws, code, reason) {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // already closed
    }
  }
}

const MeteredRelayUser = metered(RelayUser, ['deliver']);
export { MeteredRelayUser as RelayUser };

export default {
  async fetch(request, env) {
    const m = /^\/relay\/([A-Za-z0-9_.+-]{1,64})$/.exec(new URL(request.url).pathname);
    if (!m) return new Response('not found\n', { status: 404 });
    if (request.headers.get('Upgrade')?.toLowerCase() !== 'websocket') return new Response('upgrade required\n', { status: 426 });
    return env.RELAY.get(env.RELAY.idFromName(m[1])).fetch(request);
  },
};

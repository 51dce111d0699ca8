/**
 * The bare relay: the runtime's own limit for what Switchboard does. One Durable Object
 * per user (SQLite-backed class, hibernatable WebSockets, the same CRLF auto-response),
 * and a frame from a user's socket goes by JS RPC to the peer's object and out on the
 * peer's socket. No SIP logic: the pairing is given in the URL
 * (`/relay/{user}?peer={peer}`), and REGISTER gets canned answers (401 until the request
 * carries Authorization, then 200) so that registration costs the same round trips.
 *
 * The durable relay (`RELAY_DURABLE=1`, bench target `durable`) is the same relay plus
 * the storage a durable call needs, as the product writes it: each object writes the
 * call's row in the event that forwards the 200 to the initial INVITE (the output gate
 * holds the 200 until it is committed) and completes it in the event that forwards the
 * 200 to the BYE: four rows per call, both objects. Still no SIP logic: it looks only at
 * the status line, the CSeq method and the Call-ID. The gap between the two relays is
 * what durability costs on this runtime; the gap from the durable relay to the product
 * is what the SIP core costs.
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

/** A header's value, found without parsing the message (the relays know no SIP). */
function headerValue(text, name) {
  const at = text.indexOf(`\r\n${name}:`);
  if (at < 0) return null;
  const end = text.indexOf('\r\n', at + 2);
  return text.slice(at + name.length + 3, end < 0 ? text.length : end).trim();
}

class RelayUser extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('\r\n\r\n', '\r\n'));
    this.durable = env.RELAY_DURABLE === '1';
    /** Calls whose row this instance wrote: a re-INVITE's 200 writes nothing. */
    this.answered = new Set();
    this.schema = false;
  }

  /** The durable relay's rows: one when the call is answered, completed when it ends. */
  record(text) {
    if (!this.durable || !text.startsWith('SIP/2.0 200 ')) return;
    const method = headerValue(text, 'CSeq')?.split(/\s+/)[1];
    if (method !== 'INVITE' && method !== 'BYE') return;
    const callId = headerValue(text, 'Call-ID') ?? '';
    const sql = this.ctx.storage.sql;
    if (!this.schema) {
      sql.exec('CREATE TABLE IF NOT EXISTS calls (call_id TEXT PRIMARY KEY, answered_at INTEGER NOT NULL, ended_at INTEGER) WITHOUT ROWID');
      this.schema = true;
    }
    if (method === 'INVITE') {
      if (this.answered.has(callId)) return;
      this.answered.add(callId);
      sql.exec('INSERT OR IGNORE INTO calls (call_id, answered_at) VALUES (?, ?)', callId, Date.now());
    } else {
      this.answered.delete(callId);
      sql.exec('UPDATE calls SET ended_at = ? WHERE call_id = ?', Date.now(), callId);
    }
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
    this.record(text);
    const { peer } = ws.deserializeAttachment();
    await this.env.RELAY.get(this.env.RELAY.idFromName(peer)).deliver(text);
  }

  /** A frame from the peer's object, out on this user's socket(s). */
  async deliver(text) {
    this.record(text);
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

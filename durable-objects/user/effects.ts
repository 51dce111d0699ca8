/**
 * Carries out what a step of the core asks for: frames on this user's sockets, requests
 * and responses handed to other users' objects by RPC, and a socket's sign-in recorded in
 * its attachment. A relay that cannot be delivered becomes an input of the core again
 * (`relay-failed`), which answers it as the peer would have: the adapter builds no SIP.
 */
import type { Effect, Input } from '../../sip/io.js';
import type { MediaSummary } from '../../sip/policy/sdp.js';
import type { PushBinding } from '../../sip/state.js';
import type { Peers } from './peers.js';
import type { SocketBook } from './sockets.js';

export interface EffectHost {
  readonly book: SocketBook;
  readonly peers: Peers;
  /** This user's tenant and name. */
  identity(): { tenant: string; user: string };
  /** Runs another input through the core (a call to oneself, a relay that failed). */
  run(input: Input): Promise<void>;
  /** A socket signed in by digest: its 30 s no longer count. */
  signedIn(): void;
  /** Sends a wake-up push through the device's provider; resolves true if the provider says the device is gone. */
  push(binding: PushBinding, payload: string, ttlSeconds: number): Promise<boolean>;
}

export async function perform(host: EffectHost, effects: readonly Effect[]): Promise<void> {
  const pending: Array<Promise<void>> = [];
  for (const e of effects) {
    switch (e.type) {
      case 'send':
        sendTo(host.book, e.conn, e.text);
        break;
      case 'authenticate':
        {
          const ws = host.book.socket(e.conn);
          if (ws) host.book.update(ws, { ...host.book.attachment(ws), a: 'digest' });
        }
        host.signedIn();
        break;
      case 'relay-request':
      case 'relay-response':
        // Calls on one stub are delivered in order (E-order), so a CANCEL never overtakes its INVITE.
        pending.push(relay(host, e.type, e.to, e.text, e.media ?? null, e.type === 'relay-request' && e.initial === true));
        break;
      case 'push':
        pending.push(wake(host, e.binding, e.payload, e.ttlSeconds));
        break;
    }
  }
  await Promise.all(pending);
}

export function sendTo(book: SocketBook, conn: string, text: string): void {
  const ws = book.socket(conn);
  if (!ws) return;
  try {
    ws.send(text);
  } catch (err) {
    console.warn('switchboard: send failed', err instanceof Error ? err.message : err);
  }
}

async function relay(host: EffectHost, kind: 'relay-request' | 'relay-response', to: string, text: string, media: MediaSummary | null, initial: boolean): Promise<void> {
  const { tenant, user: me } = host.identity();
  const failed = (status: number, reason: string) => (kind === 'relay-request' ? host.run({ type: 'relay-failed', text, status, reason }) : Promise.resolve());
  try {
    if (to === me) {
      // A call to oneself (another device): no RPC to our own object.
      await host.run({ type: kind === 'relay-request' ? 'peer-request' : 'peer-response', from: me, text, media });
      return;
    }
    // An object addressed is an object created: a user the tenant does not have is
    // answered here, and nothing is stored for it anywhere (RFC 3261 §16.6, 404). Only a
    // request out of any dialog can name a new peer: responses and in-dialog requests go
    // to one that has already spoken to us, and ask the tenant nothing.
    if (initial && !(await host.peers.exists(to))) return failed(404, 'User Not Found');
    const stub = host.peers.stub(to);
    if (kind === 'relay-request') await stub.relayRequest({ tenant, user: to }, me, text, media);
    else await stub.relayResponse({ tenant, user: to }, me, text, media);
  } catch (err) {
    console.error('switchboard: relay failed', kind, to, err instanceof Error ? err.message : err);
    host.peers.drop(to);
    await failed(503, 'Peer Unreachable');
  }
}

/** One wake-up push; a device its provider no longer knows is forgotten (the core's `push-gone`). */
async function wake(host: EffectHost, binding: PushBinding, payload: string, ttlSeconds: number): Promise<void> {
  try {
    if (await host.push(binding, payload, ttlSeconds)) await host.run({ type: 'push-gone', id: binding.id });
  } catch (err) {
    // A provider that fails leaves the request waiting out its time, then 480, as for a device that did not wake.
    console.error('switchboard: push failed', binding.provider, err instanceof Error ? err.message : err);
  }
}

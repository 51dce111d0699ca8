/**
 * The real `jssip` package (3.13.8) in Node, with `ws` as its WebSocket, against the real
 * product under `wrangler dev`: two users register with digest (one with its password, one
 * with a precomputed HA1) and exchange a MESSAGE.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import JsSIP from 'jssip';
import type { UAConfiguration } from 'jssip/lib/UA';
import { createHash } from 'node:crypto';
import { provision, startDevServer, type DevServer } from '../support/dev-server.js';

// JsSIP opens `new WebSocket(url, 'sip')`: give Node the `ws` implementation.
(globalThis as unknown as { WebSocket: unknown }).WebSocket = WebSocket;
JsSIP.debug.disable('JsSIP:*');

let server: DevServer;
let domain: string;

beforeAll(async () => {
  server = await startDevServer();
  ({ domain } = await provision(server, 'jssip', { alice: 'alice-secret-1', bob: 'bob-secret-22' }));
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

function startUa(user: string, auth: { password: string } | { ha1: string; realm: string }): Promise<JsSIP.UA> {
  const ua = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(`${server.wsBase}/sip/jssip/${user}`)],
    uri: `sip:${user}@${domain}`,
    register: true,
    ...auth,
  } as UAConfiguration);
  return new Promise((resolve, reject) => {
    ua.on('registered', () => resolve(ua));
    ua.on('registrationFailed', (e: { cause?: string }) => reject(new Error(`${user} registration failed: ${e.cause}`)));
    ua.start();
  });
}

describe('real JsSIP clients through wrangler dev', () => {
  it('register with a password and with an HA1, then exchange a MESSAGE', async () => {
    const alice = await startUa('alice', { password: 'alice-secret-1' });
    const ha1 = createHash('md5').update(`bob:${domain}:bob-secret-22`).digest('hex');
    const bob = await startUa('bob', { ha1, realm: domain });
    try {
      const received = new Promise<{ body: string; from: string }>((resolve) => {
        bob.on('newMessage', (e: { originator: string; request: { body: string; from: { uri: { user: string } } } }) => {
          if (e.originator === 'remote') resolve({ body: e.request.body, from: e.request.from.uri.user });
        });
      });
      const sent = new Promise<number>((resolve, reject) => {
        alice.sendMessage(`sip:bob@${domain}`, 'hello from alice', {
          eventHandlers: {
            succeeded: (e: { response: { status_code: number } }) => resolve(e.response.status_code),
            failed: (e: { cause?: string }) => reject(new Error(`MESSAGE failed: ${e.cause}`)),
          },
        });
      });
      expect(await received).toEqual({ body: 'hello from alice', from: 'alice' });
      expect(await sent).toBe(200);
      const user = await server.api('GET', '/v1/tenants/jssip/users/bob');
      expect(user.body.registrations[0].userAgent).toMatch(/JsSIP/);
    } finally {
      alice.stop();
      bob.stop();
    }
  }, 60_000);

  it('a wrong password fails registration', async () => {
    await expect(startUa('alice', { password: 'not-the-password' })).rejects.toThrow(/registration failed/);
  }, 60_000);
});

/**
 * Cloudflare Realtime TURN as the ICE provider, against a local stub of its
 * generate-ice-servers API (never the internet), through the real Worker under wrangler dev.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, provision, startDevServer, type DevServer } from '../support/dev-server.js';

interface Seen {
  path: string;
  auth: string | undefined;
  body: unknown;
}

let stub: Server;
let seen: Seen[] = [];
let failNext = false;
let server: DevServer;
let userToken: string;

beforeAll(async () => {
  const port = await freePort();
  stub = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      seen.push({ path: req.url ?? '', auth: req.headers.authorization, body: raw ? JSON.parse(raw) : null });
      if (failNext) {
        failNext = false;
        res.writeHead(500).end('{"error":"boom"}');
        return;
      }
      res.writeHead(201, { 'Content-Type': 'application/json' }).end(
        JSON.stringify({
          iceServers: [
            { urls: ['stun:stun.cloudflare.com:3478', 'stun:stun.cloudflare.com:53'] },
            {
              urls: [
                'turn:turn.cloudflare.com:3478?transport=udp',
                'turn:turn.cloudflare.com:53?transport=udp',
                'turn:turn.cloudflare.com:3478?transport=tcp',
                'turn:turn.cloudflare.com:80?transport=tcp',
                'turns:turn.cloudflare.com:5349?transport=tcp',
                'turns:turn.cloudflare.com:443?transport=tcp',
              ],
              username: 'stub-username',
              credential: 'stub-credential',
            },
          ],
        }),
      );
    });
  });
  await new Promise<void>((r) => stub.listen(port, '127.0.0.1', r));
  server = await startDevServer({
    vars: { TURN_KEY_ID: 'key-123', TURN_KEY_API_TOKEN: 'api-token-xyz', TURN_API_BASE: `http://127.0.0.1:${port}/v1/turn/keys` },
  });
  const { apiKey } = await provision(server, 'cfturn', { alice: 'alice-password' });
  userToken = (await server.api('POST', '/v1/tenants/cfturn/users/alice/tokens', {}, apiKey)).body.token;
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await new Promise((r) => stub?.close(r));
});

describe('Cloudflare Realtime TURN', () => {
  it('asks the API with the key and TTL, and drops URLs browsers cannot use (port 53)', async () => {
    seen = [];
    const before = Math.floor(Date.now() / 1000);
    const r = await server.api('GET', '/v1/tenants/cfturn/ice-servers', undefined, userToken);
    expect(r.status).toBe(200);
    expect(seen).toEqual([{ path: '/v1/turn/keys/key-123/credentials/generate-ice-servers', auth: 'Bearer api-token-xyz', body: { ttl: 3600 } }]);
    const urls = r.body.iceServers.flatMap((s: { urls: string[] }) => s.urls);
    expect(urls).not.toContain('stun:stun.cloudflare.com:53');
    expect(urls).not.toContain('turn:turn.cloudflare.com:53?transport=udp');
    expect(urls).toContain('turns:turn.cloudflare.com:443?transport=tcp');
    expect(r.body.iceServers[1]).toMatchObject({ username: 'stub-username', credential: 'stub-credential' });
    expect(r.body.expiresAt).toBeGreaterThanOrEqual(before + 3599);
  });

  it('an error from the API is an error at the endpoint (503) and in the logs', async () => {
    failNext = true;
    const r = await server.api('GET', '/v1/tenants/cfturn/ice-servers', undefined, userToken);
    expect(r.status).toBe(503);
    expect(r.body.error.message).toMatch(/Cloudflare TURN answered 500/);
    await new Promise((res) => setTimeout(res, 300));
    expect(server.logs()).toMatch(/ICE configuration error: Cloudflare TURN answered 500/);
  });
});

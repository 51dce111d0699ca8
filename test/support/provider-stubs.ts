/**
 * Stand-ins for Google's OAuth 2.0 token endpoint with FCM's HTTP v1 send API, and for
 * Apple's APNs provider API, on loopback. They check what a real one checks of the
 * requests: the service account's RS256 assertion and the bearer token it bought; the
 * ES256 provider token with its key id and team, and the APNs headers. Accepted messages
 * are kept for the test to read; tokens marked gone answer as the real services do.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verify } from 'hono/jwt';

export interface StubMessage {
  readonly service: 'fcm' | 'apns';
  readonly token: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Record<string, unknown>;
}

export interface ProviderStubs {
  readonly url: string;
  readonly fcm: { projectId: string; clientEmail: string; privateKey: string; tokenUri: string; endpoint: string };
  readonly apns: { teamId: string; keyId: string; privateKey: string; topic: string; endpoint: string };
  readonly messages: StubMessage[];
  readonly refused: string[];
  /** How many access tokens the token endpoint issued. */
  tokensIssued(): number;
  gone(token: string): void;
  close(): Promise<void>;
}

const pem = (label: string, der: ArrayBuffer): string => `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END ${label}-----\n`;

export async function startProviderStubs(): Promise<ProviderStubs> {
  const rsa = (await crypto.subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const ec = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const rsaPublic = await crypto.subtle.exportKey('jwk', rsa.publicKey);
  const ecPublic = await crypto.subtle.exportKey('jwk', ec.publicKey);
  const messages: StubMessage[] = [];
  const refused: string[] = [];
  const gone = new Set<string>();
  const issued = new Set<string>();
  let origin = '';
  const fcm = { projectId: 'switchboard-test', clientEmail: 'push@switchboard-test.iam.gserviceaccount.com', privateKey: pem('PRIVATE KEY', await crypto.subtle.exportKey('pkcs8', rsa.privateKey)), tokenUri: '', endpoint: '' };
  const apns = { teamId: 'TEAM123456', keyId: 'KEY1234567', privateKey: pem('PRIVATE KEY', await crypto.subtle.exportKey('pkcs8', ec.privateKey)), topic: 'com.example.phone.voip', endpoint: '' };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const raw = Buffer.concat(chunks).toString();
        const answer = (status: number, body: unknown) => res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
        try {
          if (req.method === 'POST' && req.url === '/token') {
            const form = new URLSearchParams(raw);
            if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') throw new Error(`grant_type ${form.get('grant_type')}`);
            const claims = await verify(form.get('assertion') ?? '', rsaPublic, 'RS256');
            if (claims.iss !== fcm.clientEmail || claims.aud !== fcm.tokenUri || claims.scope !== 'https://www.googleapis.com/auth/firebase.messaging') throw new Error(`assertion claims ${JSON.stringify(claims)}`);
            const token = `ya29.${Math.random().toString(36).slice(2)}`;
            issued.add(token);
            return answer(200, { access_token: token, expires_in: 3599, token_type: 'Bearer' });
          }
          const send = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(req.url ?? '');
          if (req.method === 'POST' && send) {
            if (send[1] !== fcm.projectId) throw new Error(`project ${send[1]}`);
            const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
            if (!bearer || !issued.has(bearer)) return answer(401, { error: { status: 'UNAUTHENTICATED' } });
            const { message } = JSON.parse(raw) as { message: { token: string; data: Record<string, string>; android?: { priority?: string } } };
            if (gone.has(message.token)) return answer(404, { error: { status: 'NOT_FOUND', details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' }] } });
            messages.push({ service: 'fcm', token: message.token, headers: req.headers, body: message as unknown as Record<string, unknown> });
            return answer(200, { name: `projects/${fcm.projectId}/messages/${messages.length}` });
          }
          const device = /^\/3\/device\/([0-9a-fA-F]+)$/.exec(req.url ?? '');
          if (req.method === 'POST' && device) {
            const jwt = /^bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
            const header = JSON.parse(Buffer.from(jwt.split('.')[0] ?? '', 'base64url').toString() || '{}') as { kid?: string; alg?: string };
            if (header.kid !== apns.keyId || header.alg !== 'ES256') return answer(403, { reason: 'InvalidProviderToken' });
            const claims = await verify(jwt, ecPublic, 'ES256');
            if (claims.iss !== apns.teamId) return answer(403, { reason: 'InvalidProviderToken' });
            if (!req.headers['apns-topic'] || !['voip', 'alert'].includes(String(req.headers['apns-push-type']))) return answer(400, { reason: 'MissingTopic' });
            if (gone.has(device[1]!)) return answer(410, { reason: 'Unregistered', timestamp: Date.now() });
            messages.push({ service: 'apns', token: device[1]!, headers: req.headers, body: JSON.parse(raw) as Record<string, unknown> });
            return res.writeHead(200, { 'apns-id': crypto.randomUUID() }).end();
          }
          answer(404, { error: 'no such endpoint' });
        } catch (err) {
          refused.push(err instanceof Error ? err.message : String(err));
          answer(400, { error: { status: 'INVALID_ARGUMENT' } });
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fcm.tokenUri = `${origin}/token`;
  fcm.endpoint = origin;
  apns.endpoint = origin;
  return {
    url: origin,
    fcm,
    apns,
    messages,
    refused,
    tokensIssued: () => issued.size,
    gone: (t) => void gone.add(t),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * A push service for the tests, speaking RFC 8030 on loopback: it hands out subscriptions
 * (a push resource URL and the user agent's keys, as a browser's PushManager would), and
 * accepts push messages for them only as a real one must: VAPID-signed (RFC 8292: an
 * ES256 JWT for this origin, not expired, with the key it names) and encrypted with
 * `aes128gcm` for the subscription (RFC 8291), which it decrypts with the keys only it and
 * the "browser" hold. What it received is kept for the test to read.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';

export interface Delivery {
  readonly subscription: string;
  readonly payload: string;
  readonly ttl: number;
  readonly urgency: string | null;
  readonly topic: string | null;
  /** The VAPID public key that signed it (base64url). */
  readonly vapidKey: string;
  readonly at: number;
}

export interface TestSubscription {
  readonly endpoint: string;
  readonly p256dh: string;
  readonly auth: string;
}

export interface PushService {
  readonly url: string;
  subscribe(): Promise<TestSubscription & { readonly id: string }>;
  /** From now on this subscription answers 410 Gone (the browser unsubscribed). */
  expire(id: string): void;
  readonly deliveries: Delivery[];
  /** Requests refused, with why. */
  readonly refused: string[];
  /** Resolves with the next delivery to `id` (or any), or rejects after `ms`. */
  next(id?: string, ms?: number): Promise<Delivery>;
  close(): Promise<void>;
}

const b64url = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
const unb64url = (s: string): Uint8Array<ArrayBuffer> => Uint8Array.from(Buffer.from(s, 'base64url'));
const enc = new TextEncoder();

export async function startPushService(): Promise<PushService> {
  const subs = new Map<string, { keys: CryptoKeyPair; publicRaw: Uint8Array; auth: Uint8Array; gone: boolean }>();
  const deliveries: Delivery[] = [];
  const refused: string[] = [];
  const waiters: Array<{ id?: string; resolve: (d: Delivery) => void }> = [];
  let origin = '';

  async function verifyVapid(header: string | undefined): Promise<string> {
    const m = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header ?? '');
    if (!m) throw new Error(`no VAPID Authorization: ${header}`);
    const [jwt, k] = [m[1]!, m[2]!];
    const [h, p, s] = jwt.split('.');
    const head = JSON.parse(Buffer.from(h!, 'base64url').toString()) as { alg?: string };
    if (head.alg !== 'ES256') throw new Error(`VAPID JWT alg ${head.alg}`);
    const key = await crypto.subtle.importKey('raw', unb64url(k), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
    const ok = await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, unb64url(s!), enc.encode(`${h}.${p}`));
    if (!ok) throw new Error('VAPID signature does not verify with k');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as { aud?: string; exp?: number; sub?: string };
    const now = Date.now() / 1000;
    if (claims.aud !== origin) throw new Error(`VAPID aud ${claims.aud}, not ${origin}`);
    if (typeof claims.exp !== 'number' || claims.exp <= now || claims.exp > now + 24 * 3600) throw new Error(`VAPID exp ${claims.exp}`);
    if (!claims.sub || !/^(mailto:|https:)/.test(claims.sub)) throw new Error(`VAPID sub ${claims.sub}`);
    return k;
  }

  async function decrypt(id: string, body: Uint8Array): Promise<string> {
    const sub = subs.get(id)!;
    const salt = body.slice(0, 16);
    const idlen = body[20]!;
    const asPublic = body.slice(21, 21 + idlen);
    const sealed = body.slice(21 + idlen);
    const asKey = await crypto.subtle.importKey('raw', asPublic, { name: 'ECDH', namedCurve: 'P-256' }, false, []);
    const secret = new Uint8Array(await crypto.subtle.deriveBits({ name: 'ECDH', public: asKey }, sub.keys.privateKey, 256));
    const keyInfo = new Uint8Array([...enc.encode('WebPush: info\0'), ...sub.publicRaw, ...asPublic]);
    const ikm = expand(sha256, extract(sha256, secret, sub.auth), keyInfo, 32);
    const prk = extract(sha256, ikm, salt);
    const cek = await crypto.subtle.importKey('raw', expand(sha256, prk, enc.encode('Content-Encoding: aes128gcm\0'), 16), 'AES-GCM', false, ['decrypt']);
    const nonce = expand(sha256, prk, enc.encode('Content-Encoding: nonce\0'), 12);
    const plain = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: nonce }, cek, sealed));
    // RFC 8188 §2: the record ends with its delimiter (2, the last record) and zero padding.
    let end = plain.length - 1;
    while (end >= 0 && plain[end] === 0) end--;
    if (plain[end] !== 2) throw new Error('no last-record delimiter');
    return new TextDecoder().decode(plain.slice(0, end));
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const id = /^\/push\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '')?.[1];
        const sub = id ? subs.get(id) : undefined;
        if (req.method !== 'POST' || !id || !sub) return void res.writeHead(404).end();
        if (sub.gone) return void res.writeHead(410).end();
        try {
          if (req.headers['content-encoding'] !== 'aes128gcm') throw new Error(`Content-Encoding ${req.headers['content-encoding']}`);
          const ttl = Number(req.headers.ttl);
          if (!Number.isInteger(ttl) || ttl < 0) throw new Error(`TTL ${req.headers.ttl}`);
          const vapidKey = await verifyVapid(req.headers.authorization);
          const payload = await decrypt(id, new Uint8Array(Buffer.concat(chunks)));
          const d: Delivery = { subscription: id, payload, ttl, urgency: (req.headers.urgency as string) ?? null, topic: (req.headers.topic as string) ?? null, vapidKey, at: Date.now() };
          deliveries.push(d);
          for (const w of waiters.splice(0)) (w.id === undefined || w.id === id ? w.resolve(d) : waiters.push(w));
          res.writeHead(201, { Location: `${origin}/message/${deliveries.length}` }).end();
        } catch (err) {
          refused.push(err instanceof Error ? err.message : String(err));
          res.writeHead(400).end();
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let ids = 0;
  return {
    url: origin,
    async subscribe() {
      const keys = (await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits'])) as CryptoKeyPair;
      const publicRaw = new Uint8Array(await crypto.subtle.exportKey('raw', keys.publicKey));
      const auth = crypto.getRandomValues(new Uint8Array(16));
      const id = `s${++ids}${Math.random().toString(36).slice(2, 8)}`;
      subs.set(id, { keys, publicRaw, auth, gone: false });
      return { id, endpoint: `${origin}/push/${id}`, p256dh: b64url(publicRaw), auth: b64url(auth) };
    },
    expire(id) {
      const s = subs.get(id);
      if (s) s.gone = true;
    },
    deliveries,
    refused,
    next(id, ms = 10_000) {
      const have = deliveries.find((d) => id === undefined || d.subscription === id);
      if (have) {
        deliveries.splice(deliveries.indexOf(have), 1);
        return Promise.resolve(have);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no push to ${id ?? 'any subscription'} within ${ms} ms (refused: ${refused.join('; ')})`)), ms);
        waiters.push({
          id,
          resolve: (d) => {
            clearTimeout(timer);
            deliveries.splice(deliveries.indexOf(d), 1);
            resolve(d);
          },
        });
      });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A fresh VAPID key pair, base64url, as `npm run vapid-keys` prints one. */
export async function vapidKeyPair(): Promise<{ publicKey: string; privateKey: string }> {
  const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign'])) as CryptoKeyPair;
  const pub = new Uint8Array(await crypto.subtle.exportKey('raw', keys.publicKey));
  const jwk = await crypto.subtle.exportKey('jwk', keys.privateKey);
  return { publicKey: b64url(pub), privateKey: jwk.d! };
}

/**
 * Web Push for browsers: a message to a push subscription's endpoint (RFC 8030 §5),
 * its payload encrypted for the subscription's keys (RFC 8291, the `aes128gcm` content
 * coding of RFC 8188), and the request signed by the application server's VAPID key
 * (RFC 8292). WebCrypto does the ECDH, the ECDSA and AES-GCM; HKDF is @noble/hashes.
 */
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { sign } from 'hono/jwt';
import { decodeBase64Url, encodeBase64Url } from 'hono/utils/encode';

/** A browser's push subscription (PushSubscription.toJSON()). */
export interface WebPushSubscription {
  readonly endpoint: string;
  /** The user agent's P-256 public key, uncompressed (65 bytes), base64url. */
  readonly p256dh: string;
  /** The 16-byte authentication secret, base64url. */
  readonly auth: string;
}

/** The application server's VAPID key pair (RFC 8292 §3), base64url, and its contact. */
export interface VapidKeys {
  /** Uncompressed P-256 public key (65 bytes): what `applicationServerKey` is in the browser. */
  readonly publicKey: string;
  /** The private scalar d (32 bytes). */
  readonly privateKey: string;
  /** A `mailto:` or `https:` URI the push service may contact (RFC 8292 §2.1). */
  readonly subject: string;
}

export interface PushResult {
  readonly status: number;
  /** The subscription is gone (404 or 410, RFC 8030 §7.3): the binding that named it should go too. */
  readonly gone: boolean;
}

/** RFC 8188 record size: one record holds any payload we send. */
const RECORD_SIZE = 4096;
const encoder = new TextEncoder();

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const bytes = (b64url: string): Uint8Array<ArrayBuffer> => Uint8Array.from(decodeBase64Url(b64url));
/** WebCrypto takes views of plain ArrayBuffers; @noble/hashes is typed for any. */
const plain = (b: Uint8Array): Uint8Array<ArrayBuffer> => Uint8Array.from(b);

/**
 * Encrypts `payload` for the subscription (RFC 8291 §3.4, RFC 8188 §2): a fresh ECDH key
 * and salt per message, one record with the last-record delimiter (0x02) and no padding.
 */
export async function encryptPayload(sub: WebPushSubscription, payload: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  const uaPublic = bytes(sub.p256dh);
  const authSecret = bytes(sub.auth);
  if (uaPublic.length !== 65 || uaPublic[0] !== 4) throw new Error('p256dh is not an uncompressed P-256 point');
  if (authSecret.length !== 16) throw new Error('auth is not 16 bytes');
  const asKeys = (await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits'])) as CryptoKeyPair;
  const asPublic = new Uint8Array((await crypto.subtle.exportKey('raw', asKeys.publicKey)) as ArrayBuffer);
  const uaKey = await crypto.subtle.importKey('raw', uaPublic, { name: 'ECDH', namedCurve: 'P-256' }, false, []);
  // The runtime takes WebCrypto's `public`; the Workers types call it `$public`.
  const ecdh = { name: 'ECDH', public: uaKey } as unknown as Parameters<typeof crypto.subtle.deriveBits>[0];
  const ecdhSecret = new Uint8Array(await crypto.subtle.deriveBits(ecdh, asKeys.privateKey, 256));
  // §3.3: the input keying material binds both public keys and the auth secret.
  const keyInfo = concat(encoder.encode('WebPush: info\0'), uaPublic, asPublic);
  const ikm = expand(sha256, extract(sha256, ecdhSecret, authSecret), keyInfo, 32);
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const prk = extract(sha256, ikm, salt);
  const cek = expand(sha256, prk, encoder.encode('Content-Encoding: aes128gcm\0'), 16);
  const nonce = expand(sha256, prk, encoder.encode('Content-Encoding: nonce\0'), 12);
  const key = await crypto.subtle.importKey('raw', plain(cek), 'AES-GCM', false, ['encrypt']);
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: plain(nonce) }, key, concat(payload, new Uint8Array([2]))));
  if (sealed.length + 86 > RECORD_SIZE) throw new Error('push payload too large for one record');
  // RFC 8188 §2.1 header: salt, record size, key id length, key id (the sender's public key).
  const header = new Uint8Array(21);
  header.set(salt, 0);
  new DataView(header.buffer).setUint32(16, RECORD_SIZE);
  header[20] = asPublic.length;
  return concat(header, asPublic, sealed);
}

/** The VAPID Authorization header for a push service's origin (RFC 8292 §2, §3). */
export async function vapidAuthorization(endpoint: string, vapid: VapidKeys, nowSeconds: number): Promise<string> {
  const pub = bytes(vapid.publicKey);
  if (pub.length !== 65 || pub[0] !== 4) throw new Error('VAPID public key is not an uncompressed P-256 point');
  const jwk: JsonWebKey = { kty: 'EC', crv: 'P-256', x: encodeBase64Url(pub.slice(1, 33).buffer), y: encodeBase64Url(pub.slice(33).buffer), d: vapid.privateKey, ext: true };
  // §2: `aud` is the origin of the push resource; `exp` at most 24 hours ahead.
  const jwt = await sign({ aud: new URL(endpoint).origin, exp: nowSeconds + 12 * 3600, sub: vapid.subject }, jwk, 'ES256');
  return `vapid t=${jwt}, k=${vapid.publicKey}`;
}

/**
 * Sends one push message (RFC 8030 §5). `ttl` is how long the push service may keep it for
 * an offline browser (a call's wake-up is worthless after its ring), `topic` lets a newer
 * message replace an older one for the same call (§5.4).
 */
export async function sendWebPush(
  sub: WebPushSubscription,
  payload: string,
  vapid: VapidKeys,
  o: { ttlSeconds: number; topic?: string; fetcher?: typeof fetch; now?: number },
): Promise<PushResult> {
  const body = await encryptPayload(sub, encoder.encode(payload));
  const headers: Record<string, string> = {
    'Content-Encoding': 'aes128gcm',
    'Content-Type': 'application/octet-stream',
    TTL: String(o.ttlSeconds),
    // §5.3: a call is as urgent as a push gets.
    Urgency: 'high',
    Authorization: await vapidAuthorization(sub.endpoint, vapid, Math.floor((o.now ?? Date.now()) / 1000)),
  };
  if (o.topic) headers.Topic = o.topic;
  const res = await (o.fetcher ?? fetch)(sub.endpoint, { method: 'POST', headers, body });
  await res.body?.cancel();
  return { status: res.status, gone: res.status === 404 || res.status === 410 };
}

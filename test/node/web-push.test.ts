/**
 * Web Push (worker/push/web-push.ts) against a local RFC 8030 push service that checks the
 * VAPID signature (RFC 8292) and decrypts the payload with the subscription's own keys
 * (RFC 8291): what the Worker sends a browser's push service.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendWebPush, type VapidKeys } from '../../durable-objects/user/push/web-push.js';
import { startPushService, vapidKeyPair, type PushService } from '../support/push-service.js';

let service: PushService;
let vapid: VapidKeys;

beforeAll(async () => {
  service = await startPushService();
  vapid = { ...(await vapidKeyPair()), subject: 'mailto:ops@switchboard.test' };
});

afterAll(async () => {
  await service?.close();
});

describe('Web Push to a browser’s push service', () => {
  it('delivers a payload the subscription decrypts, VAPID-signed, with TTL, Urgency and Topic', async () => {
    const sub = await service.subscribe();
    const payload = JSON.stringify({ type: 'call', from: 'alice', callId: 'abc@x' });
    const r = await sendWebPush(sub, payload, vapid, { ttlSeconds: 10, topic: 'call-abc' });
    expect(r).toEqual({ status: 201, gone: false });
    const d = await service.next(sub.id);
    expect(d.payload).toBe(payload);
    expect(d.vapidKey).toBe(vapid.publicKey);
    expect([d.ttl, d.urgency, d.topic]).toEqual([10, 'high', 'call-abc']);
    expect(service.refused).toEqual([]);
  });

  it('each message has its own key and salt: the same payload never encrypts the same', async () => {
    const sub = await service.subscribe();
    const bodies: Uint8Array[] = [];
    const fetcher = (async (_url: string, init: RequestInit) => {
      bodies.push(init.body as Uint8Array);
      return new Response(null, { status: 201 });
    }) as unknown as typeof fetch;
    await sendWebPush(sub, 'same', vapid, { ttlSeconds: 5, fetcher });
    await sendWebPush(sub, 'same', vapid, { ttlSeconds: 5, fetcher });
    expect(Buffer.from(bodies[0]!).equals(Buffer.from(bodies[1]!))).toBe(false);
  });

  it('a subscription the browser dropped answers 410, reported as gone', async () => {
    const sub = await service.subscribe();
    service.expire(sub.id);
    expect(await sendWebPush(sub, 'x', vapid, { ttlSeconds: 5 })).toEqual({ status: 410, gone: true });
  });

  it('keys that do not belong together, or a subscription key that is not a P-256 point, fail here and send nothing', async () => {
    const sub = await service.subscribe();
    const other = await vapidKeyPair();
    const before = service.deliveries.length + service.refused.length;
    // The public key of one pair with the private key of another is refused when signing.
    await expect(sendWebPush(sub, 'x', { ...vapid, privateKey: other.privateKey }, { ttlSeconds: 5 })).rejects.toThrow();
    await expect(sendWebPush({ ...sub, p256dh: 'AAAA' }, 'x', vapid, { ttlSeconds: 5 })).rejects.toThrow(/uncompressed P-256/);
    await expect(sendWebPush({ ...sub, auth: 'AAAA' }, 'x', vapid, { ttlSeconds: 5 })).rejects.toThrow(/16 bytes/);
    expect(service.deliveries.length + service.refused.length).toBe(before);
  });

  it('the push service refuses a message with no VAPID signature or not for its origin', async () => {
    const sub = await service.subscribe();
    const plain = await fetch(sub.endpoint, { method: 'POST', headers: { 'Content-Encoding': 'aes128gcm', TTL: '5' }, body: new Uint8Array(100) });
    expect(plain.status).toBe(400);
    expect(service.refused.at(-1)).toMatch(/no VAPID/);
  });
});

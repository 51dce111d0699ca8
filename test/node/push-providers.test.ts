/**
 * The FCM HTTP v1 and APNs adapters (durable-objects/user/push) against local stand-ins
 * that check their requests as the real services do: the service account's assertion and
 * the access token it bought, the APNs provider token with its key id, and the headers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendFcm } from '../../durable-objects/user/push/fcm.js';
import { sendApns } from '../../durable-objects/user/push/apns.js';
import { startProviderStubs, type ProviderStubs } from '../support/provider-stubs.js';

let stubs: ProviderStubs;
const data = { type: 'call', from: 'alice', callId: 'c1@x' };

beforeAll(async () => {
  stubs = await startProviderStubs();
});

afterAll(async () => {
  await stubs?.close();
});

describe('FCM HTTP v1', () => {
  it('buys an access token with the service account’s assertion once, and sends a high-priority data message with its TTL', async () => {
    expect(await sendFcm(stubs.fcm, 'tok-1', data, { ttlSeconds: 10 })).toEqual({ status: 200, gone: false });
    expect(await sendFcm(stubs.fcm, 'tok-2', data, { ttlSeconds: 10 })).toEqual({ status: 200, gone: false });
    expect(stubs.tokensIssued()).toBe(1);
    const [m] = stubs.messages.filter((x) => x.service === 'fcm');
    expect(m!.body).toEqual({ token: 'tok-1', data, android: { priority: 'high', ttl: '10s' } });
    expect(stubs.refused).toEqual([]);
  });

  it('a token FCM says is unregistered is reported gone', async () => {
    stubs.gone('tok-dead');
    expect(await sendFcm(stubs.fcm, 'tok-dead', data, { ttlSeconds: 10 })).toEqual({ status: 404, gone: true });
  });

  it('an assertion signed with another key buys no token, and nothing is sent', async () => {
    const other = await startProviderStubs();
    try {
      const before = stubs.messages.length;
      await expect(sendFcm({ ...stubs.fcm, clientEmail: 'other@x.iam.gserviceaccount.com', privateKey: other.fcm.privateKey }, 'tok-3', data, { ttlSeconds: 10 })).rejects.toThrow(/token endpoint answered 400/);
      expect(stubs.messages.length).toBe(before);
    } finally {
      await other.close();
    }
  });
});

describe('APNs', () => {
  const device = 'a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2';

  it('sends a VoIP push with a provider token naming its key, the topic, priority and expiration', async () => {
    const now = Date.now();
    expect(await sendApns(stubs.apns, device, data, { ttlSeconds: 10, now })).toEqual({ status: 200, gone: false });
    const m = stubs.messages.find((x) => x.service === 'apns')!;
    expect(m.headers['apns-topic']).toBe('com.example.phone.voip');
    expect(m.headers['apns-push-type']).toBe('voip');
    expect(m.headers['apns-priority']).toBe('10');
    expect(Number(m.headers['apns-expiration'])).toBe(Math.floor(now / 1000) + 10);
    expect(m.body).toEqual(data);
  });

  it('an alert push for a plain topic; a device Apple no longer knows is reported gone', async () => {
    expect(await sendApns(stubs.apns, device, data, { ttlSeconds: 10, topic: 'com.example.phone' })).toEqual({ status: 200, gone: false });
    const m = stubs.messages.filter((x) => x.service === 'apns').at(-1)!;
    expect(m.headers['apns-push-type']).toBe('alert');
    expect(m.body).toMatchObject({ aps: { alert: { title: 'Incoming call', body: 'alice' } } });
    stubs.gone(device);
    expect(await sendApns(stubs.apns, device, data, { ttlSeconds: 10 })).toEqual({ status: 410, gone: true });
  });
});

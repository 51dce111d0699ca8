/**
 * Push wake-up end to end (RFC 8599 with RFC 8030 Web Push), over `wrangler dev`: bob's
 * device registers with the push parameters of a subscription at a local RFC 8030 push
 * service and goes to sleep (its socket closes). alice calls him: the service's push
 * reaches the push service VAPID-signed and decrypts, with the subscription's keys, to
 * what the device needs; the device wakes, registers on a new socket, and the waiting
 * INVITE rings it there. A subscription the push service says is gone (410) is forgotten.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { provision, startDevServer, type DevServer } from '../support/dev-server.js';
import { startPushService, vapidKeyPair, type PushService } from '../support/push-service.js';
import { startProviderStubs, type ProviderStubs } from '../support/provider-stubs.js';
import { TestUA, describe as what } from '../support/ua.js';

const TENANT = 'pushes';
let server: DevServer;
let push: PushService;
let stubs: ProviderStubs;
let vapid: { publicKey: string; privateKey: string };
let domain: string;
let apiKey: string;

beforeAll(async () => {
  [push, vapid, stubs] = await Promise.all([startPushService(), vapidKeyPair(), startProviderStubs()]);
  const serviceAccount = JSON.stringify({ type: 'service_account', project_id: stubs.fcm.projectId, client_email: stubs.fcm.clientEmail, private_key: stubs.fcm.privateKey, token_uri: stubs.fcm.tokenUri });
  server = await startDevServer({
    vars: {
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
      VAPID_SUBJECT: 'mailto:ops@switchboard.test',
      FCM_ENDPOINT: stubs.fcm.endpoint,
      APNS_TEAM_ID: stubs.apns.teamId,
      APNS_KEY_ID: stubs.apns.keyId,
      APNS_PRIVATE_KEY: stubs.apns.privateKey,
      APNS_TOPIC: stubs.apns.topic,
      APNS_ENDPOINT: stubs.apns.endpoint,
    },
  });
  ({ domain, apiKey } = await provision(server, TENANT, {}, { pushWaitSeconds: 8 }));
  // FCM with the tenant's own service account (APNs with the deployment's secrets, above).
  const set = await server.api('PATCH', `/v1/tenants/${TENANT}`, { push: { fcm: { serviceAccount } } }, apiKey);
  expect(set.status).toBe(200);
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await push?.close();
  await stubs?.close();
});

/** A token socket of `user` whose frames queue for `next`. */
async function socket(user: string): Promise<{ ws: WebSocket; next: (m: string, ms?: number) => Promise<string>; close: () => Promise<void> }> {
  const issued = await server.api<{ wsUrl: string }>('POST', `/v1/tenants/${TENANT}/users/${user}/tokens`, { ttl: 600 }, apiKey);
  const ws = new WebSocket(issued.body.wsUrl, 'sip');
  const inbox: string[] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (d) => {
    inbox.push(d.toString());
    for (const w of waiters.splice(0)) w();
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return {
    ws,
    async next(m, ms = 10_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const i = inbox.findIndex((t) => t.trim() !== '' && (what(t) === m || what(t).startsWith(`${m} `)));
        if (i >= 0) return inbox.splice(i, 1)[0]!;
        if (Date.now() > deadline) throw new Error(`no ${m} for ${user} within ${ms} ms; got ${inbox.map((t) => what(t)).join(', ')}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    },
    close: () => new Promise<void>((resolve) => (ws.once('close', () => resolve()), ws.close())),
  };
}

async function user(name: string): Promise<void> {
  const r = await server.api('PUT', `/v1/tenants/${TENANT}/users/${name}`, { password: `${name}-password-1` }, apiKey);
  expect(r.status).toBe(201);
}

describe('a sleeping device is woken by Web Push', () => {
  it('the INVITE pushes, waits, and rings the device once it registers on a new socket', async () => {
    await user('alice');
    await user('bob');
    const sub = await push.subscribe();
    const bob = new TestUA('bob', domain, 'b0b0b0b0-0000-4000-8000-00000000b0b0');
    const pn = `;pn-provider=webpush;pn-prid="${sub.endpoint}";pn-param="${sub.p256dh}:${sub.auth}"`;
    const asleep = await socket('bob');
    asleep.ws.send(bob.register({ contactParams: pn }).text);
    await asleep.next('200 REGISTER');
    await asleep.close();

    const alice = new TestUA('alice', domain);
    const a = await socket('alice');
    a.ws.send(alice.register().text);
    await a.next('200 REGISTER');
    const invite = alice.invite('bob');
    const sentAt = Date.now();
    a.ws.send(invite.text);
    await a.next('100 INVITE');

    const delivered = await push.next(sub.id);
    expect(JSON.parse(delivered.payload)).toEqual({ type: 'call', from: 'alice', callId: invite.callId });
    expect(delivered.vapidKey).toBe(vapid.publicKey);
    expect(delivered.urgency).toBe('high');
    expect(delivered.ttl).toBe(8);
    const pushedInMs = delivered.at - sentAt;

    // The device wakes: a new socket, the same instance, and the INVITE rings there.
    const awake = await socket('bob');
    awake.ws.send(bob.register({ contactParams: pn }).text);
    await awake.next('200 REGISTER');
    const atBob = await awake.next('INVITE');
    awake.ws.send(bob.respond(atBob, 180, { toTag: 'bt' }));
    await a.next('180 INVITE');
    console.log(`INVITE sent → push at the push service: ${pushedInMs} ms`);
    expect(push.refused).toEqual([]);
    await Promise.all([a.close(), awake.close()]);
  });

  it('a device that does not wake: 480 once the wait is over; one whose subscription is gone is forgotten', async () => {
    await user('carol');
    await user('dave');
    const sub = await push.subscribe();
    const dave = new TestUA('dave', domain, 'dddddddd-0000-4000-8000-00000000dddd');
    const s = await socket('dave');
    s.ws.send(dave.register({ contactParams: `;pn-provider=webpush;pn-prid="${sub.endpoint}";pn-param="${sub.p256dh}:${sub.auth}"` }).text);
    await s.next('200 REGISTER');
    await s.close();

    const carol = new TestUA('carol', domain);
    const c = await socket('carol');
    c.ws.send(carol.register().text);
    await c.next('200 REGISTER');
    const sentAt = Date.now();
    c.ws.send(carol.invite('dave').text);
    await push.next(sub.id);
    await c.next('480 INVITE', 12_000);
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(8_000);

    // The browser unsubscribed: the push service answers 410, the binding goes, and the
    // INVITE that waited on it is answered at once.
    push.expire(sub.id);
    const secondAt = Date.now();
    c.ws.send(carol.invite('dave').text);
    await c.next('480 INVITE', 5_000);
    expect(Date.now() - secondAt).toBeLessThan(2_000);
    const thirdAt = Date.now();
    c.ws.send(carol.invite('dave').text);
    await c.next('480 INVITE', 2_000);
    expect(Date.now() - thirdAt).toBeLessThan(2_000);
    await c.close();
  });

  it('an app asleep is woken through FCM (the tenant’s credentials) and APNs (VoIP, the deployment’s), as their HTTP APIs take it', async () => {
    await user('erin');
    await user('fay');
    await user('gus');
    const devices = [
      { name: 'fay', ua: new TestUA('fay', domain, 'ffffffff-0000-4000-8000-00000000ffff'), pn: ';pn-provider=fcm;pn-prid=fcm-registration-token-fay;pn-param=switchboard-test', service: 'fcm', token: 'fcm-registration-token-fay' },
      { name: 'gus', ua: new TestUA('gus', domain, '99999999-0000-4000-8000-000000009999'), pn: ';pn-provider=apns;pn-prid=0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9;pn-param=com.example.phone.voip', service: 'apns', token: '0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9' },
    ] as const;
    const erin = new TestUA('erin', domain);
    const e = await socket('erin');
    e.ws.send(erin.register().text);
    await e.next('200 REGISTER');
    for (const d of devices) {
      const s = await socket(d.name);
      s.ws.send(d.ua.register({ contactParams: d.pn }).text);
      await s.next('200 REGISTER');
      await s.close();
      const invite = erin.invite(d.name);
      e.ws.send(invite.text);
      const deadline = Date.now() + 10_000;
      while (!stubs.messages.some((m) => m.service === d.service && m.token === d.token) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const m = stubs.messages.find((x) => x.service === d.service && x.token === d.token);
      expect(m, `${d.service} got the wake-up`).toBeDefined();
      const sent = d.service === 'fcm' ? (m!.body as { data: unknown }).data : m!.body;
      expect(sent).toEqual({ type: 'call', from: 'erin', callId: invite.callId });
      if (d.service === 'apns') expect(m!.headers['apns-push-type']).toBe('voip');
      const awake = await socket(d.name);
      awake.ws.send(d.ua.register({ contactParams: d.pn }).text);
      await awake.next('200 REGISTER');
      const at = await awake.next('INVITE');
      awake.ws.send(d.ua.respond(at, 486, { toTag: 'busy' }));
      await e.next('486 INVITE');
      await awake.close();
    }
    expect(stubs.refused).toEqual([]);
    await e.close();
  });
});

import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BASE, Phone, Socket, addUser, newTenant, tokenFor, upgrade, what } from './helpers.js';
import { asResponse } from '../support/ua.js';
import { header } from '../../sip/message/message.js';
import { createApp } from '../../worker/app.js';
import type { AlarmPlan } from '../../durable-objects/user/alarm-plan.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('abuse limits', () => {
  it('messages per socket: 503 with Retry-After past the bucket, then close 1008 under sustained abuse', async () => {
    const t = await newTenant({ messagesPerSecond: 1, messageBurst: 5 });
    await addUser(t, 'alice');
    const phone = await Phone.connect(t, 'alice');
    const options = () => phone.ua.request('OPTIONS', `sip:${t.domain}`).text;
    for (let i = 0; i < 8; i++) phone.sock.send(options());
    const answers: string[] = [];
    for (let i = 0; i < 8; i++) answers.push(await phone.sock.next((x) => x.includes('OPTIONS')));
    expect(answers.map((a) => asResponse(a).status)).toEqual([200, 200, 200, 200, 200, 503, 503, 503]);
    const limited = asResponse(answers[5]!);
    expect(limited.reason).toBe('Rate Limit Exceeded');
    expect(Number(header(limited, 'retry-after'))).toBeGreaterThanOrEqual(1);
    // A flood keeps going: the socket is closed with 1008 (policy violation).
    for (let i = 0; i < 60; i++) phone.sock.send(options());
    expect((await phone.sock.waitClosed()).code).toBe(1008);
  });

  it('another socket of the same user keeps its own budget', async () => {
    const t = await newTenant({ messagesPerSecond: 1, messageBurst: 2 });
    await addUser(t, 'alice');
    const noisy = await Phone.connect(t, 'alice');
    const quiet = await Phone.connect(t, 'alice');
    for (let i = 0; i < 4; i++) noisy.sock.send(noisy.ua.request('OPTIONS', `sip:${t.domain}`).text);
    for (let i = 0; i < 4; i++) await noisy.sock.next();
    quiet.sock.send(quiet.ua.request('OPTIONS', `sip:${t.domain}`).text);
    expect(what(await quiet.sock.next())).toBe('200 OPTIONS');
  });

  it('sockets per user: the signed-in socket past the limit is refused (429)', async () => {
    const t = await newTenant({ maxSocketsPerUser: 2 });
    await addUser(t, 'alice');
    const token = await tokenFor(t, 'alice');
    const path = `/sip/${t.id}/alice?token=${encodeURIComponent(token)}`;
    await Socket.open(path);
    const second = await Socket.open(path);
    const third = await upgrade(path);
    expect(third.status).toBe(429);
    expect(await third.json()).toMatchObject({ error: { code: 'too_many_sockets' } });
    second.close();
    await new Promise((r) => setTimeout(r, 100));
    expect((await upgrade(path)).status).toBe(101);
  });

  it('an unauthenticated socket is closed after 30 s by the in-memory timer, at no storage write; an authenticated one is not', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    const opened = Date.now();
    const anonymous = await Socket.open(`/sip/${t.id}/alice`);
    const authed = await Phone.connect(t, 'alice');
    const stub = env.USERS.get(env.USERS.idFromName(`${t.id}/alice`));
    // The 30 s is near: kept by the object's timer (which keeps it from hibernating), not a setAlarm.
    const plan = await runInDurableObject(stub, async (o, state) => ({ stored: await state.storage.getAlarm(), ...(o as unknown as { alarms: AlarmPlan }).alarms.pending() }));
    expect(plan.stored).toBeNull();
    expect(plan.memory).toBeGreaterThanOrEqual(opened + 30_000);
    expect(plan.memory).toBeLessThan(opened + 31_000);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(plan.memory! + 1);
    // What the timer runs when it fires: the same handler as the storage alarm.
    await runInDurableObject(stub, (o) => (o as unknown as { alarm(): Promise<void> }).alarm());
    vi.useRealTimers();
    const closed = await anonymous.waitClosed();
    expect(closed.code).toBe(1008);
    expect(closed.reason).toMatch(/not authenticated/);
    authed.sock.send(authed.ua.request('OPTIONS', `sip:${t.domain}`).text);
    expect(what(await authed.sock.next())).toBe('200 OPTIONS');
    // Nothing is pending for the signed-in socket: no timer, no alarm.
    const after = await runInDurableObject(stub, async (o, state) => ({ stored: await state.storage.getAlarm(), ...(o as unknown as { alarms: AlarmPlan }).alarms.pending() }));
    expect(after).toEqual({ stored: null, memory: null, storage: null });
  });

  it('upgrades per client address are limited at the Worker (429), and UPGRADE_RATE_LIMIT=off lifts it', async () => {
    const t = await newTenant();
    // The Worker's own fetch handler with the real bindings (the local limiter counts in
    // fixed one-minute windows, so stay clear of a window's end).
    const app = createApp();
    const ip = `198.51.100.${Math.floor(Math.random() * 250) + 1}`;
    // A token that does not parse is refused (401) right after the limiter: no socket, no object.
    const knock = () => new Request(`${BASE}/sip/${t.id}/nobody?token=x`, { headers: { Upgrade: 'websocket', 'Sec-WebSocket-Protocol': 'sip', 'CF-Connecting-IP': ip } });
    const intoWindow = Date.now() % 60_000;
    if (intoWindow > 50_000) await new Promise((r) => setTimeout(r, 60_500 - intoWindow));
    const statuses: number[] = [];
    for (let batch = 0; batch < 7; batch++) {
      const results = await Promise.all(Array.from({ length: 100 }, () => app.fetch(knock(), env)));
      for (const r of results) {
        statuses.push(r.status);
        await r.body?.cancel();
      }
    }
    // 600 a minute per address (wrangler.toml); the rest are refused before any object is reached.
    expect(statuses.filter((s) => s === 401).length).toBe(600);
    expect(statuses.filter((s) => s === 429).length).toBe(100);
    const limited = await app.fetch(knock(), env);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('Retry-After')).toBe('60');
    expect(await limited.json()).toMatchObject({ error: { code: 'rate_limited' } });
    // The same address with the limit switched off, as the benchmark runs.
    const off = await app.fetch(knock(), { ...env, UPGRADE_RATE_LIMIT: 'off' });
    expect(off.status).toBe(401);
  });
});

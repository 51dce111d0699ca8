import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { expect, it } from 'vitest';
import { Phone, addUser, api, newTenant, what } from './helpers.js';
import { bodyOf, webrtcSdp } from '../support/ua.js';
import { WRITE_BEHIND_MS } from '../../durable-objects/user/user-object.js';
import type { StateCache } from '../../durable-objects/user/state-cache.js';

/** True when the object serving this user was rebuilt since it last handled a message. */
async function evicted(tenant: string, user: string): Promise<boolean> {
  const stub = env.USERS.get(env.USERS.idFromName(`${tenant}/${user}`));
  return runInDurableObject(stub, (obj) => !(obj as unknown as { cache: StateCache }).cache.loaded);
}

/** When the runtime last answered a keepalive on the user's socket by itself. */
async function autoResponseAt(tenant: string, user: string): Promise<number> {
  const stub = env.USERS.get(env.USERS.idFromName(`${tenant}/${user}`));
  return runInDurableObject(stub, (_obj, state) => state.getWebSocketAutoResponseTimestamp(state.getWebSockets()[0]!)?.getTime() ?? 0);
}

it('routes the next message after eviction: between INVITE and 200, and between ACK and BYE', { timeout: 45_000 }, async () => {
  const t = await newTenant({ ringTimeoutSeconds: 120 });
  for (const u of ['alice', 'bob', 'carol', 'dave']) await addUser(t, u);
  const [alice, bob, carol, dave] = await Promise.all(['alice', 'bob', 'carol', 'dave'].map((u) => Phone.connect(t, u)));
  for (const p of [alice!, bob!, carol!, dave!]) await p.register();

  // Call 1 rings: alice -> bob, no answer yet.
  const invite1 = alice!.ua.invite('bob');
  alice!.sock.send(invite1.text);
  const atBob = await bob!.sock.next('INVITE');
  bob!.sock.send(bob!.ua.respond(atBob, 180, { toTag: 'b' }));
  await alice!.sock.next('180 INVITE');

  // Call 2 is up: carol -> dave, answered and ACKed.
  const invite2 = carol!.ua.invite('dave');
  carol!.sock.send(invite2.text);
  const atDave = await dave!.sock.next('INVITE');
  dave!.sock.send(dave!.ua.respond(atDave, 200, { toTag: 'd', body: webrtcSdp() }));
  const cd = carol!.ua.dialogAsCaller(invite2, await carol!.sock.next('200 INVITE'));
  carol!.sock.send(carol!.ua.inDialog(cd, 'ACK').text);
  await dave!.sock.next('ACK');

  // Stay idle until workerd evicts the objects (10 s without events, the last being the
  // alarm after the one that writes the call state behind: it finds nothing to write and
  // lets the grid go); the sockets stay up.
  await new Promise((r) => setTimeout(r, 2 * WRITE_BEHIND_MS + 11_000));
  // RFC 5626 keepalives are answered by the runtime without running the object's code.
  const pinged = Date.now();
  for (const p of [alice!, bob!, carol!, dave!]) p.sock.send('\r\n\r\n');
  await new Promise((r) => setTimeout(r, 200));
  for (const p of [alice!, bob!, carol!, dave!]) expect(p.sock.rawInbox().filter((f) => f === '\r\n')).toHaveLength(1);
  for (const u of ['alice', 'bob', 'carol', 'dave']) {
    expect(await evicted(t.id, u), `${u}'s object was evicted and the keepalive did not run it`).toBe(true);
    expect(await autoResponseAt(t.id, u)).toBeGreaterThanOrEqual(pinged - 1000);
  }

  const answer = webrtcSdp({ session: '77' });
  bob!.sock.send(bob!.ua.respond(atBob, 200, { toTag: 'b', body: answer }));
  const ok = await alice!.sock.next('200 INVITE');
  expect(bodyOf(ok)).toBe(answer);
  const ad = alice!.ua.dialogAsCaller(invite1, ok);
  alice!.sock.send(alice!.ua.inDialog(ad, 'ACK').text);
  await bob!.sock.next('ACK');

  carol!.sock.send(carol!.ua.inDialog(cd, 'BYE').text);
  const bye = await dave!.sock.next('BYE');
  dave!.sock.send(dave!.ua.respond(bye, 200));
  await carol!.sock.next('200 BYE');
});

it('writes registrations through, call state behind on the alarm within WRITE_BEHIND_MS, and holds the grid while busy', async () => {
  const t = await newTenant();
  for (const u of ['alice', 'bob']) await addUser(t, u);
  const [alice, bob] = await Promise.all(['alice', 'bob'].map((u) => Phone.connect(t, u)));
  const stub = env.USERS.get(env.USERS.idFromName(`${t.id}/alice`));
  const rows = (table: 'bindings' | 'dialogs') =>
    runInDurableObject(stub, (_o, state) => state.storage.sql.exec<{ data: string }>(`SELECT data FROM ${table}`).toArray().map((r) => JSON.parse(r.data) as { state?: string }));
  // RFC 3261 §10.3 step 8: the 200 to REGISTER means the binding is stored.
  await alice!.register();
  await bob!.register();
  expect(await rows('bindings')).toHaveLength(1);

  const started = Date.now();
  const invite = alice!.ua.invite('bob');
  alice!.sock.send(invite.text);
  const atBob = await bob!.sock.next('INVITE');
  bob!.sock.send(bob!.ua.respond(atBob, 200, { toTag: 'b', body: webrtcSdp() }));
  const lastOk = alice!.sock.next('200 INVITE');
  await lastOk;
  // Not written yet: the flush is the alarm's, at most WRITE_BEHIND_MS away.
  expect(await rows('dialogs')).toEqual([]);
  const alarm = await runInDurableObject(stub, (_o, state) => state.storage.getAlarm());
  expect(alarm).toBeGreaterThanOrEqual(started);
  expect(alarm).toBeLessThanOrEqual(Date.now() + WRITE_BEHIND_MS);
  expect(await runDurableObjectAlarm(stub)).toBe(true);
  expect((await rows('dialogs')).map((d) => d.state)).toEqual(['confirmed']);

  // That alarm wrote something, so it stays on the grid: the next instant, where a busy
  // user's next call finds it and sets none of its own.
  const getAlarm = () => runInDurableObject(stub, (_o, state) => state.storage.getAlarm());
  const held = await getAlarm();
  expect(held).toBeGreaterThan(Date.now() - 1000);
  expect(held).toBeLessThanOrEqual(Date.now() + WRITE_BEHIND_MS);
  // The call ends: its write is due at that same instant, so the alarm does not move.
  const dialog = alice!.ua.dialogAsCaller(invite, await lastOk);
  alice!.sock.send(alice!.ua.inDialog(dialog, 'ACK').text);
  await bob!.sock.next('ACK');
  alice!.sock.send(alice!.ua.inDialog(dialog, 'BYE').text);
  const bye = await bob!.sock.next('BYE');
  bob!.sock.send(bob!.ua.respond(bye, 200));
  await alice!.sock.next('200 BYE');
  expect(await getAlarm()).toBe(held);
  expect(await runDurableObjectAlarm(stub)).toBe(true);
  expect((await rows('dialogs')).map((d) => d.state)).toEqual(['ended']);
  // The next alarm finds nothing to write and lets the grid go: forgetting the ended call
  // is housekeeping and sets no alarm, so the next one is the binding's expiry.
  expect(await runDurableObjectAlarm(stub)).toBe(true);
  expect(await getAlarm()).toBeGreaterThan(Date.now() + 60_000);
});

it('a socket whose close never ran loses its bindings when the object next wakes', async () => {
  const t = await newTenant();
  for (const u of ['alice', 'bob']) await addUser(t, u);
  const [alice, bob] = await Promise.all(['alice', 'bob'].map((u) => Phone.connect(t, u)));
  await alice!.register();
  await bob!.register();
  // As after a close the runtime could not deliver: a binding for a socket that is gone,
  // and an object rebuilt from storage.
  const stub = env.USERS.get(env.USERS.idFromName(`${t.id}/alice`));
  await runInDurableObject(stub, (obj, state) => {
    const row = state.storage.sql.exec<{ data: string }>('SELECT data FROM bindings').one();
    const ghost = { ...JSON.parse(row.data), id: 'sip:ghost@192.0.2.1;transport=ws', contact: 'sip:ghost@192.0.2.1;transport=ws', conn: 'gone' };
    state.storage.sql.exec('INSERT INTO bindings (id, conn, expires_at, data) VALUES (?, ?, ?, ?)', ghost.id, ghost.conn, ghost.expiresAt, JSON.stringify(ghost));
    (obj as unknown as { cache: StateCache }).cache.unload();
  });

  const seen = await api('GET', `/v1/tenants/${t.id}/users/alice`, { token: t.apiKey });
  expect(seen.body.registrations.map((r: { contact: string }) => r.contact)).not.toContain('sip:ghost@192.0.2.1;transport=ws');
  expect(seen.body.registrations).toHaveLength(1);
  const rows = await runInDurableObject(stub, (_o, state) => state.storage.sql.exec('SELECT id FROM bindings').toArray().length);
  expect(rows).toBe(1);

  // And the live socket still takes calls.
  bob!.sock.send(bob!.ua.invite('alice').text);
  const atAlice = await alice!.sock.next('INVITE');
  alice!.sock.send(alice!.ua.respond(atAlice, 486, { toTag: 'a' }));
  expect(what(await bob!.sock.next('486 INVITE'))).toBe('486 INVITE');
});

import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { expect, it } from 'vitest';
import { Phone, addUser, api, callInProgress, header, newTenant, parse, registeredPair } from './helpers.js';
import { bodyOf, webrtcSdp } from '../support/ua.js';
import type { LiveState } from '../../durable-objects/user/live-state.js';
import { CALL_SILENCE_MS } from '../../sip/registrar/liveness.js';
import { ATTACHMENT_DELAY_MS } from '../../durable-objects/user/live-state.js';

type WithLive = { live: LiveState };
const stubOf = (tenant: string, user: string) => env.USERS.get(env.USERS.idFromName(`${tenant}/${user}`));

/** True when the object serving this user was rebuilt since it last handled a message. */
async function evicted(tenant: string, user: string): Promise<boolean> {
  return runInDurableObject(stubOf(tenant, user), (obj) => !(obj as unknown as WithLive).live.loaded);
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

  // Stay idle until workerd evicts the objects (10 s without events); the sockets stay up,
  // and what routes the calls' next messages is in their attachments.
  await new Promise((r) => setTimeout(r, 18_000));
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

/** The user's call rows as SQLite holds them. */
function callRows(tenant: string, user: string) {
  return runInDurableObject(stubOf(tenant, user), (_o, state) =>
    state.storage.sql.exec<{ direction: string; answered_at: number | null; ended_at: number | null; end_reason: string | null }>('SELECT direction, answered_at, ended_at, end_reason FROM calls').toArray(),
  );
}

it('writes nothing for a REGISTER or a ringing call, a call row when the 200 is forwarded, and completes it at the end', async () => {
  const { t, alice, bob } = await registeredPair();
  // A binding lives with its socket: no table holds it, and no row was written.
  for (const u of ['alice', 'bob']) expect(await callRows(t.id, u)).toEqual([]);
  const tables = await runInDurableObject(stubOf(t.id, 'alice'), (_o, state) => state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").toArray().map((r) => r.name));
  expect(tables).not.toContain('bindings');
  expect(tables).not.toContain('nonces');

  const invite = alice.ua.invite('bob');
  alice.sock.send(invite.text);
  const atBob = await bob.sock.next('INVITE');
  bob.sock.send(bob.ua.respond(atBob, 180, { toTag: 'b' }));
  await alice.sock.next('180 INVITE');
  // Ringing: nothing anyone would miss after a crash, so nothing written.
  for (const u of ['alice', 'bob']) expect(await callRows(t.id, u)).toEqual([]);

  bob.sock.send(bob.ua.respond(atBob, 200, { toTag: 'b', body: webrtcSdp() }));
  const ok = await alice.sock.next('200 INVITE');
  // The 200 reached the caller: both objects committed the call's row before sending it on.
  for (const [u, dir] of [['alice', 'out'], ['bob', 'in']] as const) {
    const rows = await callRows(t.id, u);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ direction: dir, ended_at: null, end_reason: null });
    expect(rows[0]!.answered_at).toBeGreaterThan(0);
  }
  const rowsAnswered = (await callRows(t.id, 'alice'))[0]!.answered_at!;
  const dialog = alice.ua.dialogAsCaller(invite, ok);
  alice.sock.send(alice.ua.inDialog(dialog, 'ACK').text);
  await bob.sock.next('ACK');
  alice.sock.send(alice.ua.inDialog(dialog, 'BYE').text);
  const bye = await bob.sock.next('BYE');
  bob.sock.send(bob.ua.respond(bye, 200));
  await alice.sock.next('200 BYE');
  for (const u of ['alice', 'bob']) {
    const rows = await callRows(t.id, u);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ end_reason: 'caller-bye' });
    expect(rows[0]!.ended_at).toBeGreaterThanOrEqual(rows[0]!.answered_at!);
  }
  // No write-behind and no expiry: the only alarm the call left is the look at its flow
  // (registrar/liveness.ts), 30 s after the caller was last heard, not one per write.
  const alarm = await runInDurableObject(stubOf(t.id, 'alice'), (_o, state) => state.storage.getAlarm());
  if (alarm !== null) expect(alarm).toBeGreaterThanOrEqual(rowsAnswered + CALL_SILENCE_MS - 1000);
  const history = await api('GET', `/v1/tenants/${t.id}/users/alice/calls`, { token: t.apiKey });
  expect(history.body.calls.map((c: { state: string; endReason: string }) => [c.state, c.endReason])).toEqual([['ended', 'caller-bye']]);
});

it('a call answered before a restart, with no end on record, is reported interrupted, never as up or ended', async () => {
  const { t, alice, bob } = await callInProgress();
  // As after a crash: the row says answered, and nothing in memory or any socket knows the call.
  for (const u of ['alice', 'bob']) {
    await runInDurableObject(stubOf(t.id, u), (obj) => {
      (obj as unknown as WithLive).live.clear();
    });
  }
  for (const u of ['alice', 'bob']) {
    const { body } = await api('GET', `/v1/tenants/${t.id}/users/${u}/calls`, { token: t.apiKey });
    expect(body.calls).toHaveLength(1);
    const [c] = body.calls;
    expect(c.state).toBe('interrupted');
    expect(c.endReason).toBe('interrupted');
    expect(c.endedAt).toBeNull();
    expect(c.lastAliveAt).toBe(c.answeredAt);
  }
  alice.sock.close();
  bob.sock.close();
});

it('a socket that closes while its object is evicted ends its call with BYE: the call comes back from its attachment', async () => {
  // A tenant that holds no call for a lost device (a held call across eviction: flow.test.ts).
  const { t, alice, bob } = await callInProgress({ limits: { flowGraceSeconds: 0 } });
  // As an eviction does: memory is gone, the sockets (and their attachments) are not.
  for (const u of ['alice', 'bob']) {
    await runInDurableObject(stubOf(t.id, u), (obj) => {
      (obj as unknown as WithLive).live.unload();
    });
  }
  const seen = await api('GET', `/v1/tenants/${t.id}/users/alice`, { token: t.apiKey });
  expect(seen.body.registrations).toHaveLength(1);
  expect(seen.body.calls.map((c: { state: string }) => c.state)).toEqual(['confirmed']);
  await runInDurableObject(stubOf(t.id, 'alice'), (obj) => {
    (obj as unknown as WithLive).live.unload();
  });
  alice.sock.close();
  const bye = await bob.sock.next('BYE');
  expect(header(parse(bye), 'reason')).toContain('480');
  const rows = await callRows(t.id, 'alice');
  expect(rows[0]).toMatchObject({ end_reason: 'connection-lost' });
  // And the binding went with the socket.
  const after = await api('GET', `/v1/tenants/${t.id}/users/alice`, { token: t.apiKey });
  expect(after.body.registrations).toEqual([]);
});

it('a call set up in one burst rewrites each socket attachment once or twice, not once per change, and holds the call there', async () => {
  const { t, alice, bob } = await registeredPair();
  await new Promise((r) => setTimeout(r, ATTACHMENT_DELAY_MS + 200));
  // Count the attachment writes of both objects from here on.
  type Counted = { book: { update: (...a: unknown[]) => void }; writes?: number };
  for (const u of ['alice', 'bob']) {
    await runInDurableObject(stubOf(t.id, u), (obj) => {
      const o = obj as unknown as Counted;
      const update = o.book.update.bind(o.book);
      o.writes = 0;
      o.book.update = (...a: unknown[]) => {
        o.writes!++;
        update(...a);
      };
    });
  }
  const writes = (u: string) => runInDurableObject(stubOf(t.id, u), (obj) => (obj as unknown as Counted).writes!);
  const invite = alice.ua.invite('bob');
  alice.sock.send(invite.text);
  const atBob = await bob.sock.next('INVITE');
  bob.sock.send(bob.ua.respond(atBob, 100));
  bob.sock.send(bob.ua.respond(atBob, 180, { toTag: 'b' }));
  await alice.sock.next('180 INVITE');
  bob.sock.send(bob.ua.respond(atBob, 200, { toTag: 'b', body: webrtcSdp() }));
  const dialog = alice.ua.dialogAsCaller(invite, await alice.sock.next('200 INVITE'));
  alice.sock.send(alice.ua.inDialog(dialog, 'ACK').text);
  await bob.sock.next('ACK');
  // Five state changes in each object: written after the burst, once (twice when the
  // burst straddles one delay), and no timer left pending afterwards.
  await new Promise((r) => setTimeout(r, ATTACHMENT_DELAY_MS + 300));
  for (const u of ['alice', 'bob']) {
    expect(await writes(u)).toBeGreaterThanOrEqual(1);
    expect(await writes(u)).toBeLessThanOrEqual(2);
    const pending = await runInDurableObject(stubOf(t.id, u), (obj) => (obj as unknown as { alarms: { pending(): { memory: number | null } } }).alarms.pending().memory);
    expect(pending).toBeNull();
  }
  // What was written is what an evicted object comes back with: the confirmed call.
  for (const u of ['alice', 'bob']) {
    await runInDurableObject(stubOf(t.id, u), (obj) => {
      (obj as unknown as WithLive).live.unload();
    });
  }
  const seen = await api('GET', `/v1/tenants/${t.id}/users/bob`, { token: t.apiKey });
  expect(seen.body.calls.map((c: { state: string }) => c.state)).toEqual(['confirmed']);
  alice.sock.send(alice.ua.inDialog(dialog, 'BYE').text);
  const bye = await bob.sock.next('BYE');
  bob.sock.send(bob.ua.respond(bye, 200));
  await alice.sock.next('200 BYE');
});

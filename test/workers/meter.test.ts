/**
 * The bench's meter (durable-objects/shared/meter.ts) inside workerd: a pass-through when
 * SWITCHBOARD_METER is not "1", and per-event counts of SQL statements, rows, alarms,
 * socket sends and outgoing RPCs when it is. A small class of its own is metered, built on
 * the real state of a throwaway user's object (the base class accepts nothing else).
 */
import { DurableObject, env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { afterEach, expect, it, vi } from 'vitest';
import { METER_PREFIX, metered, utf8Length, type MeterLine } from '../../durable-objects/shared/meter.js';
import type { Env } from '../../durable-objects/env.js';

const originalSend = WebSocket.prototype.send;

class Probe extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS meter_probe (k INTEGER PRIMARY KEY, v TEXT)');
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    // Never iterated: the rows are written at exec all the same.
    this.ctx.storage.sql.exec('INSERT INTO meter_probe (v) VALUES (?), (?)', 'a', 'b');
    this.ctx.storage.sql.exec('SELECT v FROM meter_probe').toArray();
    await this.ctx.storage.setAlarm(Date.now() + 600_000);
    await this.ctx.storage.deleteAlarm();
    ws.send(`echo ${String(message)}`);
  }

  override async alarm(): Promise<void> {}

  async ping(who: string): Promise<boolean> {
    const tenants = this.env.TENANTS;
    return (await tenants.get(tenants.idFromName('meter-test')).edgeUser(who)).exists;
  }
}

function meterLines(spy: { mock: { calls: unknown[][] } }): MeterLine[] {
  return spy.mock.calls
    .map((c) => c[0])
    .filter((s): s is string => typeof s === 'string' && s.startsWith(METER_PREFIX))
    .map((s) => JSON.parse(s.slice(METER_PREFIX.length)) as MeterLine);
}

/** A socket pair whose server end is accepted in this isolate, and what its client end receives. */
function socketPair(): { server: WebSocket; client: WebSocket; received: string[] } {
  const pair = new WebSocketPair();
  const received: string[] = [];
  pair[0].accept();
  pair[0].addEventListener('message', (e) => {
    received.push(String(e.data));
  });
  pair[1].accept();
  return { server: pair[1], client: pair[0], received };
}

afterEach(() => {
  vi.restoreAllMocks();
});

it('is the base class itself when SWITCHBOARD_METER is not "1": nothing patched, nothing logged', async () => {
  const log = vi.spyOn(console, 'log');
  const Metered = metered(Probe, ['ping']);
  const stub = env.USERS.get(env.USERS.idFromName('meter-test/off'));
  await runInDurableObject(stub, async (_obj, state) => {
    const probe = new Metered(state, env);
    expect(Object.getPrototypeOf(probe)).toBe(Probe.prototype);
    expect(Object.hasOwn(state.storage.sql, 'exec')).toBe(false);
    expect(Object.hasOwn(state.storage, 'setAlarm')).toBe(false);
    const { server, client, received } = socketPair();
    await probe.webSocketMessage(server, 'hi');
    expect(await probe.ping('nobody')).toBe(false);
    await new Promise((r) => setTimeout(r, 10));
    expect(received).toEqual(['echo hi']);
    client.close(1000, 'done');
    server.close(1000, 'done');
  });
  expect(WebSocket.prototype.send).toBe(originalSend);
  expect(meterLines(log)).toEqual([]);
});

it('counts statements, rows written and read, alarms, sends and RPCs per event when on', async () => {
  const log = vi.spyOn(console, 'log');
  const Metered = metered(Probe, ['ping']);
  const stub = env.USERS.get(env.USERS.idFromName('meter-test/on'));
  await runInDurableObject(stub, async (_obj, state) => {
    // The table exists before the wake, so the constructor's CREATE TABLE writes nothing.
    state.storage.sql.exec('CREATE TABLE IF NOT EXISTS meter_probe (k INTEGER PRIMARY KEY, v TEXT)');
    const probe = new Metered(state, { ...env, SWITCHBOARD_METER: '1' } as Env);
    expect(probe).toBeInstanceOf(Probe);
    const { server, client, received } = socketPair();
    await probe.webSocketMessage(server, 'hello');
    expect(await probe.ping('bob')).toBe(false);
    await probe.alarm();
    await new Promise((r) => setTimeout(r, 10));
    expect(received).toEqual(['echo hello']);
    client.close(1000, 'done');
    server.close(1000, 'done');
  });
  const lines = meterLines(log);
  expect(lines.map((l) => l.k)).toEqual(['ws-message', 'rpc:ping', 'alarm']);
  const [message, ping, alarm] = lines as [MeterLine, MeterLine, MeterLine];
  // The constructor is the wake, counted into the first event with its CREATE TABLE.
  expect(message).toMatchObject({ o: 'Probe', wake: 1, sql: 3, rw: 2, setAlarm: 1, deleteAlarm: 1, send: 1, sendBytes: 'echo hello'.length, inBytes: 5, rpc: 0, ov: 0 });
  // The SELECT read back the two rows (the object is fresh).
  expect(message.rr).toBe(2);
  expect(ping).toMatchObject({ wake: 0, sql: 0, rw: 0, send: 0, rpc: 1, rpcBytes: 3, inBytes: 3, to: { TENANTS: 1 } });
  expect(alarm).toMatchObject({ wake: 0, sql: 0, rw: 0, rr: 0, setAlarm: 0, send: 0, rpc: 0 });
});

it('counts string bytes as UTF-8', () => {
  for (const s of ['', 'INVITE', 'é', '€', '😀', 'a😀é€']) expect(utf8Length(s)).toBe(new TextEncoder().encode(s).length);
});

/**
 * Counts from inside the runtime, per Durable Object event, for the bench
 * (bench/README.md, "Counts per call"). `metered(Base, rpcMethods)` is applied to a class
 * from outside (worker/index.ts), so the product's code paths stay as they are:
 *
 * - Off (`env.SWITCHBOARD_METER` is not the string "1"): the constructor returns a plain
 *   `new Base(ctx, env)`. Nothing is patched, and no event runs a single extra instruction.
 * - On: the instance's own `ctx.storage` (SQL `exec`, alarms, KV) and `ctx` (sockets it
 *   accepts or looks up) get counting own properties, its `env` is a copy whose Durable
 *   Object namespaces hand out counting stubs, `WebSocket.prototype.send` is patched once
 *   per isolate, and every event (constructor as a wake, `fetch`, `webSocketMessage`,
 *   `webSocketClose`, `webSocketError`, `alarm`, each RPC method named) prints one line at
 *   its end: `sbmeter {"o":"UserObject","k":"ws-message","wake":0,"sql":2,"rw":1,...}`.
 *
 * What workerd does, checked in workerd 1.20260430 (this is what shaped the wrapper):
 * - `DurableObject`'s constructor rejects anything but the real `DurableObjectState`
 *   ("parameter 1 is not of type 'DurableObjectState'"), so a Proxy cannot be passed to
 *   the base class: the real `ctx` is given counting own properties instead. `ctx.storage`
 *   and `ctx.storage.sql` are the same objects at every access, and belong to one instance.
 * - A statement runs at `exec`: a cursor that is never iterated has already written its
 *   rows (`rowsWritten` of an INSERT/UPDATE/DELETE is final at once, with or without
 *   RETURNING), while `rowsRead` of a SELECT grows as the cursor is iterated (1 after
 *   `exec`, all rows after `toArray()`). So every cursor's counters are read when the
 *   event ends, not when it is created.
 * - An `exec` of several statements reports the rows of the last statement only, so
 *   such a call is undercounted (the product runs them in migrations only).
 * - A class without `alarm()` may not call `setAlarm`: the wrapper defines an event only
 *   where the base class has the handler.
 *
 * Concurrency: events of one object interleave at awaits, and nothing in the runtime
 * says which event a statement or send belongs to. Each instance has one set of
 * counters; an event's line holds everything counted since the previous line of that
 * object, and `ov` says how many other events of the object were still open (0: the
 * attribution is exact). Totals over an object's lines are exact, except what happens
 * after the last event of an instance (a promise left running when it is evicted).
 * Sends are attributed through the socket (the instance that accepted it, was handed it
 * by an event or found it with `getWebSockets`); a socket no metered instance knows of is
 * not counted. Outgoing RPCs count the UTF-8 bytes of their top-level string arguments.
 */

const ENABLED = 'SWITCHBOARD_METER';
/** Every line starts with this. */
export const METER_PREFIX = 'sbmeter ';

export interface MeterCounts {
  /** 1 in the first event of an instance: the constructor ran (a wake from hibernation or eviction). */
  wake: number;
  /** `sql.exec` calls, and the rows they wrote and read (the cursors' own counters). */
  sql: number;
  rw: number;
  rr: number;
  setAlarm: number;
  deleteAlarm: number;
  /** Keys read and written through the KV API (`storage.get/put/delete/list`, `storage.kv`). */
  kvRead: number;
  kvWrite: number;
  /** `WebSocket.send` calls on this object's sockets, and their bytes. */
  send: number;
  sendBytes: number;
  /** Outgoing calls on Durable Object stubs, and the bytes of their string arguments. */
  rpc: number;
  rpcBytes: number;
  /** Bytes that came in: the frame of a `webSocketMessage`, the string arguments of an RPC. */
  inBytes: number;
}

export interface MeterLine extends MeterCounts {
  /** The class. */
  readonly o: string;
  /** The event: fetch, ws-message, ws-close, ws-error, alarm, rpc:<method>. */
  readonly k: string;
  /** Date.now() at the end of the event (workerd's clock: the time of the last I/O). */
  readonly t: number;
  /** Other events of the same object still open when this one ended. */
  readonly ov: number;
  /** Outgoing RPCs by the env binding they went through. */
  readonly to?: Record<string, number>;
}

const COUNTERS: readonly (keyof MeterCounts)[] = ['wake', 'sql', 'rw', 'rr', 'setAlarm', 'deleteAlarm', 'kvRead', 'kvWrite', 'send', 'sendBytes', 'rpc', 'rpcBytes', 'inBytes'];

/** The handlers the runtime calls, and the event name each one gets. */
const HANDLERS: readonly (readonly [string, string])[] = [
  ['fetch', 'fetch'],
  ['webSocketMessage', 'ws-message'],
  ['webSocketClose', 'ws-close'],
  ['webSocketError', 'ws-error'],
  ['alarm', 'alarm'],
];

type AnyFunction = (...args: unknown[]) => unknown;
type Cursor = { readonly rowsWritten: number; readonly rowsRead: number };

function zero(): MeterCounts {
  return { wake: 0, sql: 0, rw: 0, rr: 0, setAlarm: 0, deleteAlarm: 0, kvRead: 0, kvWrite: 0, send: 0, sendBytes: 0, rpc: 0, rpcBytes: 0, inBytes: 0 };
}

/** One instance's counters, flushed into a line at the end of each of its events. */
class Meter {
  counts = zero();
  private to: Record<string, number> = {};
  /** Cursors created since no event of the object was open, with what was already counted of them. */
  private cursors: Array<{ cursor: Cursor; w: number; r: number }> = [];
  private open = 0;

  constructor(private readonly object: string) {
    this.counts.wake = 1;
  }

  cursor(cursor: Cursor): void {
    this.cursors.push({ cursor, w: 0, r: 0 });
  }

  rpcOut(binding: string, bytes: number): void {
    this.counts.rpc++;
    this.counts.rpcBytes += bytes;
    this.to[binding] = (this.to[binding] ?? 0) + 1;
  }

  begin(inBytes: number): void {
    this.open++;
    this.counts.inBytes += inBytes;
  }

  end(kind: string): void {
    for (const c of this.cursors) {
      try {
        const w = c.cursor.rowsWritten;
        const r = c.cursor.rowsRead;
        this.counts.rw += w - c.w;
        this.counts.rr += r - c.r;
        c.w = w;
        c.r = r;
      } catch {
        // A cursor the runtime has let go of: what it did was counted at the last look.
      }
    }
    this.open--;
    // Cursors of events still open are looked at again when those end.
    if (this.open === 0) this.cursors = [];
    const line: Record<string, unknown> = { o: this.object, k: kind, t: Date.now(), ov: this.open };
    for (const key of COUNTERS) line[key] = this.counts[key];
    if (this.counts.rpc > 0) line.to = this.to;
    console.log(METER_PREFIX + JSON.stringify(line));
    this.counts = zero();
    this.to = {};
  }
}

const meters = new WeakMap<object, Meter>();
/** The metered instance each socket belongs to. */
const owners = new WeakMap<object, Meter>();

/** UTF-8 length of a string without encoding it. */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // 2 bytes up to U+07FF, 3 above; a surrogate pair is 4 (2 for each half).
    if (c >= 0x80) n += c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 1 : 2;
  }
  return n;
}

function byteSize(v: unknown): number {
  if (typeof v === 'string') return utf8Length(v);
  if (v instanceof ArrayBuffer) return v.byteLength;
  if (ArrayBuffer.isView(v)) return v.byteLength;
  return 0;
}

function stringBytes(args: readonly unknown[]): number {
  let n = 0;
  for (const a of args) if (typeof a === 'string') n += utf8Length(a);
  return n;
}

/** Replaces `obj[name]` by an own property that runs `count(args, result)` after the original. */
function wrapOwn(obj: object, name: string, count: (args: unknown[], result: unknown) => void): void {
  const original = (obj as Record<string, unknown>)[name];
  if (typeof original !== 'function') return;
  Object.defineProperty(obj, name, {
    configurable: true,
    writable: true,
    value: function (this: unknown, ...args: unknown[]) {
      const result = (original as AnyFunction).apply(obj, args);
      count(args, result);
      return result;
    },
  });
}

const keyCount = (k: unknown): number => (Array.isArray(k) ? k.length : 1);

function countKv(kv: object, meter: Meter): void {
  wrapOwn(kv, 'get', (a) => (meter.counts.kvRead += keyCount(a[0])));
  wrapOwn(kv, 'put', (a) => (meter.counts.kvWrite += typeof a[0] === 'string' ? 1 : Object.keys(a[0] ?? {}).length));
  wrapOwn(kv, 'delete', (a) => (meter.counts.kvWrite += keyCount(a[0])));
  // The async list's keys are counted when it resolves; the sync one's iterator is the
  // caller's to consume, so its keys are not counted.
  wrapOwn(kv, 'list', (_a, result) => {
    if (result instanceof Promise) result.then((m: unknown) => (meter.counts.kvRead += m instanceof Map ? m.size : 0), () => {});
  });
}

/** Counting own properties on the instance's own storage and state objects. */
function instrument(ctx: DurableObjectState, meter: Meter): void {
  const storage = ctx.storage;
  let sql: SqlStorage | null = null;
  try {
    sql = storage.sql;
  } catch {
    // A KV-backed class has no SQL.
  }
  if (sql) {
    wrapOwn(sql, 'exec', (_a, cursor) => {
      meter.counts.sql++;
      meter.cursor(cursor as Cursor);
    });
  }
  wrapOwn(storage, 'setAlarm', () => meter.counts.setAlarm++);
  wrapOwn(storage, 'deleteAlarm', () => meter.counts.deleteAlarm++);
  countKv(storage, meter);
  const syncKv = (storage as unknown as { kv?: object }).kv;
  if (syncKv && typeof syncKv === 'object') countKv(syncKv, meter);
  wrapOwn(ctx, 'acceptWebSocket', (a) => owners.set(a[0] as object, meter));
  wrapOwn(ctx, 'getWebSockets', (_a, result) => {
    for (const ws of result as WebSocket[]) owners.set(ws, meter);
  });
}

let sendPatched = false;

/** Counts sends on metered instances' sockets (once per isolate, the first time the meter is on). */
function patchSend(): void {
  if (sendPatched) return;
  sendPatched = true;
  const proto = WebSocket.prototype as unknown as { send: AnyFunction };
  const send = proto.send;
  Object.defineProperty(proto, 'send', {
    configurable: true,
    writable: true,
    value: function (this: object, message: unknown) {
      const meter = owners.get(this);
      if (meter) {
        meter.counts.send++;
        meter.counts.sendBytes += byteSize(message);
      }
      return send.call(this, message);
    },
  });
}

function isNamespace(v: unknown): v is DurableObjectNamespace {
  // A service binding answers any property name with an RPC method, so the duck type is not enough.
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v)?.constructor?.name === 'DurableObjectNamespace';
}

function countingStub(stub: object, binding: string, meter: Meter): object {
  return new Proxy(stub, {
    get(target, p) {
      const v: unknown = Reflect.get(target, p);
      // Stubs are not thenables (`then` is undefined) and must stay so.
      if (typeof p === 'symbol' || typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        meter.rpcOut(binding, stringBytes(args));
        return Reflect.apply(v as AnyFunction, target, args);
      };
    },
  });
}

function countingNamespace(ns: object, binding: string, meter: Meter): object {
  return new Proxy(ns, {
    get(target, p) {
      const v: unknown = Reflect.get(target, p, target);
      if (typeof v !== 'function') return v;
      const f = v as AnyFunction;
      if (p === 'get' || p === 'getByName') return (...a: unknown[]) => countingStub(f.apply(target, a) as object, binding, meter);
      if (p === 'jurisdiction') return (...a: unknown[]) => countingNamespace(f.apply(target, a) as object, binding, meter);
      return f.bind(target);
    },
  });
}

function meteredEnv(env: Record<string, unknown>, meter: Meter): Record<string, unknown> {
  const out: Record<string, unknown> = { ...env };
  for (const [name, v] of Object.entries(env)) if (isNamespace(v)) out[name] = countingNamespace(v, name, meter);
  return out;
}

function countingEvent(original: AnyFunction, kind: string, ws: boolean): AnyFunction {
  return async function (this: object, ...args: unknown[]) {
    const meter = meters.get(this);
    if (!meter) return original.apply(this, args);
    if (ws && args[0]) owners.set(args[0] as object, meter);
    meter.begin(kind === 'ws-message' ? byteSize(args[1]) : kind.startsWith('rpc:') ? stringBytes(args) : 0);
    try {
      return await original.apply(this, args);
    } finally {
      meter.end(kind);
    }
  };
}

/**
 * `Base` with per-event counters when `env.SWITCHBOARD_METER === '1'`, and `Base` itself
 * otherwise (the constructor returns a plain instance of it). `rpcMethods` are the
 * methods other objects call on its stubs; each is an event of its own.
 */
export function metered<T extends new (ctx: DurableObjectState, env: any) => object>(Base: T, rpcMethods: readonly string[]): T {
  type Instance = Record<string, unknown>;
  const B = Base as unknown as new (ctx: DurableObjectState, env: unknown) => Instance;
  const name = Base.name;
  class Metered extends B {
    constructor(ctx: DurableObjectState, env: Record<string, unknown> | undefined) {
      if (env?.[ENABLED] !== '1') return new B(ctx, env);
      const meter = new Meter(name);
      instrument(ctx, meter);
      patchSend();
      super(ctx, meteredEnv(env, meter));
      meters.set(this, meter);
    }
  }
  Object.defineProperty(Metered, 'name', { value: name });
  const proto = Metered.prototype as unknown as Instance;
  const events: Array<[string, string]> = [...HANDLERS.map(([m, k]) => [m, k] as [string, string]), ...rpcMethods.map((m) => [m, `rpc:${m}`] as [string, string])];
  for (const [method, kind] of events) {
    const original = (B.prototype as Instance)[method];
    if (typeof original !== 'function') {
      if (kind.startsWith('rpc:')) throw new Error(`metered: ${name} has no method ${method}`);
      continue;
    }
    Object.defineProperty(proto, method, { configurable: true, writable: true, value: countingEvent(original as AnyFunction, kind, kind.startsWith('ws-')) });
  }
  return Metered as unknown as T;
}

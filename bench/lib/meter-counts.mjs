/**
 * The meter's lines (durable-objects/shared/meter.ts, one per Durable Object event, on
 * workerd's stdout, which the targets write to their log) summed over a span of the wall
 * clock and turned into counts per call, with the requests and rows Cloudflare would bill:
 *
 * - requests (https://developers.cloudflare.com/durable-objects/platform/pricing/): each
 *   HTTP request to an object (`fetch`: the WebSocket upgrade), each RPC method call on a
 *   stub and each alarm invocation is one request; incoming WebSocket messages count 1/20
 *   (the 20:1 ratio; the meter's `ws-close` and `ws-error` events are counted the same
 *   way); outgoing WebSocket messages and the runtime's auto-responses are free. Incoming
 *   calls are counted where they arrive (the metered class's `rpc:*` events), and calls
 *   that leave for objects of a class that is not metered (the product's tenant and
 *   directory objects) are counted where they leave, by the binding they went through.
 * - rows written: the SQL cursors' `rowsWritten`, keys written through the KV API, and one
 *   row for each `setAlarm`, which Cloudflare bills as a row written.
 */
import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';

const PREFIX = 'sbmeter ';
const COUNTERS = ['wake', 'sql', 'rw', 'rr', 'setAlarm', 'deleteAlarm', 'kvRead', 'kvWrite', 'send', 'sendBytes', 'rpc', 'rpcBytes', 'inBytes'];
const WS_RATIO = 20;

/** Sums of the meter's lines whose event ended in [fromMs, toMs] (Date.now() of both sides). */
export async function readMeter(file, fromMs, toMs) {
  const sum = { lines: 0, overlapping: 0, events: {}, counters: Object.fromEntries(COUNTERS.map((c) => [c, 0])), rpcTo: {} };
  if (!file || !existsSync(file)) return sum;
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.startsWith(PREFIX)) continue;
    let m;
    try {
      m = JSON.parse(line.slice(PREFIX.length));
    } catch {
      continue;
    }
    if (m.t < fromMs || m.t > toMs) continue;
    sum.lines++;
    if (m.ov > 0) sum.overlapping++;
    sum.events[m.k] = (sum.events[m.k] ?? 0) + 1;
    for (const c of COUNTERS) sum.counters[c] += m[c] ?? 0;
    for (const [b, n] of Object.entries(m.to ?? {})) sum.rpcTo[b] = (sum.rpcTo[b] ?? 0) + n;
  }
  return sum;
}

const per = (v, n) => (n ? Math.round((v / n) * 1000) / 1000 : null);

/**
 * Counts per call (or per registration): `sum` from readMeter over `n` of them;
 * `meteredBindings` are the env bindings whose objects are metered themselves.
 */
export function perUnit(sum, n, meteredBindings) {
  const c = sum.counters;
  let requests = 0;
  for (const [kind, count] of Object.entries(sum.events)) requests += kind.startsWith('ws-') ? count / WS_RATIO : count;
  let unmeteredRpcs = 0;
  for (const [b, count] of Object.entries(sum.rpcTo)) if (!meteredBindings.includes(b)) unmeteredRpcs += count;
  requests += unmeteredRpcs;
  return {
    units: n,
    meterLines: sum.lines,
    linesWithOverlappingEvents: sum.overlapping,
    events: Object.fromEntries(Object.entries(sum.events).sort().map(([k, v]) => [k, per(v, n)])),
    wakes: per(c.wake, n),
    rpcsOut: per(c.rpc, n),
    rpcsOutByBinding: Object.fromEntries(Object.entries(sum.rpcTo).sort().map(([k, v]) => [k, per(v, n)])),
    rpcBytesOut: per(c.rpcBytes, n),
    socketSends: per(c.send, n),
    socketSendBytes: per(c.sendBytes, n),
    bytesIn: per(c.inBytes, n),
    sqlStatements: per(c.sql, n),
    sqlRowsWritten: per(c.rw, n),
    sqlRowsRead: per(c.rr, n),
    setAlarms: per(c.setAlarm, n),
    deleteAlarms: per(c.deleteAlarm, n),
    kvKeysRead: per(c.kvRead, n),
    kvKeysWritten: per(c.kvWrite, n),
    billedRequests: per(requests, n),
    billedRowsWritten: per(c.rw + c.kvWrite + c.setAlarm, n),
    billedRowsRead: per(c.rr + c.kvRead, n),
  };
}

/**
 * The core fuzzer: a long stream of generated inputs, reproducible by seed, through
 * `parseMessage` and through `step` of a simulated tenant (world.ts). Every text goes to
 * the parser alone (parse-check.ts) and then, as a socket frame or a peer's relay, to the
 * core; sockets open and close, alarms fire as the clock advances in varying tempo, and
 * every so often the clock is run past every deadline to check that the state drains.
 */
import { performance } from 'node:perf_hooks';
import { parseMessage } from '../../sip/message/parser.js';
import { step } from '../../sip/index.js';
import type { Input } from '../../sip/io.js';
import type { UserState } from '../../sip/state.js';
import { loadCorpus } from './corpus.js';
import { generate, type GenContext } from './generate.js';
import { invite, register, request } from './messages.js';
import { checkParse } from './parse-check.js';
import { Rng } from './rng.js';
import { CALLABLE, MAX_DRAINED_RECORDS, MAX_RECORDS, MAX_STATE_JSON, USERS, World, type Conn, type Failure } from './world.js';

export interface CoreFuzzOptions {
  readonly seed: number;
  readonly inputs: number;
  /** Inputs between two drains (clock past every deadline, then every socket closed). */
  readonly drainEvery: number;
  readonly onProgress?: (r: CoreFuzzReport) => void;
  readonly progressEvery?: number;
}

export interface FailureSummary {
  readonly property: string;
  readonly count: number;
  readonly first: Failure & { readonly minimal?: string };
}

export interface CoreFuzzReport {
  readonly seed: number;
  readonly inputs: number;
  readonly parsed: number;
  readonly steps: number;
  readonly seconds: number;
  readonly inputsPerSecond: number;
  readonly maxRecords: number;
  readonly maxBytes: number;
  readonly maxFields: Record<string, number>;
  readonly maxUser: string;
  readonly maxDrainedRecords: number;
  readonly drains: number;
  readonly bound: { readonly records: number; readonly bytes: number; readonly drained: number };
  readonly stats: Record<string, number>;
  readonly failures: readonly FailureSummary[];
}

/**
 * How fast the clock moves between inputs. `flood` is an abuser at the rate limit: two
 * authenticated sockets sending nothing but well-formed INVITEs, SUBSCRIBEs and MESSAGEs,
 * 20 a second between them, for minutes: what a core without caps would keep grows by
 * about 1,300 records per ring timeout.
 */
type Tempo = 'calm' | 'busy' | 'burst' | 'jumpy' | 'flood';

function clockStep(rng: Rng, tempo: Tempo): number {
  switch (tempo) {
    case 'calm':
      return rng.range(200, 3000);
    case 'busy':
      return rng.range(0, 60);
    case 'flood':
      return rng.range(45, 55);
    case 'burst':
      return rng.range(0, 2);
    case 'jumpy':
      return rng.weighted([[88, rng.range(0, 500)], [10, rng.range(30_000, 300_000)], [2, rng.range(3_600_000, 7_200_000)]]);
  }
}

/** Call-IDs and tags in the states, for requests that almost match a dialog. */
function dialogIds(world: World): GenContext['dialogIds'] {
  const out: Array<{ callId: string; tags: string[] }> = [];
  for (const st of world.states.values()) {
    for (const d of st.dialogs) out.push({ callId: d.callId, tags: [d.local.tag, d.remote.tag].filter((t): t is string => t !== null) });
    for (const f of st.forks) out.push({ callId: f.callId, tags: [f.callerTag, ...f.branches.flatMap((b) => (b.toTag ? [b.toTag] : []))] });
  }
  return out.slice(-64);
}

/** Dialogs that may outlive every deadline: calls answered on a socket still open. */
function liveCalls(state: UserState, world: World): number {
  return state.dialogs.filter((d) => d.state === 'confirmed' && d.kind === 'call' && d.conn !== null && world.conns.get(d.conn)?.open).length;
}

function drain(world: World): number {
  world.advance(2 * 3_600_000);
  for (const [user, st] of world.states) {
    const size = world.size(user);
    const allowed = liveCalls(st, world) + MAX_DRAINED_RECORDS;
    if (size.records > allowed) world.fail({ property: 'past every deadline, little but live calls remains', detail: `${user}: ${size.records} records ${JSON.stringify(size.fields)} (${liveCalls(st, world)} live calls)`, user, state: st, now: world.now });
  }
  for (const c of world.openConns()) world.close(c);
  world.advance(2 * 3_600_000);
  let most = 0;
  for (const [user, st] of world.states) {
    const size = world.size(user);
    most = Math.max(most, size.records);
    if (size.records > MAX_DRAINED_RECORDS) world.fail({ property: 'once every socket has closed and every deadline passed, the state drains', detail: `${user}: ${size.records} records ${JSON.stringify(size.fields)}`, user, state: st, now: world.now });
  }
  return most;
}

/** Shrinks the text of an input that made `step` throw, keeping the same error. */
function minimise(world: World, f: Failure): string | undefined {
  const input = f.input;
  if (!f.state || !input || !('text' in input) || f.user === undefined) return undefined;
  const user = f.user;
  const state = f.state;
  // The same error thrown from the same function.
  const signature = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message} ${/at (\S+)/.exec(err.stack ?? '')?.[1] ?? ''}` : String(err));
  let wanted: string | null = null;
  const throws = (text: string): boolean => {
    try {
      step(state, { ...input, text } as Input, world.contextAt(user, f.now ?? world.now));
      return false;
    } catch (err) {
      wanted ??= signature(err);
      return signature(err) === wanted;
    }
  };
  let text = input.text;
  if (!throws(text)) return undefined;
  for (let changed = true; changed; ) {
    changed = false;
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const cand = [...lines.slice(0, i), ...lines.slice(i + 1)].join('\n');
      if (cand.length < text.length && throws(cand)) {
        text = cand;
        changed = true;
        break;
      }
    }
  }
  return text;
}

export function runCoreFuzz(o: CoreFuzzOptions): CoreFuzzReport {
  const rng = new Rng(o.seed);
  const world = new World(new Rng(o.seed ^ 0x5bd1e995));
  const corpus = loadCorpus();
  const t0 = performance.now();
  let parsed = 0;
  let drains = 0;
  let maxDrained = 0;
  let tempo: Tempo = 'calm';
  let ctx: GenContext = { corpus, conns: [], dialogIds: [] };
  const extra = { peerTextsInvalid: 0 };

  const report = (): CoreFuzzReport => {
    const seconds = (performance.now() - t0) / 1000;
    const groups = new Map<string, { count: number; first: Failure }>();
    for (const f of world.failures) {
      // Distinct throws are told apart by their error and the function that threw.
      const key = /never throws/.test(f.property) ? `${f.property}\u0000${f.detail.split('\n').slice(0, 2).join(' ').replace(/:\d+:\d+\)/g, ')')}` : f.property;
      const g = groups.get(key);
      if (g) g.count++;
      else groups.set(key, { count: 1, first: f });
    }
    return {
      seed: o.seed,
      inputs: parsed,
      parsed,
      steps: world.stats.steps,
      seconds,
      inputsPerSecond: parsed / Math.max(seconds, 1e-9),
      maxRecords: world.max.records,
      maxBytes: world.max.bytes,
      maxFields: world.max.fields,
      maxUser: world.max.user,
      maxDrainedRecords: maxDrained,
      drains,
      bound: { records: MAX_RECORDS, bytes: MAX_STATE_JSON, drained: MAX_DRAINED_RECORDS },
      stats: { ...world.stats, ...extra },
      failures: [...groups.values()].map((g) => ({ property: g.first.property, count: g.count, first: g.first.property === 'step never throws' ? { ...g.first, minimal: minimise(world, g.first) } : g.first })),
    };
  };

  let flooders: Conn[] = [];
  const afterInput = () => {
    if (o.onProgress && o.progressEvery && parsed % o.progressEvery === 0) o.onProgress(report());
    if (parsed % o.drainEvery === 0) {
      maxDrained = Math.max(maxDrained, drain(world));
      drains++;
    }
  };
  const randomUser = () => rng.weighted<string>([[5, 'alice'], [4, 'bob'], [3, 'carol'], [1, 'dave']]);
  const openSome = (user: string): Conn | null => world.open(user, rng.chance(0.6) ? 'token' : null, rng.chance(0.8));

  for (let i = 0; parsed < o.inputs; i++) {
    if (i % 2000 === 0) {
      tempo = rng.weighted<Tempo>([[3, 'calm'], [3, 'busy'], [1, 'burst'], [2, 'jumpy'], [1, 'flood']]);
      flooders = [];
    }
    if (tempo === 'flood') {
      flooders = flooders.filter((c) => c.open);
      while (flooders.length < 2) {
        const c = world.open(randomUser(), 'token', true) ?? world.openConns().find((x) => x.auth !== null) ?? null;
        if (!c) break;
        flooders.push(c);
      }
      if (flooders.length > 0) {
        const c = rng.pick(flooders);
        const to = rng.pick(['alice', 'bob', 'carol']);
        const text = rng.weighted<() => string>([[6, () => invite(rng, c.speaker, to)], [2, () => request(rng, c.speaker, { method: 'SUBSCRIBE', uri: `sip:${to}@${c.speaker.domain}`, headers: ['Event: presence', 'Expires: 3600'] })], [1, () => request(rng, c.speaker, { method: 'MESSAGE', uri: `sip:${to}@${c.speaker.domain}`, body: 'flood', contentType: 'text/plain', contact: null })], [1, () => register(rng, c.speaker)]])();
        parsed++;
        const bad = checkParse(text);
        if (bad) world.fail({ ...bad, detail: `${bad.detail}\norigin: flood\ntext: ${JSON.stringify(text.slice(0, 4000))}` });
        world.socketMessage(c, text);
        afterInput();
        world.advance(clockStep(rng, tempo));
        continue;
      }
    }
    if (i % 50 === 0) ctx = { corpus, conns: [...world.conns.keys()], dialogIds: dialogIds(world) };
    const action = rng.weighted<string>([[84, 'socket'], [7, 'peer'], [3, 'open'], [3, 'close'], [3, 'timer']]);
    if (action === 'open') openSome(randomUser());
    else if (action === 'close') {
      const open = world.openConns();
      if (open.length > 0) world.close(rng.pick(open));
    } else if (action === 'timer') world.timer(rng.pick([...USERS, 'ghost']));
    else {
      let conn: Conn | null = null;
      let answering = false;
      if (action === 'socket') {
        const open = world.openConns();
        // Half the time a socket with something new to answer, as a UA answers at once.
        const waiting = open.filter((c) => c.frames > c.seen);
        conn = waiting.length > 0 && rng.chance(0.5) ? rng.pick(waiting) : open.length > 0 && rng.chance(0.97) ? rng.pick(open) : openSome(randomUser());
        answering = conn !== null && conn.frames > conn.seen;
        if (conn) conn.seen = conn.frames;
      } else {
        // A relay from another user's object: speak as one of that user's sockets.
        const from = rng.pick(CALLABLE);
        conn = world.openConns(from)[0] ?? world.openConns()[0] ?? null;
      }
      if (!conn) continue;
      const g = generate(rng, conn.speaker, ctx, answering);
      parsed++;
      const bad = checkParse(g.text);
      if (bad) world.fail({ ...bad, detail: `${bad.detail}\norigin: ${g.origin}\ntext: ${JSON.stringify(g.text.slice(0, 4000))}` });
      if (action === 'socket') world.socketMessage(conn, g.text);
      else if (parseMessage(g.text).ok) {
        // Only what passed validation where it entered can come from a peer (engine.ts: trusted).
        const to = rng.pick([...USERS, 'ghost']);
        world.peerInput(to, g.text.startsWith('SIP/') ? 'peer-response' : 'peer-request', conn.user, g.text);
      } else extra.peerTextsInvalid++;
      afterInput();
    }
    world.advance(clockStep(rng, tempo));
  }
  maxDrained = Math.max(maxDrained, drain(world));
  drains++;
  return report();
}

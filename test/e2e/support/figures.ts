/**
 * Call set-up figures from the SIP messages and stats the pages saw: set-up time (the
 * caller's initial INVITE leaving its WebSocket to the 200 OK arriving), time to first
 * media (the call starting, by the harness's mark or a click, to the caller's first inbound
 * audio bytes), and the service's share of set-up (100 Trying, INVITE and 200 OK transit).
 * Each test file prints them as `E2E FIGURES {json}` and merges them into
 * test-results/e2e-figures.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ROOT } from '../../support/dev-server.js';
import type { WireFrame } from '../harness/types.js';

/** Milliseconds, by figure name. */
export type Figures = Record<string, number>;

export interface CallFigures extends Figures {
  /** Caller: initial INVITE sent to 200 OK received. */
  readonly setupMs: number;
  /** Caller: call started (mark or click) to the first inbound audio bytes. */
  readonly firstMediaMs: number;
  /** Caller: INVITE sent to the service's 100 Trying. */
  readonly tryingMs: number;
  /** Caller's INVITE sent to the callee's INVITE received: the service's forwarding time. */
  readonly inviteTransitMs: number;
  /** Callee's 200 OK sent to the caller's 200 OK received. */
  readonly okTransitMs: number;
}

const header = (text: string, re: RegExp): string | null => re.exec(text)?.[1]?.trim() ?? null;
const callIdOf = (text: string) => header(text, /^(?:Call-ID|i)\s*:(.*)$/im);
const cseqOf = (text: string) => header(text, /^CSeq\s*:(.*)$/im) ?? '';
const toOf = (text: string) => header(text, /^(?:To|t)\s*:(.*)$/im) ?? '';

function find(frames: readonly WireFrame[], what: string, test: (f: WireFrame) => boolean): WireFrame {
  const f = frames.find(test);
  if (!f) throw new Error(`no ${what} in the page's SIP messages`);
  return f;
}

const isInvite = (f: WireFrame) => f.text.startsWith('INVITE ') && !/;\s*tag=/i.test(toOf(f.text));
const isResponse = (status: number, callId: string | null) => (f: WireFrame) =>
  f.text.startsWith(`SIP/2.0 ${status} `) && callIdOf(f.text) === callId && /\bINVITE$/.test(cseqOf(f.text));

interface Seen {
  readonly frames: WireFrame[];
  readonly start: number | undefined;
  readonly pcs: Array<{ createdAt: number; firstAudioAt: number | null }>;
}

const seen = (page: Page): Promise<Seen> =>
  page.evaluate(() => ({ frames: window.__e2e.frames, start: window.__e2e.marks['call-start'], pcs: window.__e2e.peerConnections }));

/**
 * Figures of the caller's most recent call, from both pages' SIP messages (their clocks
 * are the same machine's). Call once media has been seen flowing.
 */
export async function callFigures(caller: Page, callee: Page): Promise<CallFigures> {
  const [a, b] = await Promise.all([seen(caller), seen(callee)]);
  if (a.start === undefined) throw new Error('the caller page has no call-start mark');
  const start = a.start;
  const invite = find(a.frames, 'initial INVITE sent', (f) => f.dir === 'out' && f.t >= start && isInvite(f));
  const callId = callIdOf(invite.text);
  const trying = find(a.frames, '100 Trying', (f) => f.dir === 'in' && f.t > invite.t && isResponse(100, callId)(f));
  const ok = find(a.frames, '200 OK received', (f) => f.dir === 'in' && f.t > invite.t && isResponse(200, callId)(f));
  const delivered = find(b.frames, 'INVITE received', (f) => f.dir === 'in' && isInvite(f) && callIdOf(f.text) === callId);
  const answered = find(b.frames, '200 OK sent', (f) => f.dir === 'out' && isResponse(200, callId)(f));
  const pc = a.pcs.find((p) => p.createdAt >= start);
  if (!pc?.firstAudioAt) throw new Error('the caller saw no inbound audio');
  return {
    setupMs: round(ok.t - invite.t),
    firstMediaMs: round(pc.firstAudioAt - start),
    tryingMs: round(trying.t - invite.t),
    inviteTransitMs: round(delivered.t - invite.t),
    okTransitMs: round(ok.t - answered.t),
  };
}

const round = (ms: number) => Math.round(ms * 10) / 10;

const FILE = join(ROOT, 'test-results', 'e2e-figures.json');
/**
 * Which `vitest run` measured a figure: the test files of one run are workers of the same
 * Vitest process (or run inside it), so they share a parent process.
 */
const RUN = process.ppid;

interface Stored {
  readonly scenarios: Record<string, { readonly run: number; readonly measuredAt: string; readonly figures: Figures }>;
}

const SUMMARISED = ['setupMs', 'firstMediaMs', 'tryingMs', 'inviteTransitMs', 'okTransitMs'];

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : round((s[s.length / 2 - 1]! + s[s.length / 2]!) / 2);
}

/** Merges this file's figures into this run's test-results/e2e-figures.json and prints them all. */
export function publishFigures(measured: Record<string, Figures>): void {
  let previous: Stored = { scenarios: {} };
  try {
    previous = JSON.parse(readFileSync(FILE, 'utf8')) as Stored;
  } catch {
    // the first file of the run
  }
  const at = new Date().toISOString();
  const scenarios: Stored['scenarios'] = {
    ...Object.fromEntries(Object.entries(previous.scenarios ?? {}).filter(([, s]) => s.run === RUN)),
    ...Object.fromEntries(Object.entries(measured).map(([name, figures]) => [name, { run: RUN, measuredAt: at, figures }])),
  };
  const all = Object.values(scenarios).map((s) => s.figures);
  const summary: Figures = { calls: all.filter((f) => f.setupMs !== undefined).length };
  for (const name of SUMMARISED) {
    const xs = all.flatMap((f) => (f[name] === undefined ? [] : [f[name]]));
    if (xs.length === 0) continue;
    summary[`${name}Median`] = median(xs);
    summary[`${name}Max`] = Math.max(...xs);
  }
  mkdirSync(join(ROOT, 'test-results'), { recursive: true });
  writeFileSync(FILE, `${JSON.stringify({ summary, scenarios }, null, 2)}\n`);
  const printed = Object.fromEntries(Object.entries(scenarios).map(([name, s]) => [name, s.figures]));
  console.log(`E2E FIGURES ${JSON.stringify({ summary, scenarios: printed })}`);
}

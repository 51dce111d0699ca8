/**
 * One fuzzed frame for one socket: a seed from the corpus, a fresh request, an answer to
 * what the socket received, a forged response, a near-miss of a dialog, or noise; then
 * zero or more mutations. `origin` says which, for reports.
 */
import type { Corpus } from './corpus.js';
import { freshRequest, noise, type Speaker } from './messages.js';
import { mutate } from './mutate.js';
import { forgedResponse, nearDialog, reply } from './replies.js';
import type { Rng } from './rng.js';

export interface Generated {
  readonly text: string;
  readonly origin: string;
}

export interface GenContext {
  readonly corpus: Corpus;
  /** Connection ids the fuzzer knows of (in the simulator: all of them). */
  readonly conns: readonly string[];
  /** Call-IDs and tags seen, to write requests that almost match a dialog. */
  readonly dialogIds: ReadonlyArray<{ callId: string; tags: readonly string[] }>;
}

function mutationCount(rng: Rng, base: number): number {
  return rng.weighted<number>([[10 - base * 2, 0], [3 + base, 1], [1 + base, 2], [1, rng.range(3, 6)]]);
}

/** `answering`: the socket has received something it has not looked at yet, and mostly answers it. */
export function generate(rng: Rng, sp: Speaker, g: GenContext, answering = false): Generated {
  const kind = rng.weighted<string>([[24, 'corpus'], [26, 'fresh'], [answering ? 150 : 32, 'reply'], [6, 'forged'], [8, 'near'], [2, 'noise']]);
  let text: string | null = null;
  let base = 0;
  switch (kind) {
    case 'corpus': {
      const seed = rng.pick(g.corpus.raw);
      text = rng.chance(0.85) ? g.corpus.retarget(seed, sp.user, rng.pick(sp.peers), sp.domain) : seed.text;
      base = 2;
      break;
    }
    case 'reply':
      text = reply(rng, sp);
      break;
    case 'forged':
      text = forgedResponse(rng, sp, g.conns);
      break;
    case 'near':
      text = nearDialog(rng, sp, g.dialogIds);
      break;
    case 'noise':
      return { text: noise(rng), origin: 'noise' };
  }
  const origin = text === null ? 'fresh' : kind;
  text ??= freshRequest(rng, sp);
  const n = mutationCount(rng, origin === 'fresh' ? 1 : base);
  if (n === 0) return { text, origin };
  const m = mutate(rng, text, n);
  return { text: m.text, origin: `${origin} + ${m.applied.join(', ')}` };
}

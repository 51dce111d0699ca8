/**
 * The parser alone: microseconds per `parseMessage` of the messages JsSIP and SIP.js really
 * sent (test/fixtures/sip-traces), each made unique per round (its
 * Via branch, tags and Call-ID get a counter) so that no memoised header view is reused,
 * as in real traffic. `npm run bench:parse`.
 */
import { performance } from 'node:perf_hooks';
import { parseMessage } from '../../sip/message/parser.js';
import { allTraces } from '../../test/support/traces.js';

const ROUNDS = Number(process.env.ROUNDS ?? 4000);
const ok = allTraces().map((t) => t.text).filter((t) => parseMessage(t).ok);
if (ok.length === 0) throw new Error('no parsable message in the traces');

const unique = (t: string, n: number) => t.replace(/branch=z9hG4bK([\w.-]*)/g, `branch=z9hG4bK$1x${n}`).replace(/;tag=([\w.-]+)/g, `;tag=$1x${n}`).replace(/^(Call-ID: \S+)/m, `$1x${n}`);

let ms = 0;
let parsed = 0;
let failed = 0;
for (let r = 0; r < ROUNDS; r++) {
  const batch = ok.map((t) => unique(t, r));
  const t0 = performance.now();
  for (const text of batch) if (!parseMessage(text).ok) failed++;
  ms += performance.now() - t0;
  parsed += batch.length;
}
console.log(`${ok.length} messages x ${ROUNDS} rounds: ${((ms * 1000) / parsed).toFixed(2)} µs per parseMessage, ${failed} failed`);

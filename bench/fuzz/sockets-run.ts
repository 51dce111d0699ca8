/**
 * `npm run fuzz:sockets`: 10,000 fuzzed frames (FUZZ_MESSAGES) over real WebSockets into
 * the product under `wrangler dev`, seed FUZZ_SEED (printed). Exit code 1 when a
 * bystander check failed, the runtime stopped answering, or the log shows an uncaught
 * exception or a failed step. The bundle lives in node_modules/.cache/ so that
 * test/support/dev-server.ts finds the repository two levels up, as from its own place.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, startDevServer } from '../../test/support/dev-server.js';
import { fuzzSockets } from './sockets.js';

const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;
const messages = Number(process.env.FUZZ_MESSAGES ?? 10_000);
console.log(`sockets: seed ${seed}, ${messages} messages (reproduce with FUZZ_SEED=${seed} FUZZ_MESSAGES=${messages}); starting wrangler dev`);
const server = await startDevServer();
let failed = true;
try {
  const r = await fuzzSockets(server, { messages, seed, checkEvery: 1000, log: (s) => console.log(s) });
  console.log(`sockets: done: ${r.messages} messages (${r.binaryFrames} binary) in ${r.seconds.toFixed(1)} s, ${Math.round(r.messagesPerSecond)} messages/s; ${r.framesReceived} frames received; ${r.socketsOpened} sockets opened, closed by the server: ${JSON.stringify(r.closedByServer)}`);
  console.log(`sockets: received by status or method: ${Object.entries(r.received).sort().map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`sockets: bystander checks: ${r.checks.passed} passed, ${r.checks.failed.length} failed, slowest ${Math.round(r.checks.maxMs)} ms; /healthz at the end: ${r.healthzAtEnd}`);
  console.log(`sockets: log: ${r.uncaught.length} uncaught exceptions, ${r.stepFailed.length} failed steps, other error lines: ${JSON.stringify(r.otherErrors)}`);
  for (const l of [...r.uncaught, ...r.stepFailed].slice(0, 20)) console.log(`  ${l}`);
  for (const f of r.checks.failed) console.log(`  check failed: ${f}`);
  mkdirSync(join(ROOT, 'test-results'), { recursive: true });
  writeFileSync(join(ROOT, 'test-results', 'fuzz-sockets.json'), JSON.stringify(r, null, 1));
  failed = r.checks.failed.length > 0 || r.healthzAtEnd !== 200 || r.uncaught.length > 0 || r.stepFailed.length > 0;
} finally {
  await server.stop();
}
process.exitCode = failed ? 1 : 0;

/**
 * The socket fuzzer of bench/fuzz at 1,000 frames (`npm run fuzz:sockets` sends 10,000):
 * mutated SIP over real WebSockets into the product under `wrangler dev`, from sockets
 * with tokens and without, while a user the fuzz never touches keeps registering and
 * answering OPTIONS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevServer, type DevServer } from '../support/dev-server.js';
import { fuzzSockets, type SocketFuzzReport } from '../../bench/fuzz/sockets.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
let server: DevServer;
let report: SocketFuzzReport;

beforeAll(async () => {
  server = await startDevServer();
  report = await fuzzSockets(server, { messages: 1_000, seed: SEED, checkEvery: 250 });
  console.log(`socket fuzz: seed ${SEED}, ${report.messages} frames (${report.binaryFrames} binary) in ${report.seconds.toFixed(1)} s, ${report.framesReceived} frames back, checks ${report.checks.passed} passed / ${report.checks.failed.length} failed`);
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

describe('1,000 fuzzed frames over real WebSockets', () => {
  it('are answered, not absorbed by the rate limit', () => {
    expect(report.framesReceived).toBeGreaterThan(300);
    expect(Object.keys(report.received).filter((k) => /Rate Limit/i.test(k))).toEqual([]);
  });

  it('leave another user able to register with digest and to answer OPTIONS, throughout and at the end', () => {
    expect(report.checks.failed).toEqual([]);
    // before, after 250, 500 and 750 frames, and at the end
    expect(report.checks.passed).toBe(5);
    expect(report.healthzAtEnd).toBe(200);
  });

  it('cause no uncaught exception in the runtime', () => {
    expect(report.uncaught).toEqual([]);
  });

  it('never make the core throw (the adapter would log "step failed")', () => {
    expect(report.stepFailed).toEqual([]);
  });
});

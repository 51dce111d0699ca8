/**
 * The core fuzzer of bench/fuzz at 20,000 inputs (`npm run fuzz` runs 1,000,000): mutated
 * captures and torture cases, fresh and answering clients, forged Vias, peers' relays,
 * socket closes and alarms with the clock advancing, through `parseMessage` and `step`.
 * The seed is fixed so the suite is repeatable; FUZZ_SEED picks another.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runCoreFuzz, type CoreFuzzReport } from '../../bench/fuzz/core-fuzz.js';
import { MAX_DRAINED_RECORDS, MAX_RECORDS, MAX_STATE_JSON } from '../../bench/fuzz/world.js';
import { registeredPair } from '../support/sim.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const INPUTS = 20_000;

let report: CoreFuzzReport;

beforeAll(() => {
  report = runCoreFuzz({ seed: SEED, inputs: INPUTS, drainEvery: 5_000 });
  console.log(
    `core fuzz: seed ${SEED}, ${report.inputs} inputs, ${report.steps} steps in ${report.seconds.toFixed(1)} s (${Math.round(report.inputsPerSecond)}/s), ` +
      `max state ${report.maxRecords} records / ${report.maxBytes} JSON chars, failures: ${report.failures.map((f) => `${f.property} x${f.count}`).join('; ') || 'none'}`,
  );
}, 60_000);

/** The failures of one property, told in full so a red test shows the input that broke it. */
function failuresOf(property: RegExp): string[] {
  return report.failures
    .filter((f) => property.test(f.property))
    .map((f) => `${f.property} (${f.count}x, seed ${SEED}): ${f.first.detail}${f.first.input && 'text' in f.first.input ? `\ninput: ${JSON.stringify(f.first.input.text)}` : ''}${f.first.minimal ? `\nminimal: ${JSON.stringify(f.first.minimal)}` : ''}`);
}

describe(`core fuzzing, ${INPUTS.toLocaleString('en-US')} generated inputs`, () => {
  it('reaches deep into the core: digest succeeds, calls are answered, forks and dialogs are kept', () => {
    expect(report.inputs).toBe(INPUTS);
    expect(report.stats.digestAuthentications).toBeGreaterThan(20);
    expect(report.stats.answeredCalls).toBeGreaterThan(10);
    expect(report.stats.relays).toBeGreaterThan(1000);
    expect(report.stats.closes).toBeGreaterThan(100);
    expect(report.maxFields.forks ?? 0).toBeGreaterThan(0);
    expect(report.maxFields.dialogs ?? 0).toBeGreaterThan(0);
  });

  it('parseMessage never throws', () => {
    expect(failuresOf(/^parseMessage never throws/)).toEqual([]);
  });

  it('every parse failure carries a 4xx/5xx status and a one-line reason', () => {
    expect(failuresOf(/^a parse failure/)).toEqual([]);
  });

  it('a parsed message serialises to text that parses to the same message', () => {
    expect(failuresOf(/serialis/)).toEqual([]);
  });

  it('step never throws, whatever sockets and peers send (nor does the rate-limit refusal)', () => {
    expect(failuresOf(/never throws$/).filter((f) => !f.startsWith('parseMessage'))).toEqual([]);
  });

  it('one input never sets off an unbounded chain of relays', () => {
    expect(failuresOf(/bounded number of steps/)).toEqual([]);
  });

  it(`every user's state stays under ${MAX_RECORDS} records and ${MAX_STATE_JSON} JSON characters`, () => {
    expect(failuresOf(/^state stays under/)).toEqual([]);
    expect(report.maxRecords).toBeLessThanOrEqual(MAX_RECORDS);
    expect(report.maxBytes).toBeLessThanOrEqual(MAX_STATE_JSON);
  });

  it('a timer input leaves no deadline due (the alarm would spin)', () => {
    expect(failuresOf(/timer input/)).toEqual([]);
  });

  it(`past every deadline only live calls remain, and once every socket has closed at most ${MAX_DRAINED_RECORDS} records do`, () => {
    expect(report.drains).toBeGreaterThanOrEqual(4);
    expect(failuresOf(/past every deadline|drains/)).toEqual([]);
  });

  it('is reproducible: the same seed gives the same run', () => {
    const a = runCoreFuzz({ seed: SEED + 1, inputs: 2_000, drainEvery: 1_000 });
    const b = runCoreFuzz({ seed: SEED + 1, inputs: 2_000, drainEvery: 1_000 });
    expect({ ...b.stats, max: b.maxRecords, bytes: b.maxBytes }).toEqual({ ...a.stats, max: a.maxRecords, bytes: a.maxBytes });
  });
});

describe('inputs the fuzzer found', () => {
  // A CSeq must be below 2**31 (RFC 3261 §8.1.1.5); a client may use 2**31 - 1.
  it('step never throws on the BYE sent for a lost socket whose INVITE had CSeq 2147483647', () => {
    const { sim, alice, bob, a, b } = registeredPair();
    const invite = alice.invite('bob', { cseq: 2147483647 });
    sim.send(a, invite.text);
    const atBob = sim.take(b).find((t) => t.startsWith('INVITE'))!;
    sim.send(b, bob.respond(atBob, 200, { toTag: 'bob-tag' }));
    const ok = sim.take(a).find((t) => t.startsWith('SIP/2.0 200'))!;
    sim.send(a, alice.inDialog(alice.dialogAsCaller(invite, ok), 'ACK').text);
    // alice's socket is lost and she does not come back: when the grace period runs out
    // her object sends BYE on her behalf to bob's, which must end the call.
    expect(() => sim.close(a)).not.toThrow();
    expect(sim.state('alice').dialogs.map((d) => d.state)).toEqual(['held']);
    expect(() => sim.advance(sim.policy.flowGraceMs)).not.toThrow();
    expect(sim.state('bob').dialogs.map((d) => d.state)).toEqual(['ended']);
  });
});

/** The fork's and the dialog's transition tables (proxy/fork-phase.ts, dialog/dialog-phase.ts) are unambiguous, cited, and what the core follows. */
import { describe, expect, it } from 'vitest';
import { FORK_TRANSITIONS, PHASES, isLive, nextPhase } from '../../sip/proxy/fork-phase.js';
import { DIALOG_TRANSITIONS, nextState } from '../../sip/dialog/dialog-phase.js';
import type { Fork, ForkPhase } from '../../sip/state.js';
import { registeredPair } from '../support/sim.js';
import { methodOf } from '../support/ua.js';

const phases = Object.keys(PHASES) as ForkPhase[];
const fork = (phase: ForkPhase) => ({ phase }) as Fork;

describe('the fork state machine', () => {
  it('has one row per phase and event, each citing its RFC section, and every phase reachable or initial', () => {
    const keys = FORK_TRANSITIONS.map((t) => `${t.from}/${t.on}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const t of FORK_TRANSITIONS) expect(t.rfc).toMatch(/§\d/);
    const reached = new Set(FORK_TRANSITIONS.map((t) => t.to).filter((p) => p !== null));
    for (const p of phases) expect(reached.has(p) || p === 'trying' || p === 'cancel-first', p).toBe(true);
    // Every lingering phase is forgotten at its deadline; no live phase is.
    for (const p of phases) expect(nextPhase(fork(p), 'deadline') === null, p).toBe(!isLive(p));
  });

  it('absorbs a CANCEL after the final answer (§9.2) and a second answer', () => {
    expect(nextPhase(fork('completed'), 'cancel')).toBeUndefined();
    expect(nextPhase(fork('answered'), 'answered')).toBeUndefined();
    expect(nextPhase(fork('canceling'), 'cancel')).toBeUndefined();
  });

  it('goes trying -> canceling -> completed when the caller cancels a ringing call', () => {
    const { sim, alice, bob, a, b } = registeredPair();
    const invite = alice.invite('bob');
    sim.send(a, invite.text);
    const [atBob] = sim.take(b);
    expect(sim.state('bob').forks.map((f) => f.phase)).toEqual(['trying']);
    sim.send(a, alice.cancel(invite));
    expect(sim.state('bob').forks.map((f) => f.phase)).toEqual(['canceling']);
    const [cancel] = sim.take(b).filter((m) => methodOf(m) === 'CANCEL');
    sim.send(b, bob.respond(cancel!, 200));
    sim.send(b, bob.respond(atBob!, 487, { toTag: 'b' }));
    // The 487 went upstream; the fork is done with every branch, and gone.
    expect(sim.state('bob').forks).toEqual([]);
  });
});

describe('the dialog state machine', () => {
  it('has one row per state and event, each citing its RFC section; an ended dialog moves no more', () => {
    const keys = DIALOG_TRANSITIONS.map((t) => `${t.from}/${t.on}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const t of DIALOG_TRANSITIONS) expect(t.rfc).toMatch(/§\d/);
    expect(DIALOG_TRANSITIONS.filter((t) => t.from === 'ended')).toEqual([]);
    expect(nextState('early', 'answered')).toBe('confirmed');
    expect(nextState('confirmed', 'answered')).toBeUndefined();
    expect(nextState('ended', 'bye')).toBeUndefined();
  });

  it('speaks local and remote: the callee of an answered call has its own tag as local, the caller’s as remote', () => {
    const { sim, alice, bob, a, b } = registeredPair();
    const invite = alice.invite('bob');
    sim.send(a, invite.text);
    const [atBob] = sim.take(b);
    sim.send(b, bob.respond(atBob!, 200, { toTag: 'bobtag', body: atBob!.split('\r\n\r\n')[1] }));
    const [out] = sim.state('alice').dialogs;
    const [inc] = sim.state('bob').dialogs;
    expect(out).toMatchObject({ direction: 'out', state: 'confirmed', remote: { tag: 'bobtag' } });
    expect(inc).toMatchObject({ direction: 'in', state: 'confirmed', local: { tag: 'bobtag' } });
    expect(out!.local.tag).toBe(inc!.remote.tag);
    expect(out!.local.seq).toBe(inc!.remote.seq);
    expect(inc!.local.target).toBe(out!.remote.target);
  });
});

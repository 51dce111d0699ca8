import { describe, expect, it } from 'vitest';
import { CALL_SILENCE_MS, FLOW_TIMER_S, LOOK_SLACK_MS, PROBE_TIMEOUT_MS, RINGING_SILENCE_MS, judgeFlow, peerLooks, watchedFlows } from '../../sip/registrar/liveness.js';
import { registeredPair } from '../support/sim.js';

const T = 1_000_000;

describe('dead flows (RFC 5626 §4.4): when a flow is probed and when it is dead', () => {
  it('a flow in a call is probed after a minute of silence, and dead 10 s after an unanswered probe', () => {
    const heard = { heardAt: T, ringingSince: null, probedAt: null };
    expect(judgeFlow('call', heard, T + CALL_SILENCE_MS - 1)).toEqual({ action: 'none', next: T + CALL_SILENCE_MS });
    expect(judgeFlow('call', heard, T + CALL_SILENCE_MS)).toEqual({ action: 'probe', next: T + CALL_SILENCE_MS + PROBE_TIMEOUT_MS });
    const probed = { ...heard, probedAt: T + CALL_SILENCE_MS };
    expect(judgeFlow('call', probed, T + CALL_SILENCE_MS + PROBE_TIMEOUT_MS - 1).action).toBe('none');
    expect(judgeFlow('call', probed, T + CALL_SILENCE_MS + PROBE_TIMEOUT_MS)).toEqual({ action: 'dead', next: null });
    // Any frame after the probe answers it.
    expect(judgeFlow('call', { ...probed, heardAt: T + CALL_SILENCE_MS + 1 }, T + CALL_SILENCE_MS + PROBE_TIMEOUT_MS).action).toBe('none');
  });

  it('a flow an INVITE leg waits on is probed after 5 s, unless it was heard from since the leg began', () => {
    const ringing = { heardAt: T - 60_000, ringingSince: T, probedAt: null };
    expect(judgeFlow('ringing', ringing, T + RINGING_SILENCE_MS).action).toBe('probe');
    expect(judgeFlow('ringing', { ...ringing, heardAt: T + 1 }, T + 60_000)).toEqual({ action: 'none', next: null });
  });

  it('a flow whose last hearing is unknown (an evicted instance) is probed at the first look', () => {
    expect(judgeFlow('call', { heardAt: Number.NEGATIVE_INFINITY, ringingSince: null, probedAt: null }, T).action).toBe('probe');
  });

  it('an outbound flow is allowed twice its Flow-Timer and the probe timeout', () => {
    const quiet = { heardAt: T, ringingSince: null, probedAt: null };
    expect(judgeFlow('outbound', quiet, T + 2 * FLOW_TIMER_S * 1000 + PROBE_TIMEOUT_MS - 1).action).toBe('none');
    expect(judgeFlow('outbound', quiet, T + 2 * FLOW_TIMER_S * 1000 + PROBE_TIMEOUT_MS).action).toBe('probe');
  });

  it('watches the callee’s flow while an INVITE rings it; once the call is up the callee’s object watches it, and asks after the caller', () => {
    const { sim, alice, bob, a, b } = registeredPair();
    sim.send(a, alice.invite('bob').text);
    const atBob = sim.take(b).find((t) => t.startsWith('INVITE'))!;
    expect([...watchedFlows(sim.state('bob'), 'bob').entries()]).toEqual([[b, 'ringing']]);
    sim.send(b, bob.respond(atBob, 200, { toTag: 'bob-tag' }));
    expect([...watchedFlows(sim.state('bob'), 'bob').entries()]).toEqual([[b, 'call']]);
    // The caller's flow is looked at when bob's object asks, not on a clock of its own.
    expect([...watchedFlows(sim.state('alice'), 'alice').entries()]).toEqual([[a, 'call-by-peer']]);
    expect(peerLooks(sim.state('alice'), 'alice', new Map())).toEqual([]);
    const [look] = peerLooks(sim.state('bob'), 'bob', new Map());
    const dialog = sim.state('bob').dialogs[0]!;
    expect(look).toEqual({ dialog: dialog.id, peer: 'alice', callId: dialog.callId, since: dialog.answeredAt });
    // Asked a moment ago: the next ask is a minute after that.
    expect(peerLooks(sim.state('bob'), 'bob', new Map([[dialog.id, T]]))[0]!.since).toBe(T);
  });

  it('a flow the peer watches is never probed on its own clock, but dies like any other once probed', () => {
    const silent = { heardAt: T, ringingSince: null, probedAt: null };
    expect(judgeFlow('call-by-peer', silent, T + 3_600_000)).toEqual({ action: 'none', next: null });
    const probed = { ...silent, probedAt: T + 1 };
    expect(judgeFlow('call-by-peer', probed, T + 1 + PROBE_TIMEOUT_MS)).toEqual({ action: 'dead', next: null });
  });

  it('a look may come LOOK_SLACK_MS early, a probe’s timeout never does', () => {
    const heard = { heardAt: T, ringingSince: null, probedAt: null };
    const at = T + CALL_SILENCE_MS - LOOK_SLACK_MS;
    expect(judgeFlow('call', heard, at - 1, LOOK_SLACK_MS).action).toBe('none');
    expect(judgeFlow('call', heard, at, LOOK_SLACK_MS).action).toBe('probe');
    const probed = { ...heard, probedAt: T };
    expect(judgeFlow('call', probed, T + PROBE_TIMEOUT_MS - 1, LOOK_SLACK_MS)).toEqual({ action: 'none', next: T + PROBE_TIMEOUT_MS });
  });
});

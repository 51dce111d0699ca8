import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HOUSEKEEPING_GRID_MS, onGrid } from '../../sip/timers.js';
import { LINGER_MS } from '../../sip/dialog/dialog.js';
import { nextDeadline, nextHousekeeping } from '../../sip/index.js';
import { registeredPair } from '../support/sim.js';
import { methodOf } from '../support/ua.js';

describe('the housekeeping grid', () => {
  it('gives the first instant of the user’s grid at or after the time asked', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.integer({ min: 0, max: 2 ** 45 }), (user, at) => {
        const t = onGrid(user, at);
        expect(t).toBeGreaterThanOrEqual(at);
        expect(t).toBeLessThan(at + HOUSEKEEPING_GRID_MS);
        // Idempotent: an instant on the grid is its own answer, and the next one is one spacing on.
        expect(onGrid(user, t)).toBe(t);
        expect(onGrid(user, t + 1)).toBe(t + HOUSEKEEPING_GRID_MS);
      }),
    );
  });

  it('spreads users across the spacing, so objects do not all wake together', () => {
    const phases = new Set<number>();
    for (let i = 0; i < 1000; i++) phases.add(onGrid(`user${i}`, 0) % HOUSEKEEPING_GRID_MS);
    expect(phases.size).toBeGreaterThan(800);
  });

  it('puts the forgetting of calls that ended at different moments on one instant, without an alarm of its own', () => {
    const { sim, alice, bob, a, b } = registeredPair();
    // Start just after one of bob's grid instants, so two calls 1 s apart share the next.
    const start = onGrid('bob', sim.now + LINGER_MS) - LINGER_MS + 1;
    sim.advance(start - sim.now);
    const endCall = (tag: string) => {
      const invite = alice.invite('bob');
      sim.send(a, invite.text);
      sim.take(a);
      const [atBob] = sim.take(b);
      expect(methodOf(atBob!)).toBe('INVITE');
      sim.send(b, bob.respond(atBob!, 486, { toTag: tag }));
      sim.take(a);
      sim.take(b);
    };
    endCall('one');
    sim.advance(1_000);
    endCall('two');
    const ended = sim.state('bob').dialogs.filter((d) => d.state === 'ended');
    expect(ended).toHaveLength(2);
    const deadlines = new Set(ended.map((d) => d.deadline));
    expect(deadlines.size).toBe(1);
    const [deadline] = deadlines;
    expect(deadline).toBe(onGrid('bob', start + LINGER_MS));
    expect(deadline! - start).toBeGreaterThanOrEqual(LINGER_MS - 1);
    // Forgetting them is housekeeping: it sets no alarm of its own (nothing else is due
    // either: a binding's expiry is lazy), and the first input from that instant on
    // forgets both at once.
    expect(nextHousekeeping(sim.state('bob'))).toBe(deadline);
    expect(nextDeadline(sim.state('bob'))).toBeNull();
    sim.advance(deadline! - sim.now - 1);
    sim.timer('bob');
    expect(sim.state('bob').dialogs.filter((d) => d.state === 'ended')).toHaveLength(2);
    sim.advance(1);
    sim.timer('bob');
    expect(sim.state('bob').dialogs).toHaveLength(0);
    expect(nextHousekeeping(sim.state('bob'))).toBeNull();
  });
});

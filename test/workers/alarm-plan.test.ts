/**
 * The two tiers of the user object's timer plan (durable-objects/user/alarm-plan.ts):
 * near deadlines in memory, far ones in the storage alarm, and a pending alarm kept
 * across a busy user's back-to-back calls instead of deleted and set again per call.
 */
import { describe, expect, it } from 'vitest';
import { AlarmPlan, BUSY_MS, NEAR_MS } from '../../durable-objects/user/alarm-plan.js';

/** A storage that only counts what the plan asks of the runtime. */
function fakeStorage() {
  const ops: string[] = [];
  let alarm: number | null = null;
  const storage = {
    getAlarm: async () => alarm,
    setAlarm: async (at: number) => {
      ops.push('set');
      alarm = at;
    },
    deleteAlarm: async () => {
      ops.push('delete');
      alarm = null;
    },
  } as unknown as DurableObjectStorage;
  return { storage, ops, alarm: () => alarm };
}

function planWith(due: Array<number | null>, onDue: () => Promise<void> = async () => {}) {
  const s = fakeStorage();
  const plan = new AlarmPlan(s.storage, onDue, () => due);
  return { ...s, plan, due };
}

describe('the timer plan', () => {
  it('keeps a near deadline in memory, with no storage write, and runs it on time', async () => {
    let ran = 0;
    const p = planWith([Date.now() + 50], async () => {
      ran++;
      p.due[0] = null;
    });
    p.plan.plan();
    expect(p.plan.pending().memory).not.toBeNull();
    expect(p.ops).toEqual([]);
    await new Promise((r) => setTimeout(r, 200));
    expect(ran).toBe(1);
    expect(p.plan.pending()).toEqual({ memory: null, storage: null });
    expect(p.ops).toEqual([]);
  });

  it('puts a far deadline in the storage alarm, and only ever moves it earlier', () => {
    const now = Date.now();
    const p = planWith([now + NEAR_MS + 60_000]);
    p.plan.plan();
    expect(p.ops).toEqual(['set']);
    expect(p.alarm()).toBe(now + NEAR_MS + 60_000);
    p.due[0] = now + NEAR_MS + 90_000;
    p.plan.plan();
    expect(p.ops).toEqual(['set']);
    p.due[0] = now + NEAR_MS + 30_000;
    p.plan.plan();
    expect(p.ops).toEqual(['set', 'set']);
    expect(p.alarm()).toBe(now + NEAR_MS + 30_000);
  });

  it('keeps the alarm between back-to-back calls, and deletes it once the user has been quiet for BUSY_MS', () => {
    const now = Date.now();
    const p = planWith([now + 60_000]);
    p.plan.plan();
    // The call ends: nothing is due, but the user was busy a moment ago: the alarm stays.
    p.due[0] = null;
    p.plan.plan();
    expect(p.ops).toEqual(['set']);
    // The next call's deadline is later than the alarm: nothing to write.
    p.due[0] = now + 61_000;
    p.plan.plan();
    expect(p.ops).toEqual(['set']);
    expect(p.plan.pending().storage).toBe(now + 60_000);
    // Quiet for longer than BUSY_MS, then nothing due: the alarm goes.
    const later = new AlarmPlan(p.storage, async () => {}, () => [null]);
    (later as unknown as { at: number | null; lastNeed: number }).at = now + 60_000;
    (later as unknown as { lastNeed: number }).lastNeed = now - BUSY_MS - 1;
    later.plan();
    expect(p.ops).toEqual(['set', 'delete']);
  });

  it('a near deadline (the attachments write after a burst) does not make the user busy: the idle alarm still goes', () => {
    const now = Date.now();
    const p = planWith([now + 60_000, null]);
    p.plan.plan();
    expect(p.ops).toEqual(['set']);
    // A quiet call: the far deadline was last needed long ago.
    (p.plan as unknown as { lastNeed: number }).lastNeed = now - BUSY_MS - 1;
    // It ends, and the write of its records is due in a second: a timer, and the alarm goes.
    p.due[0] = null;
    p.due[1] = now + 1_000;
    p.plan.plan();
    expect(p.plan.pending().memory).toBe(now + 1_000);
    expect(p.ops).toEqual(['set', 'delete']);
  });

  it('a near and a far deadline together: the timer for the near one, the alarm for the far one', () => {
    const now = Date.now();
    const p = planWith([now + 5_000, now + 60_000]);
    p.plan.plan();
    expect(p.plan.pending()).toEqual({ memory: now + 5_000, storage: now + 60_000 });
    expect(p.ops).toEqual(['set']);
  });

  it('a failing timer is logged and planned past; a failing alarm is the runtime\'s to retry', async () => {
    const p = planWith([Date.now() + 10], async () => {
      p.due[0] = null;
      throw new Error('boom');
    });
    p.plan.plan();
    await new Promise((r) => setTimeout(r, 100));
    expect(p.plan.pending().memory).toBeNull();
    await expect(p.plan.fireAlarm()).rejects.toThrow('boom');
  });
});

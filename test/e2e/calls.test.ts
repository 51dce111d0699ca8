/**
 * Real WebRTC calls through the product, in headless Chromium, with the real JsSIP 3.13.8
 * and SIP.js 0.21.2 and a real coturn: peer-to-peer and relayed media, video, hold,
 * blind transfer, and a tab that disappears mid-call. Every call is checked with
 * getStats: audio bytes keep arriving on both sides and carry sound.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { Library } from './harness/types.js';
import { startE2e, type E2e } from './support/env.js';
import { closePage } from './support/pages.js';
import { expectMediaFlowing, inboundAudioBytesOver, pathOf } from './support/media.js';
import { callFigures, publishFigures, type Figures } from './support/figures.js';

let env: E2e;
const figures: Record<string, Figures> = {};
const open: Page[] = [];

/** The tenant's flowGraceSeconds: how long a call outlives a tab that closed. */
const GRACE_S = 3;

beforeAll(async () => {
  env = await startE2e('e2e-calls', { flowGraceSeconds: GRACE_S });
});

// Each scenario's tabs close when it ends, so that finished calls do not load the machine.
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((p) => closePage(p)));
});

afterAll(async () => {
  await env?.stop();
  if (Object.keys(figures).length > 0) publishFigures(figures);
});

/** Registers fresh users, each on its own page (own browser context) with the given library. */
async function phones<R extends string>(scenario: string, who: Record<R, Library>, o: { relayOnly?: boolean } = {}): Promise<Record<R, Page>> {
  const roles = Object.keys(who) as R[];
  await env.addUsers(...roles.map((role) => `${role}-${scenario}`));
  const pages = await Promise.all(roles.map((role) => env.phone(`${role}-${scenario}`, who[role], o)));
  open.push(...pages);
  return Object.fromEntries(roles.map((role, i) => [role, pages[i]!])) as Record<R, Page>;
}

const callsOf = (page: Page) => page.evaluate(() => window.harness.calls());

async function connect(caller: Page, callee: Page, calleeUri: string, video = false): Promise<void> {
  await Promise.all([caller.evaluate(([to, v]) => window.harness.call(to, v), [calleeUri, video] as const), callee.evaluate((v) => window.harness.answer(v), video)]);
}

/** The caller hangs up; the callee's call must end by the BYE that crossed the service. */
async function hangUp(caller: Page, callee: Page): Promise<void> {
  await caller.evaluate(() => window.harness.hangup());
  await callee.waitForFunction(() => window.harness.calls().at(-1)?.state === 'ended', undefined, { timeout: 5000, polling: 100 });
  expect((await callsOf(callee)).at(-1)).toMatchObject({ state: 'ended', endedBy: 'remote' });
}

async function p2pCall(scenario: string, callerLib: Library, calleeLib: Library): Promise<void> {
  const { alice, bob } = await phones(scenario, { alice: callerLib, bob: calleeLib });
  await connect(alice, bob, env.uri(`bob-${scenario}`));
  const media = await expectMediaFlowing({ alice, bob });
  for (const s of Object.values(media)) {
    expect(s.pair?.local, pathOf(s)).not.toBe('relay');
    expect(s.pair?.remote, pathOf(s)).not.toBe('relay');
    expect(s.pair?.remoteAddress).toBe('127.0.0.1');
  }
  figures[scenario] = await callFigures(alice, bob);
  await hangUp(alice, bob);
}

describe('WebRTC calls through Switchboard in Chromium', () => {
  it('JsSIP calls JsSIP: audio both ways, peer-to-peer over loopback', async () => {
    await p2pCall('jssip-jssip', 'jssip', 'jssip');
  });

  it('SIP.js calls JsSIP: audio both ways (interop)', async () => {
    await p2pCall('sipjs-jssip', 'sipjs', 'jssip');
  });

  it('JsSIP calls SIP.js: audio both ways (interop)', async () => {
    await p2pCall('jssip-sipjs', 'jssip', 'sipjs');
  });

  it('video call: both sides decode video frames and hear audio', async () => {
    const { alice, bob } = await phones('video', { alice: 'jssip', bob: 'jssip' });
    await connect(alice, bob, env.uri('bob-video'), true);
    await expectMediaFlowing({ alice, bob }, { video: true });
    figures.video = await callFigures(alice, bob);
    await hangUp(alice, bob);
  });

  it('relay only: coturn accepts the API\'s TURN credentials and media goes relay to relay', async () => {
    const { alice, bob } = await phones('turn', { alice: 'sipjs', bob: 'jssip' }, { relayOnly: true });
    await connect(alice, bob, env.uri('bob-turn'));
    const media = await expectMediaFlowing({ alice, bob });
    for (const s of Object.values(media)) expect(pathOf(s)).toBe('relay/relay');
    // The usernames the Worker signed (`<expiry>:<tenant>.<user>`) are the ones coturn saw.
    for (const user of ['alice-turn', 'bob-turn']) {
      expect(env.coturn.logs()).toMatch(new RegExp(`user <\\d+:${env.tenant}\\.${user}>: incoming packet ALLOCATE processed, success`));
    }
    figures.turn = await callFigures(alice, bob);
    await hangUp(alice, bob);
  });

  it('hold and resume: the held side stops sending, resuming brings audio back both ways', async () => {
    const { alice, bob } = await phones('hold', { alice: 'jssip', bob: 'jssip' });
    await connect(alice, bob, env.uri('bob-hold'));
    await expectMediaFlowing({ alice, bob });

    await alice.evaluate(() => window.harness.hold());
    await bob.waitForFunction(() => window.harness.calls().at(-1)?.heldByPeer === true, undefined, { timeout: 5000, polling: 100 });
    expect((await callsOf(alice)).at(-1)?.heldLocally).toBe(true);
    // Bob answered the sendonly offer with recvonly: nothing comes back to alice.
    expect(await inboundAudioBytesOver(alice, 1500)).toBeLessThan(500);

    await alice.evaluate(() => window.harness.unhold());
    await bob.waitForFunction(() => window.harness.calls().at(-1)?.heldByPeer === false, undefined, { timeout: 5000, polling: 100 });
    await expectMediaFlowing({ alice, bob });
    await hangUp(alice, bob);
  });

  it('blind transfer: bob REFERs alice to carol, and alice ends up talking to carol', async () => {
    const { alice, bob, carol } = await phones('xfer', { alice: 'jssip', bob: 'jssip', carol: 'jssip' });
    await connect(alice, bob, env.uri('bob-xfer'));
    await expectMediaFlowing({ alice, bob });

    const carolAnswers = carol.evaluate(() => window.harness.answer(false));
    await bob.evaluate((to) => window.harness.transfer(to), env.uri('carol-xfer'));
    await carolAnswers;
    await alice.waitForFunction(() => window.harness.calls().length === 2 && window.harness.calls()[0]!.state === 'ended', undefined, { timeout: 5000, polling: 100 });
    const [withBob, withCarol] = await callsOf(alice);
    expect(withBob).toMatchObject({ peer: 'bob-xfer', state: 'ended', endedBy: 'remote' });
    expect(withCarol).toMatchObject({ peer: 'carol-xfer', state: 'established' });
    expect((await callsOf(bob))[0]).toMatchObject({ state: 'ended', endedBy: 'local' });

    await expectMediaFlowing({ alice, carol });
    await hangUp(alice, carol);
  });

  it("callee's tab closes mid-call: the service sends the caller a BYE once the grace period runs out", async () => {
    const { alice, bob } = await phones('gone', { alice: 'jssip', bob: 'jssip' });
    await connect(alice, bob, env.uri('bob-gone'));
    await expectMediaFlowing({ alice, bob });

    const closedAt = Date.now();
    await closePage(bob);
    await alice.waitForFunction(() => window.harness.calls().at(-1)?.state === 'ended', undefined, { timeout: (GRACE_S + 5) * 1000, polling: 100 });
    const call = (await callsOf(alice)).at(-1)!;
    expect(call).toMatchObject({ endedBy: 'remote', endCause: 'Terminated' });
    figures['tab-closed'] = { byeAfterCloseMs: Math.round(call.endedAt! - closedAt) };
    // The device might have come back (flow recovery): the call is held until then, no longer.
    expect(call.endedAt! - closedAt).toBeGreaterThanOrEqual(GRACE_S * 1000);
    expect(call.endedAt! - closedAt).toBeLessThan(GRACE_S * 1000 + 2000);
    const byes = await alice.evaluate(() => window.__e2e.frames.filter((f) => f.dir === 'in' && f.text.startsWith('BYE ')).length);
    expect(byes).toBe(1);
  });
});

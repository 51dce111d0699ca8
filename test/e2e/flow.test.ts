/**
 * Calls survive the network (flow recovery, RFC 5626 §4.2.1), in headless Chromium with
 * the real JsSIP 3.13.8 and SIP.js 0.21.2. Each page's WebSocket goes through a relay the
 * test breaks (every connection reset, new ones refused), as a Wi-Fi hand-over or a laptop
 * lid would; the media is peer-to-peer and does not go through it. The checks: no BYE
 * reaches either side, audio keeps flowing during the outage, the page reconnects,
 * re-registers and restarts ICE, and afterwards re-INVITEs and the BYE route to the new
 * sockets. A drop that is not recovered gets its BYE when the grace period runs out, not
 * before.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { Library, Recovery } from './harness/types.js';
import { startE2e, type E2e } from './support/env.js';
import { closePage } from './support/pages.js';
import { audioDuring, expectMediaFlowing } from './support/media.js';
import { publishFigures, type Figures } from './support/figures.js';
import { flakyLink, type FlakyLink } from './support/flaky-link.js';

/** The tenant's grace period: long enough for the outages below, short enough to wait out. */
const GRACE_S = 6;
/** How long a link stays down in a recovered drop. */
const OUTAGE_MS = 2_500;

let env: E2e;
const figures: Record<string, Figures> = {};
const open: Page[] = [];
const links: FlakyLink[] = [];

beforeAll(async () => {
  env = await startE2e('e2e-flow', { flowGraceSeconds: GRACE_S });
});

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((p) => closePage(p)));
  await Promise.allSettled(links.splice(0).map((l) => l.close()));
});

afterAll(async () => {
  await env?.stop();
  if (Object.keys(figures).length > 0) publishFigures(figures);
});

interface Party {
  readonly page: Page;
  readonly link: FlakyLink;
}

async function party(user: string, library: Library): Promise<Party> {
  await env.addUsers(user);
  const link = await flakyLink(env.server.url);
  links.push(link);
  const page = await env.phone(user, library, { link, recover: true });
  open.push(page);
  return { page, link };
}

const byesSeen = (page: Page) => page.evaluate(() => window.__e2e.frames.filter((f) => f.text.startsWith('BYE ')).length);
const lastCall = async (page: Page) => (await page.evaluate(() => window.harness.calls())).at(-1);

async function connect(caller: Page, callee: Page, calleeUri: string): Promise<void> {
  await Promise.all([caller.evaluate((to) => window.harness.call(to, false), calleeUri), callee.evaluate(() => window.harness.answer(false))]);
}

/**
 * Breaks `who`'s link for OUTAGE_MS while both pages measure their inbound audio, then
 * waits for its phone to reconnect, re-register and get the 2xx to its ICE restart.
 */
async function dropAndRecover(who: Party, other: Party): Promise<{ recovery: Recovery; upAt: number; during: Record<'dropped' | 'other', { bytes: number; longestGapMs: number }> }> {
  who.link.down();
  who.link.cut();
  const [dropped, otherSide] = await Promise.all([audioDuring(who.page, OUTAGE_MS), audioDuring(other.page, OUTAGE_MS)]);
  const upAt = Date.now();
  who.link.up();
  await who.page.waitForFunction(() => window.harness.recoveries().at(-1)?.restartedAt != null || window.harness.recoveries().at(-1)?.restartFailed != null, undefined, {
    timeout: 15_000,
    polling: 50,
  });
  const recovery = (await who.page.evaluate(() => window.harness.recoveries())).at(-1)!;
  expect(recovery.restartFailed).toBeNull();
  return { recovery, upAt, during: { dropped, other: otherSide } };
}

async function survives(scenario: string, callerLib: Library, calleeLib: Library): Promise<void> {
  const alice = await party(`alice-${scenario}`, callerLib);
  const bob = await party(`bob-${scenario}`, calleeLib);
  await connect(alice.page, bob.page, env.uri(`bob-${scenario}`));
  await expectMediaFlowing({ alice: alice.page, bob: bob.page });

  const f: Figures = {};
  for (const [name, who, other] of [['caller', alice, bob], ['callee', bob, alice]] as const) {
    const { recovery, upAt, during } = await dropAndRecover(who, other);
    // Peer-to-peer audio went on while the signaling was down, both ways.
    expect(during.dropped.bytes, `${name} dropped: audio it received during the outage`).toBeGreaterThan(5_000);
    expect(during.other.bytes, `${name} dropped: audio the other side received during the outage`).toBeGreaterThan(5_000);
    // Nobody hung up: no BYE crossed either page, and both still have the call.
    expect(await byesSeen(alice.page)).toBe(0);
    expect(await byesSeen(bob.page)).toBe(0);
    expect((await lastCall(alice.page))?.state).toBe('established');
    expect((await lastCall(bob.page))?.state).toBe('established');
    await expectMediaFlowing({ alice: alice.page, bob: bob.page });
    // Reconnecting waits on the library's backoff; once the REGISTER is answered the call
    // routes to the new socket; the ICE restart is deliberately spaced after it (web/recovery.ts `restartDelayMs`).
    f[`${name}ReconnectMs`] = recovery.connectedAt! - upAt;
    f[`${name}SignalingBackMs`] = recovery.registeredAt! - recovery.connectedAt!;
    f[`${name}IceRestartedMs`] = recovery.restartedAt! - recovery.registeredAt!;
    f[`${name}MediaGapMs`] = Math.max(during.dropped.longestGapMs, during.other.longestGapMs);
  }
  figures[`flow-${scenario}`] = f;

  // In-dialog requests from both sides reach the other on its new socket.
  await bob.page.evaluate(() => window.harness.renegotiate());
  await alice.page.evaluate(() => window.harness.renegotiate());
  await expectMediaFlowing({ alice: alice.page, bob: bob.page });
  await alice.page.evaluate(() => window.harness.hangup());
  await bob.page.waitForFunction(() => window.harness.calls().at(-1)?.state === 'ended', undefined, { timeout: 5_000, polling: 100 });
  expect(await lastCall(bob.page)).toMatchObject({ state: 'ended', endedBy: 'remote' });
}

describe('calls survive a dropped WebSocket (RFC 5626 flow recovery)', () => {
  it('JsSIP calls SIP.js: the caller’s and then the callee’s socket drop and come back; no BYE, audio throughout', async () => {
    await survives('jssip-sipjs', 'jssip', 'sipjs');
  });

  it('SIP.js calls JsSIP: the same', async () => {
    await survives('sipjs-jssip', 'sipjs', 'jssip');
  });

  it('make-before-break: JsSIP and SIP.js each move to a newer socket mid-call; the old one’s close ends nothing, and requests follow', async () => {
    await env.addUsers('alice-mbb', 'bob-mbb');
    const alice = await env.phone('alice-mbb', 'jssip', { handover: true });
    const bob = await env.phone('bob-mbb', 'sipjs', { handover: true });
    open.push(alice, bob);
    await connect(alice, bob, env.uri('bob-mbb'));
    await expectMediaFlowing({ alice, bob });
    const f: Figures = {};
    for (const [name, who] of [['caller', alice], ['callee', bob]] as const) {
      const at = Date.now();
      await who.evaluate(() => window.harness.handover());
      f[`${name}HandoverMs`] = Date.now() - at;
      // Past the grace: had the close of the old socket held or ended the call, it would show now.
      await new Promise((r) => setTimeout(r, 500));
      expect(await byesSeen(alice)).toBe(0);
      expect(await byesSeen(bob)).toBe(0);
      // Both sides' requests reach the moved one on its new socket.
      await bob.evaluate(() => window.harness.renegotiate());
      await alice.evaluate(() => window.harness.renegotiate());
    }
    await new Promise((r) => setTimeout(r, GRACE_S * 1000));
    expect((await lastCall(alice))?.state).toBe('established');
    expect((await lastCall(bob))?.state).toBe('established');
    await expectMediaFlowing({ alice, bob });
    figures['flow-make-before-break'] = f;
    await alice.evaluate(() => window.harness.hangup());
    await bob.waitForFunction(() => window.harness.calls().at(-1)?.state === 'ended', undefined, { timeout: 5_000, polling: 100 });
  });

  it('a drop that is not recovered: the other side gets BYE when the grace period runs out, not before', async () => {
    const alice = await party('alice-lost', 'jssip');
    const bob = await party('bob-lost', 'sipjs');
    await connect(alice.page, bob.page, env.uri('bob-lost'));
    await expectMediaFlowing({ alice: alice.page, bob: bob.page });
    alice.link.down();
    const cutAt = Date.now();
    alice.link.cut();
    await bob.page.waitForFunction(() => window.harness.calls().at(-1)?.state === 'ended', undefined, { timeout: (GRACE_S + 5) * 1000, polling: 50 });
    const ended = (await lastCall(bob.page))!;
    expect(ended.endedBy).toBe('remote');
    expect(ended.endedAt! - cutAt).toBeGreaterThanOrEqual(GRACE_S * 1000);
    expect(ended.endedAt! - cutAt).toBeLessThan((GRACE_S + 3) * 1000);
    const bye = await bob.page.evaluate(() => window.__e2e.frames.find((f) => f.dir === 'in' && f.text.startsWith('BYE '))?.text ?? '');
    expect(bye).toMatch(new RegExp(`^Reason: SIP;cause=480;text="Connection lost, not recovered within ${GRACE_S} s"`, 'm'));
    figures['flow-not-recovered'] = { byeAfterDropMs: Math.round(ended.endedAt! - cutAt) };
  });
});

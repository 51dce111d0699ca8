/**
 * A call survives a restart of the runtime (issue 13): JsSIP and SIP.js call each other in headless
 * Chromium, the call is up with audio, and `wrangler dev` is killed (SIGKILL to its whole
 * process group, as a crash would) and started again on the same storage and port. Every
 * socket is gone with it and nothing in memory survives: the call comes back from the
 * history row its 200 wrote (store.ts `openCalls`), held for the devices. Both phones
 * reconnect, re-register and restart ICE; the call goes on with no BYE, audio flows
 * during the outage and after it, and in-dialog requests from both sides and the BYE
 * route through the new runtime. Both records then read as one answered call that ended
 * by the caller's BYE.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { freePort, provision } from '../support/dev-server.js';
import { startCrashServer, type CrashServer } from '../support/crash-server.js';
import type { Library, PhoneConfig } from './harness/types.js';
import { closePage, launchChromium, openPage, serveHarness, type HarnessSite } from './support/pages.js';
import { audioDuring, expectMediaFlowing } from './support/media.js';
import { publishFigures } from './support/figures.js';

const TENANT = 'e2e-restart';
let stateDir: string;
let port: number;
let adminToken: string;
let server: CrashServer | null = null;
let browser: Browser;
let site: HarnessSite;
let domain: string;
let apiKey: string;
const pages: Page[] = [];

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'switchboard-restart-'));
  port = await freePort();
  adminToken = `admin-${Math.random().toString(36).slice(2)}`;
  [server, browser, site] = await Promise.all([startCrashServer({ stateDir, port, adminToken }), launchChromium(), serveHarness()]);
  ({ domain, apiKey } = await provision(server, TENANT, {}));
});

afterAll(async () => {
  await Promise.allSettled(pages.map((p) => closePage(p)));
  await Promise.allSettled([browser?.close(), site?.close()]);
  await server?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

async function phone(user: string, library: Library): Promise<Page> {
  const made = await server!.api('PUT', `/v1/tenants/${TENANT}/users/${user}`, { password: `${user}-password-1` }, apiKey);
  expect(made.status).toBe(201);
  const issued = await server!.api<{ wsUrl: string; sipUri: string }>('POST', `/v1/tenants/${TENANT}/users/${user}/tokens`, { ttl: 3600 }, apiKey);
  const config: PhoneConfig = { library, wsUrl: issued.body.wsUrl, uri: issued.body.sipUri, rtc: { iceServers: [] }, recover: true };
  const page = await openPage(browser, site.instrument, site.url);
  pages.push(page);
  await page.evaluate((c) => window.harness.start(c), config);
  return page;
}

const byes = (page: Page) => page.evaluate(() => window.__e2e.frames.filter((f) => f.text.startsWith('BYE ')).length);
const recovered = (page: Page) =>
  page.waitForFunction(() => window.harness.recoveries().at(-1)?.restartedAt != null || window.harness.recoveries().at(-1)?.restartFailed != null, undefined, { timeout: 60_000, polling: 100 });

async function survivesRestart(scenario: string, callerLib: Library, calleeLib: Library): Promise<void> {
  const [caller, callee] = [`alice-${scenario}`, `bob-${scenario}`];
  const alice = await phone(caller, callerLib);
  const bob = await phone(callee, calleeLib);
  await Promise.all([alice.evaluate((to) => window.harness.call(to, false), `sip:${callee}@${domain}`), bob.evaluate(() => window.harness.answer(false))]);
  await expectMediaFlowing({ alice, bob });

  const killAt = await server!.kill();
  const audio = Promise.all([audioDuring(alice, 3_000), audioDuring(bob, 3_000)]);
  server = await startCrashServer({ stateDir, port, adminToken });
  const upAt = Date.now();
  const [atAlice, atBob] = await audio;
  // Peer-to-peer audio went on while the runtime was down.
  expect(atAlice.bytes).toBeGreaterThan(5_000);
  expect(atBob.bytes).toBeGreaterThan(5_000);

  await Promise.all([recovered(alice), recovered(bob)]);
  const [ra, rb] = await Promise.all([alice, bob].map((p) => p.evaluate(() => window.harness.recoveries().at(-1)!)));
  expect(ra!.restartFailed).toBeNull();
  expect(rb!.restartFailed).toBeNull();
  expect(await byes(alice)).toBe(0);
  expect(await byes(bob)).toBe(0);
  await expectMediaFlowing({ alice, bob });
  publishFigures({
    [`restart-${scenario}`]: {
      runtimeDownMs: upAt - killAt,
      // From the runtime listening again to both phones registered on it (the call routes), and to ICE restarted.
      signalingBackAfterRestartMs: Math.max(ra!.registeredAt!, rb!.registeredAt!) - upAt,
      iceRestartedAfterRestartMs: Math.max(ra!.restartedAt!, rb!.restartedAt!) - upAt,
      mediaGapMs: Math.max(atAlice.longestGapMs, atBob.longestGapMs),
    },
  });

  // In-dialog requests both ways, then the BYE, through the new runtime.
  await bob.evaluate(() => window.harness.renegotiate());
  await alice.evaluate(() => window.harness.renegotiate());
  await alice.evaluate(() => window.harness.hangup());
  await bob.waitForFunction(() => window.harness.calls().at(-1)?.state === 'ended', undefined, { timeout: 5_000, polling: 100 });
  for (const user of [caller, callee]) {
    const h = await server!.api<{ calls: Array<{ state: string; endReason: string }> }>('GET', `/v1/tenants/${TENANT}/users/${user}/calls`, undefined, apiKey);
    expect(h.body.calls.map((c) => [c.state, c.endReason])).toEqual([['ended', 'caller-bye']]);
  }
}

describe('a restart of the runtime mid-call', () => {
  it('JsSIP calls SIP.js, wrangler dev is killed and restarted on the same storage: the call goes on', async () => {
    await survivesRestart('jssip-sipjs', 'jssip', 'sipjs');
  });

  it('SIP.js calls JsSIP: the same', async () => {
    await survivesRestart('sipjs-jssip', 'sipjs', 'jssip');
  });
});

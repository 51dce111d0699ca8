/**
 * The product's own softphone page (served by the Worker at `/`), driven only by clicks and
 * typing, in tabs signed in with a password or opened from a token link. A screenshot of a
 * connected call is kept in test-results/softphone.png.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ROOT } from '../support/dev-server.js';
import { startE2e, type E2e } from './support/env.js';
import { closePage } from './support/pages.js';
import { audioDuring, expectMediaFlowing } from './support/media.js';
import { flakyLink, type FlakyLink } from './support/flaky-link.js';
import { startPushService, vapidKeyPair, type PushService } from '../support/push-service.js';
import { callFigures, publishFigures, type Figures } from './support/figures.js';

let env: E2e;
const pages: Page[] = [];
const figures: Record<string, Figures> = {};

/** The tenant's flowGraceSeconds: how long the service holds a call whose socket dropped. */
const GRACE_S = 8;

let push: PushService;
let vapid: { publicKey: string; privateKey: string };

beforeAll(async () => {
  [push, vapid] = await Promise.all([startPushService(), vapidKeyPair()]);
  env = await startE2e('e2e-softphone', { flowGraceSeconds: GRACE_S }, { VAPID_PUBLIC_KEY: vapid.publicKey, VAPID_PRIVATE_KEY: vapid.privateKey, VAPID_SUBJECT: 'mailto:ops@switchboard.test' });
  await env.addUsers('alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank', 'ivy', 'jane', 'kim');
});

afterEach(async () => {
  await Promise.allSettled(pages.splice(0).map((p) => closePage(p)));
});

afterAll(async () => {
  await env?.stop();
  await push?.close();
  if (Object.keys(figures).length > 0) publishFigures(figures);
});

const byState = (page: Page, testid: string, state: string, timeout = 10_000) =>
  page.waitForSelector(`[data-testid="${testid}"][data-state="${state}"]`, { timeout });
const text = async (page: Page, testid: string) => (await page.getByTestId(testid).textContent())?.trim() ?? '';

async function signInWithPassword(user: string, o: { wrongFirst?: boolean; via?: FlakyLink; init?: string; permissions?: string[] } = {}): Promise<Page> {
  const page = await env.product('/', o.via?.via(env.server.url), { init: o.init, permissions: o.permissions });
  pages.push(page);
  await page.getByTestId('signin-tenant').fill(env.tenant);
  await page.getByTestId('signin-user').fill(user);
  if (o.wrongFirst) {
    await page.getByTestId('signin-password').fill('not-the-password');
    await page.getByTestId('signin-submit').click();
    await page.getByTestId('signin-error').waitFor({ state: 'visible' });
    expect(await text(page, 'signin-error')).toBe('Wrong tenant, user or password.');
  }
  await page.getByTestId('signin-password').fill(env.password(user));
  await page.getByTestId('signin-submit').click();
  await byState(page, 'reg-state', 'registered');
  expect(await text(page, 'identity')).toBe(`${user}@${env.domain}`);
  return page;
}

async function openTokenLink(user: string): Promise<Page> {
  const { token } = await env.token(user);
  const page = await env.product(`/?token=${encodeURIComponent(token)}`);
  pages.push(page);
  await byState(page, 'reg-state', 'registered');
  // The page takes the token out of the address bar.
  expect(new URL(page.url()).search).toBe('');
  return page;
}

/** Caller dials by user name, callee answers from the incoming-call panel. */
async function callAndAnswer(caller: Page, callee: Page, calleeUser: string, callerUser: string): Promise<void> {
  await caller.getByTestId('dial-target').fill(calleeUser);
  await caller.evaluate(() => window.__e2e.mark('call-start'));
  await caller.getByTestId('dial-call').click();
  await callee.getByTestId('incoming').waitFor({ state: 'visible' });
  expect(await text(callee, 'incoming-from')).toBe(callerUser);
  await callee.getByTestId('incoming-answer').click();
  for (const page of [caller, callee]) {
    await byState(page, 'call-state', 'connected');
    expect(await text(page, 'call-state')).toMatch(/connected/i);
  }
}

describe('the softphone page, by clicks', () => {
  it('alice calls bob, bob answers: both connected peer-to-peer with audio; hold, keypad, video, hang up', async () => {
    const alice = await signInWithPassword('alice');
    const bob = await openTokenLink('bob');
    await callAndAnswer(alice, bob, 'bob', 'alice');

    for (const page of [alice, bob]) {
      await page.waitForSelector('[data-testid="media-path"][data-path="peer-to-peer"]', { timeout: 10_000 });
      expect(await text(page, 'media-path')).toMatch(/^peer-to-peer/);
    }
    await expectMediaFlowing({ alice, bob });
    figures.softphone = await callFigures(alice, bob);

    // Hold and resume (re-INVITEs through the service), as both sides show it.
    await alice.getByTestId('hold').click();
    await byState(alice, 'call-state', 'on-hold');
    await byState(bob, 'call-state', 'held');
    await alice.getByTestId('hold').click();
    await byState(alice, 'call-state', 'connected');
    await byState(bob, 'call-state', 'connected');

    // Keypad: RFC 4733 tones played by alice's RTP sender.
    await alice.getByText('Keypad').click();
    for (const key of ['1', '2', '#']) await alice.locator(`[data-testid="keypad"] [data-key="${key}"]`).click();
    await alice.waitForFunction(() => document.querySelector('[data-testid="dtmf-sent"]')?.textContent === '12#', undefined, { timeout: 5000, polling: 100 });

    // Camera on: a re-INVITE adds video and bob sees it; camera off: it goes away.
    await alice.getByTestId('video-toggle').click();
    await bob.getByTestId('remote-video').waitFor({ state: 'visible', timeout: 10_000 });
    await alice.getByTestId('local-video').waitFor({ state: 'visible' });
    expect(await alice.getByTestId('video-toggle').getAttribute('aria-pressed')).toBe('true');

    await expectMediaFlowing({ alice, bob });
    await alice.waitForFunction(() => !document.querySelector('[data-testid="q-rtt"]')?.textContent?.includes('–'), undefined, { timeout: 5000, polling: 100 });
    mkdirSync(join(ROOT, 'test-results'), { recursive: true });
    await alice.screenshot({ path: join(ROOT, 'test-results', 'softphone.png'), fullPage: true });

    await alice.getByTestId('video-toggle').click();
    await bob.getByTestId('remote-video').waitFor({ state: 'hidden', timeout: 10_000 });

    expect(Number(await text(alice, 'sip-log-count'))).toBeGreaterThan(5);
    expect(await alice.getByTestId('sip-log-list').textContent()).toContain('INVITE sip:bob@');

    await alice.getByTestId('hangup').click();
    await byState(alice, 'call-state', 'ended');
    await byState(bob, 'call-state', 'ended');
    expect(await text(bob, 'call-state')).toMatch(/hung up by the other side/);
  });

  it('a wrong password is refused; relay only: a declined call, then a call through TURN that the callee hangs up', async () => {
    const carol = await signInWithPassword('carol', { wrongFirst: true });
    const dave = await openTokenLink('dave');

    await carol.getByTestId('dial-target').fill('dave');
    await carol.getByTestId('dial-call').click();
    await dave.getByTestId('incoming').waitFor({ state: 'visible' });
    await dave.getByTestId('incoming-decline').click();
    await byState(carol, 'call-state', 'ended');
    expect(await text(carol, 'call-state')).toMatch(/rejected/i);
    await dave.getByTestId('incoming').waitFor({ state: 'hidden' });

    for (const page of [carol, dave]) await page.getByTestId('relay-only').check();
    await callAndAnswer(carol, dave, 'dave', 'carol');
    for (const page of [carol, dave]) {
      await page.waitForSelector('[data-testid="media-path"][data-path="relay"]', { timeout: 10_000 });
      expect(await text(page, 'media-path')).toBe('TURN relay (relay/relay)');
    }
    await expectMediaFlowing({ carol, dave });
    figures['softphone-relay'] = await callFigures(carol, dave);

    await dave.getByTestId('hangup').click();
    await byState(carol, 'call-state', 'ended');
    expect(await text(carol, 'call-state')).toMatch(/hung up by the other side/);
  });

  it('a dropped socket mid-call: "Reconnecting…", then connected again with audio throughout and no BYE; a drop past the grace ends the call on screen', async () => {
    // hank's page (its HTTP and its WebSocket) goes through a relay the test breaks.
    const link = await flakyLink(env.server.url);
    try {
      const hank = await signInWithPassword('hank', { via: link });
      const ivy = await openTokenLink('ivy');
      await callAndAnswer(hank, ivy, 'ivy', 'hank');
      await expectMediaFlowing({ hank, ivy });

      link.down();
      link.cut();
      await byState(hank, 'call-state', 'reconnecting', 5_000);
      expect(await text(hank, 'call-state')).toBe('Reconnecting…');
      expect(await text(hank, 'reg-state')).toBe('Reconnecting…');
      const [atHank, atIvy] = await Promise.all([audioDuring(hank, 2_000), audioDuring(ivy, 2_000)]);
      expect(atHank.bytes).toBeGreaterThan(5_000);
      expect(atIvy.bytes).toBeGreaterThan(5_000);
      link.up();
      const upAt = Date.now();
      // Back: registered again, ICE restarted by a re-INVITE that went through, and the call on.
      await byState(hank, 'call-state', 'connected', 15_000);
      figures['softphone-reconnect'] = { signalingBackMs: Date.now() - upAt, mediaGapMs: Math.max(atHank.longestGapMs, atIvy.longestGapMs) };
      await byState(hank, 'reg-state', 'registered');
      expect(await text(ivy, 'call-state')).toBe('Connected');
      const byes = (page: Page) => page.evaluate(() => window.__e2e.frames.filter((f) => f.text.startsWith('BYE ')).length);
      expect(await byes(hank)).toBe(0);
      expect(await byes(ivy)).toBe(0);
      await expectMediaFlowing({ hank, ivy });

      // ivy hangs up while hank is away: the service answers her BYE for him, and when he is
      // back his ICE restart finds the call gone (481) and his page ends it.
      link.down();
      link.cut();
      await byState(hank, 'call-state', 'reconnecting', 5_000);
      await ivy.getByTestId('hangup').click();
      await byState(ivy, 'call-state', 'ended');
      link.up();
      await byState(hank, 'call-state', 'ended', 15_000);
      expect(await text(hank, 'call-state')).toBe('Call ended (the call was over when the connection came back)');
      const reinvite = await hank.evaluate(() => window.__e2e.frames.filter((f) => f.dir === 'in' && / INVITE$/m.test(f.text.split('\r\n').find((l) => l.startsWith('CSeq:')) ?? '')).map((f) => f.text.split('\r\n')[0]).at(-1));
      expect(reinvite).toBe('SIP/2.0 481 Call/Transaction Does Not Exist');

      // A new call, then down for longer than the grace: the service BYEs ivy, and hank's
      // page ends the call itself.
      await byState(hank, 'reg-state', 'registered', 15_000);
      await callAndAnswer(hank, ivy, 'ivy', 'hank');
      link.down();
      const cutAt = Date.now();
      link.cut();
      await byState(ivy, 'call-state', 'ended', (GRACE_S + 5) * 1000);
      expect(Date.now() - cutAt).toBeGreaterThanOrEqual(GRACE_S * 1000 - 100);
      await byState(hank, 'call-state', 'ended', 5_000);
      expect(await text(hank, 'call-state')).toBe(`Call ended (connection lost, not restored within ${GRACE_S} s)`);
      expect(await text(ivy, 'call-state')).toMatch(/hung up by the other side/);
    } finally {
      await link.close();
    }
  });

  it('push: a page whose socket is gone is woken by Web Push, shows the call, reconnects, and the call is answered with media', async () => {
    // Headless Chromium reaches no real push service: its PushManager hands out a
    // subscription at the test's RFC 8030 service, and what that service receives (VAPID-
    // checked, decrypted with the subscription's keys) is delivered to the page's service
    // worker over the DevTools protocol, as the browser's push client would.
    const sub = await push.subscribe();
    const init = `(() => {
      const sub = ${JSON.stringify({ endpoint: sub.endpoint, p256dh: sub.p256dh, auth: sub.auth })};
      PushManager.prototype.getSubscription = async () => null;
      PushManager.prototype.subscribe = async function (o) {
        window.__applicationServerKey = o.applicationServerKey;
        return { endpoint: sub.endpoint, toJSON: () => ({ endpoint: sub.endpoint, keys: { p256dh: sub.p256dh, auth: sub.auth } }) };
      };
    })();`;
    const link = await flakyLink(env.server.url);
    try {
      const jane = await signInWithPassword('jane', { via: link, init, permissions: ['notifications'] });
      await byState(jane, 'push-state', 'on');
      expect(await jane.evaluate(() => (window as unknown as { __applicationServerKey: string }).__applicationServerKey)).toBe(vapid.publicKey);
      await jane.waitForFunction(() => window.__e2e.frames.some((f) => f.dir === 'out' && f.text.startsWith('REGISTER ') && f.text.includes('pn-provider=webpush')), undefined, { timeout: 5_000 });
      const cdp = await jane.context().newCDPSession(jane);
      const registration = new Promise<string>((resolve) =>
        cdp.on('ServiceWorker.workerRegistrationUpdated', (e: { registrations: Array<{ registrationId: string; scopeURL: string; isDeleted: boolean }> }) => {
          const r = e.registrations.find((x) => !x.isDeleted);
          if (r) resolve(r.registrationId);
        }),
      );
      await cdp.send('ServiceWorker.enable');
      const registrationId = await registration;

      // jane's network goes away: her socket is gone, her push binding is not.
      link.down();
      link.cut();
      await byState(jane, 'reg-state', 'disconnected', 5_000);
      const kim = await openTokenLink('kim');
      await kim.getByTestId('dial-target').fill('jane');
      await kim.getByTestId('dial-call').click();
      const delivered = await push.next(sub.id);
      expect(JSON.parse(delivered.payload)).toMatchObject({ type: 'call', from: 'kim' });

      // Woken, with the network back: the service worker gets the push and the page reconnects.
      link.up();
      const wokenAt = Date.now();
      await cdp.send('ServiceWorker.deliverPushMessage', { origin: new URL(jane.url()).origin, registrationId, data: delivered.payload });
      await jane.getByTestId('incoming').waitFor({ state: 'visible', timeout: 10_000 });
      figures['softphone-push'] = { pushToRingingMs: Date.now() - wokenAt };
      expect(await text(jane, 'incoming-from')).toBe('kim');
      const notes = await jane.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => n.title));
      expect(notes).toContain('Incoming call from kim');
      await jane.getByTestId('incoming-answer').click();
      for (const page of [jane, kim]) await byState(page, 'call-state', 'connected');
      await expectMediaFlowing({ jane, kim });
      await kim.getByTestId('hangup').click();
      await byState(jane, 'call-state', 'ended');
      expect(push.refused).toEqual([]);
    } finally {
      await link.close();
    }
  });

  it('blind transfer by clicks: frank transfers erin to gina, and erin ends up talking to gina', async () => {
    const erin = await signInWithPassword('erin');
    const frank = await openTokenLink('frank');
    const gina = await openTokenLink('gina');
    await callAndAnswer(erin, frank, 'frank', 'erin');

    await frank.getByTestId('transfer-target').fill('gina');
    await frank.getByTestId('transfer-submit').click();
    await gina.getByTestId('incoming').waitFor({ state: 'visible' });
    expect(await text(gina, 'incoming-from')).toBe('erin');
    await gina.getByTestId('incoming-answer').click();

    await erin.waitForFunction(() => document.querySelector('[data-testid="call-peer"]')?.textContent === 'to gina', undefined, { timeout: 10_000, polling: 100 });
    await byState(erin, 'call-state', 'connected');
    await byState(gina, 'call-state', 'connected');
    await byState(frank, 'call-state', 'ended');
    await expectMediaFlowing({ erin, gina });

    await gina.getByTestId('hangup').click();
    await byState(erin, 'call-state', 'ended');
  });
});

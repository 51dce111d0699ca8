/**
 * Headless Chromium (the system's, never a downloaded one) and the harness page: the
 * instrumentation and the JsSIP/SIP.js harness are bundled with esbuild at test time and
 * served from a small static server on loopback.
 */
import { build } from 'esbuild';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from '../../support/dev-server.js';

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  // One host candidate on the default interface, from sockets bound to the any-address:
  // the instrumentation rewrites it to 127.0.0.1 and media stays on loopback.
  '--webrtc-ip-handling-policy=default_public_and_private_interfaces',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--autoplay-policy=no-user-gesture-required',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
}

async function bundle(entry: string, format: 'iife' | 'esm'): Promise<string> {
  const out = await build({
    absWorkingDir: ROOT,
    entryPoints: [join(ROOT, 'test/e2e/harness', entry)],
    bundle: true,
    write: false,
    format,
    platform: 'browser',
    target: 'chrome120',
    logLevel: 'warning',
  });
  return out.outputFiles[0]!.text;
}

export interface HarnessSite {
  readonly url: string;
  /** The instrumentation, to install with `addInitScript` in every page. */
  readonly instrument: string;
  close(): Promise<void>;
}

export async function serveHarness(): Promise<HarnessSite> {
  const [instrument, harness] = await Promise.all([bundle('instrument.ts', 'iife'), bundle('page.ts', 'esm')]);
  const html = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>e2e harness</title><script type="module" src="/harness.js"></script></head><body></body></html>';
  const server: Server = createServer((req, res) => {
    const [type, body] = req.url === '/harness.js' ? ['text/javascript', harness] : req.url === '/' ? ['text/html', html] : ['text/plain', 'not found'];
    res.writeHead(body === 'not found' ? 404 : 200, { 'Content-Type': `${type}; charset=utf-8`, 'Cache-Control': 'no-store' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    instrument,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * A fresh browser context (its own storage) with the instrumentation, at `url`; `init`
 * runs before the page's scripts too, and `permissions` are granted to its origin.
 */
export async function openPage(browser: Browser, instrument: string, url: string, o: { init?: string; permissions?: string[] } = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  await context.addInitScript({ content: instrument });
  if (o.init) await context.addInitScript({ content: o.init });
  if (o.permissions) await context.grantPermissions(o.permissions, { origin: new URL(url).origin });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[page ${url}] ${err.message}`));
  await page.goto(url);
  return page;
}

/** Closes a page's whole context, as closing a tab would end its sockets and media. */
export async function closePage(page: Page): Promise<void> {
  await page.context().close();
}

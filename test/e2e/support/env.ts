/**
 * The whole stack for one e2e file: coturn, the product under `wrangler dev` (with TURN REST
 * credentials pointing at that coturn), headless Chromium and the harness site; a tenant
 * and helpers to open phones. Everything is stopped by `stop()`.
 */
import type { Browser, Page } from 'playwright-core';
import { provision, startDevServer, type DevServer } from '../../support/dev-server.js';
import type { Library, PhoneConfig } from '../harness/types.js';
import { startCoturn, type Coturn } from './coturn.js';
import { closePage, launchChromium, openPage, serveHarness, type HarnessSite } from './pages.js';
import type { FlakyLink } from './flaky-link.js';

export interface Issued {
  readonly token: string;
  readonly wsUrl: string;
  readonly sipUri: string;
}

export interface E2e {
  readonly server: DevServer;
  readonly coturn: Coturn;
  readonly browser: Browser;
  readonly site: HarnessSite;
  readonly tenant: string;
  readonly domain: string;
  password(user: string): string;
  uri(user: string): string;
  addUsers(...users: string[]): Promise<void>;
  token(user: string): Promise<Issued>;
  iceServers(token: string): Promise<RTCIceServer[]>;
  /**
   * A harness page whose phone has registered; with `link`, its WebSocket goes through
   * that relay, and `recover` makes it reconnect and re-register when the socket drops.
   */
  phone(user: string, library: Library, o?: { relayOnly?: boolean; link?: FlakyLink; recover?: boolean; handover?: boolean }): Promise<Page>;
  /** A page of the product itself (the softphone), served by the Worker (at `base`, e.g. through a relay). */
  product(path?: string, base?: string, o?: { init?: string; permissions?: string[] }): Promise<Page>;
  stop(): Promise<void>;
}

export async function startE2e(tenant: string, limits: Record<string, unknown> = {}, vars: Record<string, string> = {}): Promise<E2e> {
  const coturn = await startCoturn();
  let server: DevServer | undefined;
  let browser: Browser | undefined;
  let site: HarnessSite | undefined;
  const stop = async (): Promise<void> => {
    await Promise.allSettled([browser?.close(), site?.close()]);
    await Promise.allSettled([server?.stop(), coturn.stop()]);
  };
  try {
    [server, browser, site] = await Promise.all([
      startDevServer({ vars: { TURN_URLS: coturn.urls, TURN_SECRET: coturn.secret, ...vars } }),
      launchChromium(),
      serveHarness(),
    ]);
  } catch (err) {
    await stop();
    throw err;
  }
  const srv = server;
  const { domain, apiKey } = await provision(srv, tenant, {}, limits);

  const env: E2e = {
    server: srv,
    coturn,
    browser,
    site,
    tenant,
    domain,
    password: (user) => `${user}-password-1`,
    uri: (user) => `sip:${user}@${domain}`,
    async addUsers(...users) {
      for (const user of users) {
        const r = await srv.api('PUT', `/v1/tenants/${tenant}/users/${user}`, { password: env.password(user) }, apiKey);
        if (r.status !== 201) throw new Error(`user ${user}: ${r.status} ${JSON.stringify(r.body)}`);
      }
    },
    async token(user) {
      const r = await srv.api<Issued>('POST', `/v1/tenants/${tenant}/users/${user}/tokens`, { ttl: 3600 }, apiKey);
      if (r.status !== 201) throw new Error(`token for ${user}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
    async iceServers(token) {
      const r = await srv.api<{ iceServers: RTCIceServer[] }>('GET', `/v1/tenants/${tenant}/ice-servers`, undefined, token);
      if (r.status !== 200) throw new Error(`ice-servers: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.iceServers;
    },
    async phone(user, library, o = {}) {
      const issued = await env.token(user);
      const config: PhoneConfig = {
        library,
        wsUrl: o.link ? o.link.via(issued.wsUrl) : issued.wsUrl,
        uri: issued.sipUri,
        rtc: { iceServers: await env.iceServers(issued.token), iceTransportPolicy: o.relayOnly ? 'relay' : 'all' },
        recover: o.recover ?? false,
        handover: o.handover ?? false,
      };
      const page = await openPage(browser!, site!.instrument, site!.url);
      try {
        await page.evaluate((c) => window.harness.start(c), config);
      } catch (err) {
        await closePage(page);
        throw err;
      }
      return page;
    },
    product: (path = '/', base = srv.url, o = {}) => openPage(browser!, site!.instrument, `${base.replace(/\/$/, '')}${path}`, o),
    stop,
  };
  return env;
}

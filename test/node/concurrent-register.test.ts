/**
 * Issue 11, point 4: devices of one user signing in with digest at the same moment all
 * register. Every challenge carries its own nonce (RFC 7616 §3.3), so one device's
 * `nc=00000001` is never taken for a replay of another's. Ten hand-built devices answer
 * their 401s together; then real JsSIP ×3 and SIP.js ×2 of one user start together.
 *
 * Sockets that have not authenticated yet are capped per client address (5 by default): each group
 * of devices below shares an address no more than that (the address is CF-Connecting-IP,
 * which a client's request carries through `wrangler dev`), as devices on a few
 * different networks would.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import JsSIP from 'jssip';
import type { UAConfiguration } from 'jssip/lib/UA';
import { Registerer, RegistererState, UserAgent } from 'sip.js';
import { provision, startDevServer, type DevServer } from '../support/dev-server.js';
import { TestUA, asResponse } from '../support/ua.js';
import { headerLines } from '../../sip/message/message.js';

/**
 * What JsSIP and SIP.js get as `WebSocket`: the `ws` package, with the client address
 * named by a `client` query parameter moved into CF-Connecting-IP.
 */
class AddressedWebSocket extends WebSocket {
  constructor(url: string, protocols?: string | string[]) {
    const u = new URL(url);
    const client = u.searchParams.get('client');
    u.searchParams.delete('client');
    super(u.toString(), protocols, { perMessageDeflate: false, headers: client ? { 'CF-Connecting-IP': client } : {} });
  }
}
(globalThis as unknown as { WebSocket: unknown }).WebSocket = AddressedWebSocket;
JsSIP.debug.disable('JsSIP:*');

const TENANT = 'together';
const PASSWORDS = { devices: 'devices-pass-10', libs: 'libs-pass-five' };
let server: DevServer;
let domain: string;

beforeAll(async () => {
  server = await startDevServer();
  ({ domain } = await provision(server, TENANT, PASSWORDS));
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** RFC 2617 §3.2.2 with qop=auth, answering the MD5 challenge among a 401's. */
function authorization(challenges: readonly string[], o: { user: string; password: string; method: string; uri: string; cnonce: string }): string {
  const md5Challenge = challenges.map(params).find((p) => (p.algorithm ?? 'MD5').toUpperCase() === 'MD5');
  if (!md5Challenge) throw new Error(`no MD5 challenge in ${JSON.stringify(challenges)}`);
  const { realm, nonce, opaque } = md5Challenge;
  const nc = '00000001';
  const ha1 = md5(`${o.user}:${realm}:${o.password}`);
  const response = md5(`${ha1}:${nonce}:${nc}:${o.cnonce}:auth:${md5(`${o.method}:${o.uri}`)}`);
  return `Digest username="${o.user}", realm="${realm}", nonce="${nonce}", uri="${o.uri}", algorithm=MD5, response="${response}", qop=auth, nc=${nc}, cnonce="${o.cnonce}"${opaque !== undefined ? `, opaque="${opaque}"` : ''}`;
}

function params(challenge: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of challenge.replace(/^\s*Digest\s+/i, '').matchAll(/([A-Za-z0-9_-]+)\s*=\s*(?:"([^"]*)"|([^,\s]*))/g)) out[m[1]!.toLowerCase()] = m[2] ?? m[3] ?? '';
  return out;
}

/** One hand-built device: a socket, and the next final response on it. */
class Device {
  private waiting: ((t: string) => void) | null = null;
  private constructor(
    readonly ws: WebSocket,
    readonly ua: TestUA,
  ) {
    ws.on('message', (d) => {
      const t = d.toString();
      if (t.startsWith('SIP/2.0 ') && !t.startsWith('SIP/2.0 1')) this.waiting?.(t);
    });
  }

  static open(user: string, client: string, k: number): Promise<Device> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${server.wsBase}/sip/${TENANT}/${user}`, 'sip', { perMessageDeflate: false, headers: { 'CF-Connecting-IP': client } });
      ws.once('open', () => resolve(new Device(ws, new TestUA(user, domain, `00000000-0000-4000-8000-${String(k).padStart(12, '0')}`))));
      ws.once('unexpected-response', (_q, res) => reject(new Error(`device ${k}: upgrade answered ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  send(text: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no final response within 10 s')), 10_000);
      this.waiting = (t) => {
        clearTimeout(timer);
        this.waiting = null;
        resolve(t);
      };
      this.ws.send(text);
    });
  }
}

describe('devices of one user signing in at the same moment', () => {
  it('ten hand-built devices answering their challenges together all get 200, each challenge with its own nonce', async () => {
    const user = 'devices';
    // Ten devices behind four addresses: 3, 3, 2 and 2.
    const devices = await Promise.all(Array.from({ length: 10 }, (_, k) => Device.open(user, `198.51.100.${1 + (k % 4)}`, k)));
    try {
      const first = devices.map((d) => d.ua.register({ expires: 600 }));
      const challenged = (await Promise.all(devices.map((d, k) => d.send(first[k]!.text)))).map(asResponse);
      expect(challenged.map((r) => r.status)).toEqual(Array(10).fill(401));
      const nonces = challenged.map((r) => params(headerLines(r, 'www-authenticate').find((v) => !/SHA-256/i.test(v)) ?? '').nonce);
      expect(new Set(nonces).size).toBe(10);

      const answered = devices.map((d, k) => {
        const sent = d.ua.register({ expires: 600, headers: [`Authorization: ${authorization(headerLines(challenged[k]!, 'www-authenticate'), { user, password: PASSWORDS.devices, method: 'REGISTER', uri: `sip:${domain}`, cnonce: `cn${k}` })}`] });
        return sent.text;
      });
      const finals = (await Promise.all(devices.map((d, k) => d.send(answered[k]!)))).map(asResponse);
      expect(finals.map((r) => `${r.status} ${r.reason}`)).toEqual(Array(10).fill('200 OK'));

      const stored = await server.api('GET', `/v1/tenants/${TENANT}/users/${user}`);
      expect(stored.status).toBe(200);
      expect(stored.body.registrations).toHaveLength(10);
    } finally {
      for (const d of devices) d.ws.close(1000);
    }
  }, 60_000);

  it('real JsSIP ×3 and SIP.js ×2 of one user, started at the same moment, all register', async () => {
    const user = 'libs';
    const aor = `sip:${user}@${domain}`;
    // The three JsSIP instances share one address, the two SIP.js instances another.
    const url = (client: string) => `${server.wsBase}/sip/${TENANT}/${user}?client=${client}`;
    const jssips = Array.from(
      { length: 3 },
      () =>
        new JsSIP.UA({
          sockets: [new JsSIP.WebSocketInterface(url('203.0.113.10'))],
          uri: aor,
          password: PASSWORDS.libs,
          register: true,
        } as UAConfiguration),
    );
    const sipjss = Array.from(
      { length: 2 },
      () =>
        new UserAgent({
          uri: UserAgent.makeURI(aor)!,
          transportOptions: { server: url('203.0.113.20') },
          authorizationUsername: user,
          authorizationPassword: PASSWORDS.libs,
          logLevel: 'error',
          logBuiltinEnabled: false,
        }),
    );
    const outcomes: Array<Promise<string>> = [];
    for (const [k, ua] of jssips.entries()) {
      outcomes.push(
        new Promise((resolve) => {
          ua.on('registered', () => resolve(`JsSIP ${k}: registered`));
          ua.on('registrationFailed', (e: { cause?: string }) => resolve(`JsSIP ${k}: failed (${e.cause})`));
        }),
      );
    }
    const registerers = sipjss.map((ua) => new Registerer(ua, { expires: 600 }));
    for (const [k, r] of registerers.entries()) {
      outcomes.push(
        new Promise((resolve) => {
          r.stateChange.addListener((s) => {
            if (s === RegistererState.Registered) resolve(`SIP.js ${k}: registered`);
            if (s === RegistererState.Unregistered || s === RegistererState.Terminated) resolve(`SIP.js ${k}: ${s}`);
          });
        }),
      );
    }
    const timeout = new Promise<string[]>((resolve) => setTimeout(() => resolve(['timed out after 20 s']), 20_000));
    try {
      // All five at once.
      for (const ua of jssips) ua.start();
      await Promise.all(
        sipjss.map(async (ua, k) => {
          await ua.start();
          await registerers[k]!.register({
            requestDelegate: { onReject: (res) => console.log(`SIP.js ${k} REGISTER rejected: ${res.message.statusCode} ${res.message.reasonPhrase}`) },
          });
        }),
      );
      const results = await Promise.race([Promise.all(outcomes), timeout]);
      expect(results).toEqual(['JsSIP 0: registered', 'JsSIP 1: registered', 'JsSIP 2: registered', 'SIP.js 0: registered', 'SIP.js 1: registered']);
      const stored = await server.api('GET', `/v1/tenants/${TENANT}/users/${user}`);
      const agents: string[] = stored.body.registrations.map((r: { userAgent: string | null }) => r.userAgent ?? '');
      expect(agents.filter((a) => /JsSIP/.test(a))).toHaveLength(3);
      expect(agents.filter((a) => /SIP\.js/.test(a))).toHaveLength(2);
    } finally {
      for (const ua of jssips) ua.stop();
      await Promise.all(sipjss.map((ua) => ua.stop().catch(() => undefined)));
    }
  }, 60_000);
});

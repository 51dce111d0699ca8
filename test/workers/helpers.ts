/**
 * Helpers for tests that run inside workerd: the management API through the Worker's own
 * fetch handler, and real WebSockets upgraded through the Worker into the users' objects.
 */
import { exports } from 'cloudflare:workers';
import { expect } from 'vitest';
import { expectedResponse, parseDigestCredentials } from '../../sip/auth/digest.js';
import { computeHa1 } from '../../sip/auth/digest.js';
import { header } from '../../sip/message/message.js';
import { TestUA, asRequest, asResponse, describe as what, parse, rand, type SentRequest } from '../support/ua.js';

export const ADMIN = 'test-admin-token';
export const BASE = 'http://sb.test';

export interface ApiResult<T = any> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

export async function api<T = any>(method: string, path: string, o: { body?: unknown; token?: string | null; raw?: string; headers?: Record<string, string> } = {}): Promise<ApiResult<T>> {
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  const token = o.token === undefined ? ADMIN : o.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  let body: string | undefined = o.raw;
  if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    headers['Content-Type'] = 'application/json';
  } else if (o.raw !== undefined) headers['Content-Type'] ??= 'application/json';
  const res = await exports.default.fetch(`${BASE}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

export interface TestTenant {
  readonly id: string;
  readonly apiKey: string;
  readonly domain: string;
}

export async function newTenant(limits: Record<string, unknown> = {}, id = `t${rand().toLowerCase().replace(/[^a-z0-9]/g, '')}`.slice(0, 40)): Promise<TestTenant> {
  const r = await api('POST', '/v1/tenants', { body: { id, limits } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return { id, apiKey: r.body.apiKey, domain: r.body.tenant.domain };
}

export const PASSWORD = 'correct-horse-battery';

export async function addUser(t: TestTenant, user: string, o: { password?: string | null; enabled?: boolean } = {}): Promise<void> {
  const body: Record<string, unknown> = {};
  if (o.password !== null) body.password = o.password ?? PASSWORD;
  if (o.enabled !== undefined) body.enabled = o.enabled;
  const r = await api('PUT', `/v1/tenants/${t.id}/users/${user}`, { body, token: t.apiKey });
  expect([200, 201], JSON.stringify(r.body)).toContain(r.status);
}

export async function tokenFor(t: TestTenant, user: string, ttl?: number): Promise<string> {
  const r = await api('POST', `/v1/tenants/${t.id}/users/${user}/tokens`, { body: ttl ? { ttl } : {}, token: t.apiKey });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.token;
}

export function upgrade(path: string, protocol = 'sip'): Promise<Response> {
  return exports.default.fetch(`${BASE}${path}`, { headers: { Upgrade: 'websocket', 'Sec-WebSocket-Protocol': protocol } });
}

/** A client WebSocket through the Worker, with an inbox to await frames from. */
export class Socket {
  private readonly inbox: string[] = [];
  private waiters: Array<() => void> = [];
  closed: { code: number; reason: string } | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.addEventListener('message', (e) => {
      this.inbox.push(typeof e.data === 'string' ? e.data : new TextDecoder().decode(e.data as ArrayBuffer));
      this.wake();
    });
    ws.addEventListener('close', (e) => {
      this.closed = { code: e.code, reason: e.reason };
      this.wake();
    });
  }

  static async open(path: string): Promise<Socket> {
    const res = await upgrade(path);
    if (res.status !== 101) throw new Error(`upgrade refused: ${res.status} ${await res.text()}`);
    expect(res.headers.get('Sec-WebSocket-Protocol')).toBe('sip');
    return Socket.wrap(res.webSocket!);
  }

  /** The client end of an upgrade the caller made itself. */
  static wrap(ws: WebSocket): Socket {
    ws.accept();
    return new Socket(ws);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(text: string | ArrayBuffer): void {
    this.ws.send(text);
  }

  /** The next frame matching `match` (a method, "status method" or predicate); earlier others stay queued. */
  async next(match?: string | ((text: string) => boolean), timeoutMs = 5000): Promise<string> {
    const test = typeof match === 'function' ? match : match ? (t: string) => what(t) === match || what(t).startsWith(`${match} `) : () => true;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const idx = this.inbox.findIndex((t) => t.trim() !== '' && test(t));
      if (idx >= 0) return this.inbox.splice(idx, 1)[0]!;
      if (this.closed) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) while waiting for ${String(match)}; inbox: ${this.inbox.map(what).join(', ')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${String(match)}; inbox: ${this.inbox.map((t) => (t.trim() === '' ? 'CRLF' : what(t))).join(', ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Asserts that nothing (matching) arrives within `ms`. */
  async quiet(ms = 300, match?: string): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    const pending = this.inbox.filter((t) => t.trim() !== '' && (!match || what(t).startsWith(match)));
    expect(pending.map(what)).toEqual([]);
  }

  rawInbox(): string[] {
    return this.inbox;
  }

  close(code = 1000): void {
    this.ws.close(code, 'bye');
  }

  async waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (!this.closed) throw new Error('socket did not close');
    return this.closed;
  }
}

/** Answers a digest challenge the way JsSIP does (qop=auth, MD5 unless told otherwise). */
export function withDigest(sent: SentRequest, challengeText: string, user: string, password: string, o: { nc?: string; algorithm?: 'MD5' | 'SHA-256'; cseq?: number; username?: string } = {}): string {
  const challenge = asResponse(challengeText);
  const req = asRequest(sent.text);
  const headerName = challenge.status === 401 ? 'www-authenticate' : 'proxy-authenticate';
  const algorithm = o.algorithm ?? 'MD5';
  const chosen = challenge.headers.filter((h) => h.key === headerName).map((h) => h.value).find((v) => v.includes(`algorithm=${algorithm}`))!;
  const realm = /realm="([^"]+)"/.exec(chosen)![1]!;
  const nonce = /nonce="([^"]+)"/.exec(chosen)![1]!;
  const nc = o.nc ?? '00000001';
  const cnonce = rand();
  const username = o.username ?? user;
  const creds = parseDigestCredentials(
    `Digest username="${username}", realm="${realm}", nonce="${nonce}", uri="${req.uri}", response="x", algorithm=${algorithm}, qop=auth, nc=${nc}, cnonce="${cnonce}"`,
  )!;
  const response = expectedResponse(creds, req.method, computeHa1(algorithm, user, realm, password));
  const authName = challenge.status === 401 ? 'Authorization' : 'Proxy-Authorization';
  const authLine = `${authName}: Digest username="${username}", realm="${realm}", nonce="${nonce}", uri="${req.uri}", response="${response}", algorithm=${algorithm}, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
  const cseqNum = o.cseq ?? sent.cseq + 1;
  return sent.text
    .replace(/^CSeq: \d+ /m, `CSeq: ${cseqNum} `)
    .replace(/^Via: (.*);branch=[^;\r\n]+/m, `Via: $1;branch=z9hG4bK${rand()}`)
    .replace(/\r\n\r\n/, `\r\n${authLine}\r\n\r\n`);
}

/** A user's browser: a socket through the Worker plus a test UA speaking on it. */
export class Phone {
  constructor(
    readonly ua: TestUA,
    readonly sock: Socket,
  ) {}

  static async connect(t: TestTenant, user: string, o: { token?: boolean; instance?: string } = {}): Promise<Phone> {
    const token = o.token === false ? null : await tokenFor(t, user);
    const sock = await Socket.open(`/sip/${t.id}/${user}${token ? `?token=${encodeURIComponent(token)}` : ''}`);
    return new Phone(new TestUA(user, t.domain, o.instance ?? null), sock);
  }

  /** The same device (its UA: instance, CSeq, Contact) on a new socket, as after a network change. */
  async reopen(t: TestTenant): Promise<Phone> {
    const token = await tokenFor(t, this.ua.user);
    return new Phone(this.ua, await Socket.open(`/sip/${t.id}/${this.ua.user}?token=${encodeURIComponent(token)}`));
  }

  /** REGISTER (answering a digest challenge if one comes) and expect 200. */
  async register(o: { expires?: number; password?: string } = {}): Promise<string> {
    const sent = this.ua.register({ expires: o.expires });
    this.sock.send(sent.text);
    let res = await this.sock.next((t) => what(t).endsWith('REGISTER'));
    if (asResponse(res).status === 401) {
      this.sock.send(withDigest(sent, res, this.ua.user, o.password ?? PASSWORD));
      res = await this.sock.next((t) => what(t).endsWith('REGISTER'));
    }
    expect(what(res)).toBe('200 REGISTER');
    return res;
  }
}

/** alice and bob of a new tenant, each with a token socket and registered. */
export async function registeredPair(limits: Record<string, unknown> = {}) {
  const t = await newTenant(limits);
  await addUser(t, 'alice');
  await addUser(t, 'bob');
  const alice = await Phone.connect(t, 'alice');
  const bob = await Phone.connect(t, 'bob');
  await alice.register();
  await bob.register();
  return { t, alice, bob };
}

/** alice and bob of a new tenant, registered, in an answered and ACKed call. */
export async function callInProgress(o: { limits?: Record<string, unknown>; inviteHeaders?: readonly string[]; answerHeaders?: readonly string[] } = {}) {
  const { t, alice, bob } = await registeredPair(o.limits);
  const invite = alice.ua.invite('bob', { headers: o.inviteHeaders });
  alice.sock.send(invite.text);
  const atBob = await bob.sock.next('INVITE');
  bob.sock.send(bob.ua.respond(atBob, 200, { toTag: 'b', body: atBob.split('\r\n\r\n')[1], headers: o.answerHeaders }));
  alice.sock.send(alice.ua.inDialog(alice.ua.dialogAsCaller(invite, await alice.sock.next('200 INVITE')), 'ACK').text);
  await bob.sock.next('ACK');
  return { t, alice, bob, invite };
}

export { what, parse, header };

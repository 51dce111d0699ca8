/**
 * An in-memory stand-in for the Durable Objects: one engine state per user, sockets as
 * inboxes, and relays delivered in order. It runs the pure core exactly as the adapter
 * does, so core scenarios run in milliseconds.
 */
import { step, nextDeadline } from '../../sip/index.js';
import { DEFAULT_LIMITS, type Credentials, type Input, type SocketAuth, type TenantPolicy } from '../../sip/io.js';
import { computeHa1 } from '../../sip/auth/digest.js';
import { EMPTY_STATE, type UserState } from '../../sip/state.js';
import { TestUA } from './ua.js';

export const DOMAIN = 'acme.test';

export class Sim {
  now = Date.UTC(2026, 10, 23, 12, 0, 0);
  policy: TenantPolicy = { tenant: 'acme', domain: DOMAIN, ...DEFAULT_LIMITS };
  /** The tenant's temporary-GRUU key (32 bytes, hex). */
  gruuKey: string | null = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
  readonly states = new Map<string, UserState>();
  readonly credentials = new Map<string, Credentials>();
  readonly inbox = new Map<string, string[]>();
  readonly connAuth = new Map<string, SocketAuth>();
  readonly connUser = new Map<string, string>();
  readonly relays: Array<{ from: string; to: string; kind: string; text: string }> = [];
  /** Wake-up pushes the objects asked for. */
  readonly pushes: Array<{ user: string; binding: string; payload: string; ttlSeconds: number }> = [];
  private ids = 0;

  addUser(user: string, password = 'secret', enabled = true): void {
    this.credentials.set(user, {
      ha1Md5: computeHa1('MD5', user, DOMAIN, password),
      ha1Sha256: computeHa1('SHA-256', user, DOMAIN, password),
      enabled,
    });
  }

  connect(user: string, auth: SocketAuth = 'token'): string {
    const conn = `c${++this.ids}`;
    this.inbox.set(conn, []);
    this.connAuth.set(conn, auth);
    this.connUser.set(conn, user);
    return conn;
  }

  send(conn: string, text: string): void {
    const user = this.connUser.get(conn)!;
    this.run([{ user, input: { type: 'socket-message', conn: { id: conn, auth: this.connAuth.get(conn) ?? null }, text } }]);
  }

  /** The socket closes; `final` as when the service closed it for good (user deleted or disabled). */
  close(conn: string, final = false): void {
    const user = this.connUser.get(conn)!;
    this.inbox.delete(conn);
    this.run([{ user, input: { type: 'socket-closed', conn, final } }]);
  }

  /** Any input to one user's object, as its adapter would give it. */
  input(user: string, input: Input): void {
    this.run([{ user, input }]);
  }

  /** Moves the clock and fires every alarm that is due, as the objects' alarms would. */
  advance(ms: number): void {
    this.now += ms;
    const due = [...this.states.entries()].filter(([, st]) => {
      const d = nextDeadline(st);
      return d !== null && d <= this.now;
    });
    this.run(due.map(([user]) => ({ user, input: { type: 'timer' } as Input })));
  }

  /** A timer input to one user's object now, as an alarm set for another reason (write-behind) would give. */
  timer(user: string): void {
    this.run([{ user, input: { type: 'timer' } }]);
  }

  take(conn: string): string[] {
    const frames = this.inbox.get(conn) ?? [];
    this.inbox.set(conn, []);
    return frames;
  }

  state(user: string): UserState {
    return this.states.get(user) ?? EMPTY_STATE;
  }

  private run(queue: Array<{ user: string; input: Input }>): void {
    while (queue.length > 0) {
      const { user, input } = queue.shift()!;
      const result = step(this.state(user), input, {
        now: this.now,
        user,
        policy: this.policy,
        credentials: this.credentials.get(user) ?? null,
        nonceSecret: `nonce-secret-${user}`,
        gruuKey: this.gruuKey,
        newId: () => `id${++this.ids}`,
      });
      this.states.set(user, result.state);
      for (const e of result.effects) {
        if (e.type === 'send') this.inbox.get(e.conn)?.push(e.text);
        else if (e.type === 'authenticate') this.connAuth.set(e.conn, 'digest');
        else if (e.type === 'push') this.pushes.push({ user, binding: e.binding.id, payload: e.payload, ttlSeconds: e.ttlSeconds });
        else {
          this.relays.push({ from: user, to: e.to, kind: e.type, text: e.text });
          queue.push({ user: e.to, input: { type: e.type === 'relay-request' ? 'peer-request' : 'peer-response', from: user, text: e.text, media: e.media ?? null } });
        }
      }
    }
  }
}

/** A Sim with alice and bob, each with one socket that has registered: ready to call. */
export function registeredPair(): { sim: Sim; alice: TestUA; bob: TestUA; a: string; b: string } {
  const sim = new Sim();
  const alice = new TestUA('alice', DOMAIN);
  const bob = new TestUA('bob', DOMAIN);
  const [a, b] = [alice, bob].map((ua) => {
    sim.addUser(ua.user);
    const conn = sim.connect(ua.user);
    sim.send(conn, ua.register().text);
    const [answer] = sim.take(conn);
    if (!answer?.startsWith('SIP/2.0 200')) throw new Error(`${ua.user} did not register: ${answer}`);
    return conn;
  }) as [string, string];
  return { sim, alice, bob, a, b };
}

/**
 * Issue 11, point 7: a frozen peer is noticed. The callee, a real JsSIP or SIP.js user
 * agent in a child process of its own (test/node/fixtures/auto-answer-callee.mjs),
 * registers and answers a call from a caller of the same library in this process; once
 * the call is confirmed the callee's process is stopped (SIGSTOP), so its TCP connection
 * stays open but nothing answers on it. The service must notice (sip/liveness.ts: a flow
 * in a call silent 60 s is probed with OPTIONS and closed 10 s later if it says nothing),
 * hold the call for the device to come back on a new flow (the tenant's flowGraceSeconds,
 * 5 s here), end it with a BYE to the caller within two minutes, and drop the dead flow's
 * binding, so that a new call to the callee is refused at once instead of ringing into it.
 * Both libraries run side by side, so the file takes about one detection time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import WebSocket from 'ws';
import JsSIP from 'jssip';
import type { UAConfiguration } from 'jssip/lib/UA';
import { Inviter, Registerer, RegistererState, SessionState, UserAgent, type Session, type SessionDescriptionHandler } from 'sip.js';
import { ROOT, provision, startDevServer, type DevServer } from '../support/dev-server.js';
import { webrtcSdp } from '../support/ua.js';

const g = globalThis as unknown as Record<string, unknown>;
g.WebSocket = WebSocket;
// JsSIP looks for window.RTCPeerConnection before it takes a call.
g.window ??= globalThis;

/** Just enough RTCPeerConnection for JsSIP's offer/answer: a fixed SDP, ICE already complete. */
class StubPeerConnection extends EventTarget {
  localDescription: { type: string; sdp: string } | null = null;
  remoteDescription: { type: string; sdp: string } | null = null;
  signalingState = 'stable';
  iceGatheringState = 'complete';
  iceConnectionState = 'connected';
  connectionState = 'connected';
  async createOffer() {
    return { type: 'offer', sdp: webrtcSdp() };
  }
  async createAnswer() {
    return { type: 'answer', sdp: webrtcSdp().replace('a=setup:actpass', 'a=setup:active') };
  }
  async setLocalDescription(d: { type: string; sdp: string }) {
    this.localDescription = d;
    this.signalingState = d.type === 'offer' ? 'have-local-offer' : 'stable';
  }
  async setRemoteDescription(d: { type: string; sdp: string }) {
    this.remoteDescription = d;
    this.signalingState = d.type === 'offer' ? 'have-remote-offer' : 'stable';
  }
  getSenders() {
    return [];
  }
  getReceivers() {
    return [];
  }
  getTransceivers() {
    return [];
  }
  addTrack() {}
  close() {
    this.signalingState = 'closed';
  }
}
g.RTCPeerConnection = StubPeerConnection;
g.RTCSessionDescription = class {
  type: string;
  sdp: string;
  constructor(init: { type: string; sdp: string }) {
    this.type = init.type;
    this.sdp = init.sdp;
  }
};
JsSIP.debug.disable('JsSIP:*');

/** SIP.js's media seam: a session description handler that offers and answers a fixed SDP. */
class FixedSdh implements SessionDescriptionHandler {
  close(): void {}
  async getDescription() {
    return { body: webrtcSdp(), contentType: 'application/sdp' };
  }
  hasDescription(contentType: string): boolean {
    return contentType === 'application/sdp';
  }
  async setDescription(): Promise<void> {}
  async rollbackDescription(): Promise<void> {}
  sendDtmf(): boolean {
    return false;
  }
}

const TENANT = 'frozen';
const PASSWORDS: Record<string, string> = { jcaller: 'jcaller-pass-1', jcallee: 'jcallee-pass-1', scaller: 'scaller-pass-1', scallee: 'scallee-pass-1' };
const CALLEE_SCRIPT = join(ROOT, 'test/node/fixtures/auto-answer-callee.mjs');
const BYE_WITHIN_MS = 120_000;
let server: DevServer;
let domain: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  server = await startDevServer();
  ({ domain } = await provision(server, TENANT, PASSWORDS, { flowGraceSeconds: 5 }));
}, 120_000);

afterAll(async () => {
  for (const c of children) endChild(c);
  await server?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wakes and ends a callee process we started, by its PID. */
function endChild(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  try {
    process.kill(child.pid, 'SIGCONT');
    process.kill(child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** The callee's process, and its events as they come. */
class Callee {
  readonly child: ChildProcess;
  readonly events: Array<{ event: string; [k: string]: unknown }> = [];
  private output = '';

  constructor(lib: 'jssip' | 'sipjs', user: string) {
    this.child = spawn(process.execPath, [CALLEE_SCRIPT, lib, `${server.wsBase}/sip/${TENANT}/${user}`, `sip:${user}@${domain}`, user, PASSWORDS[user]!], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(this.child);
    let partial = '';
    this.child.stdout!.on('data', (d) => {
      partial += d.toString();
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const l of lines) {
        if (!l.trim()) continue;
        try {
          this.events.push(JSON.parse(l));
        } catch {
          this.output += `${l}\n`;
        }
      }
    });
    this.child.stderr!.on('data', (d) => (this.output += d.toString()));
  }

  async waitFor(event: string, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.events.some((e) => e.event === event)) {
      const err = this.events.find((e) => e.event === 'error');
      if (err) throw new Error(`callee: ${String(err.message)}`);
      if (this.child.exitCode !== null) throw new Error(`callee exited (${this.child.exitCode}): ${this.output}`);
      if (Date.now() > deadline) throw new Error(`callee: no ${event} within ${ms} ms; events ${JSON.stringify(this.events)}; stderr ${this.output}`);
      await sleep(50);
    }
  }

  freeze(): void {
    process.kill(this.child.pid!, 'SIGSTOP');
  }
}

/** How a caller library places a call and tells what happened to it. */
interface Caller {
  /** Places the call; resolves once it is confirmed (2xx received, ACK sent). */
  call(target: string): Promise<void>;
  /** Resolves with how the confirmed call ended: 'remote BYE' when a BYE came in. */
  readonly ended: Promise<string>;
  /** Places a second call and resolves with the provisional and final statuses it got. */
  tryCall(target: string): Promise<{ provisional: number[]; final: number | null }>;
  stop(): Promise<void>;
}

function startJsSipCaller(user: string): Promise<Caller> {
  const ua = new JsSIP.UA({ sockets: [new JsSIP.WebSocketInterface(`${server.wsBase}/sip/${TENANT}/${user}`)], uri: `sip:${user}@${domain}`, password: PASSWORDS[user], register: true } as UAConfiguration);
  const media = { mediaConstraints: { audio: false, video: false } };
  let resolveEnded: (s: string) => void = () => undefined;
  const ended = new Promise<string>((r) => (resolveEnded = r));
  const caller: Caller = {
    ended,
    call: (target) =>
      new Promise((resolve, reject) => {
        const session = ua.call(target, {
          ...media,
          eventHandlers: {
            confirmed: () => resolve(),
            failed: (e: { cause?: string }) => reject(new Error(`JsSIP call failed: ${e.cause}`)),
            ended: (e: { originator: string; cause: string }) => resolveEnded(`${e.originator} ${e.cause === JsSIP.C.causes.BYE ? 'BYE' : e.cause}`),
          },
        } as never);
        void session;
      }),
    tryCall: (target) =>
      new Promise((resolve) => {
        const provisional: number[] = [];
        ua.call(target, {
          ...media,
          eventHandlers: {
            progress: (e: { response?: { status_code: number } }) => e.response && provisional.push(e.response.status_code),
            failed: (e: { message?: { status_code?: number } }) => resolve({ provisional, final: e.message?.status_code ?? null }),
            confirmed: () => resolve({ provisional, final: 200 }),
          },
        } as never);
      }),
    async stop() {
      ua.stop();
    },
  };
  return new Promise((resolve, reject) => {
    ua.on('registered', () => resolve(caller));
    ua.on('registrationFailed', (e: { cause?: string }) => reject(new Error(`${user} registration failed: ${e.cause}`)));
    ua.start();
  });
}

async function startSipJsCaller(user: string): Promise<Caller> {
  const ua = new UserAgent({
    uri: UserAgent.makeURI(`sip:${user}@${domain}`)!,
    transportOptions: { server: `${server.wsBase}/sip/${TENANT}/${user}` },
    authorizationUsername: user,
    authorizationPassword: PASSWORDS[user]!,
    logLevel: 'error',
    logBuiltinEnabled: false,
    sessionDescriptionHandlerFactory: () => new FixedSdh(),
  });
  await ua.start();
  const registerer = new Registerer(ua, { expires: 600 });
  const registered = new Promise<void>((resolve, reject) => {
    registerer.stateChange.addListener((s) => {
      if (s === RegistererState.Registered) resolve();
      if (s === RegistererState.Unregistered) reject(new Error(`${user} registration failed`));
    });
  });
  await registerer.register();
  await registered;
  let resolveEnded: (s: string) => void = () => undefined;
  const ended = new Promise<string>((r) => (resolveEnded = r));
  const watch = (session: Session) => {
    session.delegate = { onBye: () => resolveEnded('remote BYE') };
    session.stateChange.addListener((s) => {
      if (s === SessionState.Terminated) setTimeout(() => resolveEnded('terminated without a BYE from the service'), 100);
    });
  };
  return {
    ended,
    async call(target) {
      const inviter = new Inviter(ua, UserAgent.makeURI(target)!);
      watch(inviter);
      const established = new Promise<void>((resolve, reject) => {
        inviter.stateChange.addListener((s) => {
          if (s === SessionState.Established) resolve();
          if (s === SessionState.Terminated) reject(new Error('SIP.js call ended before it was established'));
        });
      });
      await inviter.invite();
      await established;
    },
    tryCall: (target) =>
      new Promise((resolve, reject) => {
        const provisional: number[] = [];
        const inviter = new Inviter(ua, UserAgent.makeURI(target)!);
        inviter
          .invite({
            requestDelegate: {
              onProgress: (r) => provisional.push(r.message.statusCode!),
              onReject: (r) => resolve({ provisional, final: r.message.statusCode ?? null }),
              onAccept: () => resolve({ provisional, final: 200 }),
            },
          })
          .catch(reject);
      }),
    async stop() {
      await ua.stop().catch(() => undefined);
    },
  };
}

async function frozenCallee(lib: 'jssip' | 'sipjs', expect: (typeof import('vitest'))['expect']): Promise<void> {
  const [callerUser, calleeUser] = lib === 'jssip' ? ['jcaller', 'jcallee'] : ['scaller', 'scallee'];
  const callee = new Callee(lib, calleeUser);
  let caller: Caller | null = null;
  try {
    await callee.waitFor('registered', 20_000);
    expect((await server.api('GET', `/v1/tenants/${TENANT}/users/${calleeUser}`)).body.registrations).toHaveLength(1);
    caller = lib === 'jssip' ? await startJsSipCaller(callerUser) : await startSipJsCaller(callerUser);
    const target = `sip:${calleeUser}@${domain}`;
    await caller.call(target);
    await callee.waitFor('confirmed', 10_000);

    callee.freeze();
    const frozenAt = performance.now();
    const how = await Promise.race([caller.ended, sleep(BYE_WITHIN_MS).then(() => `no BYE within ${BYE_WITHIN_MS / 1000} s`)]);
    const seconds = (performance.now() - frozenAt) / 1000;
    console.log(`${lib}: callee frozen; the caller's call ended (${how}) after ${seconds.toFixed(1)} s`);
    expect(how).toBe('remote BYE');
    expect(seconds).toBeLessThan(BYE_WITHIN_MS / 1000);

    // The dead flow's binding went with it.
    expect((await server.api('GET', `/v1/tenants/${TENANT}/users/${calleeUser}`)).body.registrations).toEqual([]);
    // A new call does not ring into it: it is refused at once.
    const t = performance.now();
    const second = await Promise.race([caller.tryCall(target), sleep(15_000).then(() => ({ provisional: [] as number[], final: -1 }))]);
    const answeredMs = performance.now() - t;
    console.log(`${lib}: a new call to the frozen callee got ${JSON.stringify(second)} in ${answeredMs.toFixed(0)} ms`);
    expect([404, 480]).toContain(second.final);
    expect(second.provisional.filter((s) => s > 100)).toEqual([]);
    expect(answeredMs).toBeLessThan(3_000);
  } finally {
    endChild(callee.child);
    await caller?.stop();
  }
}

describe('a frozen peer is noticed', () => {
  it.concurrent('JsSIP: the caller gets a BYE from the service, and new calls do not ring into the dead flow', async ({ expect }) => {
    await frozenCallee('jssip', expect);
  }, 180_000);

  it.concurrent('SIP.js: the caller gets a BYE from the service, and new calls do not ring into the dead flow', async ({ expect }) => {
    await frozenCallee('sipjs', expect);
  }, 180_000);
});

/** The harness's SIP.js user agent: register, call, answer, hang up. */
import { Invitation, Inviter, Registerer, RegistererState, SessionState, UserAgent, type Session, type Web } from 'sip.js';
import { CallBook, play } from './call-book.js';
import type { CallSummary, Harness, PhoneConfig, Recovery } from './types.js';
// The softphone's spacing of the ICE restart after a reconnect (glare, RFC 3261 §14.1).
import { restartDelayMs } from '../../../web/recovery.js';
import { HandoverSocket, until } from './handover-socket.js';

export class SipJsPhone implements Harness {
  private ua: UserAgent | null = null;
  private readonly book = new CallBook();
  private current: { session: Session; id: number } | null = null;
  private readonly incoming: Array<{ session: Invitation; id: number }> = [];
  private incomingWaiter: ((next: { session: Invitation; id: number }) => void) | null = null;
  private readonly hungUp = new WeakSet<Session>();
  private readonly lost: Recovery[] = [];
  private registerer: Registerer | null = null;

  async start(config: PhoneConfig): Promise<void> {
    const uri = UserAgent.makeURI(config.uri);
    if (!uri) throw new Error(`not a SIP URI: ${config.uri}`);
    const ua = new UserAgent({
      uri,
      transportOptions: { server: config.wsUrl },
      userAgentString: 'e2e harness SIP.js/0.21.2',
      logLevel: 'warn',
      sessionDescriptionHandlerFactoryOptions: { peerConnectionConfiguration: config.rtc, iceGatheringTimeout: 5000 },
      // SIP.js reconnects only when asked to: at once, then every second.
      ...(config.recover ? { reconnectionAttempts: 60, reconnectionDelay: 1 } : {}),
      delegate: {
        onDisconnect: (error) => {
          if (config.recover && error) this.lost.push({ lostAt: Date.now(), connectedAt: null, registeredAt: null, restartedAt: null, restartedBy: null, restartFailed: null });
        },
        onConnect: () => {
          const r = this.lost.at(-1);
          if (r && r.connectedAt === null) {
            r.connectedAt = Date.now();
            this.reRegister(r);
          }
        },
        onInvite: (invitation) => {
          const next = { session: invitation, id: this.track(invitation, 'incoming') };
          if (this.incomingWaiter) this.incomingWaiter(next);
          else this.incoming.push(next);
        },
      },
    });
    this.ua = ua;
    await ua.start();
    // regId 1 adds +sip.instance (the UA's instanceId) and reg-id to the Contact (RFC 5626 §4.2).
    const registerer = new Registerer(ua, config.recover ? { regId: 1 } : {});
    this.registerer = registerer;
    await new Promise<void>((resolve, reject) => {
      registerer.stateChange.addListener((state) => {
        if (state === RegistererState.Registered) resolve();
      });
      void registerer.register({ requestDelegate: { onReject: (r) => reject(new Error(`SIP.js registration failed: ${r.message.statusCode}`)) } });
    });
  }

  /** When the peer last re-offered in a call (an in-dialog INVITE). */
  private peerOfferAt = 0;

  private track(session: Session, state: 'calling' | 'incoming'): number {
    const id = this.book.open(session.remoteIdentity.uri.user ?? '', state);
    session.delegate = { onInvite: () => (this.peerOfferAt = Date.now()) };
    session.stateChange.addListener((s) => {
      if (s === SessionState.Established) {
        this.book.set(id, { state: 'established' });
        play((session.sessionDescriptionHandler as Web.SessionDescriptionHandler).remoteMediaStream);
      }
      if (s === SessionState.Terminated) {
        const byUs = this.hungUp.has(session);
        this.book.ended(id, byUs ? 'local' : 'remote', byUs ? 'hangup' : 'BYE or failure');
        if (this.current?.session === session) this.current = null;
      }
    });
    return id;
  }

  private established(session: Session): Promise<void> {
    return new Promise((resolve, reject) => {
      session.stateChange.addListener((s) => {
        if (s === SessionState.Established) resolve();
        if (s === SessionState.Terminated) reject(new Error('SIP.js session ended before it was established'));
      });
    });
  }

  async call(target: string, video: boolean): Promise<void> {
    const uri = UserAgent.makeURI(target);
    if (!uri || !this.ua) throw new Error(`cannot call ${target}`);
    window.__e2e.mark('call-start');
    const inviter = new Inviter(this.ua, uri, { sessionDescriptionHandlerOptions: { constraints: { audio: true, video } } });
    this.current = { session: inviter, id: this.track(inviter, 'calling') };
    const up = this.established(inviter);
    await inviter.invite();
    await up;
  }

  async answer(video: boolean): Promise<void> {
    const next = this.incoming.shift() ?? (await new Promise<{ session: Invitation; id: number }>((resolve) => (this.incomingWaiter = resolve)));
    this.incomingWaiter = null;
    this.current = next;
    const up = this.established(next.session);
    await next.session.accept({ sessionDescriptionHandlerOptions: { constraints: { audio: true, video } } });
    await up;
  }

  hangup(): void {
    const c = this.current;
    if (!c) throw new Error('no call in progress');
    this.hungUp.add(c.session);
    void c.session.bye();
  }

  hold(): Promise<void> {
    return Promise.reject(new Error('the e2e tests hold calls with JsSIP'));
  }

  unhold(): Promise<void> {
    return Promise.reject(new Error('the e2e tests resume calls with JsSIP'));
  }

  async renegotiate(): Promise<void> {
    const c = this.current;
    if (!c) throw new Error('no call in progress');
    // SIP.js takes one re-INVITE at a time: the peer's last one must have had its ACK.
    await untilAcked().catch(() => undefined);
    return new Promise<void>((resolve, reject) => {
      void c.session
        .invite({ requestDelegate: { onAccept: () => resolve(), onReject: (r) => reject(new Error(`re-INVITE ${r.message.statusCode}`)) } })
        .catch(reject);
    });
  }

  async handover(): Promise<void> {
    const sock = HandoverSocket.latest;
    if (!sock || !this.registerer) throw new Error('start the phone with handover: true');
    await sock.handover();
    await new Promise<void>((resolve, reject) => {
      void this.registerer!.register({ requestDelegate: { onAccept: () => resolve(), onReject: (r) => reject(new Error(`REGISTER ${r.message.statusCode}`)) } });
    });
    sock.retire();
  }

  transfer(): Promise<void> {
    return Promise.reject(new Error('the e2e tests transfer calls with JsSIP'));
  }

  /** After a reconnect: REGISTER again on the new socket, then restart the call's ICE with a re-INVITE. */
  private reRegister(r: Recovery): void {
    void this.registerer?.register({
      requestDelegate: {
        onAccept: () => {
          const back = (r.registeredAt = Date.now());
          const s = this.current?.session;
          if (!s || s.state !== SessionState.Established) return;
          setTimeout(() => {
            if (s.state !== SessionState.Established) return;
            if (this.peerOfferAt >= back) {
              r.restartedAt = this.peerOfferAt;
              r.restartedBy = 'peer';
              return;
            }
            void s.invite({
              sessionDescriptionHandlerOptions: { offerOptions: { iceRestart: true } } as Web.SessionDescriptionHandlerOptions,
              requestDelegate: {
                onAccept: () => {
                  r.restartedAt = Date.now();
                  r.restartedBy = 'self';
                },
                onReject: (res) => (r.restartFailed = `${res.message.statusCode} ${res.message.reasonPhrase}`),
              },
            });
          }, restartDelayMs(s instanceof Inviter));
        },
        onReject: (res) => (r.restartFailed = `REGISTER ${res.message.statusCode}`),
      },
    });
  }

  recoveries(): Recovery[] {
    return this.lost;
  }

  calls(): CallSummary[] {
    return this.book.summaries();
  }
}

/** Resolves once the last INVITE this page received has had its ACK (it answered it). */
function untilAcked(): Promise<void> {
  const frames = window.__e2e.frames;
  const last = frames.filter((f) => f.dir === 'in' && f.text.startsWith('INVITE ')).at(-1);
  const seq = last ? /^CSeq:\s*(\d+)/im.exec(last.text)?.[1] : undefined;
  if (!seq) return Promise.resolve();
  const ack = new RegExp(`^CSeq:\\s*${seq} ACK`, 'im');
  return until(() => frames.some((f) => f.dir === 'in' && f.text.startsWith('ACK ') && ack.test(f.text)), 3_000);
}

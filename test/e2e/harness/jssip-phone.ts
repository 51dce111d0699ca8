/** The harness's JsSIP user agent: calls, answers, hold, blind transfer (both ends). */
import JsSIP from 'jssip';
import type { EndEvent, ReferEvent, RTCSession } from 'jssip/lib/RTCSession';
import type { RTCSessionEvent } from 'jssip/lib/UA';
import { CallBook, play, remoteStream } from './call-book.js';
import type { CallSummary, Harness, PhoneConfig, Recovery } from './types.js';
// The softphone's spacing of the ICE restart after a reconnect (glare, RFC 3261 §14.1).
import { restartDelayMs } from '../../../web/recovery.js';
import { HandoverSocket, registerOks, until } from './handover-socket.js';

type Waiter = (session: RTCSession, id: number) => void;

export class JsSipPhone implements Harness {
  private ua: JsSIP.UA | null = null;
  private config: PhoneConfig | null = null;
  private readonly book = new CallBook();
  /** The newest call that has not ended. */
  private current: { session: RTCSession; id: number } | null = null;
  private readonly incoming: Array<{ session: RTCSession; id: number }> = [];
  private incomingWaiter: Waiter | null = null;
  private readonly lost: Recovery[] = [];

  start(config: PhoneConfig): Promise<void> {
    this.config = config;
    const ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(config.wsUrl)],
      uri: config.uri,
      register: true,
      user_agent: 'e2e harness JsSIP/3.13.8',
      // JsSIP reconnects by itself (2 s to 30 s by default); a recovering phone tries sooner.
      ...(config.recover ? { connection_recovery_min_interval: 1, connection_recovery_max_interval: 2 } : {}),
    });
    this.ua = ua;
    ua.on('newRTCSession', (e: RTCSessionEvent) => this.adopt(e));
    if (config.recover) this.recoverFlows(ua);
    return new Promise((resolve, reject) => {
      ua.once('registered', () => resolve());
      ua.once('registrationFailed', (e: { cause?: string }) => reject(new Error(`JsSIP registration failed: ${e.cause}`)));
      ua.start();
    });
  }

  /**
   * JsSIP keeps a confirmed session when its transport drops, reconnects and re-registers
   * (same Call-ID, CSeq on, same instance); after that the call's ICE is restarted.
   */
  private recoverFlows(ua: JsSIP.UA): void {
    ua.on('disconnected', () => {
      if (this.lost.at(-1)?.registeredAt === null) return;
      this.lost.push({ lostAt: Date.now(), connectedAt: null, registeredAt: null, restartedAt: null, restartedBy: null, restartFailed: null });
    });
    ua.on('connected', () => {
      const r = this.lost.at(-1);
      if (r && r.connectedAt === null) r.connectedAt = Date.now();
    });
    ua.on('registered', () => {
      const r = this.lost.at(-1);
      if (!r || r.registeredAt !== null) return;
      const back = (r.registeredAt = Date.now());
      const s = this.current?.session;
      if (!s) return;
      s.once('ended', () => r.restartedAt === null && (r.restartFailed = 'the call ended'));
      setTimeout(() => {
        if (s.isEnded()) return;
        if (this.peerOfferAt >= back) {
          r.restartedAt = this.peerOfferAt;
          r.restartedBy = 'peer';
          return;
        }
        const ok = s.renegotiate({ rtcOfferConstraints: { iceRestart: true } }, () => {
          r.restartedAt = Date.now();
          r.restartedBy = 'self';
        });
        if (!ok) r.restartFailed = 'JsSIP could not re-offer';
      }, restartDelayMs(s.direction === 'outgoing'));
    });
  }

  /** When the peer last re-offered in the current call (a re-INVITE or UPDATE with SDP). */
  private peerOfferAt = 0;

  recoveries(): Recovery[] {
    return this.lost;
  }

  private media(video: boolean) {
    return { mediaConstraints: { audio: true, video }, pcConfig: this.config!.rtc };
  }

  private adopt(e: RTCSessionEvent): void {
    const session = e.session;
    const id = this.book.open(session.remote_identity.uri.user ?? '', e.originator === 'remote' ? 'incoming' : 'calling');
    const onPc = (pc: RTCPeerConnection) => play(remoteStream(pc));
    if (session.connection) onPc(session.connection);
    else session.on('peerconnection', (p: { peerconnection: RTCPeerConnection }) => onPc(p.peerconnection));
    session.on('confirmed', () => this.book.set(id, { state: 'established' }));
    session.on('reinvite', () => (this.peerOfferAt = Date.now()));
    session.on('update', () => (this.peerOfferAt = Date.now()));
    session.on('hold', (h: { originator: string }) => this.book.set(id, h.originator === 'local' ? { heldLocally: true } : { heldByPeer: true }));
    session.on('unhold', (h: { originator: string }) => this.book.set(id, h.originator === 'local' ? { heldLocally: false } : { heldByPeer: false }));
    const end = (x: EndEvent) => {
      this.book.ended(id, x.originator === 'local' ? 'local' : 'remote', x.cause);
      if (this.current?.session === session) this.current = null;
    };
    session.on('ended', end);
    session.on('failed', end);
    // Transferee side of RFC 3515: call whoever the REFER names, with the same media.
    session.on('refer', (r: ReferEvent) => r.accept(undefined, this.media(false)));
    if (e.originator === 'remote') {
      if (this.incomingWaiter) this.incomingWaiter(session, id);
      else this.incoming.push({ session, id });
    } else {
      this.current = { session, id };
    }
  }

  call(target: string, video: boolean): Promise<void> {
    window.__e2e.mark('call-start');
    return new Promise((resolve, reject) => {
      const session = this.ua!.call(target, this.media(video));
      session.once('confirmed', () => resolve());
      session.once('failed', (x: EndEvent) => reject(new Error(`JsSIP call failed: ${x.cause}`)));
    });
  }

  async answer(video: boolean): Promise<void> {
    const next = this.incoming.shift() ?? (await new Promise<{ session: RTCSession; id: number }>((resolve) => (this.incomingWaiter = (session, id) => resolve({ session, id }))));
    this.incomingWaiter = null;
    this.current = next;
    await new Promise<void>((resolve, reject) => {
      next.session.once('confirmed', () => resolve());
      next.session.once('failed', (x: EndEvent) => reject(new Error(`JsSIP answer failed: ${x.cause}`)));
      next.session.answer(this.media(video));
    });
  }

  private session(): RTCSession {
    if (!this.current) throw new Error('no call in progress');
    return this.current.session;
  }

  hangup(): void {
    this.session().terminate();
  }

  hold(): Promise<void> {
    const s = this.session();
    return new Promise((resolve, reject) => {
      if (!s.hold({}, () => resolve())) reject(new Error('JsSIP could not put the call on hold'));
    });
  }

  unhold(): Promise<void> {
    const s = this.session();
    return new Promise((resolve, reject) => {
      if (!s.unhold({}, () => resolve())) reject(new Error('JsSIP could not resume the call'));
    });
  }

  async renegotiate(): Promise<void> {
    const s = this.session();
    // JsSIP re-offers one at a time, and not while the peer's re-INVITE is unanswered or unACKed.
    for (let i = 0; i < 20 && !s.isReadyToReOffer(); i++) await new Promise((r) => setTimeout(r, 100));
    return new Promise((resolve, reject) => {
      if (!s.renegotiate({}, () => resolve())) reject(new Error('JsSIP could not re-offer'));
      s.once('ended', () => reject(new Error('the call ended during the re-INVITE')));
    });
  }

  async handover(): Promise<void> {
    const sock = HandoverSocket.latest;
    if (!sock || !this.ua) throw new Error('start the phone with handover: true');
    await sock.handover();
    // JsSIP says `registered` only once; the 200 to this REGISTER is what counts.
    const okBefore = registerOks();
    this.ua.register();
    await until(() => registerOks() > okBefore);
    sock.retire();
  }

  transfer(target: string): Promise<void> {
    const s = this.session();
    return new Promise((resolve, reject) => {
      s.refer(target, {
        eventHandlers: {
          // NOTIFY with a 2xx sipfrag (RFC 3515 §2.4.5): the transferee reached the target.
          accepted: () => {
            s.terminate();
            resolve();
          },
          requestFailed: (e: { cause?: string }) => reject(new Error(`REFER failed: ${e.cause}`)),
          failed: (e: { status_line?: { status_code: number } }) => reject(new Error(`transfer failed: ${e.status_line?.status_code}`)),
        },
      });
    });
  }

  calls(): CallSummary[] {
    return this.book.summaries();
  }
}

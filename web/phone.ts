/**
 * The softphone's SIP side: one JsSIP user agent, at most one call at a time. It turns
 * JsSIP's events into two small views (registration, call) for the page to render, and
 * keeps the page free of JsSIP types.
 */
import JsSIP from 'jssip';
import type { DTMFOptions, EndEvent, IceCandidateEvent, ReferEvent, RTCSession } from 'jssip/lib/RTCSession';
import type { RTCSessionEvent } from 'jssip/lib/UA';
import type { Socket } from 'jssip/lib/Socket';
import { LoggedSocket } from './logged-socket.js';
import { CallRecovery } from './recovery.js';
import type { CallView, PhoneConfig, PhoneEvents } from './phone-types.js';

export type { CallPhase, CallView, PhoneConfig, PhoneEvents, RegistrationState } from './phone-types.js';

const RFC4733: DTMFOptions = { transportType: 'RFC2833' as DTMFOptions['transportType'], duration: 120, interToneGap: 70 };

export class Phone {
  private ua: JsSIP.UA | null = null;
  private session: RTCSession | null = null;
  private view: CallView | null = null;
  private remote = new MediaStream();
  private local = new MediaStream();
  private readonly domain: string;
  /** This device's +sip.instance, kept while the page lives (a wake restarts the user agent). */
  private readonly instanceId = crypto.randomUUID();
  /** The push parameters of this page's Web Push subscription, once it has one. */
  private pushContact: Record<string, string> | null = null;
  /** A call or answer is waiting for ICE servers: ignore a second click. */
  private preparing = false;
  /** The socket is down and JsSIP is reconnecting. */
  private socketDown = false;
  /** The call across a drop of the socket (recovery.ts). */
  private readonly recovery = new CallRecovery({
    session: () => this.session,
    inCall: () => this.view?.phase === 'connected',
    graceSeconds: () => this.config.graceSeconds(),
    reconnecting: (on) => this.update({ reconnecting: on }),
  });

  constructor(
    private readonly config: PhoneConfig,
    private readonly events: PhoneEvents,
  ) {
    this.domain = config.uri.replace(/^sips?:[^@]*@/, '');
  }

  start(): void {
    const socket = new LoggedSocket(this.config.wsUrl, (d, text) => this.events.frame(d, text));
    const ua = new JsSIP.UA({
      sockets: [socket as unknown as Socket],
      uri: this.config.uri,
      authorization_user: this.config.user,
      ...(this.config.password !== null ? { password: this.config.password } : {}),
      // The same device across a restart of the user agent (wake): RFC 5626 §4.1.
      instance_id: this.instanceId,
      register: true,
      user_agent: 'Switchboard softphone (JsSIP 3.13.8)',
      // JsSIP reconnects by itself with a randomised backoff between these (seconds), and
      // re-registers the same +sip.instance on the new socket. The ceiling is kept well under
      // the service's grace for a held call (30 s by default): a call must not be lost
      // waiting for a retry.
      connection_recovery_min_interval: 1,
      connection_recovery_max_interval: 4,
    });
    ua.on('connecting', () => this.events.registration('connecting', null));
    ua.on('connected', () => {
      this.socketDown = false;
      this.events.registration('registering', null);
    });
    ua.on('disconnected', () => {
      this.socketDown = true;
      this.events.registration('disconnected', null);
      this.recovery.lost();
    });
    ua.on('registered', () => {
      this.events.registration('registered', null);
      this.recovery.back();
      // A REGISTER that was under way when the push parameters came did not carry them.
      if (this.pushPending) {
        this.pushPending = false;
        ua.register();
      }
    });
    // JsSIP reports the registration gone when its socket drops; the page says it is reconnecting.
    ua.on('unregistered', () => !this.socketDown && this.events.registration('unregistered', null));
    ua.on('registrationFailed', (e: { cause?: string }) => this.events.registration('failed', e.cause ?? null));
    ua.on('newRTCSession', (e: RTCSessionEvent) => this.onSession(e));
    this.ua = ua;
    if (this.pushContact) ua.registrator().setExtraContactParams(this.pushContact);
    ua.start();
  }

  /**
   * Registers this page's Web Push subscription with the service (RFC 8599 §4.1: the
   * push parameters in the Contact), so that a call finds it when its socket is gone.
   */
  setPush(sub: { endpoint: string; p256dh: string; auth: string }): void {
    this.pushContact = { 'pn-provider': 'webpush', 'pn-prid': `"${sub.endpoint}"`, 'pn-param': `"${sub.p256dh}:${sub.auth}"` };
    this.ua?.registrator().setExtraContactParams(this.pushContact);
    // JsSIP ignores a register() while one is under way: then it goes again once that one is answered.
    this.pushPending = true;
    if (this.ua?.isConnected()) this.ua.register();
  }

  /** Push parameters set while a REGISTER may have been under way without them. */
  private pushPending = false;

  /**
   * A push says a call is waiting for this device: if the socket is down, reconnect now
   * rather than at the next try of the backoff (a new user agent, the same instance).
   */
  wake(): void {
    if (!this.ua || this.ua.isConnected() || this.session) return;
    const old = this.ua;
    this.ua = null;
    // Its events (the stop's disconnect) are not this page's any more.
    (old as unknown as { removeAllListeners(): void }).removeAllListeners();
    old.stop();
    this.start();
  }

  stop(): void {
    this.session?.terminate();
    this.ua?.stop();
    this.ua = null;
  }

  connection(): RTCPeerConnection | null {
    return this.session?.connection ?? null;
  }

  async call(target: string, video: boolean): Promise<void> {
    if (!this.ua || this.session || this.preparing) return;
    this.preparing = true;
    try {
      const pcConfig = await this.config.rtcConfig();
      // newRTCSession fires inside ua.call(), which adopts the session.
      this.ua.call(this.targetUri(target), { mediaConstraints: { audio: true, video }, pcConfig });
    } finally {
      this.preparing = false;
    }
  }

  async answer(): Promise<void> {
    const s = this.session;
    if (!s || this.view?.phase !== 'incoming' || this.preparing) return;
    this.preparing = true;
    try {
      const pcConfig = await this.config.rtcConfig();
      if (this.session !== s || s.isEnded()) return;
      s.answer({ mediaConstraints: { audio: true, video: this.view.videoOffered }, pcConfig });
    } finally {
      this.preparing = false;
    }
  }

  decline(): void {
    if (this.view?.phase === 'incoming') this.session?.terminate({ status_code: 603, reason_phrase: 'Decline' });
  }

  hangup(): void {
    this.session?.terminate();
  }

  toggleMute(): void {
    const s = this.session;
    if (!s || !this.connected()) return;
    if (s.isMuted().audio) s.unmute({ audio: true });
    else s.mute({ audio: true });
  }

  toggleHold(): void {
    const s = this.session;
    if (!s || !this.connected()) return;
    if (s.isOnHold().local) s.unhold();
    else s.hold();
  }

  sendDigit(tone: string): void {
    if (this.session && this.connected() && /^[0-9*#A-D]$/.test(tone)) this.session.sendDTMF(tone, RFC4733);
  }

  /** Blind transfer (RFC 3515 REFER): once the peer reaches the target, we hang up. */
  transfer(target: string): void {
    const s = this.session;
    if (!s || !this.connected() || target.trim() === '') return;
    this.update({ transfer: 'pending' });
    s.refer(this.targetUri(target), {
      eventHandlers: {
        accepted: () => s.terminate(),
        requestFailed: () => this.session === s && this.update({ transfer: 'failed' }),
        failed: () => this.session === s && this.update({ transfer: 'failed' }),
      },
    });
  }

  /** Camera on or off in a call: a new or re-used video transceiver, then a re-INVITE. */
  async setVideo(on: boolean): Promise<void> {
    const s = this.session;
    const pc = s?.connection;
    if (!s || !pc || !this.connected() || this.view?.onHold) return;
    const transceiver = pc.getTransceivers().find((t) => t.receiver.track.kind === 'video' && t.currentDirection !== 'stopped');
    if (on) {
      const media = await navigator.mediaDevices.getUserMedia({ video: true });
      const track = media.getVideoTracks()[0]!;
      if (this.session !== s) {
        track.stop();
        return;
      }
      if (transceiver) {
        await transceiver.sender.replaceTrack(track);
        transceiver.direction = 'sendrecv';
      } else {
        pc.addTrack(track, media);
      }
    } else {
      if (!transceiver) return;
      transceiver.sender.track?.stop();
      await transceiver.sender.replaceTrack(null);
      transceiver.direction = 'recvonly';
    }
    s.renegotiate();
    this.syncMedia();
  }

  private connected(): boolean {
    return this.view?.phase === 'connected';
  }

  private targetUri(target: string): string {
    const t = target.trim();
    if (/^sips?:/.test(t)) return t;
    return t.includes('@') ? `sip:${t}` : `sip:${t}@${this.domain}`;
  }

  private onSession(e: RTCSessionEvent): void {
    const { session } = e;
    if (e.originator === 'remote' && this.session) {
      session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
      return;
    }
    // Local sessions come from our own call() or from accepting a transfer; either way
    // the new session is the call from now on, and the one it replaces ends by itself.
    const remoteUri = session.remote_identity.uri;
    const peer = remoteUri.host === this.domain ? remoteUri.user : remoteUri.toAor().replace(/^sip:/, '');
    const incoming = e.originator === 'remote';
    const offer = incoming ? e.request.body ?? '' : '';
    this.session = session;
    this.remote = new MediaStream();
    this.local = new MediaStream();
    this.view = {
      phase: incoming ? 'incoming' : 'calling',
      direction: incoming ? 'incoming' : 'outgoing',
      peer,
      muted: false,
      onHold: false,
      heldByPeer: false,
      videoOffered: /^m=video [1-9]/m.test(offer),
      sendingVideo: false,
      transfer: 'none',
      endReason: null,
      reconnecting: false,
    };
    this.events.call(this.view);
    this.syncMedia();

    this.listen(session);
  }

  /** JsSIP's events for one session; those of a session that is no longer ours are ignored. */
  private listen(session: RTCSession): void {
    const mine =
      <A extends unknown[]>(fn: (...args: A) => void) =>
      (...args: A) => {
        if (this.session === session) fn(...args);
      };
    const onConnection = (pc: RTCPeerConnection) => {
      pc.addEventListener(
        'track',
        mine((ev: RTCTrackEvent) => {
          // A remote track is muted while no RTP arrives for it (hold, camera off).
          ev.track.addEventListener('mute', mine(() => this.syncMedia()));
          ev.track.addEventListener('unmute', mine(() => this.syncMedia()));
          this.syncMedia();
        }),
      );
    };
    if (session.connection) onConnection(session.connection);
    else session.on('peerconnection', (p: { peerconnection: RTCPeerConnection }) => onConnection(p.peerconnection));

    // JsSIP sends an offer or answer once ICE gathering completes, which takes many seconds
    // when a STUN or TURN server is unreachable. Send it as soon as a relay candidate is in
    // hand (host candidates come first), or 1.5 s after the first candidate.
    let armed: (() => void) | null = null;
    session.on('icecandidate', ({ candidate, ready }: IceCandidateEvent) => {
      if (candidate.type === 'relay') return ready();
      if (armed !== ready) {
        armed = ready;
        setTimeout(ready, 1500);
      }
    });
    const held = (on: boolean) => (h: { originator: string }) => this.update(h.originator === 'local' ? { onHold: on } : { heldByPeer: on });
    session.on('progress', mine(() => this.view?.phase === 'calling' && this.update({ phase: 'ringing' })));
    session.on('accepted', mine(() => this.connectedNow()));
    session.on('confirmed', mine(() => this.connectedNow()));
    session.on('hold', mine(held(true)));
    session.on('unhold', mine(held(false)));
    session.on('muted', mine(() => this.update({ muted: true })));
    session.on('unmuted', mine(() => this.update({ muted: false })));
    session.on('refer', mine((r: ReferEvent) => void this.acceptTransfer(session, r)));
    session.on('reinvite', mine(() => this.recovery.peerOffered()));
    session.on('update', mine(() => this.recovery.peerOffered()));
    session.on('ended', mine((x: EndEvent) => this.finish(x)));
    session.on('failed', mine((x: EndEvent) => this.finish(x)));
  }

  private connectedNow(): void {
    if (this.view?.phase === 'connected') return;
    this.update({ phase: 'connected' });
    this.syncMedia();
    const sender = this.connection()
      ?.getSenders()
      .find((x) => x.track?.kind === 'audio');
    if (sender?.dtmf) sender.dtmf.ontonechange = (ev) => ev.tone !== '' && this.events.dtmfPlayed(ev.tone);
  }

  /** We are asked to call someone else (RFC 3515): do it with the same media choices. */
  private async acceptTransfer(from: RTCSession, r: ReferEvent): Promise<void> {
    const video = this.view?.sendingVideo ?? false;
    const pcConfig = await this.config.rtcConfig().catch(() => null);
    if (!pcConfig || this.session !== from || from.isEnded()) {
      r.reject();
      return;
    }
    r.accept(undefined, { mediaConstraints: { audio: true, video }, pcConfig });
  }

  private finish(e: EndEvent): void {
    const by = e.originator === 'remote' ? 'by the other side' : e.originator === 'local' ? 'here' : 'by the service';
    let reason = e.cause === JsSIP.C.causes.BYE ? `hung up ${by}` : e.cause === JsSIP.C.causes.CANCELED ? 'cancelled' : e.cause.toLowerCase();
    // JsSIP ends a call whose re-INVITE fails; after a reconnect that means the service no longer had it.
    reason = this.recovery.ended() ?? reason;
    this.session = null;
    this.update({ phase: 'ended', endReason: reason, onHold: false, heldByPeer: false, transfer: 'none', reconnecting: false });
    this.remote = new MediaStream();
    this.local = new MediaStream();
    this.events.media(this.remote, this.local);
  }

  private update(change: Partial<CallView>): void {
    if (!this.view) return;
    this.view = { ...this.view, ...change };
    this.events.call(this.view);
  }

  /** Mirrors the connection's live tracks into the two streams the page plays. */
  private syncMedia(): void {
    const pc = this.connection();
    if (!pc) return;
    const mirror = (stream: MediaStream, tracks: MediaStreamTrack[]) => {
      for (const t of stream.getTracks()) if (!tracks.includes(t)) stream.removeTrack(t);
      for (const t of tracks) if (!stream.getTracks().includes(t)) stream.addTrack(t);
    };
    const live = (t: MediaStreamTrack | null): t is MediaStreamTrack => t !== null && t.readyState === 'live';
    const receiving = pc
      .getTransceivers()
      .filter((t) => t.currentDirection !== 'stopped')
      .map((t) => t.receiver.track)
      .filter(live);
    const sending = pc
      .getSenders()
      .map((s) => s.track)
      .filter(live);
    mirror(this.remote, receiving);
    mirror(this.local, sending.filter((t) => t.kind === 'video'));
    const sendingVideo = this.local.getVideoTracks().length > 0;
    if (this.view && this.view.sendingVideo !== sendingVideo) this.update({ sendingVideo });
    this.events.media(this.remote, this.local);
  }
}

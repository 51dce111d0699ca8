/**
 * What the softphone does for its call when its socket drops and comes back (RFC 5626
 * §4.2.1 from the user agent's side). JsSIP keeps a confirmed call while it reconnects
 * (nothing was in flight to fail) and the service holds it for the tenant's grace; the
 * call shows "Reconnecting…" meanwhile, ends on screen if the grace runs out first (as it
 * has for the other side), and once registered again restarts ICE with a re-INVITE, which
 * also proves the call is still there: a failure (a 481: the service or the other side
 * ended it meanwhile) ends it here (RFC 3261 §12.2.1.2).
 */
import type { RTCSession } from 'jssip/lib/RTCSession';

export interface RecoveryHost {
  /** The call now, if any. */
  session(): RTCSession | null;
  /** The call is up (answered, not ended). */
  inCall(): boolean;
  /** The tenant's grace for a call whose socket dropped, in seconds. */
  graceSeconds(): number;
  /** Shows the call as reconnecting, or not. */
  reconnecting(on: boolean): void;
}

/** How long after being registered again a phone waits to restart ICE: see `CallRecovery.back`. */
export function restartDelayMs(ownsCallId: boolean): number {
  return ownsCallId ? 2_100 + Math.random() * 1_900 : 500;
}

export class CallRecovery {
  private graceTimer: ReturnType<typeof setTimeout> | null = null;
  /** The ICE restart after a reconnect is in flight: a failure now means the service lost the call. */
  private restarting = false;
  /** When the peer last re-offered in the current call (a re-INVITE or UPDATE). */
  private peerOfferAt = 0;
  /** Why the call is being ended here, when this ends it. */
  private reason: string | null = null;

  constructor(private readonly host: RecoveryHost) {}

  /** The socket dropped. */
  lost(): void {
    const s = this.host.session();
    if (!s || !this.host.inCall() || this.graceTimer !== null) return;
    this.host.reconnecting(true);
    const seconds = this.host.graceSeconds();
    this.graceTimer = setTimeout(() => {
      this.graceTimer = null;
      if (this.host.session() !== s) return;
      this.reason = `connection lost, not restored within ${seconds} s`;
      s.terminate();
    }, seconds * 1000);
  }

  /**
   * Registered again after a drop: the service gave the call to this socket. After a
   * restart of the service both parties come back at once, and two re-INVITEs crossing is
   * glare (491, RFC 3261 §14.1), which JsSIP retries with the CSeq it already used. So the
   * Call-ID's owner (the caller) waits 2.1–4 s and the callee 0.5 s, as §14.1 spaces
   * retries, and neither re-offers if the other's re-offer came first: it restarted ICE
   * and proved the call alive just as well.
   */
  back(): void {
    if (this.graceTimer === null) return;
    clearTimeout(this.graceTimer);
    this.graceTimer = null;
    const s = this.host.session();
    if (!s || s.isEnded()) return;
    const since = Date.now();
    setTimeout(() => {
      if (this.host.session() !== s || s.isEnded()) return;
      if (this.peerOfferAt >= since) return this.host.reconnecting(false);
      this.restarting = true;
      const sent = s.renegotiate({ rtcOfferConstraints: { iceRestart: true } }, () => {
        this.restarting = false;
        if (this.host.session() === s) this.host.reconnecting(false);
      });
      if (!sent) {
        // A re-offer is already under way (JsSIP allows one at a time): the call is back anyway.
        this.restarting = false;
        this.host.reconnecting(false);
      }
    }, restartDelayMs(s.direction === 'outgoing'));
  }

  /** The peer re-offered in the call. */
  peerOffered(): void {
    this.peerOfferAt = Date.now();
  }

  /** The call ended: why, if the recovery is the reason; its timers are forgotten. */
  ended(): string | null {
    const why = this.reason ?? (this.restarting ? 'the call was over when the connection came back' : null);
    this.reason = null;
    this.restarting = false;
    if (this.graceTimer !== null) clearTimeout(this.graceTimer);
    this.graceTimer = null;
    return why;
  }
}

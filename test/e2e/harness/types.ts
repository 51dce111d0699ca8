/**
 * What the test pages expose to the Node side of the e2e tests (through
 * `page.evaluate`): the instrumentation every page gets, and the SIP library harness.
 */

/** One SIP message as it crossed a page's WebSocket. `t` is epoch milliseconds, sub-ms. */
export interface WireFrame {
  readonly t: number;
  readonly dir: 'out' | 'in';
  readonly text: string;
}

export interface PeerConnectionTiming {
  /** Epoch ms when the page created the RTCPeerConnection. */
  readonly createdAt: number;
  /** Epoch ms of the first getStats sample with inbound audio bytes; null until then. */
  firstAudioAt: number | null;
}

export interface MediaSnapshot {
  readonly connectionState: RTCPeerConnectionState;
  readonly audioIn: { readonly bytes: number; readonly packets: number; readonly energy: number; readonly level: number } | null;
  readonly audioOut: { readonly bytes: number } | null;
  readonly videoIn: { readonly bytes: number; readonly framesDecoded: number } | null;
  /** Candidate types and addresses of the selected ICE pair. */
  readonly pair: { readonly local: string | null; readonly remote: string | null; readonly localAddress: string | null; readonly remoteAddress: string | null } | null;
}

export interface Instrumentation {
  readonly frames: WireFrame[];
  readonly marks: Record<string, number>;
  readonly peerConnections: PeerConnectionTiming[];
  mark(name: string): void;
  /** Stats of the newest peer connection that is not closed, or null. */
  media(): Promise<MediaSnapshot | null>;
}

export type Library = 'jssip' | 'sipjs';

export interface PhoneConfig {
  readonly library: Library;
  /** The WebSocket URL with `?token=`, as the tokens API returns it. */
  readonly wsUrl: string;
  readonly uri: string;
  readonly rtc: RTCConfiguration;
  /**
   * Reconnect as soon as the socket drops (JsSIP: 1–2 s apart; SIP.js: at once, then every second), re-register with the same
   * +sip.instance, and restart ICE on the call with a re-INVITE (RFC 5626 §4.2.1 as a UA does it).
   */
  readonly recover?: boolean;
  /** The library's WebSocket can move to a new connection (make-before-break, handover-socket.ts). */
  readonly handover?: boolean;
}

/** One loss of the socket and what the phone did after it; epoch ms, null until it happened. */
export interface Recovery {
  readonly lostAt: number;
  connectedAt: number | null;
  registeredAt: number | null;
  /** The 2xx to the ICE restart re-INVITE came (or the peer's re-offer did): the call's signaling works again. */
  restartedAt: number | null;
  /** Whose re-INVITE restarted ICE: this phone's, or the peer's that came first. */
  restartedBy: 'self' | 'peer' | null;
  /** Why the ICE restart failed, if it did. */
  restartFailed: string | null;
}

export interface CallSummary {
  readonly peer: string;
  readonly state: 'calling' | 'incoming' | 'established' | 'ended';
  readonly heldLocally: boolean;
  readonly heldByPeer: boolean;
  /** 'local' when this page hung up, 'remote' for a BYE or failure from the other side. */
  readonly endedBy: 'local' | 'remote' | null;
  readonly endCause: string | null;
  readonly endedAt: number | null;
}

/** One SIP user agent per page, driven by the tests. */
export interface Harness {
  start(config: PhoneConfig): Promise<void>;
  /** Resolves once the call is established (2xx received and ACK sent). */
  call(target: string, video: boolean): Promise<void>;
  /** Waits for an incoming call, answers it, resolves once established. */
  answer(video: boolean): Promise<void>;
  hangup(): void;
  hold(): Promise<void>;
  unhold(): Promise<void>;
  /** Blind transfer of the current call (REFER); resolves when the target answered. */
  transfer(target: string): Promise<void>;
  /** A re-INVITE in the current call with a fresh offer; resolves on its 2xx. */
  renegotiate(): Promise<void>;
  /**
   * Make-before-break: a second connection opens, the phone re-registers its instance on
   * it, and the first closes. Resolves once the first is closed.
   */
  handover(): Promise<void>;
  calls(): CallSummary[];
  recoveries(): Recovery[];
}

declare global {
  interface Window {
    __e2e: Instrumentation;
    harness: Harness;
  }
}

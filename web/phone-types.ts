/** What the softphone's SIP side shows the page, and what it is given (phone.ts). */
import type { FrameDirection } from './logged-socket.js';

export type RegistrationState = 'connecting' | 'registering' | 'registered' | 'unregistered' | 'failed' | 'disconnected';

export type CallPhase = 'calling' | 'ringing' | 'incoming' | 'connected' | 'ended';

export interface CallView {
  readonly phase: CallPhase;
  readonly direction: 'outgoing' | 'incoming';
  /** The other party's user name (or full URI for another domain). */
  readonly peer: string;
  readonly muted: boolean;
  /** We put the peer on hold (RFC 3264 §8.4 sendonly re-INVITE). */
  readonly onHold: boolean;
  readonly heldByPeer: boolean;
  /** The incoming offer has a video stream. */
  readonly videoOffered: boolean;
  readonly sendingVideo: boolean;
  readonly transfer: 'none' | 'pending' | 'failed';
  /** Why the call ended, in words. */
  readonly endReason: string | null;
  /**
   * The socket dropped during the call and the phone is getting it back (RFC 5626 §4.2.1):
   * the service holds the call, and media, peer-to-peer, goes on meanwhile.
   */
  readonly reconnecting: boolean;
}

export interface PhoneEvents {
  registration(state: RegistrationState, detail: string | null): void;
  call(view: CallView | null): void;
  /** The streams to play: remote audio/video and the local camera preview. */
  media(remote: MediaStream, local: MediaStream): void;
  frame(direction: FrameDirection, text: string): void;
  /** A DTMF tone the RTP sender actually played (RFC 4733). */
  dtmfPlayed(tone: string): void;
}

export interface PhoneConfig {
  readonly wsUrl: string;
  /** sip:user@domain */
  readonly uri: string;
  readonly user: string;
  /** Null when the WebSocket URL carries a token, so SIP is not challenged. */
  readonly password: string | null;
  /** Fresh ICE servers and policy for each call (TURN credentials expire). */
  readonly rtcConfig: () => Promise<RTCConfiguration>;
  /**
   * How long the service holds a call whose socket dropped (the tenant's flowGraceSeconds,
   * from the ICE servers' answer): past it the call is over, whatever the page knows.
   */
  readonly graceSeconds: () => number;
}

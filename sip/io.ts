/**
 * What the core is given (inputs and context) and what it asks for (effects). The Durable
 * Object turns inputs from sockets, peers and its alarm into `Input`s and carries out the
 * returned `Effect`s; the core itself performs no I/O.
 */
import type { Credentials, TenantPolicy } from './policy/tenant.js';
import type { MediaSummary } from './policy/sdp.js';

export { DEFAULT_LIMITS, withDefaultLimits, type Credentials, type TenantPolicy } from './policy/tenant.js';
import type { PushBinding, UserState } from './state.js';

export interface StepContext {
  readonly now: number;
  readonly user: string;
  readonly policy: TenantPolicy;
  readonly credentials: Credentials | null;
  /** Secret for stateless nonces (auth/digest.ts). */
  readonly nonceSecret: string;
  /** The tenant's key for temporary GRUUs (registrar/gruu.ts), hex; none: no temp-gruu is issued or understood. */
  readonly gruuKey?: string | null;
  /** The user's name in the tenant's directory, asserted toward callees (RFC 3325). */
  readonly displayName?: string | null;
  /** A fresh random token (tags, branches); injected so the core has no entropy source. */
  readonly newId: () => string;
}

/** How a socket proved its identity. */
export type SocketAuth = 'token' | 'digest' | null;

export interface ConnInfo {
  readonly id: string;
  readonly auth: SocketAuth;
  readonly userAgent?: string | null;
  /** The client's address as the edge saw it (CF-Connecting-IP), for throttling guesses. */
  readonly source?: string;
  /** False when the user already has as many authenticated sockets as it may: digest is refused. */
  readonly mayAuthenticate?: boolean;
}

export type Input =
  | { readonly type: 'socket-message'; readonly conn: ConnInfo; readonly text: string }
  | { readonly type: 'peer-request'; readonly from: string; readonly text: string; readonly media?: MediaSummary | null }
  | { readonly type: 'peer-response'; readonly from: string; readonly text: string; readonly media?: MediaSummary | null }
  /**
   * A socket closed. `final` when the service closed it for good (the user deleted or
   * disabled, its token revoked): its calls end at once instead of being held for the
   * device to come back (RFC 5626 §4.2.1 recovery is for a network that failed).
   */
  | { readonly type: 'socket-closed'; readonly conn: string; readonly final?: boolean }
  | { readonly type: 'timer' }
  /** The user was deleted or disabled: its held calls will not be taken back, so they end now. */
  | { readonly type: 'end-held' }
  /** A frame the adapter refused before the state machine (rate limit): answered if a request. */
  | { readonly type: 'socket-refused'; readonly conn: string; readonly text: string; readonly status: number; readonly reason: string; readonly retryAfter?: number }
  /** The push provider says the device's registration is gone (RFC 8030 §7.3: 404, 410): forget it. */
  | { readonly type: 'push-gone'; readonly id: string }
  /** A request this object relayed that could not reach the peer's object. */
  | { readonly type: 'relay-failed'; readonly text: string; readonly status: number; readonly reason: string };

export type Effect =
  /** Send a frame on one of this user's sockets. */
  | { readonly type: 'send'; readonly conn: string; readonly text: string }
  /**
   * Hand a request to another user's object (or this one, for calls to oneself). `media`
   * is what the SDP inside was found to hold where it entered, so it is parsed only once.
   */
  | { readonly type: 'relay-request'; readonly to: string; readonly text: string; readonly media?: MediaSummary | null; readonly initial?: boolean }
  | { readonly type: 'relay-response'; readonly to: string; readonly text: string; readonly media?: MediaSummary | null }
  /** The socket authenticated by digest: record it in the socket's attachment. */
  | { readonly type: 'authenticate'; readonly conn: string }
  /** Wake a sleeping device through its push provider (RFC 8599 §4.2); `payload` is JSON for the device. */
  | { readonly type: 'push'; readonly binding: PushBinding; readonly payload: string; readonly ttlSeconds: number };

export interface StepResult {
  readonly state: UserState;
  readonly effects: readonly Effect[];
}

/**
 * What the core is given (inputs and context) and what it asks for (effects). The Durable
 * Object turns inputs from sockets, peers and its alarm into `Input`s and carries out the
 * returned `Effect`s; the core itself performs no I/O.
 */
import type { MediaSummary } from './sdp.js';
import type { UserState } from './state.js';

/** Per-tenant policy the user's object holds a copy of (pushed on change). */
export interface TenantPolicy {
  readonly tenant: string;
  /** The SIP domain and digest realm. */
  readonly domain: string;
  /** Registered devices (bindings) per user. */
  readonly maxDevices: number;
  /** Open WebSockets per user. */
  readonly maxSockets: number;
  readonly ringTimeoutMs: number;
  readonly videoAllowed: boolean;
  /** Token bucket per socket: sustained rate and burst. */
  readonly messagesPerSecond: number;
  readonly messageBurst: number;
  /** Live dialogs (calls and subscriptions) per user; past it a new one is refused. */
  readonly maxCalls: number;
  /** Live forks (incoming requests being delivered) per user; past it, 486. */
  readonly maxForks: number;
  /** Sockets that have not authenticated yet, per user, and per user and client address. */
  readonly maxPendingSockets: number;
  readonly maxPendingSocketsPerAddress: number;
  /** Failed digest answers from one address before it is locked out (auth/throttle.ts). */
  readonly authFailuresPerSource: number;
  /** Failed digest answers for the user, from anywhere, before unknown addresses are locked out. */
  readonly authFailuresPerUser: number;
}

export const DEFAULT_LIMITS = {
  maxDevices: 10,
  maxSockets: 10,
  ringTimeoutMs: 60_000,
  videoAllowed: true,
  messagesPerSecond: 20,
  messageBurst: 50,
  maxCalls: 32,
  maxForks: 32,
  maxPendingSockets: 16,
  maxPendingSocketsPerAddress: 5,
  authFailuresPerSource: 5,
  authFailuresPerUser: 50,
} as const;

/** A policy stored before some limit existed gets that limit's default. */
export function withDefaultLimits(policy: TenantPolicy): TenantPolicy {
  return { ...DEFAULT_LIMITS, ...policy };
}

/** HA1 digests only; passwords are never stored (RFC 7616 §3.4.2). */
export interface Credentials {
  /** Null when the user has no password: only tokens can authenticate it. */
  readonly ha1Md5: string | null;
  readonly ha1Sha256: string | null;
  readonly enabled: boolean;
}

export interface StepContext {
  readonly now: number;
  readonly user: string;
  readonly policy: TenantPolicy;
  readonly credentials: Credentials | null;
  /** Secret for stateless nonces (digest.ts). */
  readonly nonceSecret: string;
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
  | { readonly type: 'socket-closed'; readonly conn: string }
  | { readonly type: 'timer' };

export type Effect =
  /** Send a frame on one of this user's sockets. */
  | { readonly type: 'send'; readonly conn: string; readonly text: string }
  /**
   * Hand a request to another user's object (or this one, for calls to oneself). `media`
   * is what the SDP inside was found to hold where it entered, so it is parsed only once.
   */
  | { readonly type: 'relay-request'; readonly to: string; readonly text: string; readonly media?: MediaSummary | null }
  | { readonly type: 'relay-response'; readonly to: string; readonly text: string; readonly media?: MediaSummary | null }
  /** The socket authenticated by digest: record it in the socket's attachment. */
  | { readonly type: 'authenticate'; readonly conn: string };

export interface StepResult {
  readonly state: UserState;
  readonly effects: readonly Effect[];
}

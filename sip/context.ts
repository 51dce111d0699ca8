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
}

export const DEFAULT_LIMITS = {
  maxDevices: 10,
  maxSockets: 10,
  ringTimeoutMs: 60_000,
  videoAllowed: true,
  messagesPerSecond: 20,
  messageBurst: 50,
} as const;

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
  /** A fresh random token (tags, branches); injected so the core has no entropy source. */
  readonly newId: () => string;
}

/** How a socket proved its identity. */
export type SocketAuth = 'token' | 'digest' | null;

export interface ConnInfo {
  readonly id: string;
  readonly auth: SocketAuth;
  readonly userAgent?: string | null;
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

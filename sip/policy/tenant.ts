/** What a tenant sets for its users: limits and media policy, and a user's credentials. */

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
  /** Failed digest answers from one address before it is locked out (policy/auth-guard.ts). */
  readonly authFailuresPerSource: number;
  /** Failed digest answers for the user, from anywhere, before unknown addresses are locked out. */
  readonly authFailuresPerUser: number;
  /**
   * How long a confirmed call whose socket closed is held for the same device to come back
   * on a new flow (RFC 5626 §4.2.1) before BYE goes to the other party; 0 ends it at once.
   */
  readonly flowGraceMs: number;
  /** How long a request for a user whose devices all sleep waits for one to wake on its push (RFC 8599 §4.2). */
  readonly pushWaitMs: number;
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
  flowGraceMs: 30_000,
  pushWaitMs: 10_000,
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

/**
 * The state one user's Durable Object keeps, as plain JSON-able records. The core never
 * mutates it: each step returns a new `UserState`, and the adapter persists the rows that
 * changed (durable-objects/user/store.ts).
 */
import { EMPTY_GUARD, type AuthGuard } from './policy/auth-guard.js';
import type { HeaderField } from './message/message.js';
import type { MediaSummary } from './policy/sdp.js';

/** A registered Contact bound to the socket it arrived on (RFC 3261 §10.3, RFC 5626 §6). */
export interface Binding {
  /** `instance#reg-id` for RFC 5626 flows, else the Contact URI: the key a refresh replaces. */
  readonly id: string;
  readonly contact: string;
  readonly conn: string;
  readonly instance: string | null;
  readonly regId: string | null;
  readonly expiresAt: number;
  readonly registeredAt: number;
  readonly callId: string;
  readonly cseq: number;
  readonly userAgent: string | null;
}

/**
 * A device that can be woken by a push notification (RFC 8599 §4.1: a REGISTER whose
 * Contact carried pn-provider, pn-prid and pn-param). It outlives the socket it was
 * registered on, until it expires or is refreshed away: the device may be asleep with no
 * socket at all. Kept in the user's key-value row (it belongs to no socket).
 */
export interface PushBinding {
  /** The device: its `+sip.instance` if it has one, else its Contact URI. */
  readonly id: string;
  readonly provider: PushProvider;
  /** The push resource or device token (RFC 8599 §4.1.1), as the provider names it. */
  readonly prid: string;
  /** Provider-specific parameter (Web Push: the subscription keys `p256dh:auth`; APNs: the topic; FCM: the project). */
  readonly param: string | null;
  readonly expiresAt: number;
  readonly registeredAt: number;
}

export type PushProvider = 'webpush' | 'fcm' | 'apns';

/**
 * An initial request (INVITE, MESSAGE) for a user whose only devices are asleep: pushes
 * went out and it waits, as relayed, for a device to register (RFC 8599 §4.2). In memory:
 * it lives seconds (the tenant's pushWaitSeconds), and the timer that ends it keeps the
 * object awake.
 */
export interface Wake {
  /** The incoming branch (top Via of the relayed request): what a CANCEL names. */
  readonly branch: string;
  readonly method: string;
  readonly peer: string;
  readonly text: string;
  readonly deadline: number;
}

export type BranchState = 'pending' | 'proceeding' | 'done';

/** One leg of a forked request, to one of the user's sockets (RFC 3261 §16.6). */
export interface Branch {
  /** Our Via branch on this leg. */
  readonly id: string;
  readonly conn: string;
  readonly uri: string;
  readonly state: BranchState;
  /** Final status received (or synthesised for a lost socket), 0 while none. */
  readonly status: number;
  /** To tag of this leg's provisional or final response (its early dialog). */
  readonly toTag: string | null;
}

/**
 * A request from another user's object, forked to this user's sockets: the server side of
 * a stateful proxy (RFC 3261 §16.2–16.7).
 */
export interface Fork {
  /** The sending object's Via branch: responses and CANCEL find the fork by it. */
  readonly id: string;
  readonly method: string;
  /** The user whose object sent the request; responses go back there. */
  readonly peer: string;
  readonly callId: string;
  /** From and To of the incoming request and its CSeq number: CANCEL and ACK reuse them (§9.1). */
  readonly from: string;
  readonly to: string;
  readonly cseq: number;
  readonly callerTag: string;
  /** Via, From, To, Call-ID and CSeq of the incoming request, to address responses. */
  readonly base: readonly HeaderField[];
  readonly branches: readonly Branch[];
  /** Best final response so far, serialised, for §16.7 step 6. */
  readonly best: string | null;
  readonly bestStatus: number;
  /** Where the fork is in its state machine (proxy/fork-phase.ts: the table, and what `deadline` means in each phase). */
  readonly phase: ForkPhase;
  /** To tag for responses this object generates itself (408, 480, 487). */
  readonly localTag: string;
  readonly deadline: number;
}

/**
 * trying: forwarded, no final answer yet; canceling: the caller CANCELled; cancel-first:
 * a CANCEL that overtook its INVITE; answered / completed: the 2xx / the final non-2xx
 * went upstream, and the fork lingers to absorb stragglers.
 */
export type ForkPhase = 'trying' | 'canceling' | 'cancel-first' | 'answered' | 'completed';

/**
 * held: a confirmed call whose user's socket closed, kept for the grace period in which
 * the same device may come back on a new flow (dialog-phase.ts, RFC 5626 §4.2.1).
 */
export type DialogState = 'early' | 'confirmed' | 'held' | 'ended';

/** One party of a dialog (RFC 3261 §12.1.1, §12.1.2). */
export interface DialogSide {
  /** Its From or To value in the dialog: its URI, with its tag once it has one. */
  readonly nameAddr: string;
  readonly tag: string | null;
  /** The highest CSeq number it has used in the dialog (§12.2.1.1, §12.2.2), null before it sent any. */
  readonly seq: number | null;
  /** Its remote target: the Contact it gave, as target refreshes update it (§12.2). */
  readonly target: string | null;
}
export type Direction = 'out' | 'in';

/**
 * One side of a dialog as this user's object sees it (RFC 3261 §12). Calls are INVITE
 * dialogs; subscriptions (SUBSCRIBE, REFER) route the same way but are not calls.
 */
export interface Dialog {
  readonly id: string;
  readonly kind: 'call' | 'subscription';
  readonly callId: string;
  /** 'out' when this user sent the initial request. */
  readonly direction: Direction;
  readonly peer: string;
  readonly state: DialogState;
  /** This user's socket in the dialog (null on the callee side until a leg answers, and while held). */
  readonly conn: string | null;
  /**
   * While held: the `+sip.instance` of the device whose socket closed, whose next flow
   * takes the call back (null when it registered none: then only an in-dialog request
   * from one of the user's sockets does).
   */
  readonly instance?: string | null;
  /**
   * While held: the peer's in-dialog requests (a re-INVITE for its ICE restart, an UPDATE)
   * waiting, as relayed, for the device to come back; bounded (MAX_WAITING in
   * proxy/from-peer.ts). They go to the device's new socket when it recovers the call.
   */
  readonly waiting?: readonly string[];
  /**
   * Set when the call was brought back from its history row after a restart of the
   * service (no socket and no memory knew it): held for its devices to return. If none
   * does, its record says `interrupted`, not an end the service made up.
   */
  readonly restoredAt?: number;
  readonly createdAt: number;
  readonly answeredAt: number | null;
  readonly endedAt: number | null;
  readonly finalStatus: number | null;
  readonly endReason: string | null;
  /** This user's side of the dialog and the peer's (§12: local and remote tag, sequence number, target). */
  readonly local: DialogSide;
  readonly remote: DialogSide;
  /** The dialog-creating request's Request-URI and CSeq number, which its CANCEL and ACK copy (§9.1, §17.1.1.3). */
  readonly requestUri: string;
  readonly requestSeq: number;
  /** Our Via branch on the forwarded INVITE (caller side), reused by CANCEL (§9.1). */
  readonly branch: string | null;
  readonly offer: MediaSummary | null;
  readonly answer: MediaSummary | null;
  /**
   * When this record leaves memory or times out: early, its safety expiry; confirmed, its
   * RFC 4028 session expiry when the UAs negotiated session timers; held, the end of its
   * grace period; ended, its linger.
   */
  readonly deadline: number | null;
  /** The negotiated session interval plus grace (RFC 4028), that a refresh restarts. */
  readonly sessionMs?: number | null;
}

/**
 * A request relayed within a dialog to one of this user's sockets, waiting for its final
 * response: only a response on that socket, to a transaction pending there, is accepted
 * (RFC 3261 §17.2.3 matching, and a socket may answer only what it was asked). Held in
 * memory: a transaction lives seconds, and an object is only evicted after 10 s idle.
 */
export interface PendingTransaction {
  readonly branch: string;
  readonly conn: string;
  readonly expiresAt: number;
}

export interface UserState {
  readonly bindings: readonly Binding[];
  readonly forks: readonly Fork[];
  readonly dialogs: readonly Dialog[];
  /** Failed digest answers by address, and the addresses the user signed in from (auth-guard.ts). */
  readonly guard: AuthGuard;
  /** In memory only (the store neither loads nor writes it). */
  readonly transactions: readonly PendingTransaction[];
  /** Devices that sleep and are woken by push (kept in `kv`). */
  readonly push: readonly PushBinding[];
  /** Requests waiting for a woken device (in memory). */
  readonly wakes: readonly Wake[];
}

export const EMPTY_STATE: UserState = { bindings: [], forks: [], dialogs: [], guard: EMPTY_GUARD, transactions: [], push: [], wakes: [] };

export function dialogId(direction: Direction, callId: string, callerTag: string): string {
  return `${direction}:${callerTag}:${callId}`;
}

/** The From tag of the dialog-creating request, which with Call-ID and direction keys the dialog. */
export function initiatorTag(d: Dialog): string {
  return (d.direction === 'out' ? d.local.tag : d.remote.tag) ?? '';
}

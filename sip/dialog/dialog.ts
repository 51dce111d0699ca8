/**
 * Dialog records (RFC 3261 §12) as each user's object keeps them: enough to route every
 * in-dialog request to the right object and socket, to keep call history, and to end a
 * call cleanly when a socket is lost.
 */
import { callId, contacts, cseq, fromTag, toTag } from '../message/headers.js';
import { header, type SipMessage, type SipRequest, type SipResponse } from '../message/message.js';
import { makeBranch, ourViaValue } from '../hops.js';
import { buildCancel, buildRequest, nextCseq, reasonHeader } from '../message/request.js';
import { keptRequest } from '../message/parser.js';
import { responseFromHeaders } from '../message/response.js';
import { dialogId, type Dialog, type DialogSide, type Direction, type UserState } from '../state.js';
import type { MediaSummary } from '../policy/sdp.js';
import { nextState, type DialogEvent } from './dialog-phase.js';
import type { Step } from '../step.js';
import { onGrid } from '../timers.js';

/**
 * How long an ended dialog or a fork that has sent its final answer stays in memory, to
 * absorb stragglers: a 2xx that raced a CANCEL, the 487s of cancelled branches, a BYE
 * crossing a BYE. Every hop here is a WebSocket, a reliable transport, for which RFC 3261
 * sets Timers J and K (§17.2.2, §17.1.2.2) to zero: nothing is retransmitted, and a
 * straggler is only a message already in flight. 5 s covers that with room, as
 * Kamailio's `tm` wait timer does by default. (64*T1, 32 s, is what an unreliable
 * transport would need.) Records kept longer only cost memory, and garbage-collection
 * time with it.
 */
export const LINGER_MS = 5_000;

/** When a record that has ended leaves memory: LINGER_MS on, at the user's next housekeeping instant. */
export function lingerUntil(s: Step): number {
  return onGrid(s.ctx.user, s.ctx.now + LINGER_MS);
}
/** Default subscription lifetime when none is stated (RFC 6665 §4.1.2.1 leaves it to the event package). */
export const DEFAULT_SUBSCRIPTION_MS = 3_600_000;

/** Dialog-creating methods and the kind of dialog they make. */
export function dialogKind(method: string): Dialog['kind'] | null {
  if (method === 'INVITE') return 'call';
  if (method === 'SUBSCRIBE' || method === 'REFER') return 'subscription';
  return null;
}

/**
 * The dialog a request from one of this user's sockets belongs to: as caller its From tag
 * is the caller tag; as callee its To tag is.
 */
export function dialogForSocketRequest(s: Step, msg: SipMessage): Dialog | undefined {
  const cid = callId(msg);
  const f = fromTag(msg);
  const t = toTag(msg);
  return (f ? s.dialog(dialogId('out', cid, f)) : undefined) ?? (t ? s.dialog(dialogId('in', cid, t)) : undefined);
}

/** The dialog a request relayed by the peer's object belongs to (the mirror image). */
export function dialogForPeerRequest(s: Step, msg: SipMessage): Dialog | undefined {
  const cid = callId(msg);
  const f = fromTag(msg);
  const t = toTag(msg);
  return (t ? s.dialog(dialogId('out', cid, t)) : undefined) ?? (f ? s.dialog(dialogId('in', cid, f)) : undefined);
}

export function firstContactUri(msg: SipMessage): string | null {
  const list = contacts(msg);
  return list && list !== '*' && list.length > 0 ? list[0]!.uriText : null;
}

export function newDialog(s: Step, req: SipRequest, direction: Direction, peer: string, conn: string | null, branch: string | null): Dialog {
  const kind = dialogKind(req.method)!;
  const now = s.ctx.now;
  // §12.1.1, §12.1.2: the request's sender is the caller side, its To the callee side.
  const sender: DialogSide = { nameAddr: header(req, 'from')!, tag: fromTag(req)!, seq: cseq(req)!.seq, target: firstContactUri(req) };
  const addressee: DialogSide = { nameAddr: header(req, 'to')!, tag: null, seq: null, target: null };
  return {
    id: dialogId(direction, callId(req), fromTag(req)!),
    kind,
    callId: callId(req),
    direction,
    peer,
    state: 'early',
    conn,
    createdAt: now,
    answeredAt: null,
    endedAt: null,
    finalStatus: null,
    endReason: null,
    local: direction === 'out' ? sender : addressee,
    remote: direction === 'out' ? addressee : sender,
    requestUri: req.uri,
    requestSeq: cseq(req)!.seq,
    branch,
    offer: null,
    answer: null,
    deadline: onGrid(s.ctx.user, now + s.ctx.policy.ringTimeoutMs + LINGER_MS),
  };
}

/** The reason a call's record keeps, and the event of the dialog's table it is (dialog-phase.ts). */
const END_EVENTS = {
  'caller-bye': 'bye',
  'callee-bye': 'bye',
  'session-expired': 'session-expired',
  'connection-lost': 'connection-lost',
  'not-recovered': 'grace-expired',
  'caller-gone': 'caller-gone',
  canceled: 'canceled',
  failed: 'rejected',
  timeout: 'timeout',
  expired: 'expired',
  'subscription-terminated': 'notify-terminated',
} as const satisfies Record<string, DialogEvent>;
export type EndReason = keyof typeof END_EVENTS;

/** Ends the dialog if its table allows it from where it is; otherwise nothing changes. */
export function endDialog(s: Step, d: Dialog, reason: EndReason, status: number | null = null): Dialog {
  if (nextState(d.state, END_EVENTS[reason]) !== 'ended') return d;
  const ended: Dialog = {
    ...d,
    state: 'ended',
    endedAt: s.ctx.now,
    endReason: d.endReason ?? reason,
    finalStatus: d.finalStatus ?? status,
    deadline: lingerUntil(s),
  };
  s.putDialog(ended);
  return ended;
}

/**
 * Notes a request passing within the dialog: the CSeq each side used (for a later BYE on
 * its behalf), BYE ending a call, and NOTIFY refreshing or ending a subscription (RFC 6665).
 */
export function noteInDialogRequest(s: Step, d: Dialog, req: SipRequest, fromThisUser: boolean): void {
  const seq = cseq(req)!.seq;
  const key = fromThisUser ? 'local' : 'remote';
  const side = d[key];
  let updated: DialogSide = side;
  // §12.2.2: the sender's sequence number only grows.
  if (seq > (side.seq ?? 0)) updated = { ...updated, seq };
  // Target refresh (§12.2.1.2): a re-INVITE or UPDATE may carry a new Contact.
  const contact = req.method === 'INVITE' || req.method === 'UPDATE' ? firstContactUri(req) : null;
  if (contact && contact !== side.target) updated = { ...updated, target: contact };
  let next: Dialog = updated === side ? d : { ...d, [key]: updated };
  if (req.method === 'BYE') {
    // The record says who hung up: the caller is the local side of an outgoing dialog.
    endDialog(s, next, fromThisUser === (d.direction === 'out') ? 'caller-bye' : 'callee-bye');
    return;
  }
  if (d.kind === 'subscription' && req.method === 'NOTIFY') {
    if (/^\s*terminated/i.test(header(req, 'subscription-state') ?? '')) {
      endDialog(s, next, 'subscription-terminated');
      return;
    }
    s.putDialog({ ...next, deadline: s.ctx.now + DEFAULT_SUBSCRIPTION_MS });
    return;
  }
  // RFC 4028 §7.4: a re-INVITE or UPDATE refreshes the session; it runs another interval.
  if ((req.method === 'INVITE' || req.method === 'UPDATE') && next.kind === 'call' && next.state === 'confirmed') {
    const deadline = sessionDeadline(req, s.ctx.now) ?? (next.deadline !== null && next.sessionMs ? s.ctx.now + next.sessionMs : null);
    if (deadline !== null) next = { ...next, deadline, sessionMs: deadline - s.ctx.now };
  }
  // An ACK, or anything that changes nothing, costs no write.
  if (next !== d) s.putDialog(next);
}

/** What a dialog's deadline becomes when it is answered: a subscription's expiry, a call's session expiry. */
/**
 * The dialog as a 2xx confirms it (§12.1.1, §12.1.2): the answering side gets its tag, its
 * To value and its Contact as target. The answering side is the remote one of an
 * outgoing dialog and the local one of an incoming dialog.
 */
export function confirmed(s: Step, d: Dialog, res: SipResponse, answer: MediaSummary | null): Dialog | null {
  const state = nextState(d.state, 'answered');
  if (state === undefined) return null;
  return { ...answeredBy(d, res), state, answeredAt: s.ctx.now, finalStatus: res.status, answer, ...answeredDeadline(s, d, res) };
}

/** The dialog with its answering side as the 2xx gives it, whatever its state. */
export function answeredBy(d: Dialog, res: SipResponse): Dialog {
  const key = d.direction === 'out' ? 'remote' : 'local';
  const side: DialogSide = { nameAddr: header(res, 'to')!, tag: toTag(res), seq: d[key].seq, target: firstContactUri(res) };
  return { ...d, [key]: side };
}

export function answeredDeadline(s: Step, d: Dialog, res: SipMessage): Pick<Dialog, 'deadline' | 'sessionMs'> {
  if (d.kind === 'subscription') return { deadline: s.ctx.now + DEFAULT_SUBSCRIPTION_MS, sessionMs: null };
  const deadline = sessionDeadline(res, s.ctx.now);
  return { deadline, sessionMs: deadline === null ? null : deadline - s.ctx.now };
}

/** RFC 4028 §4: Min-SE is at least 90 s; a day bounds what one client can ask for. */
const MIN_SESSION_S = 90;
const MAX_SESSION_S = 86_400;
/** Past the interval the UAs had to refresh in, the grace RFC 4028 §10 gives the non-refresher's BYE. */
const SESSION_GRACE_MS = 32_000;

/**
 * When a call whose UAs negotiated session timers (RFC 4028: `Session-Expires` in the 2xx
 * or a refresh) is over if nobody refreshes it: the interval plus the §10 grace, so a UA
 * that ends the session itself always does so first. Null without session timers.
 */
export function sessionDeadline(msg: SipMessage, now: number): number | null {
  const value = header(msg, 'session-expires');
  if (value === undefined) return null;
  const seconds = parseInt(value, 10);
  if (!Number.isFinite(seconds) || seconds <= 0) return null;
  return now + Math.min(MAX_SESSION_S, Math.max(MIN_SESSION_S, seconds)) * 1000 + SESSION_GRACE_MS;
}

/**
 * A call's session expired without a refresh (RFC 4028 §10): both sides are told with BYE,
 * the peer through its object on this user's behalf, this user's own socket as if from
 * the peer. The peer's object, which saw the same 2xx, does the same from its side; a BYE
 * that crosses one of these finds the dialog ended and changes nothing.
 */
export function sessionExpired(s: Step, d: Dialog): void {
  requestOnBehalf(s, d, 'BYE', nextCseq(d.local.seq ?? 0), [408, 'Session expired']);
  const toUser = requestToUser(s, d, [408, 'Session expired']);
  if (toUser && d.conn) s.send(d.conn, toUser);
  endDialog(s, d, 'session-expired');
}

/** A BYE to this user's socket in the dialog, as the peer would send it (§15.1.1): remote to local. */
function requestToUser(s: Step, d: Dialog, reason: [number, string]): SipRequest | null {
  if (!d.local.target || !d.local.tag || !d.remote.tag || !d.conn) return null;
  return buildRequest({
    method: 'BYE',
    uri: d.local.target,
    via: ourViaValue(s.ctx.policy.domain, makeBranch('g', s.ctx.newId(), d.conn, s.ctx.user)),
    from: sideValue(d.remote),
    to: sideValue(d.local),
    callId: d.callId,
    cseq: nextCseq(d.remote.seq ?? 0),
    headers: [reasonHeader(reason[0], reason[1])],
  });
}

/**
 * Sends a request within the dialog as if this user's UA had sent it: used when its socket
 * is gone, so that the peer is not left in a ghost call (§15.1.1, RFC 3326 Reason).
 */
function requestOnBehalf(s: Step, d: Dialog, method: 'ACK' | 'BYE', cseqNumber: number, reason: [number, string]): void {
  if (!d.remote.target || !d.remote.tag || !d.local.tag) return;
  const req = buildRequest({
    method,
    uri: d.remote.target,
    via: ourViaValue(s.ctx.policy.domain, makeBranch('g', s.ctx.newId(), null, s.ctx.user)),
    from: sideValue(d.local),
    to: sideValue(d.remote),
    callId: d.callId,
    cseq: cseqNumber,
    headers: method === 'BYE' ? [reasonHeader(reason[0], reason[1])] : [],
  });
  s.relayRequest(d.peer, req);
}

/** The user's socket in a confirmed dialog is gone: BYE the peer on its behalf. */
export function byeOnBehalf(s: Step, d: Dialog): void {
  answerWaiting(s, d, 480, 'Temporarily Unavailable');
  requestOnBehalf(s, d, 'BYE', nextCseq(d.local.seq ?? 0), [480, 'Connection lost']);
  endDialog(s, s.dialog(d.id) ?? d, 'connection-lost');
}

/**
 * The user's socket in a confirmed call closed and the tenant gives the device a grace
 * period to come back (RFC 5626 §4.2.1: a UA re-forms a failed flow at once). The call
 * is held: nothing goes to the peer, whose media is peer-to-peer and carries on, and the
 * device's next flow takes the call back (`recoverDialog`). `instance` is the device's
 * `+sip.instance`, null when it registered none.
 */
export function holdDialog(s: Step, d: Dialog, instance: string | null): void {
  if (nextState(d.state, 'flow-lost') !== 'held') return;
  s.putDialog({ ...d, state: 'held', conn: null, instance, deadline: s.ctx.now + s.ctx.policy.flowGraceMs });
}

/** A held call's device is back on socket `conn`: the call goes on there (its session interval restarts). */
export function recoverDialog(s: Step, d: Dialog, conn: string): Dialog {
  if (nextState(d.state, 'flow-recovered') !== 'confirmed') return d;
  // A call restored after a restart and taken back is a call like any other again.
  const { restoredAt: _r, ...rest } = d;
  const next: Dialog = { ...rest, state: 'confirmed', conn, instance: null, deadline: d.sessionMs ? s.ctx.now + d.sessionMs : null };
  s.putDialog(next);
  return next;
}

/** A confirmed call moves to a newer flow of the same device (make-before-break, RFC 5626 §4.2.1). */
export function moveDialog(s: Step, d: Dialog, conn: string): void {
  if (d.state === 'held') recoverDialog(s, d, conn);
  else if (d.state === 'confirmed' && d.conn !== conn) s.putDialog({ ...d, conn });
}

/** A held call's device did not come back within the grace period: BYE on its behalf. */
export function graceExpired(s: Step, d: Dialog): void {
  const seconds = Math.round(s.ctx.policy.flowGraceMs / 1000);
  answerWaiting(s, d, 480, 'Device Did Not Reconnect');
  requestOnBehalf(s, d, 'BYE', nextCseq(d.local.seq ?? 0), [480, `Connection lost, not recovered within ${seconds} s`]);
  endDialog(s, s.dialog(d.id) ?? d, 'not-recovered');
}

/**
 * Answers the peer's requests that waited on a held call (`waiting`) with `status`, and
 * forgets them: the device is not coming back (480), or the peer hung up meanwhile (487,
 * §15.1.2: a UAS that gets BYE answers its pending INVITE 487).
 */
export function answerWaiting(s: Step, d: Dialog, status: number, reason?: string): void {
  if (!d.waiting || d.waiting.length === 0) return;
  for (const text of d.waiting) {
    const req = keptRequest(text);
    if (req) s.relayResponse(d.peer, responseFromHeaders(req.headers, status, reason ? { reason } : {}));
  }
  s.putDialog({ ...(s.dialog(d.id) ?? d), waiting: [] });
}

/**
 * A 2xx reached a caller whose socket is gone (it raced the CANCEL): complete the
 * transaction with ACK and end the call with BYE (§13.2.2.4, §15).
 */
export function ackAndByeOnBehalf(s: Step, d: Dialog): void {
  requestOnBehalf(s, d, 'ACK', d.requestSeq, [487, 'Caller gone']);
  requestOnBehalf(s, d, 'BYE', nextCseq(d.local.seq ?? d.requestSeq), [487, 'Caller connection lost']);
}

/** The caller's socket is gone before an answer: CANCEL the forwarded INVITE (§9.1). */
export function cancelOnBehalf(s: Step, d: Dialog): void {
  if (d.branch) {
    const cancel = buildCancel(
      { uri: d.requestUri, via: ourViaValue(s.ctx.policy.domain, d.branch), from: d.local.nameAddr, to: d.remote.nameAddr, callId: d.callId, cseq: d.requestSeq },
      [reasonHeader(487, 'Caller connection lost')],
    );
    s.relayRequest(d.peer, cancel);
  }
  endDialog(s, d, 'caller-gone', 487);
}

/** A side's From or To value, with its tag (§12.2.1.1). */
function sideValue(side: DialogSide): string {
  return side.tag === null || /;\s*tag=/i.test(side.nameAddr) ? side.nameAddr : `${side.nameAddr};tag=${side.tag}`;
}

/** The user's calls that have not ended, newest first, at most `limit`. */
export function liveCalls(state: UserState, limit: number): Dialog[] {
  return state.dialogs
    .filter((d) => d.kind === 'call' && d.state !== 'ended')
    .sort((a, b) => b.createdAt - a.createdAt)
    .slice(0, limit);
}

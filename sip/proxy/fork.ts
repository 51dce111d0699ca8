/**
 * The callee side of the stateful proxy pair: a request relayed by another user's object
 * is forked in parallel to every binding of this user (RFC 3261 §16.5–16.7), and the
 * responses are collected into one answer for the caller.
 */
import { checkSdp, isSdp, type MediaSummary } from '../policy/sdp.js';
import { cseq, fromTag, toTag } from '../message/headers.js';
import { field, header, prependHeaders, type HeaderField, type SipRequest, type SipResponse } from '../message/message.js';
import { makeBranch, ourViaValue } from '../hops.js';
import { buildCancel, buildRequest, nextCseq, reasonHeader, type CancelledInvite } from '../message/request.js';
import { responseFromHeaders, type ResponseOptions } from '../message/response.js';
import { parseMessage } from '../message/parser.js';
import { serialize } from '../message/serializer.js';
import { dialogId, type Binding, type Branch, type Fork } from '../state.js';
import { confirmed, dialogKind, endDialog, firstContactUri, lingerUntil, newDialog } from '../dialog/dialog.js';
import { warningHeader, type Step } from '../step.js';
import { isLive, nextPhase, type ForkEvent } from './fork-phase.js';

/** Non-INVITE transactions time out after 64*T1 (§17.1.2.2, Timer F). */
export const NON_INVITE_TIMEOUT_MS = 32_000;
/** How long a CANCELled fork waits for its branches' 487 before answering itself. */
export const CANCEL_GUARD_MS = 4_000;

const BASE_HEADERS = new Set(['via', 'from', 'to', 'call-id', 'cseq']);

export function findForkByBranch(s: Step, branchId: string): { fork: Fork; branch: Branch } | null {
  for (const fork of s.state.forks) {
    const branch = fork.branches.find((b) => b.id === branchId);
    if (branch) return { fork, branch };
  }
  return null;
}

export function findFork(s: Step, id: string, method: string): Fork | undefined {
  return s.state.forks.find((f) => f.id === id && f.method === method);
}

/** Answers the request that started a fork, from this object rather than from a branch. */
function localResponse(fork: Fork, status: number, opts: ResponseOptions = {}): SipResponse {
  return responseFromHeaders(fork.base, status, { toTag: fork.localTag, ...opts });
}

/**
 * Starts the fork: one branch per binding, each with its own Via branch, a Record-Route
 * for dialog-creating requests, and the binding's Contact as Request-URI (§16.6).
 */
export function startFork(s: Step, req: SipRequest, peer: string, targets: readonly Binding[], peerBranch: string, offer: MediaSummary | null): void {
  const { ctx } = s;
  const base: HeaderField[] = req.headers.filter((h) => BASE_HEADERS.has(h.key));
  const kind = dialogKind(req.method);
  const timeout = req.method === 'INVITE' ? ctx.policy.ringTimeoutMs : NON_INVITE_TIMEOUT_MS;
  const branches: Branch[] = [];
  for (const b of targets) {
    const id = makeBranch('f', ctx.newId(), b.conn, ctx.user);
    let leg: SipRequest = { ...req, uri: b.contact };
    leg = prependHeaders(leg, [field('Via', ourViaValue(ctx.policy.domain, id))]);
    branches.push({ id, conn: b.conn, uri: b.contact, state: 'pending', status: 0, toTag: null });
    s.send(b.conn, leg);
  }
  s.putFork({
    id: peerBranch,
    method: req.method,
    peer,
    callId: header(req, 'call-id')!.trim(),
    from: header(req, 'from')!,
    to: header(req, 'to')!,
    cseq: cseq(req)!.seq,
    callerTag: fromTag(req) ?? '',
    base,
    branches,
    best: null,
    bestStatus: 0,
    phase: 'trying',
    localTag: ctx.newId(),
    deadline: ctx.now + timeout,
  });
  if (kind) s.putDialog({ ...newDialog(s, req, 'in', peer, null, null), offer });
}

/** Best final response among the branches (§16.7 step 6). Lower rank wins. */
export function responseRank(status: number): number {
  if (status >= 600) return 0;
  const klass = Math.floor(status / 100);
  // Within a class, prefer what the caller can act on (§16.7 step 6), then "busy".
  const preferred = [401, 407, 415, 420, 484];
  const sub = preferred.includes(status) ? 0 : status === 486 ? 1 : status === 408 || status === 480 ? 3 : 2;
  return klass * 10 + sub;
}

function forkUpdate(s: Step, fork: Fork, branch: Branch, patch: Partial<Branch>): Fork {
  const next: Fork = { ...fork, branches: fork.branches.map((b) => (b.id === branch.id ? { ...b, ...patch } : b)) };
  s.putFork(next);
  return next;
}

/** A response arrived on one branch (our Via already removed). */
export function onBranchResponse(s: Step, fork: Fork, branch: Branch, res: SipResponse): void {
  const status = res.status;
  if (status === 100) return; // §16.7 step 5: 100 Trying is not forwarded.
  if (branch.state === 'done') return;

  let answer: MediaSummary | null = null;
  if (fork.method === 'INVITE' && status < 300 && isSdp(header(res, 'content-type')) && res.body !== '') {
    const check = checkSdp(res.body, s.ctx.policy);
    if (!check.ok) {
      if (status >= 200) {
        ackAndBye(s, fork, branch, res);
        recordFailure(s, forkUpdate(s, fork, branch, { state: 'done', status: 488 }), 488, [warningHeader(s.ctx.policy.domain, check.warnCode, check.warning)]);
      }
      return;
    }
    answer = check.summary;
  }

  if (status < 200) {
    fork = forkUpdate(s, fork, branch, { state: 'proceeding', toTag: toTag(res) });
    // §16.7 step 5: provisional answers go upstream until the call is decided.
    if (isLive(fork.phase)) s.relayResponse(fork.peer, res);
    return;
  }

  fork = forkUpdate(s, fork, branch, { state: 'done', status, toTag: toTag(res) });
  if (status < 300) {
    // §16.7 step 5: every 2xx is forwarded; the first one cancels the other branches.
    s.relayResponse(fork.peer, res, answer);
    const answered = moved(s, fork, 'answered');
    if (answered) {
      fork = answered;
      answerDialog(s, fork, branch, res, answer);
      cancelPending(s, fork, 'Call completed elsewhere', 200);
    }
    settle(s, fork);
    return;
  }
  if (fork.method === 'INVITE') sendAck(s, fork, branch, res);
  recordFailure(s, fork, status, [], res);
}

function answerDialog(s: Step, fork: Fork, branch: Branch, res: SipResponse, answer: MediaSummary | null): void {
  const d = s.dialog(dialogId('in', fork.callId, fromTag(res)!));
  if (!d) return;
  const next = confirmed(s, d, res, answer);
  if (next) s.putDialog({ ...next, conn: branch.conn });
}

/** Keeps the best failure so far, then answers once every branch has finished. */
function recordFailure(s: Step, fork: Fork, status: number, extra: HeaderField[], res?: SipResponse): void {
  if (isLive(fork.phase) && (fork.best === null || responseRank(status) < responseRank(fork.bestStatus))) {
    const chosen = res ?? localResponse(fork, status, { headers: extra });
    fork = { ...fork, best: serialize(chosen), bestStatus: status };
    s.putFork(fork);
  }
  settle(s, fork);
}

/** When no branch is left pending, send the chosen final answer (§16.7 step 6) and clean up. */
function settle(s: Step, fork: Fork): void {
  const pending = fork.branches.some((b) => b.state !== 'done');
  if (pending) return;
  if (isLive(fork.phase)) sendFinal(s, fork, (fork.best ? storedResponse(fork.best) : null) ?? localResponse(fork, 480));
  else s.removeFork(fork);
}

function storedResponse(text: string): SipResponse | null {
  const r = parseMessage(text);
  return r.ok && r.message.kind === 'response' ? r.message : null;
}

/** Sends the fork's one final non-2xx answer upstream and closes its dialog record. */
export function sendFinal(s: Step, fork: Fork, res: SipResponse): void {
  // §16.7 step 6: a 503 from a branch is not passed on as 503.
  const out = res.status === 503 ? { ...res, status: 500, reason: 'Server Internal Error' } : res;
  const next = moved(s, fork, 'final-sent');
  if (!next) return;
  s.relayResponse(fork.peer, out);
  const d = s.dialog(dialogId('in', fork.callId, fork.callerTag));
  if (d && d.state !== 'confirmed') {
    if (d.kind === 'call') endDialog(s, d, out.status === 487 ? 'canceled' : 'failed', out.status);
    else s.forgetDialog(d.id);
  }
  if (next.branches.every((b) => b.state === 'done')) s.removeFork(next);
}

/** CANCELs every branch that has not answered finally (§16.10, §9.1). */
export function cancelPending(s: Step, fork: Fork, text: string, cause = 487): void {
  for (const b of fork.branches) {
    if (b.state === 'done') continue;
    s.send(b.conn, buildCancel(branchInvite(s, fork, b), [reasonHeader(cause, text)]));
  }
}

/** The INVITE (or other request) as this branch sent it: what its CANCEL and ACK copy (§9.1, §17.1.1.3). */
function branchInvite(s: Step, fork: Fork, b: Branch): CancelledInvite {
  return { uri: b.uri, via: ourViaValue(s.ctx.policy.domain, b.id), from: fork.from, to: fork.to, callId: fork.callId, cseq: fork.cseq };
}

/** §17.1.1.3: the client transaction ACKs a non-2xx final response itself, with the response's To (its tag). */
function sendAck(s: Step, fork: Fork, b: Branch, res: SipResponse): void {
  s.send(b.conn, buildRequest({ ...branchInvite(s, fork, b), method: 'ACK', to: header(res, 'to')! }));
}

/** A 2xx we refuse (unacceptable SDP): complete it and hang it up at once. */
function ackAndBye(s: Step, fork: Fork, b: Branch, res: SipResponse): void {
  const target = firstContactUri(res) ?? b.uri;
  const common = { uri: target, from: fork.from, to: header(res, 'to')!, callId: fork.callId };
  s.send(b.conn, buildRequest({ ...common, method: 'ACK', via: ourViaValue(s.ctx.policy.domain, makeBranch('g', s.ctx.newId(), b.conn, s.ctx.user)), cseq: fork.cseq }));
  s.send(
    b.conn,
    buildRequest({
      ...common,
      method: 'BYE',
      via: ourViaValue(s.ctx.policy.domain, makeBranch('g', s.ctx.newId(), b.conn, s.ctx.user)),
      cseq: nextCseq(fork.cseq),
      headers: [reasonHeader(488, 'Not a WebRTC session description')],
    }),
  );
}

/** A branch's socket went away: it counts as a 480 from that branch. */
export function failBranch(s: Step, fork: Fork, b: Branch): void {
  const next = forkUpdate(s, fork, b, { state: 'done', status: 480 });
  recordFailure(s, next, 480, []);
}

/** The caller CANCELled: cancel every pending branch; their 487s complete the fork (§16.10). */
export function cancelFork(s: Step, fork: Fork): void {
  if (moved(s, fork, 'cancel')) cancelPending(s, fork, 'Call cancelled by caller');
}

/**
 * A fork with nothing left to time: its final answer went upstream, or it is the empty
 * placeholder of a CANCEL that came first. Its deadline is only when to forget it.
 */
export function forkIsSettled(fork: Fork): boolean {
  return !isLive(fork.phase);
}

/**
 * Moves the fork along its table (fork-phase.ts) and gives it the deadline of its new
 * phase. Null when the table has no row for the event in this phase: nothing changes.
 */
function moved(s: Step, fork: Fork, on: ForkEvent): Fork | null {
  const to = nextPhase(fork, on);
  if (to === undefined) return null;
  if (to === null) {
    s.removeFork(fork);
    return null;
  }
  const deadline = to === 'canceling' ? Math.min(fork.deadline, s.ctx.now + CANCEL_GUARD_MS) : lingerUntil(s);
  const next: Fork = { ...fork, phase: to, deadline };
  s.putFork(next);
  return next;
}

/** The fork's deadline passed: ring timeout, non-INVITE timeout, CANCEL guard, or clean-up. */
export function expireFork(s: Step, fork: Fork): void {
  if (forkIsSettled(fork)) {
    moved(s, fork, 'deadline');
    return;
  }
  if (fork.phase === 'canceling') {
    sendFinal(s, fork, localResponse(fork, 487));
    return;
  }
  if (fork.method === 'INVITE') {
    // Ring timeout: CANCEL the branches and tell the caller nobody answered.
    cancelPending(s, fork, 'No answer', 480);
    sendFinal(s, fork, localResponse(fork, 480, { reason: 'No Answer', headers: [reasonHeader(480, 'Ring timeout')] }));
    return;
  }
  sendFinal(s, fork, localResponse(fork, 408));
}

/** A response the fork answers itself, for requests refused before any branch (404, 480...). */
export function rejectRelayed(s: Step, req: SipRequest, peer: string, status: number, opts: ResponseOptions = {}): void {
  const res = responseFromHeaders(req.headers, status, { toTag: s.ctx.newId(), ...opts });
  s.relayResponse(peer, res);
}


/**
 * Requests relayed by another user's object: the callee side of the proxy pair. Initial
 * requests fork to this user's bindings; in-dialog requests go to the one socket of the
 * dialog; CANCEL cancels the fork (RFC 3261 §16.10).
 */
import { answerWaiting, dialogForPeerRequest, noteInDialogRequest } from '../dialog/dialog.js';
import { keptRequest } from '../message/parser.js';
import { serialize } from '../message/serializer.js';
import { cancelWake, wakeFor } from './wake.js';
import { openTempGruu } from '../registrar/gruu.js';
import { CANCEL_GUARD_MS, NON_INVITE_TIMEOUT_MS, cancelFork, findFork, rejectRelayed, startFork } from './fork.js';
import { dialogKind } from '../dialog/dialog.js';
import { forksPerPeer, liveForks, ownCalls } from './bounds.js';
import { getParam } from '../message/grammar.js';
import { callId, integerHeader, toTag, topVia } from '../message/headers.js';
import { derivedBranch, ourViaValue } from '../hops.js';
import { field, prependHeaders, setHeader, type SipRequest } from '../message/message.js';
import { isSipUri, parseUri } from '../message/uri.js';
import type { MediaSummary } from '../policy/sdp.js';
import type { Binding, Dialog } from '../state.js';
import type { Step } from '../step.js';

/** A re-INVITE may wait on its user for up to Timer C (§16.6 step 11: more than 3 minutes). */
export const INVITE_TRANSACTION_MS = 180_000;

export function onPeerRequest(s: Step, peer: string, req: SipRequest, media: MediaSummary | null = null): void {
  const incomingBranch = topVia(req)?.branch ?? '';
  if (req.method === 'CANCEL') {
    onPeerCancel(s, peer, req, incomingBranch);
    return;
  }
  const mf = integerHeader(req, 'max-forwards') ?? 70;
  if (mf <= 0) {
    if (req.method !== 'ACK') rejectRelayed(s, req, peer, 483);
    return;
  }
  if (toTag(req) !== null) {
    onPeerInDialog(s, peer, req, incomingBranch, mf);
    return;
  }
  if (req.method === 'ACK') return;
  onPeerInitial(s, peer, req, incomingBranch, mf, media);
}

function onPeerInitial(s: Step, peer: string, req: SipRequest, incomingBranch: string, mf: number, media: MediaSummary | null): void {
  const { credentials } = s.ctx;
  if (!credentials) {
    rejectRelayed(s, req, peer, 404, { reason: 'User Not Found' });
    return;
  }
  if (!credentials.enabled) {
    rejectRelayed(s, req, peer, 480, { reason: 'User Disabled' });
    return;
  }
  const existing = findFork(s, incomingBranch, req.method);
  if (existing) {
    // A CANCEL overtook its INVITE: the tombstone answers for the INVITE now.
    if (existing.phase === 'cancel-first') {
      s.removeFork(existing);
      rejectRelayed(s, req, peer, 487);
    }
    return;
  }
  // §21.4.24: a user who already has as many requests in delivery or calls as its object
  // may keep is busy, and so is one whose every place a single caller may take is taken
  // by that caller; the request is refused before it makes a record.
  const { maxForks, maxCalls } = s.ctx.policy;
  if (liveForks(s.state) >= maxForks || liveForks(s.state, peer) >= forksPerPeer(s.ctx.policy) || (dialogKind(req.method) && ownCalls(s.state) >= maxCalls)) {
    rejectRelayed(s, req, peer, 486, { reason: 'Busy Here' });
    return;
  }
  // RFC 5627 §5.1: a GRUU reaches only the instance it names: a public one in its `gr`
  // value, a temporary one (a bare `gr`) sealed in its user part.
  const uri = parseUri(req.uri);
  const grParam = uri && isSipUri(uri) ? getParam(uri.params, 'gr') : undefined;
  const temp = grParam === null && uri && isSipUri(uri) && uri.user ? openTempGruu(s.ctx.gruuKey, uri.user, s.ctx.policy.domain) : null;
  if (temp && temp.user !== s.ctx.user) {
    rejectRelayed(s, req, peer, 404, { reason: 'User Not Found' });
    return;
  }
  const gr = temp ? temp.instance : grParam === undefined ? undefined : grParam === null ? null : `<${grParam}>`;
  const targets = oneFlowPerInstance(s.state.bindings.filter((b) => gr === undefined || (gr !== null && b.instance === gr)));
  if (targets.length === 0) {
    // RFC 8599 §4.2: devices asleep with no socket are woken by push, and the request waits for one.
    if (gr === undefined && wakeFor(s, peer, req, incomingBranch)) return;
    rejectRelayed(s, req, peer, 480, { reason: 'Temporarily Unavailable' });
    return;
  }
  startFork(s, setHeader(req, 'Max-Forwards', String(mf - 1)), peer, targets, incomingBranch, media);
}

/**
 * RFC 5626 §7: one target per AOR and instance at a time. A device with several flows
 * (reg-ids) is reached on the one it registered most recently.
 */
export function oneFlowPerInstance(bindings: readonly Binding[]): Binding[] {
  const byInstance = new Map<string, Binding>();
  const out: Binding[] = [];
  for (const b of bindings) {
    if (b.instance === null) {
      out.push(b);
      continue;
    }
    const prev = byInstance.get(b.instance);
    if (!prev || b.registeredAt > prev.registeredAt || (b.registeredAt === prev.registeredAt && b.expiresAt >= prev.expiresAt)) byInstance.set(b.instance, b);
  }
  return [...out, ...byInstance.values()];
}

function onPeerInDialog(s: Step, peer: string, req: SipRequest, incomingBranch: string, mf: number): void {
  const d = dialogForPeerRequest(s, req);
  // Requests in an early dialog (PRACK, UPDATE) go to the branch that created it.
  const conn = d?.conn ?? earlyBranchConn(s, req);
  if (d && d.peer === peer && d.state === 'held') {
    onHeldDialog(s, peer, req, d);
    return;
  }
  if (!d || d.peer !== peer || d.state === 'ended' || conn === null) {
    if (req.method !== 'ACK') rejectRelayed(s, req, peer, 481);
    return;
  }
  noteInDialogRequest(s, d, req, false);
  forwardToSocket(s, conn, req, incomingBranch, mf);
}

/** Hands the peer's in-dialog request to the user's socket `conn`, with our Via (§16.6). */
function forwardToSocket(s: Step, conn: string, req: SipRequest, incomingBranch: string, mf: number): void {
  const branch = derivedBranch('r', incomingBranch, callId(req), conn, s.ctx.user);
  const fwd = prependHeaders(setHeader(req, 'Max-Forwards', String(mf - 1)), [field('Via', ourViaValue(s.ctx.policy.domain, branch))]);
  // ACK has no response (§17.1.1.3); anything else waits for one from this socket only.
  if (req.method !== 'ACK') s.expectResponse({ branch, conn, expiresAt: s.ctx.now + (req.method === 'INVITE' ? INVITE_TRANSACTION_MS : NON_INVITE_TIMEOUT_MS) });
  s.send(conn, fwd);
}

/**
 * A held call's device is back on `d.conn`: the peer's requests that waited for it go
 * there now, in the order they came, as if they had just arrived.
 */
export function releaseWaiting(s: Step, id: string): void {
  const d = s.dialog(id);
  if (!d || d.state !== 'confirmed' || d.conn === null || !d.waiting || d.waiting.length === 0) return;
  s.putDialog({ ...d, waiting: [] });
  for (const text of d.waiting) {
    const req = keptRequest(text);
    if (req) forwardToSocket(s, d.conn, req, topVia(req)?.branch ?? '', integerHeader(req, 'max-forwards') ?? 70);
  }
}

/** How many of the peer's requests may wait on a held call for its device; more are refused. */
export const MAX_WAITING = 2;

/**
 * A request from the peer in a call whose user's socket is gone, within the grace period
 * for its device to come back (dialog.ts `holdDialog`). A BYE is answered 200 on the
 * device's behalf and ends the call (§15.1.2: the peer's session is over once it sends
 * BYE, whatever the answer); the device learns of it from the 481 to its next request in
 * the call. Anything else waits for the device (`releaseWaiting`): both parties of a call
 * lose their sockets together when the service restarts, and the first one back restarts
 * ICE with a re-INVITE that must reach the other, not fail. Its transaction stays open
 * meanwhile (an INVITE's after its 100, Timer C §16.6; a non-INVITE's 32 s against a grace
 * of 30). Past MAX_WAITING, or if the device does not come back, a request is answered
 * 480 (with a Retry-After of the grace left, §21.4.18), which fails that transaction and
 * not the dialog (RFC 5057 §5.1).
 */
function onHeldDialog(s: Step, peer: string, req: SipRequest, d: Dialog): void {
  if (req.method === 'ACK') return;
  noteInDialogRequest(s, d, req, false);
  const now = s.dialog(d.id) ?? d;
  if (req.method === 'BYE') {
    answerWaiting(s, now, 487);
    rejectRelayed(s, req, peer, 200);
    return;
  }
  const waiting = now.waiting ?? [];
  if (waiting.length < MAX_WAITING) {
    s.putDialog({ ...now, waiting: [...waiting, serialize(req)] });
    return;
  }
  const retry = Math.max(1, Math.ceil(((d.deadline ?? s.ctx.now) - s.ctx.now) / 1000));
  rejectRelayed(s, req, peer, 480, { reason: 'Device Reconnecting', headers: [field('Retry-After', String(retry))] });
}

function earlyBranchConn(s: Step, req: SipRequest): string | null {
  const tag = toTag(req);
  const cid = callId(req);
  for (const f of s.state.forks) {
    if (f.callId !== cid) continue;
    const b = f.branches.find((x) => x.toTag === tag && x.state !== 'done');
    if (b) return b.conn;
  }
  return null;
}

function onPeerCancel(s: Step, peer: string, req: SipRequest, incomingBranch: string): void {
  if (cancelWake(s, peer, incomingBranch)) return;
  const fork = findFork(s, incomingBranch, 'INVITE');
  if (fork) {
    if (fork.peer === peer) cancelFork(s, fork);
    return;
  }
  // The CANCEL arrived before its INVITE: leave a tombstone so the INVITE is answered 487.
  s.putFork({
    id: incomingBranch,
    method: 'INVITE',
    peer,
    callId: callId(req),
    from: '',
    to: '',
    cseq: 0,
    callerTag: '',
    base: [],
    branches: [],
    best: null,
    bestStatus: 0,
    phase: 'cancel-first',
    localTag: s.ctx.newId(),
    deadline: s.ctx.now + CANCEL_GUARD_MS,
  });
}

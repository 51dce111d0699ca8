/**
 * Responses travel back along the Via path (RFC 3261 §16.7, §18.2.2): each object removes
 * its own Via and hands the response to the hop named by the next one. Fork branches are
 * stateful; everything else is routed by what our branch encodes (hops.ts).
 */
import { ackAndByeOnBehalf, answeredBy, confirmed, endDialog } from '../dialog/dialog.js';
import { findForkByBranch, onBranchResponse } from './fork.js';
import { callId, cseq, fromTag, removeFirstValue, topVia } from '../message/headers.js';
import { viaOwner, type OurBranch } from '../hops.js';
import type { SipResponse } from '../message/message.js';
import type { MediaSummary } from '../policy/sdp.js';
import { dialogId } from '../state.js';
import { withoutIdentity } from '../policy/identity.js';
import type { Step } from '../step.js';

/** Our own Via on top, for this user's object; anything else is not ours to route. */
function popOwnVia(s: Step, res: SipResponse): { hop: OurBranch; branch: string; rest: SipResponse } | null {
  const via = topVia(res);
  const hop = via ? viaOwner(via) : null;
  if (!via || !hop || hop.user !== s.ctx.user) return null;
  return { hop, branch: via.branch!, rest: removeFirstValue(res, 'via') };
}

/**
 * A response from one of this user's sockets. It is accepted only on the socket its
 * request was sent to (our branch names it) and only for a transaction pending there:
 * a fork's branch, or an in-dialog request relayed to it. Anything else would let one
 * socket speak into another's transaction. Identity headers are the service's to assert
 * (RFC 3325 §5), never a client's.
 */
export function onSocketResponse(s: Step, conn: string, res: SipResponse): void {
  const own = popOwnVia(s, res);
  if (!own || own.hop.conn !== conn) return;
  const rest = withoutIdentity(own.rest);
  if (own.hop.kind === 'f') {
    const found = findForkByBranch(s, own.branch);
    // Responses to our CANCELs and to requests of a finished fork are absorbed.
    if (found && found.branch.conn === conn && cseq(res)!.method === found.fork.method) onBranchResponse(s, found.fork, found.branch, rest);
    return;
  }
  if (own.hop.kind !== 'r' || !s.pendingTransaction(own.branch, conn)) return;
  if (res.status >= 200) s.settleTransaction(own.branch);
  const next = topVia(rest);
  const nextHop = next ? viaOwner(next) : null;
  if (nextHop) s.relayResponse(nextHop.user, rest);
}

/** A response relayed back by the object we sent the request to. */
export function onPeerResponse(s: Step, res: SipResponse, media: MediaSummary | null = null): void {
  const own = popOwnVia(s, res);
  if (!own || own.hop.conn === null) return;
  if (own.hop.kind === 'u' && !trackCallerDialog(s, own.rest, media)) return;
  if (own.hop.kind === 'u' || own.hop.kind === 'r') s.send(own.hop.conn, own.rest);
}

/**
 * Keeps the caller's dialog record in step with the answers to its INVITE, SUBSCRIBE or
 * REFER. Returns false when the response must not reach the socket.
 */
function trackCallerDialog(s: Step, res: SipResponse, answer: MediaSummary | null): boolean {
  const method = cseq(res)!.method;
  const f = fromTag(res);
  const d = f ? s.dialog(dialogId('out', callId(res), f)) : undefined;
  if (!d || (method !== 'INVITE' && method !== 'SUBSCRIBE' && method !== 'REFER')) return true;
  const status = res.status;
  if (status < 200) return true;
  if (status < 300) {
    if (d.state === 'ended' && d.endReason === 'caller-gone') {
      // The caller's socket closed while this 2xx was on its way: finish and hang up for it.
      ackAndByeOnBehalf(s, answeredBy(d, res));
      return false;
    }
    // A second 2xx from another fork finds the dialog confirmed: the UA resolves it (§13.2.2.4).
    const answered = confirmed(s, d, res, answer);
    if (answered) s.putDialog(answered);
    return true;
  }
  if (d.state === 'early') {
    if (d.kind === 'call') endDialog(s, d, status === 487 ? 'canceled' : 'failed', status);
    else s.forgetDialog(d.id);
  }
  return true;
}

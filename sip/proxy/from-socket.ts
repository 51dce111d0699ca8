/**
 * Requests arriving on one of this user's sockets: the caller side of the proxy pair.
 * REGISTER and OPTIONS-to-the-service end here; every other request is checked (identity,
 * routes, SDP) and relayed to the object of the user it addresses (RFC 3261 §16).
 */
import { authenticate } from '../auth/authenticate.js';
import { ownCalls } from './bounds.js';
import type { ConnInfo } from '../io.js';
import { dialogForSocketRequest, dialogKind, moveDialog, newDialog, noteInDialogRequest, recoverDialog } from '../dialog/dialog.js';
import { callId, fromTag, integerHeader, nameAddrs, optionTags, toTag, topVia } from '../message/headers.js';
import { derivedBranch, isOurRoute, ourViaValue, recordRouteValue } from '../hops.js';
import { assertedIdentity, isUserId, withoutIdentity } from '../policy/identity.js';
import { field, header, prependHeaders, removeHeader, setHeader, withHeaders, type HeaderField, type SipRequest } from '../message/message.js';
import { buildCancel } from '../message/request.js';
import { handleRegister, SUPPORTED_TAGS } from '../registrar/registrar.js';
import { onPeerRequest, releaseWaiting } from './from-peer.js';
import { isTempGruuUser, openTempGruu } from '../registrar/gruu.js';
import { deliverWoken } from './wake.js';
import { checkSdp, isSdp, type MediaSummary } from '../policy/sdp.js';
import { addressedUser, isSipUri, parseUri } from '../message/uri.js';
import { warningHeader, type Step } from '../step.js';
import { dialogId, type Binding } from '../state.js';

export const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, INFO, UPDATE, PRACK, REFER, SUBSCRIBE, NOTIFY, REGISTER';
/** Methods that only make sense inside a dialog (RFC 3261 §15, RFC 3262, RFC 3311, RFC 6086). */
const IN_DIALOG_ONLY = new Set(['BYE', 'PRACK', 'UPDATE', 'INFO']);

export function onSocketRequest(s: Step, conn: ConnInfo, incoming: SipRequest): void {
  const req = withoutIdentity(incoming);
  if (req.method === 'ACK') {
    onAck(s, conn, req);
    return;
  }
  // §16.3 step 3: a request that has run out of hops is refused.
  if (integerHeader(req, 'max-forwards') === 0) {
    s.reply(conn.id, req, 483);
    return;
  }
  if (!supportsAll(s, conn, req, 'proxy-require')) return;
  if (req.method === 'CANCEL') {
    onCancel(s, conn, req);
    return;
  }
  const target = addressedUser(parseUri(req.uri)!);
  if (toTag(req) !== null) {
    if (authenticate(s, conn, req) === 'authenticated') onInDialog(s, conn, req);
    return;
  }
  if (req.method === 'REGISTER') {
    onRegister(s, conn, req);
    return;
  }
  if (target === null) {
    onServiceRequest(s, conn, req);
    return;
  }
  if (authenticate(s, conn, req) !== 'authenticated') return;
  // No caller-ID spoofing: an out-of-dialog request speaks for the socket's own user, at
  // the tenant's own domain (the display name is the user's to choose).
  const f = parseUri(nameAddrFrom(req));
  if (!f || !isSipUri(f) || addressedUser(f) !== s.ctx.user || f.host.toLowerCase() !== s.ctx.policy.domain.toLowerCase()) {
    s.reply(conn.id, req, 403, { reason: 'From does not match the authenticated user' });
    return;
  }
  if (IN_DIALOG_ONLY.has(req.method)) {
    s.reply(conn.id, req, 481);
    return;
  }
  // RFC 5627 §3.2: a temporary GRUU names its user only to this tenant's objects.
  const callee = isTempGruuUser(target) ? (openTempGruu(s.ctx.gruuKey, target, s.ctx.policy.domain)?.user ?? null) : target;
  if (callee === null || !isUserId(callee)) {
    s.reply(conn.id, req, 404, { reason: 'User Not Found' });
    return;
  }
  forwardInitial(s, conn, req, callee);
}

function nameAddrFrom(req: SipRequest): string {
  const f = nameAddrs(req, 'from');
  return f && f[0] ? f[0].uriText : '';
}

/** §8.2.2.3: refuse option tags we do not implement, naming them in Unsupported. */
function supportsAll(s: Step, conn: ConnInfo, req: SipRequest, headerName: 'require' | 'proxy-require'): boolean {
  const unsupported = optionTags(req, headerName).filter((t) => !(SUPPORTED_TAGS as readonly string[]).includes(t));
  if (unsupported.length === 0) return true;
  s.reply(conn.id, req, 420, { headers: [field('Unsupported', unsupported.join(', '))] });
  return false;
}

function onRegister(s: Step, conn: ConnInfo, req: SipRequest): void {
  // §10.3: extensions first, then authentication, then authorisation of the To user.
  if (!supportsAll(s, conn, req, 'require')) return;
  if (authenticate(s, conn, req) !== 'authenticated') return;
  const to = nameAddrs(req, 'to');
  const toUri = to && to[0] ? parseUri(to[0].uriText) : null;
  if (!toUri || addressedUser(toUri) !== s.ctx.user) {
    s.reply(conn.id, req, 403, { reason: 'To does not match the socket user' });
    return;
  }
  const registered = handleRegister(s, conn, req);
  if (!registered) return;
  for (const instance of registered.instances) takeCalls(s, instance, conn.id, registered.before);
  // A device woken by a push is here (RFC 8599 §4.2): what waited for it is delivered now.
  if (s.state.bindings.length > 0) deliverWoken(s, (peer, waiting) => onPeerRequest(s, peer, waiting));
}

/**
 * The device `instance` registered a flow on socket `conn` (RFC 5626 §4.2.1): its calls
 * come with it. Held calls whose socket closed within the grace period go on here (flow
 * recovery), and calls still on another of its sockets move here (make-before-break: the
 * new flow is up before the old one closes, and that close then ends nothing).
 */
function takeCalls(s: Step, instance: string, conn: string, before: readonly Binding[]): void {
  const itsSockets = new Set(before.filter((b) => b.instance === instance && b.conn !== conn).map((b) => b.conn));
  for (const d of s.state.dialogs) {
    if (d.kind !== 'call') continue;
    if ((d.state === 'held' && d.instance === instance) || (d.state === 'confirmed' && d.conn !== null && itsSockets.has(d.conn))) {
      moveDialog(s, d, conn);
      releaseWaiting(s, d.id);
    }
  }
}

/** A request addressed to the service itself (no user part). */
function onServiceRequest(s: Step, conn: ConnInfo, req: SipRequest): void {
  if (req.method === 'OPTIONS') {
    if (!supportsAll(s, conn, req, 'require')) return;
    s.reply(conn.id, req, 200, {
      headers: [field('Allow', ALLOW), field('Supported', SUPPORTED_TAGS.join(', ')), field('Accept', 'application/sdp')],
    });
    return;
  }
  s.reply(conn.id, req, 405, { headers: [field('Allow', 'OPTIONS, REGISTER')] });
}

/** Checks Route values (all must be ours, §16.4) and removes ours. Null means refused. */
function consumeRoutes(s: Step, conn: ConnInfo, req: SipRequest): SipRequest | null {
  const routes = nameAddrs(req, 'route') ?? [];
  if (routes.length === 0) return req;
  if (!routes.every((r) => isOurRoute(r, s.ctx.policy.domain))) {
    s.reply(conn.id, req, 403, { reason: 'Route to a foreign destination refused' });
    return null;
  }
  return removeHeader(req, 'route');
}

/** §16.6 step 3: decrement Max-Forwards; a request without one gets 70. */
function decrementHops(req: SipRequest): SipRequest {
  const mf = integerHeader(req, 'max-forwards');
  return setHeader(req, 'Max-Forwards', mf === undefined || mf === null ? '70' : String(mf - 1));
}

/** Offers in requests must be WebRTC descriptions; anything else is refused with 488 + Warning. */
function checkOffer(s: Step, conn: ConnInfo, req: SipRequest): { ok: boolean; summary: MediaSummary | null } {
  if (req.body === '' || !isSdp(header(req, 'content-type'))) return { ok: true, summary: null };
  const check = checkSdp(req.body, s.ctx.policy);
  if (check.ok) return { ok: true, summary: check.summary };
  s.reply(conn.id, req, 488, { headers: [warningHeader(s.ctx.policy.domain, check.warnCode, check.warning)] });
  return { ok: false, summary: null };
}

function viaFor(s: Step, conn: ConnInfo, req: SipRequest, kind: 'u' | 'r'): { value: string; branch: string } {
  const branch = derivedBranch(kind, topVia(req)?.branch ?? '', callId(req), conn.id, s.ctx.user);
  return { value: ourViaValue(s.ctx.policy.domain, branch), branch };
}

function forwardInitial(s: Step, conn: ConnInfo, req: SipRequest, target: string): void {
  const routed = consumeRoutes(s, conn, req);
  if (!routed) return;
  const offer = checkOffer(s, conn, req);
  if (!offer.ok) return;
  const kind = dialogKind(req.method);
  const via = viaFor(s, conn, req, 'u');
  if (kind) {
    const id = dialogId('out', callId(req), fromTag(req) ?? '');
    const existing = s.dialog(id);
    if (existing && existing.state !== 'ended') {
      // The same INVITE again (same branch): say we are on it; anything else reuses a live dialog id.
      if (existing.branch === via.branch) {
        // §17.2.2 / §17.2.1: a retransmitted INVITE is answered with the last provisional,
        // which from this hop is our 100 (the callee's own 100 is hop-by-hop, §16.7 step 5).
        if (req.method === 'INVITE') s.reply(conn.id, req, 100);
      } else s.reply(conn.id, req, 400, { reason: 'Call-ID and From tag already in use' });
      return;
    }
    if (fromTag(req) === null) {
      s.reply(conn.id, req, 400, { reason: 'Missing From tag' });
      return;
    }
    // Each live dialog is a record this object keeps: a user's own calls are bounded.
    if (ownCalls(s.state) >= s.ctx.policy.maxCalls) {
      s.reply(conn.id, req, 503, { reason: 'Too Many Calls In Progress', headers: [field('Retry-After', '5')] });
      return;
    }
    s.putDialog({ ...newDialog(s, req, 'out', target, conn.id, via.branch), offer: offer.summary });
  }
  // §17.2.1 (and §16.2 for a stateful proxy): the INVITE server transaction answers 100
  // Trying at once, since the callee's answer may take longer than 200 ms. Only here, on
  // the caller's socket: between our objects the hop is an RPC that does not retransmit,
  // the callee's object sends none (its fork absorbs the callee's own 100, §16.7 step 5),
  // and non-INVITE requests get none (§16.2: a proxy SHOULD NOT send 100 to them).
  if (req.method === 'INVITE') s.reply(conn.id, req, 100);
  const added: HeaderField[] = [field('Via', via.value)];
  if (kind) added.push(field('Record-Route', recordRouteValue(s.ctx.policy.domain)));
  // RFC 3325 §9.1: toward the callee the service asserts who is calling.
  const hopped = decrementHops(routed);
  const asserted = withHeaders(hopped, [...hopped.headers, assertedIdentity(s.ctx.user, s.ctx.policy.domain, s.ctx.displayName)]);
  s.relayRequest(target, prependHeaders(asserted, added), offer.summary, true);
}

function onInDialog(s: Step, conn: ConnInfo, req: SipRequest): void {
  const found = dialogForSocketRequest(s, req);
  if (!found || found.state === 'ended') {
    s.reply(conn.id, req, 481);
    return;
  }
  // A held call is taken back by the user's socket that speaks in it (RFC 5626 §4.2.1):
  // the user authenticated on it, and it knows the dialog's Call-ID and tags. This is how
  // a device that registered no instance, or reconnects before registering, recovers.
  const d = found.state === 'held' ? recoverDialog(s, found, conn.id) : found;
  if (d !== found) releaseWaiting(s, d.id);
  const routed = consumeRoutes(s, conn, req);
  if (!routed) return;
  if (req.method === 'INVITE' || req.method === 'UPDATE') {
    if (!checkOffer(s, conn, req).ok) return;
  }
  // §17.2.1: a re-INVITE opens an INVITE server transaction of its own, and the far UA
  // may take longer than 200 ms (it asks its user, or renegotiates media).
  if (req.method === 'INVITE') s.reply(conn.id, req, 100);
  noteInDialogRequest(s, d, req, true);
  s.relayRequest(d.peer, prependHeaders(decrementHops(routed), [field('Via', viaFor(s, conn, req, 'r').value)]));
}

/**
 * ACK is never answered. An ACK for a non-2xx final response ends here (it is hop-by-hop,
 * §17.1.1.3); an ACK for a 2xx follows the dialog to the callee (§13.2.2.4).
 */
function onAck(s: Step, conn: ConnInfo, req: SipRequest): void {
  const found = dialogForSocketRequest(s, req);
  if (!found || conn.auth === null) return;
  const d = found.state === 'held' ? recoverDialog(s, found, conn.id) : found;
  if (d !== found) releaseWaiting(s, d.id);
  if (d.direction === 'out' && d.answeredAt === null) return;
  const routes = nameAddrs(req, 'route') ?? [];
  if (!routes.every((r) => isOurRoute(r, s.ctx.policy.domain))) return;
  noteInDialogRequest(s, d, req, true);
  const fwd = prependHeaders(decrementHops(removeHeader(req, 'route')), [field('Via', viaFor(s, conn, req, 'r').value)]);
  s.relayRequest(d.peer, fwd);
}

/**
 * CANCEL from the caller (§9.2, §16.10): answered 200 at once, then passed on to the
 * callee's object, which cancels every pending branch; the INVITE then ends with 487.
 */
function onCancel(s: Step, conn: ConnInfo, req: SipRequest): void {
  const f = fromTag(req);
  const d = f ? s.dialog(dialogId('out', callId(req), f)) : undefined;
  const branch = viaFor(s, conn, req, 'u').branch;
  if (!d || d.branch !== branch || conn.auth === null) {
    s.reply(conn.id, req, 481);
    return;
  }
  s.reply(conn.id, req, 200);
  if (d.state !== 'early') return;
  s.relayRequest(
    d.peer,
    buildCancel(
      { uri: d.requestUri, via: ourViaValue(s.ctx.policy.domain, branch), from: d.local.nameAddr, to: d.remote.nameAddr, callId: d.callId, cseq: d.requestSeq },
      req.headers.filter((h) => h.key === 'reason'),
    ),
  );
}


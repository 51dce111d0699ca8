/**
 * The sans-I/O entry point: `step(state, input, context)` returns the next state and the
 * effects to carry out. `nextDeadline(state)` tells the adapter when to set its alarm.
 *
 * Every step first does what has come due (expireDue): a timer is only the input that
 * runs when nothing else does. So what nobody would notice late (an expired binding, an
 * early dialog whose safety expiry passed, a subscription past its life) costs no alarm
 * of its own: the next event that runs anyway does it, and only what someone waits for
 * (a ring timeout, a session that nobody refreshed) is in `nextDeadline`.
 */
import type { ConnInfo, Input, StepContext, StepResult } from './io.js';
import { trimLingering } from './proxy/bounds.js';
import { byeOnBehalf, cancelOnBehalf, endDialog, graceExpired, holdDialog, sessionExpired } from './dialog/dialog.js';
import { onPeerRequest } from './proxy/from-peer.js';
import { expireWakes, forgetPushBinding, nextWake } from './proxy/wake.js';
import { expireFork, failBranch, forkIsSettled } from './proxy/fork.js';
import { field } from './message/message.js';
import { keptRequest, parseMessage } from './message/parser.js';
import { serialize } from './message/serializer.js';
import { expireBindings } from './registrar/registrar.js';
import { responseFromHeaders } from './message/response.js';
import { onPeerResponse, onSocketResponse } from './proxy/response-routing.js';
import type { UserState } from './state.js';
import { Step } from './step.js';
import { onSocketRequest } from './proxy/from-socket.js';

export function step(state: UserState, input: Input, ctx: StepContext): StepResult {
  const s = new Step(state, ctx);
  expireDue(s);
  switch (input.type) {
    case 'socket-message':
      onSocketMessage(s, input.conn, input.text);
      break;
    case 'peer-request':
    case 'peer-response': {
      // Peers are our own objects: what they relay was validated where it entered.
      const r = parseMessage(input.text, { trusted: true });
      if (!r.ok) break;
      if (input.type === 'peer-request' && r.message.kind === 'request') onPeerRequest(s, input.from, r.message, input.media ?? null);
      if (input.type === 'peer-response' && r.message.kind === 'response') onPeerResponse(s, r.message, input.media ?? null);
      break;
    }
    case 'socket-closed':
      onSocketClosed(s, input.conn, input.final === true);
      break;
    case 'timer':
      break;
    case 'push-gone':
      forgetPushBinding(s, input.id);
      break;
    case 'end-held':
      for (const d of s.state.dialogs) if (d.state === 'held') byeOnBehalf(s, d);
      break;
    case 'socket-refused':
      onSocketRefused(s, input.conn, input.text, input.status, input.reason, input.retryAfter);
      break;
    case 'relay-failed':
      onRelayFailed(s, input.text, input.status, input.reason);
      break;
  }
  s.state = trimLingering(s.state, ctx.policy);
  return s.result();
}

function onSocketMessage(s: Step, conn: ConnInfo, text: string): void {
  // A lone CRLF is a keepalive pong or padding (RFC 5626 §4.4.1), not a message.
  if (text.trim() === '') return;
  const r = parseMessage(text);
  if (!r.ok) {
    // Errors are answers: a malformed request learns why; a malformed response is dropped.
    if (!r.isResponse && r.method !== 'ACK') {
      s.send(conn.id, responseFromHeaders(r.headers, r.status, { reason: r.reason, toTag: s.ctx.newId() }));
    }
    return;
  }
  if (r.message.kind === 'response') {
    // A socket that has not authenticated has been asked nothing: it has nothing to answer.
    if (conn.auth !== null) onSocketResponse(s, conn.id, r.message);
  } else onSocketRequest(s, conn, r.message);
}

/**
 * A socket closed: its bindings go at once, its pending outgoing INVITEs are CANCELled,
 * and its ringing branches fail. Its confirmed calls are held for the tenant's grace
 * period, for the same device to take them back on a new flow (RFC 5626 §4.2.1); with
 * no grace, or when the service closed the socket for good, they get a BYE on its behalf
 * at once.
 */
function onSocketClosed(s: Step, conn: string, final: boolean): void {
  const gone = s.removeBindings((b) => b.conn === conn);
  // The device behind the socket, known if it registered an instance on it (RFC 5626 §4.1).
  const instance = gone.find((b) => b.instance !== null)?.instance ?? null;
  for (const d of s.state.dialogs) {
    if (d.conn !== conn || d.state === 'ended') continue;
    if (d.kind === 'call' && d.state === 'confirmed') {
      if (s.ctx.policy.flowGraceMs > 0 && !final) holdDialog(s, d, instance);
      else byeOnBehalf(s, d);
    }
    else if (d.kind === 'call' && d.direction === 'out') cancelOnBehalf(s, d);
    else endDialog(s, d, 'connection-lost');
  }
  for (const fork of s.state.forks) {
    for (const b of fork.branches) {
      if (b.conn !== conn || b.state === 'done') continue;
      const current = s.state.forks.find((f) => f.id === fork.id && f.method === fork.method);
      const branch = current?.branches.find((x) => x.id === b.id);
      if (current && branch && branch.state !== 'done') failBranch(s, current, branch);
    }
  }
}

/**
 * The adapter refused a socket's frame before the state machine saw it (the rate limit):
 * a request gets the answer (503 with Retry-After, RFC 3261 §21.5.4); anything else is dropped.
 */
function onSocketRefused(s: Step, conn: string, text: string, status: number, reason: string, retryAfter: number | undefined): void {
  const answer = refusal(text, status, { reason, retryAfter, newId: s.ctx.newId });
  if (answer !== null) s.effects.push({ type: 'send', conn, text: answer });
}

/**
 * A request this object relayed could not be handed to the peer's object: the user does
 * not exist (404) or its object did not answer (503). It is answered as the peer would
 * have (§16.9), through our own Via, so the answer finds its way back like any other.
 */
function onRelayFailed(s: Step, text: string, status: number, reason: string): void {
  const req = keptRequest(text);
  if (!req || req.method === 'ACK') return;
  onPeerResponse(s, responseFromHeaders(req.headers, status, { reason, toTag: s.ctx.newId() }));
}

function expireDue(s: Step): void {
  const { now } = s.ctx;
  expireBindings(s);
  expireWakes(s);
  for (const fork of s.state.forks) {
    if (fork.deadline > now) continue;
    const current = s.state.forks.find((f) => f.id === fork.id && f.method === fork.method);
    if (current) expireFork(s, current);
  }
  for (const d of s.state.dialogs) {
    if (d.deadline === null || d.deadline > now) continue;
    if (d.state === 'ended') s.forgetDialog(d.id);
    else if (d.state === 'held') graceExpired(s, d);
    else if (d.kind === 'call' && d.state === 'confirmed') sessionExpired(s, d);
    else endDialog(s, d, d.state === 'early' ? 'timeout' : 'expired', d.state === 'early' ? 408 : null);
  }
}

/**
 * The answer to a frame the adapter refuses before it reaches the state machine (rate
 * limit, 503 + Retry-After). Null when the frame is not an answerable request.
 */
export function refusal(text: string, status: number, opts: { reason?: string; retryAfter?: number; newId: () => string }): string | null {
  const r = parseMessage(text);
  if (!r.ok || r.message.kind !== 'request' || r.message.method === 'ACK') return null;
  const headers = opts.retryAfter !== undefined ? [field('Retry-After', String(opts.retryAfter))] : [];
  return serialize(responseFromHeaders(r.message.headers, status, { reason: opts.reason, toTag: opts.newId(), headers }));
}

/**
 * Connections the state still refers to that are not among `live`: their close was never
 * seen (the runtime could not deliver it, or restarted). Each should get a `socket-closed`
 * input, so that their bindings go and their calls end as if it had been seen.
 */
export function lostConnections(state: UserState, live: ReadonlySet<string>): string[] {
  const lost = new Set<string>();
  const check = (conn: string | null) => {
    if (conn !== null && !live.has(conn)) lost.add(conn);
  };
  for (const b of state.bindings) check(b.conn);
  for (const d of state.dialogs) if (d.state !== 'ended') check(d.conn);
  for (const f of state.forks) for (const b of f.branches) if (b.state !== 'done') check(b.conn);
  return [...lost];
}

/**
 * The earliest moment something in the state must be acted on for someone who waits:
 * a fork's ring timeout or CANCEL guard runs out (§16.8), a confirmed call's session
 * expires unrefreshed (RFC 4028 §10), or a held call's grace period ends (the peer
 * waits for its BYE). The adapter's alarm must fire then. Bindings
 * (§10.3), early dialogs' safety expiry and subscriptions expire lazily (expireDue).
 *
 * Housekeeping is left out (see `nextHousekeeping`): forgetting a fork that has sent its
 * final answer, a call that ended, or a nonce past its life changes nothing anyone sees,
 * so it costs no alarm of its own and is done by whichever timer input comes next.
 */
export function nextDeadline(state: UserState): number | null {
  let min = Infinity;
  for (const f of state.forks) if (!forkIsSettled(f)) min = Math.min(min, f.deadline);
  for (const d of state.dialogs) if (d.deadline !== null && d.kind === 'call' && (d.state === 'confirmed' || d.state === 'held')) min = Math.min(min, d.deadline);
  // A request waiting for a woken device: the caller waits for its 480.
  min = Math.min(min, nextWake(state) ?? Infinity);
  return min === Infinity ? null : min;
}

/** The earliest moment some record could be forgotten: lazy, on the next timer input. */
export function nextHousekeeping(state: UserState): number | null {
  let min = Infinity;
  for (const f of state.forks) if (forkIsSettled(f)) min = Math.min(min, f.deadline);
  for (const d of state.dialogs) if (d.deadline !== null && d.state === 'ended') min = Math.min(min, d.deadline);
  return min === Infinity ? null : min;
}

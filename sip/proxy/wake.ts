/**
 * Waking sleeping devices (RFC 8599 §4.2): an INVITE or MESSAGE for a user with no device
 * on a socket, but with devices that registered push parameters, sends each of those a
 * push and waits (the tenant's pushWaitSeconds) for one to register; then it is delivered
 * as if it had just arrived, or answered 480 when none did.
 */
import { callId } from '../message/headers.js';
import { field, type SipRequest } from '../message/message.js';
import { keptRequest } from '../message/parser.js';
import { serialize } from '../message/serializer.js';
import { wakePayload } from '../registrar/push.js';
import type { PushBinding, UserState } from '../state.js';
import type { Step } from '../step.js';
import { rejectRelayed } from './fork.js';

/** Push bindings whose device has no socket binding now: the ones to wake. */
export function sleepingDevices(state: UserState, now: number): PushBinding[] {
  return state.push.filter((p) => p.expiresAt > now && !state.bindings.some((b) => b.instance === p.id || b.contact === p.id));
}

/**
 * Pushes to the user's sleeping devices and keeps `req` until one registers. False when
 * there is nothing to wake (the caller answers 480 as before) or the request is not one
 * a device is woken for.
 */
export function wakeFor(s: Step, peer: string, req: SipRequest, incomingBranch: string): boolean {
  if (req.method !== 'INVITE' && req.method !== 'MESSAGE') return false;
  const { now, policy } = s.ctx;
  const sleeping = sleepingDevices(s.state, now);
  if (sleeping.length === 0 || policy.pushWaitMs <= 0) return false;
  // Bounded like forks: a flood of calls to a sleeping user is refused, not queued.
  if (s.state.wakes.length >= policy.maxForks) return false;
  const ttlSeconds = Math.ceil(policy.pushWaitMs / 1000);
  const payload = wakePayload(req.method === 'INVITE' ? 'call' : 'message', peer, callId(req));
  for (const binding of sleeping) s.effects.push({ type: 'push', binding, payload, ttlSeconds });
  s.state = { ...s.state, wakes: [...s.state.wakes, { branch: incomingBranch, method: req.method, peer, text: serialize(req), deadline: now + policy.pushWaitMs }] };
  return true;
}

/** A device registered on a socket: every waiting request is delivered now, as if just arrived. */
export function deliverWoken(s: Step, deliver: (peer: string, req: SipRequest) => void): void {
  const wakes = s.state.wakes;
  if (wakes.length === 0) return;
  s.state = { ...s.state, wakes: [] };
  for (const w of wakes) {
    const req = keptRequest(w.text);
    if (req) deliver(w.peer, req);
  }
}

/**
 * The provider says a device's registration is gone (RFC 8030 §7.3): its push binding
 * goes, and when no device is left to wake, what waited is answered now, not at its end.
 */
export function forgetPushBinding(s: Step, id: string): void {
  if (!s.state.push.some((p) => p.id === id)) return;
  s.state = { ...s.state, push: s.state.push.filter((p) => p.id !== id) };
  if (sleepingDevices(s.state, s.ctx.now).length === 0 && s.state.bindings.length === 0) expireWakes(s, true);
}

/** Requests whose wait ran out (or, `all`, that nothing can end any more) with no device registered: 480 (§21.4.18). */
export function expireWakes(s: Step, all = false): void {
  const now = s.ctx.now;
  const due = s.state.wakes.filter((w) => all || w.deadline <= now);
  if (due.length === 0) return;
  s.state = { ...s.state, wakes: s.state.wakes.filter((w) => !due.includes(w)) };
  for (const w of due) {
    const req = keptRequest(w.text);
    if (req) rejectRelayed(s, req, w.peer, 480, { reason: 'Temporarily Unavailable', headers: [field('Warning', `399 ${s.ctx.policy.domain} "the device did not wake"`)] });
  }
}

/**
 * A CANCEL for an INVITE waiting on a push (§9.2): the INVITE is answered 487 (the
 * caller's object answered the CANCEL itself, hop by hop). True if one was waiting.
 */
export function cancelWake(s: Step, peer: string, incomingBranch: string): boolean {
  const w = s.state.wakes.find((x) => x.branch === incomingBranch && x.method === 'INVITE' && x.peer === peer);
  if (!w) return false;
  s.state = { ...s.state, wakes: s.state.wakes.filter((x) => x !== w) };
  const req = keptRequest(w.text);
  if (req) rejectRelayed(s, req, w.peer, 487);
  return true;
}

/** The earliest end of a wait, or null. */
export function nextWake(state: UserState): number | null {
  return state.wakes.length === 0 ? null : Math.min(...state.wakes.map((w) => w.deadline));
}

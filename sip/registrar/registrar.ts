/**
 * The registrar (RFC 3261 §10.3) with RFC 5626 flows and RFC 5627 public GRUUs. Every
 * Contact is bound to the WebSocket the REGISTER arrived on; a binding dies with its socket.
 */
import type { ConnInfo } from '../io.js';
import { getParam } from '../message/grammar.js';
import { callId, contacts, cseq, integerHeader, optionTags } from '../message/headers.js';
import { field, header, type HeaderField, type SipRequest } from '../message/message.js';
import { FLOW_TIMER_S } from './liveness.js';
import type { NameAddr } from '../message/name-addr.js';
import type { Binding, PushBinding, UserState } from '../state.js';
import { pushParams, type PushParams } from './push.js';
import { publicGruu, tempGruu } from './gruu.js';
import type { Step } from '../step.js';

export const DEFAULT_EXPIRES = 600;
export const MIN_EXPIRES = 60;
export const MAX_EXPIRES = 3600;

/** Option tags we implement as a registrar (RFC 5626 outbound, RFC 3327 path, RFC 5627 gruu). */
export const SUPPORTED_TAGS = ['outbound', 'path', 'gruu'] as const;

/** What a REGISTER that succeeded bound: the device instances it registered on the socket, and the bindings before it. */
export interface Registered {
  readonly instances: readonly string[];
  readonly before: readonly Binding[];
}

/** Handles a REGISTER and answers it; null when it was refused. */
export function handleRegister(s: Step, conn: ConnInfo, req: SipRequest): Registered | null {
  const { now } = s.ctx;
  const list = contacts(req);
  const headerExpires = integerHeader(req, 'expires');

  if (list === '*') {
    // §10.2.2: the wildcard is only legal with Expires: 0.
    if (headerExpires !== 0) {
      s.reply(conn.id, req, 400, { reason: 'Wildcard Contact requires Expires: 0' });
      return null;
    }
    const before = s.state.bindings;
    s.removeBindings(() => true);
    if (s.state.push.length > 0) s.state = { ...s.state, push: [] };
    s.reply(conn.id, req, 200);
    return { instances: [], before };
  }

  const seq = cseq(req)!.seq;
  const cid = callId(req);
  const updates: Array<{ id: string; contact: NameAddr; expires: number; push: PushParams & { ok: true } }> = [];
  for (const c of list ?? []) {
    const param = getParam(c.params, 'expires');
    let expires = headerExpires ?? DEFAULT_EXPIRES;
    if (param !== undefined) {
      if (param === null || !/^\d{1,10}$/.test(param)) {
        s.reply(conn.id, req, 400, { reason: 'Malformed Contact expires parameter' });
        return null;
      }
      expires = Number(param);
    }
    if (expires !== 0 && expires < MIN_EXPIRES) {
      s.reply(conn.id, req, 423, { headers: [field('Min-Expires', String(MIN_EXPIRES))] });
      return null;
    }
    const push = pushParams(c);
    if (!push.ok) {
      s.reply(conn.id, req, 400, { reason: push.reason });
      return null;
    }
    updates.push({ id: bindingId(c), contact: c, expires: Math.min(expires, MAX_EXPIRES), push });
  }

  let bindings = [...s.state.bindings];
  for (const u of updates) {
    const existing = bindings.find((b) => b.id === u.id);
    // §10.3 step 7: an older or replayed REGISTER of the same Call-ID must not win.
    if (existing && existing.callId === cid && seq <= existing.cseq) {
      s.reply(conn.id, req, 500, { reason: 'Out-of-order REGISTER', headers: [field('Retry-After', '1')] });
      return null;
    }
    bindings = bindings.filter((b) => b.id !== u.id);
    if (u.expires > 0) {
      bindings.push({
        id: u.id,
        contact: u.contact.uriText,
        conn: conn.id,
        instance: instanceOf(u.contact),
        regId: stringParam(u.contact, 'reg-id'),
        expiresAt: now + u.expires * 1000,
        registeredAt: existing?.registeredAt ?? now,
        callId: cid,
        cseq: seq,
        userAgent: header(req, 'user-agent') ?? null,
      });
    }
  }
  if (bindings.length > s.ctx.policy.maxDevices && bindings.length > s.state.bindings.length) {
    s.reply(conn.id, req, 403, { reason: 'Too Many Devices', headers: [field('Warning', `399 ${s.ctx.policy.domain} "at most ${s.ctx.policy.maxDevices} devices per user"`)] });
    return null;
  }
  const before = s.state.bindings;
  s.state = { ...s.state, bindings, push: pushBindings(s.state.push, updates, now, s.ctx.policy.maxDevices) };
  s.reply(conn.id, req, 200, { headers: bindingHeaders(s, req, bindings) });
  return { instances: updates.filter((u) => u.expires > 0).flatMap((u) => instanceOf(u.contact) ?? []), before };
}

/**
 * The user's push bindings after a REGISTER (RFC 8599 §4.1): a Contact with push
 * parameters sets its device's (its instance, else its URI), one without them or with
 * expires 0 removes it; expired ones go, and at most `max` are kept (the newest).
 */
function pushBindings(current: readonly PushBinding[], updates: ReadonlyArray<{ contact: NameAddr; expires: number; push: PushParams & { ok: true } }>, now: number, max: number): readonly PushBinding[] {
  let next = current.filter((p) => p.expiresAt > now);
  for (const u of updates) {
    const id = instanceOf(u.contact) ?? u.contact.uriText;
    const had = next.find((p) => p.id === id);
    next = next.filter((p) => p.id !== id);
    if (u.push.push && u.expires > 0) next.push({ id, ...u.push.push, expiresAt: now + u.expires * 1000, registeredAt: had?.registeredAt ?? now });
  }
  next = next.slice(-max);
  return next.length === current.length && next.every((p, i) => p === current[i]) ? current : next;
}

/** §10.3 step 8: the 200 lists every current binding with its remaining lifetime. */
function bindingHeaders(s: Step, req: SipRequest, bindings: readonly Binding[]): HeaderField[] {
  const { now, user, policy } = s.ctx;
  const supported = optionTags(req, 'supported');
  const out: HeaderField[] = [];
  let usedOutbound = false;
  for (const b of bindings) {
    let v = `<${b.contact}>;expires=${Math.max(0, Math.ceil((b.expiresAt - now) / 1000))}`;
    if (b.instance) {
      v += `;+sip.instance="${b.instance}"`;
      if (supported.includes('gruu')) {
        v += `;pub-gruu="${publicGruu(user, policy.domain, b.instance)}"`;
        if (s.ctx.gruuKey) v += `;temp-gruu="${tempGruu(s.ctx.gruuKey, user, policy.domain, b.instance)}"`;
      }
    }
    if (b.regId) {
      v += `;reg-id=${b.regId}`;
      usedOutbound = true;
    }
    out.push(field('Contact', v));
  }
  // RFC 5626 §6: a registrar that honoured reg-id says so with Require: outbound, and
  // (§5.4) names the keepalive interval it wants; a flow that stops its keepalives is
  // probed and, silent, closed (sip/liveness.ts).
  if (usedOutbound && supported.includes('outbound')) out.push(field('Require', 'outbound'), field('Flow-Timer', String(FLOW_TIMER_S)));
  out.push(field('Supported', SUPPORTED_TAGS.join(', ')));
  return out;
}

function stringParam(c: NameAddr, name: string): string | null {
  const v = getParam(c.params, name);
  return typeof v === 'string' && v !== '' ? v : null;
}

function instanceOf(c: NameAddr): string | null {
  return stringParam(c, '+sip.instance');
}

/** RFC 5626 §6: (instance, reg-id) names a flow; RFC 5627 lets the instance alone name a UA. */
function bindingId(c: NameAddr): string {
  const instance = instanceOf(c);
  const regId = stringParam(c, 'reg-id');
  if (instance && regId) return `${instance}#${regId}`;
  if (instance) return instance;
  return c.uriText;
}

/**
 * The bindings in force at `now`: expiry is lazy (sip/index.ts expireDue), so the state
 * may still hold one whose time has passed, which is no longer a binding (§10.3).
 */
export function currentBindings(state: UserState, now: number): Binding[] {
  return state.bindings.filter((b) => b.expiresAt > now);
}

/** Drops bindings whose time has come (done by the next event that runs anyway). */
export function expireBindings(s: Step): void {
  s.removeBindings((b) => b.expiresAt <= s.ctx.now);
}


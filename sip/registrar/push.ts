/**
 * Push bindings (RFC 8599): a device that registers the push parameters of its provider
 * in its Contact can be woken when a request comes for it and it has no socket.
 *
 * - `pn-provider` names the push notification service: `webpush` (RFC 8030; the SIP
 *   user agent is a browser), `fcm` or `apns` (RFC 8599 §12, §13).
 * - `pn-prid` is the device's address there: for Web Push the subscription's endpoint
 *   URL, for FCM the registration token, for APNs the device token.
 * - `pn-param`: for Web Push the subscription's keys as `p256dh:auth` (base64url), for
 *   APNs the topic (the app's bundle id, `.voip` for VoIP pushes), for FCM the project.
 */
import type { NameAddr } from '../message/name-addr.js';
import { getParam } from '../message/grammar.js';
import type { PushBinding, PushProvider } from '../state.js';

const PROVIDERS: readonly PushProvider[] = ['webpush', 'fcm', 'apns'];
const MAX_PRID = 1024;
const MAX_PARAM = 256;
const B64URL = /^[A-Za-z0-9_-]+$/;
/** An absolute https URL (RFC 3986 characters only), or http on 127.0.0.1. */
const ENDPOINT = /^(?:https:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?|http:\/\/127\.0\.0\.1(?::\d{1,5})?)\/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$/;

export type PushParams = { readonly ok: true; readonly push: Omit<PushBinding, 'id' | 'expiresAt' | 'registeredAt'> | null } | { readonly ok: false; readonly reason: string };

function text(c: NameAddr, name: string): string | null {
  const v = getParam(c.params, name);
  return typeof v === 'string' && v !== '' ? v.replace(/^"(.*)"$/s, '$1') : null;
}

/** The Contact's push parameters: none, valid ones, or why they are refused (400). */
export function pushParams(c: NameAddr): PushParams {
  const provider = text(c, 'pn-provider');
  const prid = text(c, 'pn-prid');
  const param = text(c, 'pn-param');
  if (provider === null && prid === null && param === null) return { ok: true, push: null };
  if (provider === null || !PROVIDERS.includes(provider as PushProvider)) return { ok: false, reason: `pn-provider must be one of ${PROVIDERS.join(', ')}` };
  if (prid === null || prid.length > MAX_PRID) return { ok: false, reason: `pn-prid is required, at most ${MAX_PRID} characters` };
  if (param !== null && param.length > MAX_PARAM) return { ok: false, reason: `pn-param is at most ${MAX_PARAM} characters` };
  if (provider === 'webpush') {
    // The endpoint is where the service will POST: HTTPS, or plain HTTP on loopback (a test's push service).
    if (!ENDPOINT.test(prid)) return { ok: false, reason: 'pn-prid of webpush must be the subscription’s https endpoint' };
    const [p256dh, auth, extra] = (param ?? '').split(':');
    if (!p256dh || !auth || extra !== undefined || !B64URL.test(p256dh) || !B64URL.test(auth)) return { ok: false, reason: 'pn-param of webpush must be the subscription keys p256dh:auth' };
  } else if (!B64URL.test(prid.replace(/[.:]/g, ''))) {
    return { ok: false, reason: 'pn-prid must be a device token' };
  }
  return { ok: true, push: { provider: provider as PushProvider, prid, param } };
}

/** What a wake-up push says to the device (JSON, small: a Web Push record holds 4 KiB). */
export function wakePayload(kind: 'call' | 'message', from: string, callId: string): string {
  return JSON.stringify({ type: kind, from, callId });
}

/**
 * The push providers a wake-up goes through (RFC 8599 §4.2), by the device's
 * `pn-provider`. Web Push needs the service's VAPID key pair, set as secrets
 * (`VAPID_PUBLIC_KEY`, `VAPID_PRIVATE_KEY`, base64url) with `VAPID_SUBJECT` (a mailto: or
 * https: contact for the push services).
 */
import type { PushBinding } from '../../../sip/state.js';
import type { Env } from '../../env.js';
import { sendWebPush } from './web-push.js';

export class PushNotConfigured extends Error {}

/** Sends one wake-up; true when the provider says the device's registration is gone. */
export async function sendPush(env: Env, binding: PushBinding, payload: string, ttlSeconds: number): Promise<boolean> {
  switch (binding.provider) {
    case 'webpush': {
      if (!env.VAPID_PUBLIC_KEY || !env.VAPID_PRIVATE_KEY) throw new PushNotConfigured('Web Push needs VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY');
      const [p256dh = '', auth = ''] = (binding.param ?? '').split(':');
      const vapid = { publicKey: env.VAPID_PUBLIC_KEY, privateKey: env.VAPID_PRIVATE_KEY, subject: env.VAPID_SUBJECT ?? 'mailto:ops@switchboard.invalid' };
      return (await sendWebPush({ endpoint: binding.prid, p256dh, auth }, payload, vapid, { ttlSeconds })).gone;
    }
    case 'fcm':
    case 'apns':
      throw new PushNotConfigured(`${binding.provider} push is not configured for this service`);
  }
}

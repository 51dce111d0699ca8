/**
 * The push providers a wake-up goes through (RFC 8599 §4.2), by the device's
 * `pn-provider`, configured by secrets of the deployment:
 * - Web Push: the service's VAPID key pair (`VAPID_PUBLIC_KEY`, `VAPID_PRIVATE_KEY`,
 *   base64url; `npm run vapid-keys`) and `VAPID_SUBJECT` (a mailto: or https: contact);
 * - FCM: `FCM_SERVICE_ACCOUNT` (the service account's JSON key);
 * - APNs: `APNS_TEAM_ID`, `APNS_KEY_ID`, `APNS_PRIVATE_KEY` (the .p8 key) and `APNS_TOPIC`
 *   (the bundle id; a device's pn-param names its own topic, `.voip` for PushKit).
 * A tenant may set its own FCM and APNs credentials (PATCH /v1/tenants/{id} `push`),
 * which then win. `FCM_ENDPOINT` and `APNS_ENDPOINT` point both elsewhere (the tests'
 * stand-ins).
 */
import type { PushBinding } from '../../../sip/state.js';
import type { Env } from '../../env.js';
import { NO_PUSH, type TenantPush } from '../../tenant/push-config.js';
import { sendApns, type ApnsConfig } from './apns.js';
import { sendFcm, type FcmConfig } from './fcm.js';
import { sendWebPush } from './web-push.js';

export class PushNotConfigured extends Error {}

/**
 * Sends one wake-up; true when the provider says the device's registration is gone. FCM
 * and APNs use the tenant's own credentials when it has them (`tenant`), else the
 * deployment's.
 */
export async function sendPush(env: Env, binding: PushBinding, payload: string, ttlSeconds: number, tenant: TenantPush = NO_PUSH): Promise<boolean> {
  switch (binding.provider) {
    case 'webpush': {
      if (!env.VAPID_PUBLIC_KEY || !env.VAPID_PRIVATE_KEY) throw new PushNotConfigured('Web Push needs VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY');
      const [p256dh = '', auth = ''] = (binding.param ?? '').split(':');
      const vapid = { publicKey: env.VAPID_PUBLIC_KEY, privateKey: env.VAPID_PRIVATE_KEY, subject: env.VAPID_SUBJECT ?? 'mailto:ops@switchboard.invalid' };
      return (await sendWebPush({ endpoint: binding.prid, p256dh, auth }, payload, vapid, { ttlSeconds })).gone;
    }
    case 'fcm': {
      const c = tenant.fcm ? { ...tenant.fcm, endpoint: env.FCM_ENDPOINT } : fcmConfig(env);
      return (await sendFcm(c, binding.prid, JSON.parse(payload) as Record<string, string>, { ttlSeconds })).gone;
    }
    case 'apns': {
      const c = tenant.apns ? { ...tenant.apns, endpoint: env.APNS_ENDPOINT } : apnsConfig(env);
      return (await sendApns(c, binding.prid, JSON.parse(payload) as Record<string, string>, { ttlSeconds, topic: binding.param })).gone;
    }
  }
}

/** `FCM_SERVICE_ACCOUNT`: the service account's JSON key, as Google hands it out. */
function fcmConfig(env: Env): FcmConfig {
  if (!env.FCM_SERVICE_ACCOUNT) throw new PushNotConfigured('FCM needs FCM_SERVICE_ACCOUNT');
  const sa = JSON.parse(env.FCM_SERVICE_ACCOUNT) as { project_id?: string; client_email?: string; private_key?: string; token_uri?: string };
  if (!sa.project_id || !sa.client_email || !sa.private_key) throw new PushNotConfigured('FCM_SERVICE_ACCOUNT lacks project_id, client_email or private_key');
  return { projectId: sa.project_id, clientEmail: sa.client_email, privateKey: sa.private_key, tokenUri: sa.token_uri, endpoint: env.FCM_ENDPOINT };
}

function apnsConfig(env: Env): ApnsConfig {
  if (!env.APNS_TEAM_ID || !env.APNS_KEY_ID || !env.APNS_PRIVATE_KEY || !env.APNS_TOPIC) throw new PushNotConfigured('APNs needs APNS_TEAM_ID, APNS_KEY_ID, APNS_PRIVATE_KEY and APNS_TOPIC');
  return { teamId: env.APNS_TEAM_ID, keyId: env.APNS_KEY_ID, privateKey: env.APNS_PRIVATE_KEY, topic: env.APNS_TOPIC, endpoint: env.APNS_ENDPOINT };
}

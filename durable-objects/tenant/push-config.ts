/**
 * A tenant's own push provider credentials (FCM, APNs), for the native apps of that
 * tenant: set through the API, checked when set (a key that does not import is a 400, not
 * a failure at the first call), kept in the tenant's row, and handed to a user's object
 * only when it sends a push. The API shows what identifies them, never the keys.
 */
import { pemBytes, type ApnsConfig } from '../user/push/apns.js';
import type { FcmConfig } from '../user/push/fcm.js';

export interface TenantPush {
  readonly fcm: FcmConfig | null;
  readonly apns: ApnsConfig | null;
}

/** What the API takes: FCM as the service account's JSON key, APNs as its parts. */
export interface TenantPushInput {
  readonly fcm?: { readonly serviceAccount: string } | null;
  readonly apns?: { readonly teamId: string; readonly keyId: string; readonly privateKey: string; readonly topic: string } | null;
}

/** What the API shows. */
export interface TenantPushView {
  readonly fcm: { readonly projectId: string; readonly clientEmail: string } | null;
  readonly apns: { readonly teamId: string; readonly keyId: string; readonly topic: string } | null;
}

export const NO_PUSH: TenantPush = { fcm: null, apns: null };

async function imports(pem: string, algorithm: Parameters<typeof crypto.subtle.importKey>[2]): Promise<boolean> {
  try {
    await crypto.subtle.importKey('pkcs8', pemBytes(pem), algorithm, false, ['sign']);
    return true;
  } catch {
    return false;
  }
}

/** The configuration after `input` (a field left out keeps its value, null clears it), or why it is refused. */
export async function applyPush(current: TenantPush, input: TenantPushInput): Promise<{ ok: true; push: TenantPush } | { ok: false; message: string }> {
  let { fcm, apns } = current;
  if (input.fcm === null) fcm = null;
  else if (input.fcm) {
    let sa: { project_id?: unknown; client_email?: unknown; private_key?: unknown; token_uri?: unknown };
    try {
      sa = JSON.parse(input.fcm.serviceAccount) as typeof sa;
    } catch {
      return { ok: false, message: 'push.fcm.serviceAccount is not JSON (the service account key file)' };
    }
    if (typeof sa.project_id !== 'string' || typeof sa.client_email !== 'string' || typeof sa.private_key !== 'string') return { ok: false, message: 'push.fcm.serviceAccount needs project_id, client_email and private_key' };
    if (!(await imports(sa.private_key, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }))) return { ok: false, message: 'push.fcm.serviceAccount private_key is not an RSA private key (PKCS #8 PEM)' };
    const tokenUri = typeof sa.token_uri === 'string' && /^https?:\/\//.test(sa.token_uri) ? sa.token_uri : undefined;
    fcm = { projectId: sa.project_id, clientEmail: sa.client_email, privateKey: sa.private_key, ...(tokenUri ? { tokenUri } : {}) };
  }
  if (input.apns === null) apns = null;
  else if (input.apns) {
    if (!(await imports(input.apns.privateKey, { name: 'ECDSA', namedCurve: 'P-256' }))) return { ok: false, message: 'push.apns.privateKey is not a P-256 signing key (the .p8 file)' };
    apns = { teamId: input.apns.teamId, keyId: input.apns.keyId, privateKey: input.apns.privateKey, topic: input.apns.topic };
  }
  return { ok: true, push: { fcm, apns } };
}

export function pushView(p: TenantPush): TenantPushView {
  return {
    fcm: p.fcm ? { projectId: p.fcm.projectId, clientEmail: p.fcm.clientEmail } : null,
    apns: p.apns ? { teamId: p.apns.teamId, keyId: p.apns.keyId, topic: p.apns.topic } : null,
  };
}

export function parsePush(column: string | null): TenantPush {
  return column ? (JSON.parse(column) as TenantPush) : NO_PUSH;
}

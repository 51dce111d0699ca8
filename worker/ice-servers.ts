/**
 * ICE servers for browsers, from whichever provider the deployment (or the tenant)
 * configures:
 *   1. a per-tenant TURN REST override,
 *   2. Cloudflare Realtime TURN (TURN_KEY_ID + TURN_KEY_API_TOKEN),
 *   3. coturn-compatible TURN REST credentials (TURN_URLS + TURN_SECRET),
 *   4. STUN only, when nothing is configured.
 * A half-configured provider is an error, never a silent fall-back to STUN.
 */
import { encodeBase64 } from 'hono/utils/encode';
import type { Env } from '../durable-objects/env.js';
import type { IceOverride } from '../durable-objects/tenant/model.js';

export interface IceServer {
  readonly urls: string | string[];
  readonly username?: string;
  readonly credential?: string;
}

export interface IceResult {
  readonly iceServers: IceServer[];
  /** Unix seconds when the credentials stop working; null for STUN only. */
  readonly expiresAt: number | null;
}

export class IceConfigError extends Error {}

export const DEFAULT_TURN_TTL = 3600;
export const DEFAULT_STUN = 'stun:stun.cloudflare.com:3478';
export const CLOUDFLARE_TURN_API = 'https://rtc.live.cloudflare.com/v1/turn/keys';

const list = (s: string | undefined): string[] => (s ?? '').split(',').map((x) => x.trim()).filter((x) => x !== '');

/**
 * TURN REST credentials as coturn's `use-auth-secret` checks them: the username carries its
 * expiry, the credential is base64(HMAC-SHA1(secret, username)). The first secret signs;
 * coturn may hold several during a rotation.
 */
export async function turnRestCredentials(secret: string, urls: readonly string[], identity: string, ttl: number, now = Date.now()): Promise<IceResult> {
  const expiresAt = Math.floor(now / 1000) + ttl;
  const username = `${expiresAt}:${identity}`;
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-1' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(username)));
  const credential = encodeBase64(mac.buffer);
  const stun = urls.filter((u) => u.startsWith('stun:'));
  const turn = urls.filter((u) => !u.startsWith('stun:'));
  const servers: IceServer[] = [];
  if (stun.length) servers.push({ urls: stun });
  servers.push({ urls: turn, username, credential });
  return { iceServers: servers, expiresAt };
}

/** Browsers refuse TURN/STUN on port 53 (Chromium blocks it): drop those URLs. */
export function usableUrl(url: string): boolean {
  return !/^(?:stuns?|turns?):[^?]*:53(?:[?/]|$)/i.test(url);
}

async function cloudflareTurn(env: Env, ttl: number): Promise<IceResult> {
  const base = env.TURN_API_BASE ?? CLOUDFLARE_TURN_API;
  const res = await fetch(`${base}/${encodeURIComponent(env.TURN_KEY_ID!)}/credentials/generate-ice-servers`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${env.TURN_KEY_API_TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ ttl }),
  });
  if (!res.ok) throw new IceConfigError(`Cloudflare TURN answered ${res.status}`);
  const body = (await res.json()) as { iceServers?: IceServer | IceServer[] };
  const raw = Array.isArray(body.iceServers) ? body.iceServers : body.iceServers ? [body.iceServers] : [];
  const iceServers = raw
    .map((s) => ({ ...s, urls: (Array.isArray(s.urls) ? s.urls : [s.urls]).filter(usableUrl) }))
    .filter((s) => s.urls.length > 0);
  if (iceServers.length === 0) throw new IceConfigError('Cloudflare TURN returned no usable ICE servers');
  return { iceServers, expiresAt: Math.floor(Date.now() / 1000) + ttl };
}

/** Throws IceConfigError for a configuration that cannot work. */
export async function iceServersFor(env: Env, override: IceOverride | null, identity: string): Promise<IceResult> {
  const ttl = env.TURN_TTL ? Number(env.TURN_TTL) : DEFAULT_TURN_TTL;
  if (!Number.isInteger(ttl) || ttl < 60 || ttl > 86_400) throw new IceConfigError('TURN_TTL must be a whole number of seconds between 60 and 86400');
  if (override?.turnUrls?.length) {
    if (!override.turnSecret) throw new IceConfigError("the tenant's TURN override has URLs but no secret");
    return turnRestCredentials(override.turnSecret, override.turnUrls, identity, ttl);
  }
  if (env.TURN_KEY_ID || env.TURN_KEY_API_TOKEN) {
    if (!env.TURN_KEY_ID || !env.TURN_KEY_API_TOKEN) throw new IceConfigError('Cloudflare TURN needs both TURN_KEY_ID and TURN_KEY_API_TOKEN');
    return cloudflareTurn(env, ttl);
  }
  const urls = list(env.TURN_URLS);
  const secrets = list(env.TURN_SECRET);
  if (urls.length || secrets.length) {
    if (!urls.length) throw new IceConfigError('TURN_SECRET is set but TURN_URLS is not');
    if (!secrets.length) throw new IceConfigError('TURN_URLS is set but TURN_SECRET is not');
    if (!urls.every((u) => /^(?:turns?|stun):/.test(u))) throw new IceConfigError('TURN_URLS must be turn:, turns: or stun: URLs');
    return turnRestCredentials(secrets[0]!, urls, identity, ttl);
  }
  const stun = list(env.STUN_URLS);
  return { iceServers: [{ urls: stun.length ? stun : [DEFAULT_STUN] }], expiresAt: null };
}

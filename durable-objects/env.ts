/**
 * Bindings and configuration the Worker and the objects share (wrangler.toml, secrets,
 * `.dev.vars` locally).
 */
import type { DirectoryObject } from './directory/directory-object.js';
import type { TenantObject } from './tenant/tenant-object.js';
import type { UserObject } from './user/user-object.js';

export interface Env {
  readonly USERS: DurableObjectNamespace<UserObject>;
  readonly TENANTS: DurableObjectNamespace<TenantObject>;
  readonly DIRECTORY: DurableObjectNamespace<DirectoryObject>;
  readonly ASSETS?: Fetcher;
  /** Workers rate-limiting binding for upgrades per client IP. */
  readonly UPGRADE_LIMITER?: RateLimit;
  /** `off` disables the upgrade limit (benchmarks open thousands of sockets from one address). */
  readonly UPGRADE_RATE_LIMIT?: string;
  /** Workers rate-limiting binding for API calls per client IP; `API_RATE_LIMIT=off` disables it. */
  readonly API_LIMITER?: RateLimit;
  readonly API_RATE_LIMIT?: string;
  /** Workers rate-limiting binding for logins per client IP: a budget of their own. */
  readonly LOGIN_LIMITER?: RateLimit;
  /** Bearer token for the admin API (a Worker secret). */
  readonly ADMIN_TOKEN?: string;
  /** Seeds the demo tenant on first request; set only for local development. */
  readonly DEMO_SEED?: string;
  /** coturn-compatible TURN REST credentials (RFC 8489 long-term, draft-uberti-behave-turn-rest). */
  readonly TURN_URLS?: string;
  readonly TURN_SECRET?: string;
  readonly TURN_TTL?: string;
  /** Web Push (RFC 8292 VAPID): the service's key pair, base64url, and its contact for push services. */
  readonly VAPID_PUBLIC_KEY?: string;
  readonly VAPID_PRIVATE_KEY?: string;
  readonly VAPID_SUBJECT?: string;
  /** FCM HTTP v1: the service account's JSON key; the API's origin (default Google's). */
  readonly FCM_SERVICE_ACCOUNT?: string;
  readonly FCM_ENDPOINT?: string;
  /** APNs provider API: the team, the signing key (.p8, PEM) and its id, the app's topic; the API's origin. */
  readonly APNS_TEAM_ID?: string;
  readonly APNS_KEY_ID?: string;
  readonly APNS_PRIVATE_KEY?: string;
  readonly APNS_TOPIC?: string;
  readonly APNS_ENDPOINT?: string;
  /** Cloudflare Realtime TURN. */
  readonly TURN_KEY_ID?: string;
  readonly TURN_KEY_API_TOKEN?: string;
  readonly TURN_API_BASE?: string;
  readonly STUN_URLS?: string;
}

/**
 * The tenant object's SQLite rows and what they become: the API's records and the
 * configuration pushed into each user's object.
 */
import type { UserConfig } from '../user/user-object.js';
import { randomToken } from '../shared/http.js';
import { DEFAULT_TENANT_LIMITS, policyOf, type Tenant, type TenantLimits, type User } from './model.js';
import { parsePush, pushView } from './push-config.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

export type TenantRow = {
  id: string;
  domain: string;
  name: string | null;
  limits: string;
  api_key_hash: string;
  token_secret: string;
  ice: string | null;
  push: string | null;
  created_at: string;
  updated_at: string;
};

export type UserRow = {
  id: string;
  display_name: string | null;
  enabled: number;
  ha1_md5: string | null;
  ha1_sha256: string | null;
  token_gen: string;
  created_at: string;
  updated_at: string;
};

export function newApiKey(tenant: string): string {
  return `sbk_${tenant}_${randomToken(24)}`;
}

export function toTenant(r: TenantRow): Tenant {
  return {
    id: r.id,
    domain: r.domain,
    name: r.name,
    limits: { ...DEFAULT_TENANT_LIMITS, ...(JSON.parse(r.limits) as Partial<TenantLimits>) },
    push: pushView(parsePush(r.push ?? null)),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function toUser(r: UserRow): User {
  return {
    id: r.id,
    displayName: r.display_name,
    enabled: r.enabled === 1,
    hasPassword: r.ha1_md5 !== null,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function configOf(t: Tenant, r: UserRow, gruuKey: string): UserConfig {
  return {
    policy: policyOf(t),
    credentials: { ha1Md5: r.ha1_md5, ha1Sha256: r.ha1_sha256, enabled: r.enabled === 1 },
    displayName: r.display_name,
    tokenGeneration: r.token_gen,
    gruuKey,
  };
}

const gruuKeys = new Map<string, string>();

/** The tenant's temporary-GRUU key: 32 bytes (AES-SIV-128) derived from its token secret, never stored apart. */
export function gruuKeyOf(tokenSecret: string): string {
  let key = gruuKeys.get(tokenSecret);
  if (!key) {
    key = bytesToHex(hmac(sha256, utf8ToBytes(tokenSecret), utf8ToBytes('switchboard temp-gruu key')));
    if (gruuKeys.size > 64) gruuKeys.clear();
    gruuKeys.set(tokenSecret, key);
  }
  return key;
}

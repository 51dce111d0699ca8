/**
 * Tenants, their limits, and users as the management API sees them.
 */
import { DEFAULT_LIMITS, type TenantPolicy } from '../../sip/io.js';

import type { TenantPushView } from './push-config.js';
export interface TenantLimits {
  readonly maxUsers: number;
  readonly maxDevicesPerUser: number;
  readonly maxSocketsPerUser: number;
  readonly ringTimeoutSeconds: number;
  readonly videoAllowed: boolean;
  readonly messagesPerSecond: number;
  readonly messageBurst: number;
  readonly maxCallsPerUser: number;
  readonly maxPendingRequestsPerUser: number;
  readonly maxUnauthenticatedSocketsPerUser: number;
  readonly maxUnauthenticatedSocketsPerAddress: number;
  readonly authFailuresPerAddress: number;
  readonly authFailuresPerUser: number;
  readonly flowGraceSeconds: number;
  readonly pushWaitSeconds: number;
}

export const DEFAULT_TENANT_LIMITS: TenantLimits = {
  maxUsers: 1000,
  maxDevicesPerUser: DEFAULT_LIMITS.maxDevices,
  maxSocketsPerUser: DEFAULT_LIMITS.maxSockets,
  ringTimeoutSeconds: DEFAULT_LIMITS.ringTimeoutMs / 1000,
  videoAllowed: DEFAULT_LIMITS.videoAllowed,
  messagesPerSecond: DEFAULT_LIMITS.messagesPerSecond,
  messageBurst: DEFAULT_LIMITS.messageBurst,
  maxCallsPerUser: DEFAULT_LIMITS.maxCalls,
  maxPendingRequestsPerUser: DEFAULT_LIMITS.maxForks,
  maxUnauthenticatedSocketsPerUser: DEFAULT_LIMITS.maxPendingSockets,
  maxUnauthenticatedSocketsPerAddress: DEFAULT_LIMITS.maxPendingSocketsPerAddress,
  authFailuresPerAddress: DEFAULT_LIMITS.authFailuresPerSource,
  authFailuresPerUser: DEFAULT_LIMITS.authFailuresPerUser,
  flowGraceSeconds: DEFAULT_LIMITS.flowGraceMs / 1000,
  pushWaitSeconds: DEFAULT_LIMITS.pushWaitMs / 1000,
};

export interface IceOverride {
  /** Per-tenant TURN REST settings that replace the deployment's. */
  readonly turnUrls?: readonly string[];
  readonly turnSecret?: string;
}

export interface Tenant {
  readonly id: string;
  readonly domain: string;
  readonly name: string | null;
  readonly limits: TenantLimits;
  /** The tenant's own push provider credentials, as the API shows them (no keys). */
  readonly push: TenantPushView;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface User {
  readonly id: string;
  readonly displayName: string | null;
  readonly enabled: boolean;
  readonly hasPassword: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export function defaultDomain(tenant: string): string {
  return `${tenant}.switchboard.invalid`;
}

/** The part of the tenant every user's object holds a copy of. */
export function policyOf(tenant: Tenant): TenantPolicy {
  return {
    tenant: tenant.id,
    domain: tenant.domain,
    maxDevices: tenant.limits.maxDevicesPerUser,
    maxSockets: tenant.limits.maxSocketsPerUser,
    ringTimeoutMs: tenant.limits.ringTimeoutSeconds * 1000,
    videoAllowed: tenant.limits.videoAllowed,
    messagesPerSecond: tenant.limits.messagesPerSecond,
    messageBurst: tenant.limits.messageBurst,
    maxCalls: tenant.limits.maxCallsPerUser,
    maxForks: tenant.limits.maxPendingRequestsPerUser,
    maxPendingSockets: tenant.limits.maxUnauthenticatedSocketsPerUser,
    maxPendingSocketsPerAddress: tenant.limits.maxUnauthenticatedSocketsPerAddress,
    authFailuresPerSource: tenant.limits.authFailuresPerAddress,
    authFailuresPerUser: tenant.limits.authFailuresPerUser,
    flowGraceMs: tenant.limits.flowGraceSeconds * 1000,
    pushWaitMs: tenant.limits.pushWaitSeconds * 1000,
  };
}

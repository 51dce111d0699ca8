/** What the user's object is told (identity, configuration) and what it tells (snapshot). */
import type { Credentials, TenantPolicy } from '../../sip/io.js';
import type { CallRecord } from './store.js';

export interface UserIdentity {
  readonly tenant: string;
  readonly user: string;
}

export interface UserConfig {
  readonly policy: TenantPolicy;
  readonly credentials: Credentials;
  readonly displayName: string | null;
  /** Tokens carry the generation they were issued in; a revocation changes it. */
  readonly tokenGeneration?: string;
  /** The tenant's key for temporary GRUUs (RFC 5627 §3.2), hex; derived from its token secret. */
  readonly gruuKey?: string;
}

export interface Registration {
  readonly contact: string;
  readonly userAgent: string | null;
  readonly since: number;
  readonly expiresAt: number;
  readonly instance: string | null;
}

export interface UserSnapshot {
  readonly registrations: Registration[];
  readonly calls: CallRecord[];
  readonly sockets: number;
}

/**
 * Failed logins per user, by address (sip/auth-guard.ts, the same rules as digest answers),
 * held in the tenant object's memory: bounded, the user whose guard changed longest ago
 * makes room.
 */
import { EMPTY_GUARD, checkGuard, recordFailure, recordSuccess, type AuthGuard } from '../../sip/policy/auth-guard.js';
import type { TenantPolicy } from '../../sip/io.js';

const MAX_USERS = 1024;

export class LoginGuards {
  private readonly guards = new Map<string, AuthGuard>();

  /** Seconds the address must wait before it may try this user again, or null. */
  lockedFor(user: string, source: string, now: number, policy: TenantPolicy): number | null {
    const verdict = checkGuard(this.guards.get(user) ?? EMPTY_GUARD, source, now, policy);
    return verdict.locked ? verdict.retryAfterSeconds : null;
  }

  failed(user: string, source: string, now: number, policy: TenantPolicy): void {
    this.put(user, recordFailure(this.guards.get(user) ?? EMPTY_GUARD, source, now, policy));
  }

  succeeded(user: string, source: string, now: number): void {
    this.put(user, recordSuccess(this.guards.get(user) ?? EMPTY_GUARD, source, now));
  }

  private put(user: string, guard: AuthGuard): void {
    this.guards.delete(user);
    this.guards.set(user, guard);
    if (this.guards.size > MAX_USERS) this.guards.delete(this.guards.keys().next().value!);
  }
}

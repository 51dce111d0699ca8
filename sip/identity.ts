/**
 * Names of tenants and users. A user id is also what a Request-URI's user part must name,
 * so it is restricted to characters that are safe in a SIP user part and in our Via
 * branches (which use `~` as a separator, see hops.ts).
 */

/** Tenant ids are DNS-label-like slugs. */
export const TENANT_ID_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** User ids: letters, digits and `_ . + -`, up to 64; a leading `+` allows E.164 numbers. */
export const USER_ID_RE = /^[A-Za-z0-9+][A-Za-z0-9_.+-]{0,63}$/;

export function isTenantId(s: string): boolean {
  return TENANT_ID_RE.test(s);
}

export function isUserId(s: string): boolean {
  return USER_ID_RE.test(s);
}

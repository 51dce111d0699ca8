/**
 * Names of tenants and users. A user id is also what a Request-URI's user part must name,
 * so it is restricted to characters that are safe in a SIP user part and in our Via
 * branches (which use `~` as a separator, see hops.ts).
 */

import { field, withHeaders, type HeaderField, type SipMessage } from '../message/message.js';
import { quote } from '../message/grammar.js';

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

/**
 * Headers by which a message claims who sent it. Only the service may assert an identity
 * (RFC 3325 §5: P-Asserted-Identity from an untrusted client is removed; RFC 3325 §9.1
 * P-Preferred-Identity is a wish the service does not take; Remote-Party-ID is the
 * pre-standard form of the same).
 */
const IDENTITY_KEYS = new Set(['p-asserted-identity', 'p-preferred-identity', 'remote-party-id']);

export function withoutIdentity<T extends SipMessage>(msg: T): T {
  return msg.headers.some((h) => IDENTITY_KEYS.has(h.key)) ? withHeaders(msg, msg.headers.filter((h) => !IDENTITY_KEYS.has(h.key))) : msg;
}

/** The identity the service asserts for an authenticated user toward the callee (RFC 3325 §9.1). */
export function assertedIdentity(user: string, domain: string, displayName: string | null | undefined): HeaderField {
  const name = displayName ? `${quote(displayName)} ` : '';
  return field('P-Asserted-Identity', `${name}<sip:${user}@${domain}>`);
}

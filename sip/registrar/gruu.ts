/**
 * GRUUs (RFC 5627): URIs that reach one device (one `+sip.instance`) of a user.
 *
 * - The public GRUU is the AOR with a `gr` parameter naming the instance (§3.1): anyone
 *   may see which user it is.
 * - A temporary GRUU hides the AOR (§3.2): its user part is the user and instance sealed
 *   with the tenant's key (AES-SIV, RFC 5297, with the domain as associated data), so
 *   only this tenant's objects can tell whom it reaches, and a forged or altered one
 *   opens to nothing. It stays valid while the tenant's key does and the device is
 *   registered; it is the same for the same device, so a refresh does not multiply them.
 */
import { aessiv } from '@noble/ciphers/aes.js';
import { bytesToHex, bytesToUtf8, hexToBytes, utf8ToBytes } from '@noble/ciphers/utils.js';

/** Marks a temporary GRUU's user part (a user id cannot contain `~`). */
const PREFIX = 'tgr~';
/** A sealed user (≤ 64) and instance (≤ 256) in hex, at most. */
const MAX_SEALED_HEX = 2 * (16 + 64 + 1 + 256);

/** RFC 5627 §3.1: the public GRUU is the AOR with a `gr` parameter naming the instance. */
export function publicGruu(user: string, domain: string, instance: string): string {
  const urn = instance.replace(/^<|>$/g, '');
  return `sip:${user}@${domain};gr=${urn}`;
}

/** Sealing is deterministic: a device's refreshes reuse its GRUU instead of sealing it again (bounded). */
const sealedCache = new Map<string, string>();

export function tempGruu(keyHex: string, user: string, domain: string, instance: string): string {
  const key = `${keyHex} ${domain} ${user} ${instance}`;
  let uri = sealedCache.get(key);
  if (uri === undefined) {
    const sealed = aessiv(hexToBytes(keyHex), utf8ToBytes(domain)).encrypt(utf8ToBytes(`${user}\n${instance}`));
    uri = `sip:${PREFIX}${bytesToHex(sealed)}@${domain};gr`;
    if (sealedCache.size >= 1024) sealedCache.clear();
    sealedCache.set(key, uri);
  }
  return uri;
}

/** The user and instance a temporary GRUU's user part reaches, or null if it is not one of ours. */
export function openTempGruu(keyHex: string | null | undefined, userPart: string, domain: string): { user: string; instance: string } | null {
  if (!keyHex || !userPart.startsWith(PREFIX)) return null;
  const hex = userPart.slice(PREFIX.length);
  if (hex.length > MAX_SEALED_HEX || hex.length % 2 !== 0 || !/^[0-9a-f]+$/.test(hex)) return null;
  try {
    const [user, instance, extra] = bytesToUtf8(aessiv(hexToBytes(keyHex), utf8ToBytes(domain)).decrypt(hexToBytes(hex))).split('\n');
    return user && instance && extra === undefined ? { user, instance } : null;
  } catch {
    // The tag did not verify: altered, or sealed with another tenant's key.
    return null;
  }
}

export function isTempGruuUser(userPart: string): boolean {
  return userPart.startsWith(PREFIX);
}

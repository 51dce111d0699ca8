/**
 * The repository's one constant-time comparison: digest responses and nonce MACs here, API
 * keys, admin tokens and login HA1s in the objects and the Worker. No library we depend on
 * offers a synchronous one that runs in the pure core (Hono's is async, on WebCrypto).
 */

/** Compares two strings in time that depends only on their lengths, never on where they differ. */
export function timingSafeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  return diff === 0;
}

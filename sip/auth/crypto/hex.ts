/** Hex and base64url encodings for the pure core (no Buffer, no btoa), and hash padding. */

import { utf8Encode } from '../../message/grammar.js';

/**
 * Merkle–Damgård padding shared by MD5 (RFC 1321 §3.1-3.2, little-endian length) and
 * SHA-256 (FIPS 180-4 §5.1.1, big-endian length): 0x80, zeros, then the 64-bit bit length.
 */
export function padMessage(input: string | Uint8Array, littleEndian: boolean): DataView {
  const data = typeof input === 'string' ? utf8Encode(input) : input;
  const bitLen = data.length * 8;
  const padded = new Uint8Array((((data.length + 8) >> 6) + 1) << 6);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  const hi = Math.floor(bitLen / 2 ** 32);
  const lo = bitLen >>> 0;
  view.setUint32(padded.length - 8, littleEndian ? lo : hi, littleEndian);
  view.setUint32(padded.length - 4, littleEndian ? hi : lo, littleEndian);
  return view;
}

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

export function toBase64Url(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    s += B64URL[(n >> 18) & 63]! + B64URL[(n >> 12) & 63]!;
    if (i + 1 < bytes.length) s += B64URL[(n >> 6) & 63]!;
    if (i + 2 < bytes.length) s += B64URL[n & 63]!;
  }
  return s;
}

/** Constant-time comparison of two strings (the time depends only on their lengths). */
export function timingSafeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  return diff === 0;
}

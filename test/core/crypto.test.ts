/**
 * The hashes the core computes with, from @noble/hashes, through the functions that digest
 * authentication and the stateless nonces call: published vectors and agreement with
 * node:crypto, and the one constant-time comparison.
 */
import { describe, expect, it } from 'vitest';
import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { checkNonce, createNonce, digestHash, hmacSha256Hex } from '../../sip/auth/digest.js';
import { timingSafeEqual } from '../../sip/auth/timing-safe-equal.js';

describe('MD5 (RFC 1321 appendix A.5 test suite)', () => {
  it.each([
    ['', 'd41d8cd98f00b204e9800998ecf8427e'],
    ['a', '0cc175b9c0f1b6a831c399e269772661'],
    ['abc', '900150983cd24fb0d6963f7d28e17f72'],
    ['message digest', 'f96b697d7cb7938d525a2f31aaf161d0'],
    ['abcdefghijklmnopqrstuvwxyz', 'c3fcd3d76192e4007dfb496cca67e13b'],
    ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', 'd174ab98d277d9f5a5611c2c9f419d9f'],
    ['12345678901234567890123456789012345678901234567890123456789012345678901234567890', '57edf4a22be3c955ac49da2e2107b67a'],
  ])('digestHash(MD5, %j)', (input, hex) => {
    expect(digestHash('MD5', input)).toBe(hex);
  });
});

describe('SHA-256 (FIPS 180-4 examples) and HMAC-SHA256 (RFC 4231)', () => {
  it('hashes the FIPS vectors', () => {
    expect(digestHash('SHA-256', 'abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(digestHash('SHA-256', '')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(digestHash('SHA-256', 'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });
  it('RFC 4231 test case 2', () => {
    expect(hmacSha256Hex('Jefe', 'what do ya want for nothing?')).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });
  it('RFC 4231 test case 6 (key longer than the block)', () => {
    const key = new Uint8Array(131).fill(0xaa);
    expect(hmacSha256Hex(key, 'Test Using Larger Than Block-Size Key - Hash Key First')).toBe(
      '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
    );
  });
  it('agrees with node:crypto on arbitrary unicode input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), fc.string({ maxLength: 100 }), (msg, key) => {
        expect(digestHash('MD5', msg)).toBe(createHash('md5').update(msg, 'utf8').digest('hex'));
        expect(digestHash('SHA-256', msg)).toBe(createHash('sha256').update(msg, 'utf8').digest('hex'));
        expect(hmacSha256Hex(key, msg)).toBe(createHmac('sha256', key).update(msg, 'utf8').digest('hex'));
      }),
      { numRuns: 300 },
    );
  });
  it('a nonce carries the first 128 bits of HMAC-SHA256 over its time, salt and connection', () => {
    const nonce = createNonce('nonce-secret', 1_700_000_000_000, 'salt1', 'conn1');
    const [ts, salt, mac] = nonce.split('.');
    expect(salt).toBe('salt1');
    expect(mac).toBe(createHmac('sha256', 'nonce-secret').update(`nonce:${ts}:salt1:conn1`).digest('hex').slice(0, 32));
    expect(checkNonce('nonce-secret', nonce, 1_700_000_000_000, 'conn1')).toBe('valid');
  });

  it('keys each secret apart, and each nonce from the untouched keyed state (past the cache bound too)', () => {
    const expected = (secret: string, salt: string) => createHmac('sha256', secret).update(`nonce:${(1_700_000_000).toString(36)}:${salt}:c`).digest('hex').slice(0, 32);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 1100; i += 7) {
        const secret = `secret-${i}`;
        const nonce = createNonce(secret, 1_700_000_000_000, `s${round}`, 'c');
        expect(nonce.split('.')[2]).toBe(expected(secret, `s${round}`));
        expect(checkNonce(`secret-${i + 1}`, nonce, 1_700_000_000_000, 'c')).toBe('invalid');
      }
    }
    for (let i = 0; i < 1100; i++) createNonce(`filler-${i}`, 1_700_000_000_000, 's', 'c');
    expect(createNonce('secret-0', 1_700_000_000_000, 'again', 'c').split('.')[2]).toBe(expected('secret-0', 'again'));
  });
});

describe('timingSafeEqual', () => {
  it('compares whole strings', () => {
    expect(timingSafeEqual('abc', 'abc')).toBe(true);
    expect(timingSafeEqual('abc', 'abd')).toBe(false);
    expect(timingSafeEqual('abc', 'abcd')).toBe(false);
    expect(timingSafeEqual('abcd', 'abc')).toBe(false);
    expect(timingSafeEqual('', '')).toBe(true);
    expect(timingSafeEqual('', 'a')).toBe(false);
  });
  it('agrees with === on arbitrary strings', () => {
    fc.assert(fc.property(fc.string(), fc.string(), (a, b) => timingSafeEqual(a, b) === (a === b)));
    fc.assert(fc.property(fc.string(), (a) => timingSafeEqual(a, `${a}`)));
  });
});

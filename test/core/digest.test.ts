import { describe, expect, it } from 'vitest';
import {
  challenges,
  checkNonce,
  computeHa1,
  createNonce,
  expectedResponse,
  parseDigestCredentials,
  verifyResponse,
  NONCE_LIFETIME_MS,
} from '../../sip/auth/digest.js';

describe('digest responses against published vectors', () => {
  it('RFC 2617 §3.5 (MD5, qop=auth)', () => {
    const creds = parseDigestCredentials(
      'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    )!;
    const ha1 = computeHa1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
    expect(expectedResponse(creds, 'GET', ha1)).toBe('6629fae49393a05397450978507c4ef1');
    expect(verifyResponse(creds, 'GET', ha1)).toBe(true);
    expect(verifyResponse(creds, 'POST', ha1)).toBe(false);
  });

  const rfc7616 = (alg: string, response: string) =>
    `Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=${alg}, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="${response}", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`;

  it('RFC 7616 §3.9.1 (MD5)', () => {
    const creds = parseDigestCredentials(rfc7616('MD5', '8ca523f5e9506fed4657c9700eebdbec'))!;
    expect(verifyResponse(creds, 'GET', computeHa1('MD5', 'Mufasa', 'http-auth@example.org', 'Circle of Life'))).toBe(true);
  });

  it('RFC 7616 §3.9.1 (SHA-256)', () => {
    const creds = parseDigestCredentials(rfc7616('SHA-256', '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1'))!;
    expect(creds.algorithm).toBe('SHA-256');
    const ha1 = computeHa1('SHA-256', 'Mufasa', 'http-auth@example.org', 'Circle of Life');
    expect(verifyResponse(creds, 'GET', ha1)).toBe(true);
    expect(verifyResponse({ ...creds, nc: '00000002' }, 'GET', ha1)).toBe(false);
  });

  it('without qop uses the RFC 2069 form', () => {
    const ha1 = computeHa1('MD5', 'alice', 'example.com', 'pw');
    const base = parseDigestCredentials('Digest username="alice", realm="example.com", nonce="n1", uri="sip:example.com", response="x"')!;
    const resp = expectedResponse(base, 'REGISTER', ha1);
    expect(verifyResponse({ ...base, response: resp }, 'REGISTER', ha1)).toBe(true);
  });
});

describe('credential parsing', () => {
  it('reads the header JsSIP sends (fixture trace)', () => {
    const c = parseDigestCredentials(
      'Digest algorithm=MD5, username="hbkwh4y3a", realm="127.0.0.1", nonce="awSO3WsEjbGlYtF2xxb2HhG8zBUHHYn6", uri="sip:127.0.0.1", response="849ae185778985be1203cc40790b9d6b", qop=auth, cnonce="0i2i0jqq6ffj", nc=00000001',
    );
    expect(c).toMatchObject({ username: 'hbkwh4y3a', realm: '127.0.0.1', uri: 'sip:127.0.0.1', qop: 'auth', nc: '00000001', algorithm: 'MD5' });
  });
  it('refuses other schemes, unknown algorithms and missing fields', () => {
    expect(parseDigestCredentials('Basic YWxhZGRpbjpvcGVuc2VzYW1l')).toBeNull();
    expect(parseDigestCredentials('Digest username="a", realm="r", nonce="n", uri="u", response="r", algorithm=SHA-512')).toBeNull();
    expect(parseDigestCredentials('Digest username="a", realm="r", nonce="n", uri="u"')).toBeNull();
    expect(parseDigestCredentials('Digest username="a')).toBeNull();
  });
  it('rejects qop values other than auth', () => {
    const c = parseDigestCredentials('Digest username="a", realm="r", nonce="n", uri="u", response="r", qop=auth-int, nc=00000001, cnonce="c"')!;
    expect(verifyResponse(c, 'REGISTER', 'x')).toBe(false);
  });
});

describe('stateless nonces', () => {
  const secret = 'k3y';
  const t0 = Date.UTC(2026, 10, 23, 12, 0, 0);
  it('are valid for five minutes, then stale', () => {
    const n = createNonce(secret, t0, 'salt1', 'conn1');
    expect(checkNonce(secret, n, t0, 'conn1')).toBe('valid');
    expect(checkNonce(secret, n, t0 + NONCE_LIFETIME_MS - 1000, 'conn1')).toBe('valid');
    expect(checkNonce(secret, n, t0 + NONCE_LIFETIME_MS + 1000, 'conn1')).toBe('stale');
  });
  it('are invalid when forged, under another secret, or from the future', () => {
    const n = createNonce(secret, t0, 'salt1', 'conn1');
    expect(checkNonce('other', n, t0, 'conn1')).toBe('invalid');
    expect(checkNonce(secret, n.slice(0, -1) + (n.endsWith('A') ? 'B' : 'A'), t0, 'conn1')).toBe('invalid');
    expect(checkNonce(secret, createNonce(secret, t0 + 3_600_000, 'salt2', 'conn1'), t0, 'conn1')).toBe('invalid');
    expect(checkNonce(secret, 'garbage', t0, 'conn1')).toBe('invalid');
  });
  it('are bound to the socket they were issued on', () => {
    const n = createNonce(secret, t0, 'salt1', 'conn1');
    expect(checkNonce(secret, n, t0, 'conn2')).toBe('invalid');
    expect(createNonce(secret, t0, 'salt1', 'conn2')).not.toBe(n);
  });
  it('challenges offer SHA-256 first and MD5 last (the one JsSIP and SIP.js read), with stale when asked', () => {
    const [sha, md5] = challenges('example.com', 'abc', true);
    expect(md5).toBe('Digest realm="example.com", nonce="abc", algorithm=MD5, qop="auth", stale=true');
    expect(sha).toContain('algorithm=SHA-256');
  });
});

import { describe, expect, it } from 'vitest';
import { exports } from 'cloudflare:workers';
import { BASE, Phone, Socket, addUser, newTenant, upgrade, what, withDigest } from './helpers.js';
import { TestUA, asResponse, statusOf } from '../support/ua.js';

describe('the WebSocket edge (RFC 7118)', () => {
  it('answers a plain GET with 426 and a one-line explanation', async () => {
    const res = await exports.default.fetch(`${BASE}/sip/acme/alice`);
    expect(res.status).toBe(426);
    const text = await res.text();
    expect(text.trim().split('\n')).toHaveLength(1);
    expect(text).toMatch(/"sip" subprotocol/);
  });

  it('answers an upgrade without the sip subprotocol with 426', async () => {
    const res = await upgrade('/sip/acme/alice', 'chat');
    expect(res.status).toBe(426);
  });

  it('upgrades with Sec-WebSocket-Protocol: sip, for a provisioned user', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    const sock = await Socket.open(`/sip/${t.id}/alice`);
    sock.close();
  });

  it('until a client authenticates, a missing user or tenant and a disabled user look exactly like a real one', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    await addUser(t, 'dora', { enabled: false });
    /** What an unauthenticated client can learn: the upgrade, the challenge, the answer to a wrong password. */
    const probe = async (tenant: string, user: string) => {
      const sock = await Socket.open(`/sip/${tenant}/${user}`);
      const ua = new TestUA(user, `${tenant}.sip.example`);
      const sent = ua.register();
      sock.send(sent.text);
      const challenge = await sock.next((x) => what(x).endsWith('REGISTER'));
      sock.send(withDigest(sent, challenge, user, 'a-guess'));
      const again = await sock.next((x) => what(x).endsWith('REGISTER'));
      sock.close();
      const shape = (x: string) => {
        const r = asResponse(x);
        return { status: r.status, reason: r.reason, headers: r.headers.map((h) => h.name), stale: /stale=true/.test(x), algorithms: [...x.matchAll(/algorithm=([\w-]+)/g)].map((m) => m[1]) };
      };
      return [shape(challenge), shape(again)];
    };
    const real = await probe(t.id, 'alice');
    expect(real[0]!.status).toBe(401);
    expect(real[1]!.status).toBe(401);
    expect(await probe(t.id, 'nobody')).toEqual(real);
    expect(await probe(t.id, 'dora')).toEqual(real);
    expect(await probe(`nosuch${Date.now()}`, 'alice')).toEqual(real);
  });

  it('a missing user keeps a real one’s caps too: the sixth pending socket of an address, and the sixth wrong answer', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    const behaviour = async (user: string, ip: string) => {
      const open = () => exports.default.fetch(`${BASE}/sip/${t.id}/${user}`, { headers: { Upgrade: 'websocket', 'Sec-WebSocket-Protocol': 'sip', 'CF-Connecting-IP': ip } });
      const statuses: number[] = [];
      const socks: Socket[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await open();
        statuses.push(res.status);
        if (res.status === 101) socks.push(Socket.wrap(res.webSocket!));
      }
      const [guesser] = socks;
      const finals: number[] = [];
      for (let i = 0; i < 6; i++) {
        const ua = new TestUA(user, t.domain);
        const sent = ua.register();
        guesser!.send(sent.text);
        const challenge = await guesser!.next((x) => what(x).endsWith('REGISTER'));
        guesser!.send(withDigest(sent, challenge, user, `guess-${i}`));
        finals.push(asResponse(await guesser!.next((x) => what(x).endsWith('REGISTER'))).status);
      }
      for (const s of socks) s.close();
      return { statuses, finals };
    };
    const real = await behaviour('alice', '198.51.100.1');
    expect(real).toEqual({ statuses: [101, 101, 101, 101, 101, 429], finals: [401, 401, 401, 401, 401, 503] });
    expect(await behaviour('nobody', '198.51.100.2')).toEqual(real);
  });

  it('reads a binary frame that is not all UTF-8 leniently: the socket stays up', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    const phone = await Phone.connect(t, 'alice');
    const text = phone.ua.request('OPTIONS', `sip:${t.domain}`, { headers: ['Subject: x'] }).text;
    const bytes = new TextEncoder().encode(text);
    bytes[text.indexOf('Subject: x') + 9] = 0xff;
    phone.sock.send(bytes.buffer as ArrayBuffer);
    expect(statusOf(await phone.sock.next('200 OPTIONS'))).toBe(200);
    expect(phone.sock.closed).toBeNull();
  });

  it('answers the RFC 5626 CRLF keepalive with CRLF', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    const sock = await Socket.open(`/sip/${t.id}/alice`);
    sock.send('\r\n\r\n');
    await new Promise((r) => setTimeout(r, 200));
    expect(sock.rawInbox()).toEqual(['\r\n']);
    sock.close();
  });

  it('accepts SIP in binary frames as well as text frames', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    const phone = await Phone.connect(t, 'alice');
    const ua = new TestUA('alice', t.domain);
    phone.sock.send(new TextEncoder().encode(ua.request('OPTIONS', `sip:${t.domain}`).text).buffer as ArrayBuffer);
    expect(statusOf(await phone.sock.next('200 OPTIONS'))).toBe(200);
    phone.sock.close();
  });

  it('answers a malformed message with 400 and the socket stays usable', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    const phone = await Phone.connect(t, 'alice');
    phone.sock.send('INVITE sip:bob@x SIP/2.0\r\nVia: SIP/2.0/WSS h.invalid;branch=z9hG4bK1\r\nTo: <sip:bob@x>\r\nFrom: <sip:alice@x>;tag=1\r\nCSeq: 1 INVITE\r\n\r\n');
    const bad = await phone.sock.next((t) => t.startsWith('SIP/2.0 400'));
    expect(bad.split('\r\n')[0]).toBe('SIP/2.0 400 Missing Call-ID header');
    phone.sock.send('this is not SIP at all');
    expect((await phone.sock.next((t) => t.startsWith('SIP/2.0 400'))).split('\r\n')[0]).toBe('SIP/2.0 400 Malformed request line');
    await phone.register();
    phone.sock.close();
  });

  it.each([
    ['SIP/3.0', (x: string) => x.replace('SIP/2.0\r\n', 'SIP/3.0\r\n'), 505],
    ['an unknown URI scheme', (x: string) => x.replace(/^OPTIONS \S+/, 'OPTIONS urn:service:sos'), 416],
    ['Max-Forwards: 0', (x: string) => x.replace('Max-Forwards: 70', 'Max-Forwards: 0'), 483],
    ['an unsupported Require', (x: string) => x.replace('\r\n\r\n', '\r\nRequire: timer, magic\r\n\r\n'), 420],
  ] as const)('answers %s with %i', async (_name, mangle, status) => {
    const t = await newTenant();
    await addUser(t, 'alice');
    const phone = await Phone.connect(t, 'alice');
    phone.sock.send(mangle(phone.ua.request('OPTIONS', `sip:${t.domain}`).text));
    const res = await phone.sock.next((x) => x.startsWith('SIP/2.0'));
    expect(statusOf(res)).toBe(status);
    if (status === 420) expect(res).toContain('Unsupported: timer, magic');
  });

  it('answers a message over 64 KiB with 513', async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    const phone = await Phone.connect(t, 'alice');
    const big = phone.ua.request('MESSAGE', `sip:bob@${t.domain}`, { body: 'x'.repeat(70 * 1024), contentType: 'text/plain' });
    phone.sock.send(big.text);
    expect(what(await phone.sock.next())).toBe('513 MESSAGE');
    phone.sock.close();
  });
});

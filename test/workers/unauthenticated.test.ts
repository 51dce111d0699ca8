/**
 * Issue 11 point 3, in real time: every socket that does not authenticate closes 30–32 s
 * after it opened, however the sockets are staggered (one alarm plan, never re-armed in
 * the past from inside the alarm handler).
 */
import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { BASE, Phone, Socket, addUser, newTenant, what } from './helpers.js';

describe('3. the unauthenticated timeout', () => {
  it('closes each of ten staggered sockets 30–32 s after it opened, and leaves a signed-in one open', { timeout: 60_000 }, async () => {
    const t = await newTenant();
    await addUser(t, 'alice');
    const authed = await Phone.connect(t, 'alice');
    const opened: Array<{ at: number; sock: Socket }> = [];
    const closedAt = new Map<Socket, number>();
    // Four a second apart, then six within a few hundred ms, from addresses of their own.
    const gaps = [0, 1000, 1000, 1000, 150, 150, 150, 150, 150, 150];
    for (const [i, gap] of gaps.entries()) {
      await new Promise((r) => setTimeout(r, gap));
      const res = await exports.default.fetch(`${BASE}/sip/${t.id}/alice`, { headers: { Upgrade: 'websocket', 'Sec-WebSocket-Protocol': 'sip', 'CF-Connecting-IP': `192.0.2.${i + 1}` } });
      expect(res.status).toBe(101);
      const sock = Socket.wrap(res.webSocket!);
      opened.push({ at: Date.now(), sock });
      sock.ws.addEventListener('close', () => closedAt.set(sock, Date.now()));
    }
    await Promise.all(opened.map(({ sock }) => sock.waitClosed(40_000)));
    for (const { at, sock } of opened) {
      expect(sock.closed).toMatchObject({ code: 1008, reason: 'not authenticated within 30 s' });
      const life = closedAt.get(sock)! - at;
      expect(life).toBeGreaterThanOrEqual(29_900);
      expect(life).toBeLessThanOrEqual(32_000);
    }
    authed.sock.send(authed.ua.request('OPTIONS', `sip:${t.domain}`).text);
    expect(what(await authed.sock.next('200 OPTIONS'))).toBe('200 OPTIONS');
  });
});

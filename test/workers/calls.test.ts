import { beforeEach, describe, expect, it } from 'vitest';
import { Phone, addUser, newTenant, what, type TestTenant } from './helpers.js';
import { PLAIN_SDP, asRequest, asResponse, bodyOf, methodOf, statusOf, webrtcSdp, type SentRequest, type UaDialog } from '../support/ua.js';
import { header } from '../../sip/message/message.js';

let t: TestTenant;
let alice: Phone;
let bob: Phone;

beforeEach(async () => {
  t = await newTenant({ ringTimeoutSeconds: 5 });
  for (const u of ['alice', 'bob', 'carol']) await addUser(t, u);
  alice = await Phone.connect(t, 'alice');
  bob = await Phone.connect(t, 'bob');
  await alice.register();
  await bob.register();
});

async function ring(): Promise<{ invite: SentRequest; atBob: string }> {
  const invite = alice.ua.invite('bob');
  alice.sock.send(invite.text);
  await alice.sock.next('100 INVITE');
  const atBob = await bob.sock.next('INVITE');
  bob.sock.send(bob.ua.respond(atBob, 180, { toTag: 'bt' }));
  await alice.sock.next('180 INVITE');
  return { invite, atBob };
}

async function answer(invite: SentRequest, atBob: string): Promise<{ ad: UaDialog; bd: UaDialog; sdp: string }> {
  const sdp = webrtcSdp({ session: '4242' });
  bob.sock.send(bob.ua.respond(atBob, 200, { toTag: 'bt', body: sdp }));
  const ok = await alice.sock.next('200 INVITE');
  expect(bodyOf(ok)).toBe(sdp);
  const ad = alice.ua.dialogAsCaller(invite, ok);
  alice.sock.send(alice.ua.inDialog(ad, 'ACK').text);
  await bob.sock.next('ACK');
  return { ad, bd: bob.ua.dialogAsCallee(atBob, 'bt'), sdp };
}

describe('calls through two users’ objects over real WebSockets', () => {
  it('rings, answers, ACKs, and the callee hangs up; the SDP is byte-for-byte the same', async () => {
    const { invite, atBob } = await ring();
    expect(bodyOf(atBob)).toBe(bodyOf(invite.text));
    expect(asRequest(atBob).uri).toBe(bob.ua.contactUri);
    const { bd } = await answer(invite, atBob);
    bob.sock.send(bob.ua.inDialog(bd, 'BYE').text);
    const bye = await alice.sock.next('BYE');
    alice.sock.send(alice.ua.respond(bye, 200));
    await bob.sock.next('200 BYE');
  });

  it('the caller hangs up', async () => {
    const { invite, atBob } = await ring();
    const { ad } = await answer(invite, atBob);
    alice.sock.send(alice.ua.inDialog(ad, 'BYE').text);
    const bye = await bob.sock.next('BYE');
    bob.sock.send(bob.ua.respond(bye, 200));
    await alice.sock.next('200 BYE');
  });

  it('holds with a re-INVITE in both directions, SDP unchanged', async () => {
    const { invite, atBob } = await ring();
    const { ad, bd } = await answer(invite, atBob);
    const hold = webrtcSdp({ session: '5' }).replace('a=sendrecv', 'a=sendonly');
    alice.sock.send(alice.ua.inDialog(ad, 'INVITE', { body: hold }).text);
    const re = await bob.sock.next('INVITE');
    expect(bodyOf(re)).toBe(hold);
    const held = webrtcSdp({ session: '6' }).replace('a=sendrecv', 'a=recvonly');
    bob.sock.send(bob.ua.respond(re, 200, { body: held }));
    expect(bodyOf(await alice.sock.next('200 INVITE'))).toBe(held);
    alice.sock.send(alice.ua.inDialog(ad, 'ACK').text);
    await bob.sock.next('ACK');
    const resume = webrtcSdp({ session: '7' });
    bob.sock.send(bob.ua.inDialog(bd, 'INVITE', { body: resume }).text);
    expect(bodyOf(await alice.sock.next('INVITE'))).toBe(resume);
  });

  it('routes in-dialog UPDATE, INFO, MESSAGE, REFER and NOTIFY both ways, with their answers', async () => {
    const { invite, atBob } = await ring();
    const { ad, bd } = await answer(invite, atBob);
    for (const method of ['UPDATE', 'INFO', 'MESSAGE', 'REFER', 'NOTIFY']) {
      const headers = method === 'REFER' ? [`Refer-To: <sip:carol@${t.domain}>`] : method === 'NOTIFY' ? ['Event: refer', 'Subscription-State: active'] : [];
      const body = method === 'UPDATE' ? webrtcSdp({ session: '9' }) : '';
      for (const [from, d, to] of [
        [alice, ad, bob],
        [bob, bd, alice],
      ] as const) {
        from.sock.send(from.ua.inDialog(d, method, { headers, body }).text);
        const got = await to.sock.next(method);
        expect(bodyOf(got)).toBe(body);
        const status = method === 'REFER' ? 202 : 200;
        to.sock.send(to.ua.respond(got, status, { contact: false }));
        await from.sock.next(`${status} ${method}`);
      }
    }
  });

  it('forks to two of bob’s devices; the losing branch is CANCELled', async () => {
    const bob2 = await Phone.connect(t, 'bob');
    await bob2.register();
    const invite = alice.ua.invite('bob');
    alice.sock.send(invite.text);
    const at1 = await bob.sock.next('INVITE');
    const at2 = await bob2.sock.next('INVITE');
    bob2.sock.send(bob2.ua.respond(at2, 180, { toTag: 'b2' }));
    await alice.sock.next('180 INVITE');
    bob.sock.send(bob.ua.respond(at1, 200, { toTag: 'b1', body: webrtcSdp() }));
    await alice.sock.next('200 INVITE');
    const cancel = await bob2.sock.next('CANCEL');
    bob2.sock.send(bob2.ua.respond(cancel, 200));
    bob2.sock.send(bob2.ua.respond(at2, 487, { toTag: 'b2' }));
    await bob2.sock.next('ACK');
    await alice.sock.quiet(300, '487');
  });

  it('CANCEL: 200 for the CANCEL, CANCEL to the branch, 487 for the INVITE', async () => {
    const { invite, atBob } = await ring();
    alice.sock.send(alice.ua.cancel(invite));
    await alice.sock.next('200 CANCEL');
    const cancel = await bob.sock.next('CANCEL');
    bob.sock.send(bob.ua.respond(cancel, 200));
    bob.sock.send(bob.ua.respond(atBob, 487, { toTag: 'bt' }));
    const terminated = await alice.sock.next('487 INVITE');
    alice.sock.send(alice.ua.ackNon2xx(invite, terminated));
    await bob.sock.next('ACK');
  });

  it('404 for an unknown user, 480 for one with no binding', async () => {
    alice.sock.send(alice.ua.invite('nobody').text);
    expect(statusOf(await alice.sock.next((x) => what(x).endsWith('INVITE') && !what(x).startsWith('100')))).toBe(404);
    alice.sock.send(alice.ua.invite('carol').text);
    expect(statusOf(await alice.sock.next((x) => what(x).endsWith('INVITE') && !what(x).startsWith('100')))).toBe(480);
  });

  it.each([486, 603])('passes a %i refusal back', async (status) => {
    const invite = alice.ua.invite('bob');
    alice.sock.send(invite.text);
    const atBob = await bob.sock.next('INVITE');
    bob.sock.send(bob.ua.respond(atBob, status));
    await bob.sock.next('ACK');
    expect(statusOf(await alice.sock.next(`${status} INVITE`))).toBe(status);
  });

  it('ring timeout on the alarm: CANCEL to the branch and 480 to the caller', async () => {
    await ring();
    const started = Date.now();
    await bob.sock.next('CANCEL', 8000);
    const res = await alice.sock.next('480 INVITE', 3000);
    expect(Date.now() - started).toBeGreaterThan(4000);
    expect(header(asResponse(res), 'reason')).toMatch(/Ring timeout/);
  });

  it('the caller’s socket drops mid-ringing: the callee gets CANCEL', async () => {
    await ring();
    alice.sock.close();
    await bob.sock.next('CANCEL');
  });

  it('the callee’s socket drops mid-ringing: the caller gets 480', async () => {
    await ring();
    bob.sock.close();
    await alice.sock.next('480 INVITE');
  });

  it('refuses a spoofed From and a foreign Route with 403, relaying nothing', async () => {
    alice.sock.send(alice.ua.invite('bob', { from: `<sip:carol@${t.domain}>` }).text);
    const spoof = await alice.sock.next((x) => x.startsWith('SIP/2.0 403'));
    expect(asResponse(spoof).reason).toMatch(/From/);
    alice.sock.send(alice.ua.invite('bob', { headers: ['Route: <sip:evil.example.com;lr>'] }).text);
    const relay = await alice.sock.next((x) => x.startsWith('SIP/2.0 403'));
    expect(asResponse(relay).reason).toMatch(/Route/);
    await bob.sock.quiet(200);
  });

  it('answers 488 with a Warning to a non-WebRTC offer', async () => {
    alice.sock.send(alice.ua.invite('bob', { body: PLAIN_SDP }).text);
    const res = await alice.sock.next('488 INVITE');
    expect(header(asResponse(res), 'warning')).toMatch(/not a WebRTC SDP/);
  });

  it('relays an out-of-dialog MESSAGE and answers OPTIONS to the service', async () => {
    alice.sock.send(alice.ua.request('MESSAGE', `sip:bob@${t.domain}`, { body: 'hi', contentType: 'text/plain', contact: null }).text);
    const msg = await bob.sock.next('MESSAGE');
    expect(bodyOf(msg)).toBe('hi');
    bob.sock.send(bob.ua.respond(msg, 200, { contact: false }));
    await alice.sock.next('200 MESSAGE');
    alice.sock.send(alice.ua.request('OPTIONS', `sip:${t.domain}`).text);
    const opts = asResponse(await alice.sock.next('200 OPTIONS'));
    expect(header(opts, 'allow')).toContain('INVITE');
    expect(methodOf(alice.ua.request('OPTIONS', `sip:${t.domain}`).text)).toBe('OPTIONS');
  });
});

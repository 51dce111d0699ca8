import { beforeEach, describe, expect, it } from 'vitest';
import { Sim, DOMAIN, registeredPair } from '../support/sim.js';
import { TestUA, PLAIN_SDP, asRequest, asResponse, bodyOf, describe as what, methodOf, statusOf, webrtcSdp, type SentRequest, type UaDialog } from '../support/ua.js';
import { header, headerLines } from '../../sip/message/message.js';
import { nameAddrs, vias } from '../../sip/message/headers.js';

let sim: Sim;
let alice: TestUA;
let bob: TestUA;
let a: string;
let b: string;

function register(user: string, ua: TestUA): string {
  const conn = sim.connect(user);
  sim.send(conn, ua.register().text);
  expect(statusOf(sim.take(conn)[0]!)).toBe(200);
  return conn;
}

beforeEach(() => {
  sim = new Sim();
  for (const u of ['alice', 'bob', 'carol']) sim.addUser(u);
  alice = new TestUA('alice', DOMAIN);
  bob = new TestUA('bob', DOMAIN);
  a = register('alice', alice);
  b = register('bob', bob);
});

/** Alice calls bob; bob's device rings. Returns the INVITE as sent and as bob received it. */
function ring(): { invite: SentRequest; atBob: string } {
  const invite = alice.invite('bob');
  sim.send(a, invite.text);
  expect(sim.take(a).map(what)).toEqual(['100 INVITE']);
  const [atBob] = sim.take(b);
  expect(methodOf(atBob!)).toBe('INVITE');
  sim.send(b, bob.respond(atBob!, 180, { toTag: 'bobtag' }));
  expect(sim.take(a).map(what)).toEqual(['180 INVITE']);
  return { invite, atBob: atBob! };
}

/** A confirmed call: returns both UA dialogs. */
function connect(): { invite: SentRequest; atBob: string; ad: UaDialog; bd: UaDialog; answer: string } {
  const { invite, atBob } = ring();
  const answer = webrtcSdp({ session: '42' });
  const ok = bob.respond(atBob, 200, { toTag: 'bobtag', body: answer });
  sim.send(b, ok);
  const [okAtAlice] = sim.take(a);
  expect(what(okAtAlice!)).toBe('200 INVITE');
  const ad = alice.dialogAsCaller(invite, okAtAlice!);
  sim.send(a, alice.inDialog(ad, 'ACK').text);
  expect(sim.take(b).map(what)).toEqual(['ACK']);
  return { invite, atBob, ad, bd: bob.dialogAsCallee(atBob, 'bobtag'), answer };
}

describe('a call through both objects', () => {
  it('rings, answers, ACKs and hangs up from the callee, with SDP byte-for-byte', () => {
    const { invite, atBob } = ring();
    const req = asRequest(atBob);
    expect(req.uri).toBe(bob.contactUri);
    expect(bodyOf(atBob)).toBe(bodyOf(invite.text));
    expect(vias(req)!.length).toBe(3);
    expect(nameAddrs(req, 'record-route')!.map((r) => r.uriText)).toEqual([`sip:${DOMAIN};transport=ws;lr`]);
    expect(header(req, 'max-forwards')).toBe('68');

    const answer = webrtcSdp({ session: '7' });
    sim.send(b, bob.respond(atBob, 200, { toTag: 'bobtag', body: answer }));
    const [ok] = sim.take(a);
    expect(bodyOf(ok!)).toBe(answer);
    expect(vias(asResponse(ok!))!.length).toBe(1);
    const ad = alice.dialogAsCaller(invite, ok!);
    expect(ad.routeSet).toEqual([`<sip:${DOMAIN};transport=ws;lr>`]);
    sim.send(a, alice.inDialog(ad, 'ACK').text);
    const [ack] = sim.take(b);
    expect(asRequest(ack!).uri).toBe(bob.contactUri);
    expect(headerLines(asRequest(ack!), 'route')).toEqual([]);

    const aliceCall = sim.state('alice').dialogs[0]!;
    const bobCall = sim.state('bob').dialogs[0]!;
    expect(aliceCall).toMatchObject({ state: 'confirmed', direction: 'out', peer: 'bob', conn: a, remote: expect.objectContaining({ tag: 'bobtag' }) });
    expect(bobCall).toMatchObject({ state: 'confirmed', direction: 'in', peer: 'alice', conn: b });
    expect(aliceCall.offer).toEqual({ kinds: ['audio'], codecs: ['opus', 'G722', 'PCMU', 'PCMA'] });
    expect(bobCall.answer?.kinds).toEqual(['audio']);

    const bd = bob.dialogAsCallee(atBob, 'bobtag');
    const bye = bob.inDialog(bd, 'BYE');
    sim.send(b, bye.text);
    const [byeAtAlice] = sim.take(a);
    expect(methodOf(byeAtAlice!)).toBe('BYE');
    expect(asRequest(byeAtAlice!).uri).toBe(alice.contactUri);
    sim.send(a, alice.respond(byeAtAlice!, 200));
    expect(sim.take(b).map(what)).toEqual(['200 BYE']);
    expect(sim.state('alice').dialogs[0]).toMatchObject({ state: 'ended', endReason: 'callee-bye' });
    expect(sim.state('bob').dialogs[0]).toMatchObject({ state: 'ended', endReason: 'callee-bye' });
  });

  it('hangs up from the caller', () => {
    const { ad } = connect();
    sim.send(a, alice.inDialog(ad, 'BYE').text);
    const [byeAtBob] = sim.take(b);
    expect(methodOf(byeAtBob!)).toBe('BYE');
    sim.send(b, bob.respond(byeAtBob!, 200));
    expect(sim.take(a).map(what)).toEqual(['200 BYE']);
    expect(sim.state('bob').dialogs[0]).toMatchObject({ state: 'ended', endReason: 'caller-bye' });
  });

  it('holds and resumes with re-INVITE, SDP unchanged both ways', () => {
    const { ad } = connect();
    const hold = webrtcSdp({ session: '99' }).replace('a=sendrecv', 'a=sendonly');
    const reinvite = alice.inDialog(ad, 'INVITE', { body: hold });
    sim.send(a, reinvite.text);
    expect(sim.take(a).map(what)).toEqual(['100 INVITE']);
    const [atBob] = sim.take(b);
    expect(bodyOf(atBob!)).toBe(hold);
    const held = webrtcSdp({ session: '100' }).replace('a=sendrecv', 'a=recvonly');
    sim.send(b, bob.respond(atBob!, 200, { body: held }));
    const [ok] = sim.take(a);
    expect(what(ok!)).toBe('200 INVITE');
    expect(bodyOf(ok!)).toBe(held);
    sim.send(a, alice.inDialog(ad, 'ACK').text);
    expect(sim.take(b).map(what)).toEqual(['ACK']);
  });

  it.each(['UPDATE', 'INFO', 'MESSAGE', 'REFER', 'NOTIFY'])('routes an in-dialog %s both ways, and its answer back', (method) => {
    const { ad, bd } = connect();
    const body = method === 'UPDATE' ? webrtcSdp({ session: '11' }) : method === 'INFO' ? 'Signal=5\r\nDuration=160\r\n' : '';
    const headers = method === 'REFER' ? [`Refer-To: <sip:carol@${DOMAIN}>`] : method === 'NOTIFY' ? ['Event: refer', 'Subscription-State: active'] : [];
    for (const [from, fromConn, d, to, toConn] of [
      [alice, a, ad, bob, b],
      [bob, b, bd, alice, a],
    ] as const) {
      sim.send(fromConn, from.inDialog(d, method, { body, headers }).text);
      const [got] = sim.take(toConn);
      expect(methodOf(got!)).toBe(method);
      expect(bodyOf(got!)).toBe(body);
      sim.send(toConn, to.respond(got!, method === 'REFER' ? 202 : 200, { contact: false }));
      expect(sim.take(fromConn).map(what)).toEqual([`${method === 'REFER' ? 202 : 200} ${method}`]);
    }
  });

  it('routes PRACK in an early dialog to the branch that sent the reliable provisional', () => {
    const invite = alice.invite('bob', { headers: ['Supported: 100rel'] });
    sim.send(a, invite.text);
    sim.take(a);
    const [atBob] = sim.take(b);
    sim.send(b, bob.respond(atBob!, 183, { toTag: 'early', body: webrtcSdp({ session: '3' }), headers: ['Require: 100rel', 'RSeq: 1'] }));
    const [progress] = sim.take(a);
    expect(what(progress!)).toBe('183 INVITE');
    const early = alice.dialogAsCaller(invite, progress!);
    sim.send(a, alice.inDialog(early, 'PRACK', { headers: [`RAck: 1 ${invite.cseq} INVITE`] }).text);
    const [prack] = sim.take(b);
    expect(methodOf(prack!)).toBe('PRACK');
    sim.send(b, bob.respond(prack!, 200, { contact: false }));
    expect(sim.take(a).map(what)).toEqual(['200 PRACK']);
  });

  it('inserts Max-Forwards: 70 when the request has none (§16.6 step 3)', () => {
    const invite = alice.invite('bob');
    sim.send(a, invite.text.replace('Max-Forwards: 70\r\n', ''));
    sim.take(a);
    expect(header(asRequest(sim.take(b)[0]!), 'max-forwards')).toBe('69');
  });

  it('routes in-dialog requests addressed to a JsSIP-style GRUU', () => {
    sim = new Sim();
    for (const u of ['alice', 'bob']) sim.addUser(u);
    alice = new TestUA('alice', DOMAIN, 'd915785f-78af-4cda-b347-4b0f0acf8313');
    bob = new TestUA('bob', DOMAIN);
    a = register('alice', alice);
    b = register('bob', bob);
    const gruu = `sip:alice@${DOMAIN};gr=urn:uuid:d915785f-78af-4cda-b347-4b0f0acf8313`;
    const invite = alice.invite('bob', { contact: gruu });
    sim.send(a, invite.text);
    sim.take(a);
    const [atBob] = sim.take(b);
    sim.send(b, bob.respond(atBob!, 200, { toTag: 't', body: webrtcSdp() }));
    const ad = alice.dialogAsCaller(invite, sim.take(a)[0]!);
    sim.send(a, alice.inDialog(ad, 'ACK').text);
    sim.take(b);
    const bd = bob.dialogAsCallee(atBob!, 't');
    expect(bd.remoteTarget).toBe(gruu);
    sim.send(b, bob.inDialog(bd, 'BYE').text);
    const [bye] = sim.take(a);
    expect(asRequest(bye!).uri).toBe(gruu);
  });

  it('forks to two devices: the first 2xx wins and the other branch is CANCELled', () => {
    const bob2 = new TestUA('bob', DOMAIN);
    const b2 = register('bob', bob2);
    const invite = alice.invite('bob');
    sim.send(a, invite.text);
    sim.take(a);
    const [at1] = sim.take(b);
    const [at2] = sim.take(b2);
    expect(asRequest(at1!).uri).toBe(bob.contactUri);
    expect(asRequest(at2!).uri).toBe(bob2.contactUri);
    expect(vias(asRequest(at1!))![0]!.branch).not.toBe(vias(asRequest(at2!))![0]!.branch);
    sim.send(b2, bob2.respond(at2!, 180, { toTag: 'two' }));
    sim.send(b, bob.respond(at1!, 200, { toTag: 'one', body: webrtcSdp() }));
    expect(sim.take(a).map(what)).toEqual(['180 INVITE', '200 INVITE']);
    const [cancel] = sim.take(b2);
    expect(methodOf(cancel!)).toBe('CANCEL');
    expect(vias(asRequest(cancel!))![0]!.branch).toBe(vias(asRequest(at2!))![0]!.branch);
    sim.send(b2, bob2.respond(cancel!, 200));
    sim.send(b2, bob2.respond(at2!, 487, { toTag: 'two' }));
    expect(sim.take(b2).map(what)).toEqual(['ACK']);
    expect(sim.take(a)).toEqual([]);
    expect(sim.state('bob').forks).toHaveLength(0);
    expect(sim.state('bob').dialogs[0]).toMatchObject({ state: 'confirmed', conn: b, local: expect.objectContaining({ tag: 'one' }) });
  });

  it('CANCEL from the caller: 200 for the CANCEL, CANCEL to each branch, 487 for the INVITE', () => {
    const { invite, atBob } = ring();
    sim.send(a, alice.cancel(invite));
    expect(sim.take(a).map(what)).toEqual(['200 CANCEL']);
    const [cancel] = sim.take(b);
    expect(methodOf(cancel!)).toBe('CANCEL');
    sim.send(b, bob.respond(cancel!, 200));
    sim.send(b, bob.respond(atBob, 487, { toTag: 'bobtag' }));
    expect(sim.take(b).map(what)).toEqual(['ACK']);
    const [terminated] = sim.take(a);
    expect(what(terminated!)).toBe('487 INVITE');
    sim.send(a, alice.ackNon2xx(invite, terminated!));
    expect(sim.take(b)).toEqual([]);
    expect(sim.state('alice').dialogs[0]).toMatchObject({ state: 'ended', finalStatus: 487, endReason: 'canceled' });
  });

  it.each([
    [486, 'Busy Here'],
    [603, 'Decline'],
  ])('passes the callee refusal %i back to the caller', (status, reason) => {
    const invite = alice.invite('bob');
    sim.send(a, invite.text);
    sim.take(a);
    const [atBob] = sim.take(b);
    sim.send(b, bob.respond(atBob!, status, { reason }));
    expect(sim.take(b).map(what)).toEqual(['ACK']);
    const [res] = sim.take(a);
    expect(statusOf(res!)).toBe(status);
    expect(asResponse(res!).reason).toBe(reason);
  });

  it('404 for an unknown user and 480 for a user with no binding', () => {
    sim.send(a, alice.invite('nobody').text);
    expect(sim.take(a).map(what)).toEqual(['100 INVITE', '404 INVITE']);
    sim.send(a, alice.invite('carol').text);
    expect(sim.take(a).map(what)).toEqual(['100 INVITE', '480 INVITE']);
  });

  it('ring timeout: CANCEL to the branches and 480 to the caller', () => {
    const { atBob } = ring();
    sim.advance(59_000);
    expect(sim.take(a)).toEqual([]);
    sim.advance(1_000);
    expect(sim.take(b).map(what)).toEqual(['CANCEL']);
    expect(sim.take(a).map(what)).toEqual(['480 INVITE']);
    sim.send(b, bob.respond(atBob, 487, { toTag: 'bobtag' }));
    expect(sim.take(a)).toEqual([]);
  });

  it('the best failure wins across branches (§16.7): busy beats unavailable', () => {
    const bob2 = new TestUA('bob', DOMAIN);
    const b2 = register('bob', bob2);
    sim.send(a, alice.invite('bob').text);
    sim.take(a);
    const [at1] = sim.take(b);
    const [at2] = sim.take(b2);
    sim.send(b, bob.respond(at1!, 480));
    expect(sim.take(a)).toEqual([]);
    sim.send(b2, bob2.respond(at2!, 486));
    expect(sim.take(a).map(what)).toEqual(['486 INVITE']);
  });
});

describe('lost sockets leave no ghost calls', () => {
  // A tenant that holds no call for its device to come back (flowGraceSeconds 0); the
  // default grace is tested in flow.test.ts.
  beforeEach(() => {
    sim.policy = { ...sim.policy, flowGraceMs: 0 };
  });

  it('the caller drops while ringing: the branch is CANCELled', () => {
    const { atBob } = ring();
    sim.close(a);
    expect(sim.take(b).map(what)).toEqual(['CANCEL']);
    sim.send(b, bob.respond(atBob, 487, { toTag: 'bobtag' }));
    expect(sim.state('bob').forks).toHaveLength(0);
    expect(sim.state('alice').dialogs[0]).toMatchObject({ state: 'ended', endReason: 'caller-gone' });
  });

  it('the callee drops while ringing: its branch fails and the caller gets 480', () => {
    ring();
    sim.close(b);
    expect(sim.take(a).map(what)).toEqual(['480 INVITE']);
  });

  it('the caller drops mid-call: the callee gets BYE', () => {
    connect();
    sim.close(a);
    const [bye] = sim.take(b);
    expect(methodOf(bye!)).toBe('BYE');
    expect(header(asRequest(bye!), 'reason')).toMatch(/cause=480/);
    sim.send(b, bob.respond(bye!, 200));
    expect(sim.state('bob').dialogs[0]).toMatchObject({ state: 'ended' });
  });

  it('the callee drops mid-call: the caller gets BYE in its dialog', () => {
    const { ad } = connect();
    sim.close(b);
    const [bye] = sim.take(a);
    const req = asRequest(bye!);
    expect(req.method).toBe('BYE');
    expect(header(req, 'to')).toContain(`tag=${ad.localTag}`);
    expect(header(req, 'from')).toContain(`tag=${ad.remoteTag}`);
    sim.send(a, alice.respond(bye!, 200));
    expect(sim.state('alice').dialogs[0]).toMatchObject({ state: 'ended', endReason: 'callee-bye' });
  });

  it('the BYE on a lost socket’s behalf goes to the peer’s refreshed target (§12.2.1.2)', () => {
    const { ad } = connect();
    const moved = `sip:moved@${alice.host};transport=ws`;
    sim.send(a, alice.inDialog(ad, 'INVITE', { body: webrtcSdp({ session: '8' }), headers: [] }).text.replace(/Contact: <[^>]+>/, `Contact: <${moved}>`));
    sim.take(a);
    const [re] = sim.take(b);
    sim.send(b, bob.respond(re!, 200, { body: webrtcSdp({ session: '9' }) }));
    sim.take(a);
    sim.close(b);
    expect(asRequest(sim.take(a)[0]!).uri).toBe(moved);
  });

  it('a 2xx that races the caller leaving is ACKed and BYEd on its behalf', () => {
    const { atBob } = ring();
    sim.close(a);
    expect(sim.take(b).map(what)).toEqual(['CANCEL']);
    sim.send(b, bob.respond(atBob, 200, { toTag: 'bobtag', body: webrtcSdp() }));
    expect(sim.take(b).map(what)).toEqual(['ACK', 'BYE']);
  });
});

describe('policy: identity, routes, SDP', () => {
  it('refuses a spoofed From with 403', () => {
    const invite = alice.invite('bob', { from: `<sip:carol@${DOMAIN}>` });
    sim.send(a, invite.text);
    const [res] = sim.take(a);
    expect(statusOf(res!)).toBe(403);
    expect(sim.take(b)).toEqual([]);
  });

  it('refuses a Route to a foreign host with 403 and relays nothing', () => {
    sim.send(a, alice.invite('bob', { headers: ['Route: <sip:evil.example.com;lr>'] }).text);
    expect(statusOf(sim.take(a)[0]!)).toBe(403);
    expect(sim.take(b)).toEqual([]);
  });

  it('answers 488 with a Warning for an offer that is not WebRTC', () => {
    sim.send(a, alice.invite('bob', { body: PLAIN_SDP }).text);
    const [res] = sim.take(a);
    expect(statusOf(res!)).toBe(488);
    expect(header(asResponse(res!), 'warning')).toMatch(/^399 acme\.test "not a WebRTC SDP: missing ICE/);
    sim.send(a, alice.invite('bob', { body: 'v=0\r\nthis is not sdp' }).text);
    expect(statusOf(sim.take(a)[0]!)).toBe(488);
  });

  it('refuses video when the tenant does not allow it', () => {
    sim.policy = { ...sim.policy, videoAllowed: false };
    sim.send(a, alice.invite('bob', { body: webrtcSdp({ video: true }) }).text);
    const [res] = sim.take(a);
    expect(statusOf(res!)).toBe(488);
    expect(header(asResponse(res!), 'warning')).toMatch(/video is not allowed/);
  });

  it('answers 483 when Max-Forwards is 0', () => {
    sim.send(a, alice.invite('bob', { headers: [] }).text.replace('Max-Forwards: 70', 'Max-Forwards: 0'));
    expect(statusOf(sim.take(a)[0]!)).toBe(483);
  });

  it('answers a malformed request with 400 naming the problem, and the socket keeps working', () => {
    sim.send(a, 'INVITE sip:bob@acme.test SIP/2.0\r\nVia: SIP/2.0/WSS x.invalid;branch=z9hG4bK1\r\nFrom: <sip:alice@acme.test>;tag=1\r\nTo: <sip:bob@acme.test>\r\nCSeq: 1 INVITE\r\n\r\n');
    const [res] = sim.take(a);
    // The answer copies what it can (§8.2.6.2); there is no Call-ID to copy.
    expect(res!.split('\r\n')[0]).toBe('SIP/2.0 400 Missing Call-ID header');
    expect(res).toContain('Via: SIP/2.0/WSS x.invalid;branch=z9hG4bK1');
    sim.send(a, alice.request('OPTIONS', `sip:${DOMAIN}`).text);
    expect(statusOf(sim.take(a)[0]!)).toBe(200);
  });

  it('answers OPTIONS to the service with Allow and Supported', () => {
    sim.send(a, alice.request('OPTIONS', `sip:${DOMAIN}`).text);
    const res = asResponse(sim.take(a)[0]!);
    expect(res.status).toBe(200);
    expect(header(res, 'allow')).toContain('INVITE');
    expect(header(res, 'supported')).toContain('outbound');
  });

  it('proxies an out-of-dialog MESSAGE like an INVITE, without a dialog', () => {
    const msg = alice.request('MESSAGE', `sip:bob@${DOMAIN}`, { body: 'hello bob', contentType: 'text/plain', contact: null });
    sim.send(a, msg.text);
    expect(sim.take(a)).toEqual([]);
    const [atBob] = sim.take(b);
    expect(bodyOf(atBob!)).toBe('hello bob');
    sim.send(b, bob.respond(atBob!, 200, { contact: false }));
    expect(sim.take(a).map(what)).toEqual(['200 MESSAGE']);
    expect(sim.state('alice').dialogs).toHaveLength(0);
  });

  it('answers 481 to an in-dialog request for an unknown dialog', () => {
    const bye = alice.request('BYE', `sip:bob@${DOMAIN}`, { to: `<sip:bob@${DOMAIN}>;tag=nope` });
    sim.send(a, bye.text);
    expect(statusOf(sim.take(a)[0]!)).toBe(481);
  });
});

describe('session timers (RFC 4028): a session nobody refreshes ends', () => {
  function answeredWithTimer(seconds: number) {
    const { sim, alice, bob, a, b } = registeredPair();
    const invite = alice.invite('bob', { headers: ['Supported: timer', `Session-Expires: ${seconds}`] });
    sim.send(a, invite.text);
    const atBob = sim.take(b).find((t) => t.startsWith('INVITE'))!;
    sim.send(b, bob.respond(atBob, 200, { toTag: 'bob-tag', headers: [`Session-Expires: ${seconds};refresher=uac`, 'Require: timer'] }));
    const ok = sim.take(a).find((t) => t.startsWith('SIP/2.0 200'))!;
    const dialog = alice.dialogAsCaller(invite, ok);
    sim.send(a, alice.inDialog(dialog, 'ACK').text);
    sim.take(b);
    return { sim, alice, dialog, a, b };
  }

  it('sends BYE with Reason to both parties after the interval and the §10 grace, and ends both records', () => {
    const { sim, a, b } = answeredWithTimer(90);
    sim.advance(90_000 + 31_000);
    expect(sim.take(a).filter((t) => t.startsWith('BYE'))).toEqual([]);
    sim.advance(2_000);
    const byes = [...sim.take(a), ...sim.take(b)].filter((t) => t.startsWith('BYE'));
    expect(byes).toHaveLength(2);
    for (const bye of byes) expect(header(asRequest(bye), 'reason')).toBe('SIP;cause=408;text="Session expired"');
    expect(sim.state('alice').dialogs.map((d) => [d.state, d.endReason])).toEqual([['ended', 'session-expired']]);
    expect(sim.state('bob').dialogs.map((d) => d.state)).toEqual(['ended']);
  });

  it('a re-INVITE refreshing the session runs another interval; a client cannot ask for less than 90 s', () => {
    const { sim, alice, dialog, a, b } = answeredWithTimer(10);
    sim.advance(60_000);
    sim.send(a, alice.inDialog(dialog, 'INVITE', { headers: ['Session-Expires: 90;refresher=uac'] }).text);
    sim.take(b);
    sim.advance(100_000);
    expect([...sim.take(a), ...sim.take(b)].filter((t) => t.startsWith('BYE'))).toEqual([]);
    expect(sim.state('alice').dialogs.map((d) => d.state)).toEqual(['confirmed']);
    sim.advance(30_000);
    expect(sim.state('alice').dialogs.map((d) => d.state)).toEqual(['ended']);
  });

  it('a call without session timers has no deadline', () => {
    const { sim, alice, bob, a, b } = registeredPair();
    const invite = alice.invite('bob');
    sim.send(a, invite.text);
    const atBob = sim.take(b).find((t) => t.startsWith('INVITE'))!;
    sim.send(b, bob.respond(atBob, 200, { toTag: 'bob-tag' }));
    expect(sim.state('alice').dialogs.map((d) => [d.state, d.deadline])).toEqual([['confirmed', null]]);
    expect(sim.state('bob').dialogs.map((d) => [d.state, d.deadline])).toEqual([['confirmed', null]]);
  });
});

describe('the largest message a client may send', () => {
  it('reaches the callee although the hops add their Via, Record-Route and P-Asserted-Identity', () => {
    const { sim, alice, a, b } = registeredPair();
    const base = alice.invite('bob', { body: '' }).text.length;
    const sdp = webrtcSdp();
    const pad = `a=x-pad:${'p'.repeat(64 * 1024 - base - sdp.length - 200)}\r\n`;
    const invite = alice.invite('bob', { body: sdp + pad });
    expect(new TextEncoder().encode(invite.text).length).toBeLessThanOrEqual(64 * 1024);
    expect(new TextEncoder().encode(invite.text).length).toBeGreaterThan(64 * 1024 - 400);
    sim.send(a, invite.text);
    const atBob = sim.take(b).find((t) => t.startsWith('INVITE'));
    expect(atBob).toBeDefined();
    expect(atBob!.slice(atBob!.indexOf('\r\n\r\n') + 4)).toBe(sdp + pad);
  });
});

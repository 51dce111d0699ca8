import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { PASSWORD, Phone, addUser, api, newTenant, tokenFor, upgrade, what, withDigest, type TestTenant } from './helpers.js';
import { asResponse } from '../support/ua.js';

/** Tenant A has alice; tenant B has bob (and also an alice), on their own domains. */
async function twoTenants(): Promise<{ a: TestTenant; b: TestTenant; alice: Phone; bobB: Phone }> {
  const a = await newTenant();
  const b = await newTenant();
  await addUser(a, 'alice');
  await addUser(b, 'bob');
  await addUser(b, 'alice', { password: 'b-alice-password' });
  const alice = await Phone.connect(a, 'alice');
  await alice.register();
  const bobB = await Phone.connect(b, 'bob');
  await bobB.register();
  return { a, b, alice, bobB };
}

const final = (x: string) => /^SIP\/2\.0 [2-6]/.test(x);

describe('a user of tenant A cannot reach tenant B', () => {
  it('cannot register as a user of B: not with A’s token, not over A’s socket, not with A’s password', async () => {
    const { a, b, alice } = await twoTenants();
    const token = await tokenFor(a, 'alice');
    expect((await upgrade(`/sip/${b.id}/alice?token=${token}`)).status).toBe(403);
    alice.sock.send(alice.ua.register({ user: 'bob' }).text);
    expect(what(await alice.sock.next(final))).toBe('403 REGISTER');
    // B's alice is another account: A's password does not open it.
    const intruder = await Phone.connect(b, 'alice', { token: false });
    const sent = intruder.ua.register();
    intruder.sock.send(sent.text);
    const challenge = await intruder.sock.next('401 REGISTER');
    intruder.sock.send(withDigest(sent, challenge, 'alice', PASSWORD));
    expect(asResponse(await intruder.sock.next(final)).status).toBe(401);
  });

  it.each([
    ['INVITE', {}],
    ['MESSAGE', { body: 'psst', contentType: 'text/plain', contact: null }],
    ['SUBSCRIBE', { headers: ['Event: presence', 'Expires: 600'] }],
  ] as const)('cannot %s a user of B, whatever domain the Request-URI names', async (method, opts) => {
    const { b, alice, bobB } = await twoTenants();
    const req = method === 'INVITE' ? alice.ua.invite('bob', { to: `<sip:bob@${b.domain}>` }) : alice.ua.request(method, `sip:bob@${b.domain}`, opts);
    const sent = method === 'INVITE' ? { ...req, text: req.text.replace(/^INVITE sip:bob@[^ ]+/, `INVITE sip:bob@${b.domain}`) } : req;
    alice.sock.send(sent.text);
    // Tenant A has no bob: the request ends in A with 404, and B's bob sees nothing.
    expect(what(await alice.sock.next(final))).toBe(`404 ${method}`);
    await bobB.sock.quiet(300);
  });

  it('cannot route a request to B through a Route header', async () => {
    const { b, alice, bobB } = await twoTenants();
    alice.sock.send(alice.ua.request('MESSAGE', `sip:alice@${b.domain}`, { headers: [`Route: <sip:${b.domain};transport=ws;lr>`], body: 'x', contentType: 'text/plain' }).text);
    expect(what(await alice.sock.next(final))).toBe('403 MESSAGE');
    await bobB.sock.quiet(200);
  });

  it('cannot use A’s API key on B', async () => {
    const { a, b } = await twoTenants();
    for (const [method, path, body] of [
      ['GET', `/v1/tenants/${b.id}`, undefined],
      ['PATCH', `/v1/tenants/${b.id}`, { name: 'pwned' }],
      ['PUT', `/v1/tenants/${b.id}/users/eve`, { password: 'eve-password' }],
      ['GET', `/v1/tenants/${b.id}/users/bob`, undefined],
      ['DELETE', `/v1/tenants/${b.id}/users/bob`, undefined],
      ['POST', `/v1/tenants/${b.id}/users/bob/tokens`, {}],
      ['POST', `/v1/tenants/${b.id}/api-keys`, undefined],
      ['GET', `/v1/tenants/${b.id}/ice-servers`, undefined],
    ] as const) {
      const r = await api(method, path, { body, token: a.apiKey });
      expect(r.status, `${method} ${path}`).toBe(403);
    }
    const bState = await api('GET', `/v1/tenants/${b.id}`);
    expect(bState.body.name).toBeNull();
    expect((await api('GET', `/v1/tenants/${b.id}/users/eve`)).status).toBe(404);
  });
});

describe('no hot object on the signaling path', () => {
  it('registrations and calls make no call to the tenant’s object', async () => {
    const t = await newTenant();
    for (const u of ['alice', 'bob']) await addUser(t, u);
    const alice = await Phone.connect(t, 'alice', { token: false });
    const bob = await Phone.connect(t, 'bob', { token: false });
    const tenantStub = env.TENANTS.get(env.TENANTS.idFromName(t.id));
    const before = (await tenantStub.stats()).calls;

    await alice.register();
    await bob.register();
    for (let i = 0; i < 3; i++) {
      const invite = alice.ua.invite('bob');
      alice.sock.send(invite.text);
      const atBob = await bob.sock.next('INVITE');
      bob.sock.send(bob.ua.respond(atBob, 200, { toTag: `b${i}`, body: atBob.split('\r\n\r\n')[1] }));
      const ad = alice.ua.dialogAsCaller(invite, await alice.sock.next('200 INVITE'));
      alice.sock.send(alice.ua.inDialog(ad, 'ACK').text);
      await bob.sock.next('ACK');
      alice.sock.send(alice.ua.inDialog(ad, 'BYE').text);
      const bye = await bob.sock.next('BYE');
      bob.sock.send(bob.ua.respond(bye, 200));
      await alice.sock.next('200 BYE');
    }
    expect((await tenantStub.stats()).calls).toBe(before);
    // The counter does count: a management call moves it.
    await api('GET', `/v1/tenants/${t.id}`);
    expect((await tenantStub.stats()).calls).toBe(before + 1);
  });
});

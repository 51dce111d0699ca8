/**
 * GRUUs (RFC 5627): the public one names the AOR and the instance; the temporary one
 * hides the AOR, and both reach only the device they name.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { Sim, DOMAIN } from '../support/sim.js';
import { TestUA, asResponse, describe as what, webrtcSdp } from '../support/ua.js';
import { nameAddrs } from '../../sip/message/headers.js';
import { getParam } from '../../sip/message/grammar.js';
import { openTempGruu, tempGruu } from '../../sip/registrar/gruu.js';

let sim: Sim;
let alice: TestUA;
let phone: TestUA;
let laptop: TestUA;
let a: string;

/** Registers `ua` on a new socket; returns the socket and the GRUUs the 200 gave its own Contact. */
function register(ua: TestUA): { conn: string; pub: string; temp: string } {
  const conn = sim.connect(ua.user);
  sim.send(conn, ua.register().text);
  const ok = asResponse(sim.take(conn)[0]!);
  const mine = (nameAddrs(ok, 'contact') ?? []).find((c) => c.uriText === ua.contactUri)!;
  const unq = (v: string | null | undefined) => (v ?? '').replace(/^"|"$/g, '');
  return { conn, pub: unq(getParam(mine.params, 'pub-gruu')), temp: unq(getParam(mine.params, 'temp-gruu')) };
}

beforeEach(() => {
  sim = new Sim();
  for (const u of ['alice', 'bob']) sim.addUser(u);
  alice = new TestUA('alice', DOMAIN);
  phone = new TestUA('bob', DOMAIN, 'aaaaaaaa-0000-4000-8000-00000000000a');
  laptop = new TestUA('bob', DOMAIN, 'bbbbbbbb-0000-4000-8000-00000000000b');
  a = register(alice).conn;
});

describe('GRUUs', () => {
  it('a REGISTER with Supported: gruu gets a public and a temporary GRUU; the temporary one does not show the user', () => {
    const { pub, temp } = register(phone);
    expect(pub).toBe(`sip:bob@${DOMAIN};gr=urn:uuid:${phone.instance}`);
    expect(temp).toMatch(new RegExp(`^sip:tgr~[0-9a-f]+@${DOMAIN.replace('.', '\\.')};gr$`));
    expect(temp).not.toContain('bob');
    expect(temp).not.toContain(phone.instance!);
    // The same device gets the same one on a refresh: nothing piles up.
    expect(register(phone).temp).toBe(temp);
  });

  it('an INVITE to either GRUU rings only the device it names', () => {
    const p = register(phone);
    const l = register(laptop);
    for (const uri of [p.pub, p.temp]) {
      sim.send(a, alice.request('INVITE', uri, { body: webrtcSdp() }).text);
      expect(sim.take(p.conn).map(what), uri).toEqual(['INVITE']);
      expect(sim.take(l.conn), uri).toEqual([]);
    }
  });

  it('an altered temporary GRUU, or one sealed with another tenant’s key, reaches nobody: 404', () => {
    const { temp, conn } = register(phone);
    const user = /^sip:(tgr~[0-9a-f]+)@/.exec(temp)![1]!;
    const flipped = `${user.slice(0, -1)}${user.endsWith('0') ? '1' : '0'}`;
    const foreign = tempGruu('ff'.repeat(32), 'bob', DOMAIN, `<urn:uuid:${phone.instance}>`);
    for (const uri of [`sip:${flipped}@${DOMAIN};gr`, foreign, `sip:tgr~zz@${DOMAIN};gr`]) {
      sim.send(a, alice.request('INVITE', uri, { body: webrtcSdp() }).text);
      expect(sim.take(a).map(what), uri).toEqual(['404 INVITE']);
    }
    expect(sim.take(conn)).toEqual([]);
  });

  it('seals and opens with the same key and domain only', () => {
    const key = '11'.repeat(32);
    const user = /^sip:([^@]+)@/.exec(tempGruu(key, 'bob', DOMAIN, '<urn:uuid:x>'))![1]!;
    expect(openTempGruu(key, user, DOMAIN)).toEqual({ user: 'bob', instance: '<urn:uuid:x>' });
    expect(openTempGruu(key, user, 'other.test')).toBeNull();
    expect(openTempGruu('22'.repeat(32), user, DOMAIN)).toBeNull();
    expect(openTempGruu(null, user, DOMAIN)).toBeNull();
  });
});

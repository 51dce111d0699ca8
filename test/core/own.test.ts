import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { own, ownFields } from '../../sip/message/grammar.js';
import { parseMessage } from '../../sip/message/parser.js';
import { registeredPair } from '../support/sim.js';
import { webrtcSdp } from '../support/ua.js';

describe('records own their strings', () => {
  it('own() returns an equal string, for any text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        expect(own(s)).toBe(s);
      }),
    );
  });

  it('ownFields copies the record, reusing the strings an equal previous version already owns', () => {
    const prev = { id: own('out:abcdefghijklmnop:call'), n: 1, tags: ['x'] };
    // The same texts cut from a new message: equal, but other strings.
    const text = 'out:abcdefghijklmnop:call|sip:bob@example.com;transport=ws';
    const next = { ...prev, id: text.slice(0, 25), contact: text.slice(26), n: 2 };
    const owned = ownFields(next, prev);
    expect(owned).toEqual(next);
    expect(owned).not.toBe(next);
    expect(owned.id).toBe(prev.id);
    expect(owned.tags).toBe(prev.tags);
  });

  it('what a call leaves in the state is equal to what the messages said', () => {
    const { sim, alice, a, b } = registeredPair();
    const invite = alice.invite('bob', { body: webrtcSdp() });
    sim.send(a, invite.text);
    const [atBob] = sim.take(b);
    const parsed = parseMessage(atBob!);
    if (!parsed.ok) throw new Error('INVITE did not parse');
    const [dialog] = sim.state('bob').dialogs;
    const [fork] = sim.state('bob').forks;
    expect(dialog!.callId).toBe(invite.callId);
    expect(dialog!.fromHeader).toBe(parsed.message.headers.find((h) => h.key === 'from')!.value);
    expect(fork!.callId).toBe(invite.callId);
    expect(fork!.base.map((h) => h.key)).toContain('via');
  });
});

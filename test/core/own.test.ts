import fc from 'fast-check';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
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

  it('a string own() returns does not keep the message it was cut from alive (and a plain slice would)', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const retained = (keep: (slice: string) => string): number => {
      gc();
      const before = process.memoryUsage().heapUsed;
      const kept: string[] = [];
      for (let i = 0; i < 40; i++) {
        // A 1 MiB message, different each time, of which a record keeps 40 characters.
        const message = `${i}:`.padEnd(1 << 20, String.fromCharCode(97 + (i % 26)));
        kept.push(keep(message.slice(100, 140)));
      }
      gc();
      const grown = process.memoryUsage().heapUsed - before;
      expect(kept).toHaveLength(40);
      return grown;
    };
    // The control: V8 makes a slice of 13 or more characters a view on its parent.
    const sliced = retained((x) => x);
    const owned = retained(own);
    expect(sliced).toBeGreaterThan(30 << 20);
    expect(owned).toBeLessThan(4 << 20);
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
    expect(dialog!.remote.nameAddr).toBe(parsed.message.headers.find((h) => h.key === 'from')!.value);
    expect(fork!.callId).toBe(invite.callId);
    expect(fork!.base.map((h) => h.key)).toContain('via');
  });
});

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseMessage } from '../../sip/message/parser.js';
import { serialize } from '../../sip/message/serializer.js';
import { contacts, cseq, from, fromTag, integerHeader, toTag, vias } from '../../sip/message/headers.js';
import { field as headerField, header, prependHeaders, setHeader, type SipMessage } from '../../sip/message/message.js';
import { utf8Length } from '../../sip/message/grammar.js';
import { allTraces } from '../support/traces.js';
import { INVALID, VALID } from '../fixtures/torture.js';

const traces = allTraces();

function parsed(text: string): SipMessage {
  const r = parseMessage(text);
  if (!r.ok) throw new Error(`expected a parse, got ${r.status} ${r.reason}`);
  return r.message;
}

describe('real JsSIP and SIP.js captures', () => {
  it('has a meaningful corpus', () => {
    expect(traces.length).toBeGreaterThan(60);
  });

  it.each(traces.map((t, i) => [i, t.file.split('sip-traces/')[1], t.text.split('\r\n')[0]] as const))(
    'parses message %i of %s (%s)',
    (i) => {
      const t = traces[i]!;
      const msg = parsed(t.text);
      const cl = integerHeader(msg, 'content-length');
      expect(cl).toBe(utf8Length(msg.body));
      expect(vias(msg)!.length).toBeGreaterThan(0);
      // Re-serialising keeps every header line and the body byte-for-byte.
      const again = parsed(serialize(msg));
      expect(again.body).toBe(msg.body);
      expect(again.headers.map((h) => [h.key, h.value])).toEqual(msg.headers.map((h) => [h.key, h.value]));
    },
  );

  it('reads JsSIP outbound/GRUU Contact parameters', () => {
    const reg = traces.find((t) => t.text.startsWith('REGISTER') && t.text.includes('reg-id=1'))!;
    const c = contacts(parsed(reg.text));
    expect(c).not.toBe('*');
    const [contact] = c as Exclude<typeof c, '*' | null>;
    expect(contact!.params.find(([k]) => k === '+sip.instance')?.[1]).toMatch(/^<urn:uuid:[0-9a-f-]+>$/);
    expect(contact!.params.find(([k]) => k === 'reg-id')?.[1]).toBe('1');
    expect(contact!.uri).toMatchObject({ scheme: 'sip', params: [['transport', 'ws']] });
  });

  it('reads the GRUU Request-URI of an in-dialog ACK', () => {
    const ack = traces.find((t) => t.text.startsWith('ACK sip:') && t.text.includes(';gr=urn:uuid:'))!;
    const msg = parsed(ack.text);
    expect(msg.kind === 'request' && msg.uri).toMatch(/;gr=urn:uuid:/);
  });
});

describe('torture corpus: tortuous but valid', () => {
  it.each(VALID.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const msg = parsed(c.text);
    if (c.check?.method) expect(msg.kind === 'request' && msg.method).toBe(c.check.method);
    if (c.check?.viaCount) expect(vias(msg)!.length).toBe(c.check.viaCount);
    if (c.check?.cseq) expect(cseq(msg)!.seq).toBe(c.check.cseq);
    if (c.check?.maxForwards) expect(integerHeader(msg, 'max-forwards')).toBe(c.check.maxForwards);
    if (c.check?.fromTag) expect(fromTag(msg)).toBe(c.check.fromTag);
    if (c.check?.toTag) expect(toTag(msg)).toBe(c.check.toTag);
    if (c.check?.contacts) expect((contacts(msg) as unknown[]).length).toBe(c.check.contacts);
    expect(parsed(serialize(msg)).body).toBe(msg.body);
  });

  it('expands compact header names', () => {
    const msg = parsed(VALID[0]!.text);
    expect(header(msg, 'Contact')).toContain('jdrosen');
    expect(header(msg, 'subject')).toBe('');
  });
});

describe('torture corpus: invalid, with the answer a server must give', () => {
  it.each(INVALID.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const r = parseMessage(c.text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.status).toBe(c.status);
    expect(r.reason).toMatch(c.reason);
    expect(r.reason).not.toMatch(/[\r\n]/);
  });

  it('marks malformed responses so they are dropped rather than answered', () => {
    const r = parseMessage('SIP/2.0 99 Too Low\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK1\r\n\r\n');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.isResponse).toBe(true);
  });
});

describe('property: no input ever throws', () => {
  const validStatuses = new Set([400, 416, 505, 513]);
  const check = (text: string) => {
    const r = parseMessage(text);
    if (!r.ok) {
      expect(validStatuses.has(r.status)).toBe(true);
      expect(r.reason.length).toBeGreaterThan(0);
      expect(r.reason).not.toMatch(/[\r\n]/);
    }
  };

  it('arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 600 }), check), { numRuns: 3000 });
  });

  it('mutations of real messages: deletions, insertions and truncations', () => {
    const seeds = traces.map((t) => t.text);
    const alphabet = fc.constantFrom(...'\r\n\t :;,<>"\\@=%[]/.*0123456789abzSIP\u0000\u00e9\uFFFF'.split(''));
    const mutation = fc.record({
      seed: fc.nat(seeds.length - 1),
      ops: fc.array(
        fc.record({ kind: fc.constantFrom('insert', 'delete', 'truncate', 'dup'), at: fc.double({ min: 0, max: 1, noNaN: true }), ch: alphabet, n: fc.integer({ min: 1, max: 40 }) }),
        { minLength: 1, maxLength: 6 },
      ),
    });
    fc.assert(
      fc.property(mutation, ({ seed, ops }) => {
        let s = seeds[seed]!;
        for (const op of ops) {
          const at = Math.floor(op.at * s.length);
          if (op.kind === 'insert') s = s.slice(0, at) + op.ch.repeat(op.n % 4 + 1) + s.slice(at);
          else if (op.kind === 'delete') s = s.slice(0, at) + s.slice(at + op.n);
          else if (op.kind === 'truncate') s = s.slice(0, at);
          else s = s.slice(0, at) + s.slice(at, at + op.n) + s.slice(at);
        }
        check(s);
      }),
      { numRuns: 4000 },
    );
  });

  it('structured garbage in every header of a valid request', () => {
    const headerNames = ['Via', 'From', 'To', 'Call-ID', 'CSeq', 'Contact', 'Route', 'Record-Route', 'Max-Forwards', 'Expires', 'Content-Length', 'v', 'm', 'f', 't'];
    fc.assert(
      fc.property(fc.constantFrom(...headerNames), fc.string({ maxLength: 80 }), (name, value) => {
        const text = `INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n${name}: ${value}\r\n\r\n`;
        check(text);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('splicing (a proxy leaves what it does not touch as it came, §16.6)', () => {
  it('copies untouched header lines byte for byte and writes only what changed', () => {
    const text =
      'INVITE sip:bob@example.com SIP/2.0\r\nVia:   SIP/2.0/WSS a.invalid;branch=z9hG4bK1\r\nMax-Forwards: 70\r\nTo:<sip:bob@example.com>\r\n' +
      'From: <sip:alice@example.com>;tag=1\r\nX-Odd:  keep   my  spacing \r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n';
    const r = parseMessage(text);
    if (!r.ok || r.message.kind !== 'request') throw new Error('did not parse');
    const out = serialize(setHeader(prependHeaders(r.message, [headerField('Via', 'SIP/2.0/WSS sb.invalid;branch=z9hG4bK2')]), 'Max-Forwards', '69'));
    expect(out).toBe(
      'INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/WSS sb.invalid;branch=z9hG4bK2\r\nVia:   SIP/2.0/WSS a.invalid;branch=z9hG4bK1\r\nMax-Forwards: 69\r\nTo:<sip:bob@example.com>\r\n' +
        'From: <sip:alice@example.com>;tag=1\r\nX-Odd:  keep   my  spacing \r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n',
    );
  });
});

describe('values and quoted strings (§7.3.1, §25.1)', () => {
  const request = (extra: string) =>
    `OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/WSS a.invalid;branch=z9hG4bK1\r\nMax-Forwards: 70\r\nTo: <sip:bob@example.com>\r\n` +
    `Call-ID: c1\r\nCSeq: 1 OPTIONS\r\n${extra}Content-Length: 0\r\n\r\n`;

  it('reads a value without the spaces and tabs around it, and splices its line as it came', () => {
    const text = request('From: <sip:alice@example.com>;tag=1\r\nSubject: \t  hello  there \t \r\n');
    const msg = parsed(text);
    expect(header(msg, 'subject')).toBe('hello  there');
    expect(header(msg, 'from')).toBe('<sip:alice@example.com>;tag=1');
    expect(serialize(msg)).toBe(text);
  });

  it('keeps an empty value empty', () => {
    expect(header(parsed(request('From: <sip:alice@example.com>;tag=1\r\nSubject:   \t\r\n')), 'subject')).toBe('');
  });

  it('unescapes quoted-pairs in a display name, and reads a plain one as it is', () => {
    const escaped = parsed(request('From: "Bob \\"the\\" Builder \\\\ 2" <sip:alice@example.com>;tag=1\r\n'));
    expect(fromDisplayName(escaped)).toBe('Bob "the" Builder \\ 2');
    const plain = parsed(request('From: "Alice, Smith" <sip:alice@example.com>;tag=1\r\n'));
    expect(fromDisplayName(plain)).toBe('Alice, Smith');
    expect(fromTag(plain)).toBe('1');
  });

  it('refuses a display name whose quote is never closed', () => {
    const r = parseMessage(request('From: "Alice <sip:alice@example.com>;tag=1\r\n'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect([r.status, r.reason]).toEqual([400, 'Malformed From header']);
  });
});

function fromDisplayName(msg: SipMessage): string | null {
  return from(msg)?.displayName ?? null;
}

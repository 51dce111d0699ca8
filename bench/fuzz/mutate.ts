/**
 * Structure-aware mutations of one SIP message: they know about the start line, header
 * lines, parameters and the body, so most results are nearly valid and reach past the
 * parser; a few are plain byte damage. Each takes the text and returns a new one.
 */
import type { Rng } from './rng.js';

export type Mutation = (rng: Rng, text: string) => string;

interface Parts {
  start: string;
  headers: string[];
  body: string;
  eol: string;
}

function split(text: string): Parts {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const end = text.indexOf(eol + eol);
  const head = end < 0 ? text : text.slice(0, end);
  const body = end < 0 ? '' : text.slice(end + 2 * eol.length);
  const [start = '', ...headers] = head.split(eol);
  return { start, headers, body, eol };
}

function join(p: Parts): string {
  return [p.start, ...p.headers].join(p.eol) + p.eol + p.eol + p.body;
}

function onHeaders(f: (rng: Rng, p: Parts) => void): Mutation {
  return (rng, text) => {
    const p = split(text);
    f(rng, p);
    return join(p);
  };
}

const nameOf = (line: string): string => line.slice(0, Math.max(0, line.indexOf(':'))).trim().toLowerCase();
const findHeader = (p: Parts, names: readonly string[]): number[] => p.headers.flatMap((h, i) => (names.includes(nameOf(h)) ? [i] : []));

/** Characters that break parsers: controls, separators, non-ASCII, lone surrogates, BOM, U+FFFE. */
export const NASTY = ['\u0000', '\u0001', '\u0007', '\u007f', '\t', '\r', '\n', ' ', ':', ';', ',', '<', '>', '"', '\\', '@', '=', '%', '[', ']', '/', '*', '~', '\u0080', '\u00c0', '\u00e9', '\u00ff', '\u0100', '\u2028', '\ud800', '\udfff', '\ud83d', '\ufeff', '\ufffd', '\ufffe', '\uffff', '\u{1F600}'];

const ODD_METHODS = ['invite', 'INVITEX', 'FOO', '!interesting-Method0123456789_*+`.%indeed\'~', 'A'.repeat(300), 'NOTIFY', 'PUBLISH', 'MESSAGE', 'INFO', 'UPDATE', 'PRACK', 'REFER', 'SUBSCRIBE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'REGISTER', '-', '%41CK', 'INV\u00c9TE'];

function filler(rng: Rng, n: number): string {
  const unit = rng.pick(['a', 'x', '9', '%41', '\u00e9', '\\"', ' ', ';a=b', ',', '\u{1F600}']);
  return unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
}

export const MUTATIONS: ReadonlyArray<readonly [number, string, Mutation]> = [
  [6, 'duplicate a header', onHeaders((rng, p) => {
    if (p.headers.length === 0) return;
    const i = rng.int(p.headers.length);
    const times = rng.pick([1, 1, 2, 10, 100]);
    p.headers.splice(i, 0, ...Array<string>(times).fill(p.headers[i]!));
  })],
  [6, 'remove a header', onHeaders((rng, p) => {
    if (p.headers.length > 0) p.headers.splice(rng.int(p.headers.length), 1);
  })],
  [3, 'remove a mandatory header', onHeaders((rng, p) => {
    const names = [rng.pick(['via', 'v', 'from', 'f', 'to', 't', 'call-id', 'i', 'cseq', 'contact', 'm', 'max-forwards', 'content-length', 'l'])];
    for (const i of findHeader(p, names).reverse()) p.headers.splice(i, 1);
  })],
  [4, 'truncate a header line', onHeaders((rng, p) => {
    if (p.headers.length === 0) return;
    const i = rng.int(p.headers.length);
    p.headers[i] = p.headers[i]!.slice(0, rng.int(p.headers[i]!.length + 1));
  })],
  [3, 'truncate the message', (rng, text) => text.slice(0, rng.int(text.length + 1))],
  [3, 'oversized display name', onHeaders((rng, p) => {
    const [i] = rng.chance(0.5) ? findHeader(p, ['from', 'f']) : findHeader(p, ['to', 't', 'contact', 'm']);
    if (i === undefined) return;
    const h = p.headers[i]!;
    const colon = h.indexOf(':');
    const value = h.slice(colon + 1).trim().replace(/^"(?:[^"\\]|\\.)*"\s*/, '');
    p.headers[i] = `${h.slice(0, colon)}: "${filler(rng, rng.size()).replace(/"/g, '')}" ${value.startsWith('<') ? value : `<${value.replace(/;.*$/, '')}>`}`;
  })],
  [3, 'oversized URI', (rng, text) => {
    const n = rng.size();
    return rng.chance(0.5) ? text.replace(/sip:([^@\s>;]*)@/, (_m, u: string) => `sip:${u}${filler(rng, n).replace(/[\s<>@]/g, 'u')}@`) : text.replace(/(sip:[^\s>]+?)(>| SIP\/2\.0)/, (_m, u: string, end: string) => `${u};p=${'v'.repeat(n)}${end}`);
  }],
  [3, 'oversized tag', (rng, text) => text.replace(/;tag=([^;,\s>]*)/, (_m, t: string) => `;tag=${t}${'t'.repeat(rng.size())}`)],
  [3, 'oversized header line', onHeaders((rng, p) => {
    const n = rng.size();
    if (rng.chance(0.5) && p.headers.length > 0) {
      const i = rng.int(p.headers.length);
      p.headers[i] = p.headers[i] + filler(rng, n).replace(/[\r\n]/g, 'x');
    } else p.headers.splice(rng.int(p.headers.length + 1), 0, `${rng.pick(['X-Fuzz', 'Subject', 'User-Agent', 'Call-ID', 'Route', 'Via', 'Allow'])}: ${'z'.repeat(n)}`);
  })],
  [2, 'oversized Call-ID or branch', (rng, text) => (rng.chance(0.5) ? text.replace(/(Call-ID|i)\s*:\s*(\S+)/i, (_m, n: string, v: string) => `${n}: ${v}${'c'.repeat(rng.size())}`) : text.replace(/branch=([^;,\s]+)/, (_m, b: string) => `branch=${b}${'b'.repeat(rng.size())}`))],
  [2, 'many Vias or params', onHeaders((rng, p) => {
    const n = rng.pick([2, 20, 70, 200, 2000]);
    if (rng.chance(0.5)) p.headers.splice(0, 0, ...Array.from({ length: n }, (_v, i) => `Via: SIP/2.0/WSS h${i}.invalid;branch=z9hG4bK${i}`));
    else if (p.headers.length > 0) {
      const i = rng.int(p.headers.length);
      p.headers[i] += Array.from({ length: n }, (_v, k) => `;p${k}=${k}`).join('');
    }
  })],
  [5, 'flip bytes', (rng, text) => {
    let s = text;
    const n = rng.pick([1, 1, 2, 4, 16]);
    for (let k = 0; k < n && s.length > 0; k++) {
      const at = rng.int(s.length);
      const c = rng.chance(0.5) ? rng.pick(NASTY) : String.fromCharCode(s.charCodeAt(at) ^ (1 << rng.int(8)));
      s = s.slice(0, at) + c + s.slice(at + 1);
    }
    return s;
  }],
  [4, 'line endings', (rng, text) => {
    switch (rng.int(5)) {
      case 0: return text.replace(/\r\n/g, '\n');
      case 1: return text.replace(/\r\n/g, '\r');
      case 2: return text.replace(/\r?\n/g, () => (rng.chance(0.5) ? '\r\n' : '\n'));
      case 3: { const at = text.indexOf('\n', rng.int(text.length)); return at < 0 ? text : `${text.slice(0, at + 1)}\r\n${text.slice(at + 1)}`; }
      default: return text.replace(/\r\n\r\n/, '\r\n');
    }
  }],
  [4, 'Content-Length lie', onHeaders((rng, p) => {
    for (const i of findHeader(p, ['content-length', 'l']).reverse()) p.headers.splice(i, 1);
    const real = new TextEncoder().encode(p.body).length;
    const lie = rng.pick([String(real + 1), String(Math.max(0, real - 1)), '0', '-1', '99999999999999999999', 'abc', ' ', String(real * 2), '1e3', '0x10', `${real}, ${real}`]);
    p.headers.push(`Content-Length: ${lie}`);
    if (rng.chance(0.2)) p.headers.push(`l: ${real}`);
  })],
  [3, 'odd method', (rng, text) => {
    const m = rng.pick(ODD_METHODS);
    const both = rng.chance(0.6);
    let out = text.startsWith('SIP/') ? text : text.replace(/^\S+/, m);
    if (both || text.startsWith('SIP/')) out = out.replace(/(CSeq\s*:\s*\d+\s+)(\S+)/i, `$1${m}`);
    return out;
  }],
  [3, 'invalid UTF-8-ish characters', (rng, text) => {
    const at = rng.int(text.length + 1);
    const bad = rng.pick(['\ud800', '\udfff', '\ud83d\ud83d', '\ufffe\uffff', '\u00c0\u0080', '\u00ed\u00a0\u0080', '\u00f4\u0090\u0080\u0080', '\ufffd'.repeat(3), '\u0000'.repeat(5)]);
    return text.slice(0, at) + bad + text.slice(at);
  }],
  [2, 'compact names and odd case', onHeaders((rng, p) => {
    const compact: Record<string, string> = { via: 'v', from: 'f', to: 't', 'call-id': 'i', contact: 'm', 'content-length': 'l', 'content-type': 'c', subject: 's', supported: 'k' };
    p.headers = p.headers.map((h) => {
      const n = nameOf(h);
      if (compact[n] && rng.chance(0.5)) return compact[n] + h.slice(h.indexOf(':'));
      return rng.chance(0.3) ? h.replace(/^[^:]+/, (x) => [...x].map((c) => (rng.chance(0.5) ? c.toUpperCase() : c.toLowerCase())).join('')) : h;
    });
  })],
  [2, 'swap header lines', onHeaders((rng, p) => {
    if (p.headers.length < 2) return;
    const i = rng.int(p.headers.length);
    const j = rng.int(p.headers.length);
    [p.headers[i], p.headers[j]] = [p.headers[j]!, p.headers[i]!];
  })],
  [2, 'fold a header', onHeaders((rng, p) => {
    if (p.headers.length === 0) return;
    const i = rng.int(p.headers.length);
    const h = p.headers[i]!;
    const at = rng.int(h.length + 1);
    p.headers[i] = `${h.slice(0, at)}${p.eol}${rng.pick([' ', '\t', '   '])}${h.slice(at)}`;
  })],
  [3, 'insert nasty characters', (rng, text) => {
    const at = rng.int(text.length + 1);
    return text.slice(0, at) + rng.pick(NASTY).repeat(rng.pick([1, 2, 7])) + text.slice(at);
  }],
  [3, 'odd CSeq, Max-Forwards, Expires', onHeaders((rng, p) => {
    const which = rng.pick(['cseq', 'max-forwards', 'expires']);
    const values =
      which === 'cseq' ? ['0 INVITE', '2147483647 INVITE', '2147483648 INVITE', '4294967296 BYE', '-1 ACK', '1', '1 ', 'x INVITE', '00000000000000000001 REGISTER'] : which === 'max-forwards' ? ['0', '1', '255', '256', '-1', '70 70', ''] : ['0', '1', '59', '60', '3600', '3601', '4294967296', '-5', 'never'];
    const idx = findHeader(p, [which]);
    const v = rng.pick(values);
    if (idx.length > 0) p.headers[idx[0]!] = `${which}: ${v}`;
    else p.headers.push(`${which}: ${v}`);
  })],
  [2, 'odd status line', (rng, text) => text.replace(/^[^\r\n]*/, rng.pick(['SIP/2.0 000 Zero', 'SIP/2.0 099 Low', 'SIP/2.0 700 High', 'SIP/2.0 1000 Wide', 'SIP/2.0 200', 'SIP/2.0 180 Ringing', 'SIP/2.0 487 Request Terminated', 'SIP/3.0 200 OK', 'sip/2.0 200 ok', 'SIP/2.0  200 OK', `SIP/2.0 200 ${'r'.repeat(5000)}`, 'SIP/2.0 401 Unauthorized', 'SIP/2.0 183 Session Progress', 'SIP/2.0 603 Decline']))],
  [1, 'drop the body separator', (_rng, text) => text.replace(/\r?\n\r?\n/, '\r\n')],
];

const total = MUTATIONS.reduce((n, [w]) => n + w, 0);

/** Applies `count` random mutations in turn; returns the text and the names applied. */
export function mutate(rng: Rng, text: string, count: number): { text: string; applied: string[] } {
  let out = text;
  const applied: string[] = [];
  for (let k = 0; k < count; k++) {
    let r = rng.float() * total;
    for (const [w, name, f] of MUTATIONS) {
      r -= w;
      if (r < 0) {
        out = f(rng, out);
        applied.push(name);
        break;
      }
    }
    // Keep inputs near the 64 KiB limit rather than letting repeated growth run away.
    if (out.length > 200_000) out = out.slice(0, 70_000 + rng.int(10_000));
  }
  return { text: out, applied };
}

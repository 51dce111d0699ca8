/**
 * Just enough SIP for a load generator (RFC 3261 §7): split a frame into start line,
 * header lines and body, read the few headers a UA needs, and write requests and
 * responses. Cheap on purpose: the generator must not be the bottleneck.
 */

/** Compact header forms (§7.3.3) mapped to their full lower-case names. */
const COMPACT = { v: 'via', f: 'from', t: 'to', i: 'call-id', m: 'contact', l: 'content-length', c: 'content-type' };

let counter = 0;
/** A short token, unique within this process. */
export function token() {
  return `${(counter++).toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

export class SipMessage {
  constructor(text) {
    const end = text.indexOf('\r\n\r\n');
    const head = end < 0 ? text : text.slice(0, end);
    this.body = end < 0 ? '' : text.slice(end + 4);
    const lines = head.split('\r\n');
    const first = lines[0];
    this.lines = lines;
    this.index = null;
    if (first.startsWith('SIP/2.0 ')) {
      this.status = Number(first.slice(8, 11));
      this.method = null;
    } else {
      this.status = 0;
      this.method = first.slice(0, first.indexOf(' '));
      this.uri = first.slice(this.method.length + 1, first.lastIndexOf(' '));
    }
  }

  get isResponse() {
    return this.status !== 0;
  }

  /** Every header line named `name` (lower case), verbatim, in order. */
  all(name) {
    if (!this.index) {
      this.index = new Map();
      for (let i = 1; i < this.lines.length; i++) {
        const line = this.lines[i];
        const colon = line.indexOf(':');
        if (colon < 0) continue;
        let key = line.slice(0, colon).trim().toLowerCase();
        key = COMPACT[key] ?? key;
        const list = this.index.get(key);
        if (list) list.push(line);
        else this.index.set(key, [line]);
      }
    }
    return this.index.get(name) ?? [];
  }

  /** The value of the first header named `name`, or null. */
  get(name) {
    const line = this.all(name)[0];
    return line === undefined ? null : line.slice(line.indexOf(':') + 1).trim();
  }

  get callId() {
    return this.get('call-id');
  }

  /** [number, method] of CSeq. */
  get cseq() {
    const [n, m] = (this.get('cseq') ?? '').split(/\s+/);
    return [Number(n), m];
  }
}

/** A `tag` parameter of a From/To value. */
export function tagOf(value) {
  const m = /;\s*tag=([^;>\s]+)/i.exec(value ?? '');
  return m ? m[1] : null;
}

/** The URI inside the first <...> of a name-addr (Contact, Record-Route). */
export function uriOf(value) {
  const m = /<([^>]*)>/.exec(value ?? '');
  return m ? m[1] : null;
}

/** Record-Route entries, one per value, whether folded on one line or not. */
export function recordRoutes(msg) {
  const out = [];
  for (const line of msg.all('record-route')) {
    const value = line.slice(line.indexOf(':') + 1);
    for (const m of value.matchAll(/<[^>]*>[^,]*/g)) out.push(m[0].trim());
  }
  return out;
}

/** Joins a start line, header lines and a body into one frame, with Content-Length. */
export function frame(start, headers, body = '') {
  const len = Buffer.byteLength(body);
  return `${start}\r\n${headers.join('\r\n')}\r\n${body ? 'Content-Type: application/sdp\r\n' : ''}Content-Length: ${len}\r\n\r\n${body}`;
}

/**
 * A response as a UAS writes it (§8.2.6.2): Via, From, To, Call-ID and CSeq copied,
 * a To tag added, Record-Route copied into responses that establish a dialog (§12.1.1).
 */
export function response(req, status, reason, { toTag, contact, body = '', extra = [] } = {}) {
  const to = req.get('to');
  const headers = [
    ...req.all('via'),
    ...(status > 100 && status < 300 ? req.all('record-route') : []),
    `From: ${req.get('from')}`,
    `To: ${toTag && tagOf(to) === null ? `${to};tag=${toTag}` : to}`,
    `Call-ID: ${req.callId}`,
    `CSeq: ${req.get('cseq')}`,
    ...(contact ? [`Contact: <${contact}>`] : []),
    ...extra,
  ];
  return frame(`SIP/2.0 ${status} ${reason}`, headers, body);
}

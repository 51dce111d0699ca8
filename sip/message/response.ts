/**
 * Building responses from requests (RFC 3261 §8.2.6) and the standard reason phrases (§21).
 */
import { field, type HeaderField, type SipRequest, type SipResponse } from './message.js';
import { parseNameAddr, tagOf } from './name-addr.js';

export const REASONS: Record<number, string> = {
  100: 'Trying',
  180: 'Ringing',
  181: 'Call Is Being Forwarded',
  182: 'Queued',
  183: 'Session Progress',
  200: 'OK',
  202: 'Accepted',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  410: 'Gone',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  420: 'Bad Extension',
  423: 'Interval Too Brief',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  491: 'Request Pending',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  505: 'Version Not Supported',
  513: 'Message Too Large',
  600: 'Busy Everywhere',
  603: 'Decline',
  604: 'Does Not Exist Anywhere',
  606: 'Not Acceptable',
};

export function reasonFor(status: number): string {
  return REASONS[status] ?? (status < 200 ? 'Session Progress' : status < 300 ? 'OK' : 'Error');
}

export interface ResponseOptions {
  readonly reason?: string;
  /** Tag to add to To when the request's To has none and the status is above 100 (§8.2.6.2). */
  readonly toTag?: string;
  readonly headers?: readonly HeaderField[];
  readonly body?: string;
}

/** Copies Via, From, To, Call-ID and CSeq from the request (§8.2.6.2). */
export function responseFromHeaders(requestHeaders: readonly HeaderField[], status: number, opts: ResponseOptions = {}): SipResponse {
  const copied: HeaderField[] = [];
  for (const h of requestHeaders) if (h.key === 'via') copied.push(field('Via', h.value));
  for (const key of ['from', 'to', 'call-id', 'cseq'] as const) {
    const line = requestHeaders.find((h) => h.key === key)?.value;
    if (line === undefined) continue;
    let value = line;
    if (key === 'to' && status > 100 && opts.toTag) {
      const na = parseNameAddr(line);
      if (na && tagOf(na) === null) value = `${line};tag=${opts.toTag}`;
    }
    copied.push(field(key === 'call-id' ? 'Call-ID' : key === 'cseq' ? 'CSeq' : key === 'to' ? 'To' : 'From', value));
  }
  return {
    kind: 'response',
    status,
    reason: opts.reason ?? reasonFor(status),
    headers: [...copied, ...(opts.headers ?? [])],
    body: opts.body ?? '',
  };
}

export function createResponse(req: SipRequest, status: number, opts: ResponseOptions = {}): SipResponse {
  return responseFromHeaders(req.headers, status, opts);
}

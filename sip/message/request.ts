/**
 * Requests the service originates itself: CANCEL (RFC 3261 §9.1), ACK for
 * a non-2xx final response (§17.1.1.3) and BYE on behalf of a user whose socket was lost
 * (§15.1.1).
 */
import { field, type HeaderField, type SipRequest } from './message.js';

export interface RequestParts extends CancelledInvite {
  readonly method: string;
  readonly headers?: readonly HeaderField[];
}

export function buildRequest(p: RequestParts): SipRequest {
  return {
    kind: 'request',
    method: p.method,
    uri: p.uri,
    headers: [
      field('Via', p.via),
      field('Max-Forwards', '70'),
      field('From', p.from),
      field('To', p.to),
      field('Call-ID', p.callId),
      field('CSeq', `${p.cseq} ${p.method}`),
      ...(p.headers ?? []),
    ],
    body: '',
  };
}

/** What a CANCEL copies from the INVITE it cancels (§9.1), with the Via that INVITE was sent with. */
export interface CancelledInvite {
  readonly uri: string;
  readonly via: string;
  readonly from: string;
  readonly to: string;
  readonly callId: string;
  readonly cseq: number;
}

/**
 * The one way a CANCEL is built (§9.1): Request-URI, Call-ID, From, To and the CSeq
 * number of the request being cancelled, and a single Via equal to that request's top
 * Via, so that it matches the INVITE's transaction at the next hop (§9.2). `headers`
 * carries the RFC 3326 Reason, when there is one.
 */
export function buildCancel(invite: CancelledInvite, headers: readonly HeaderField[] = []): SipRequest {
  return buildRequest({ method: 'CANCEL', ...invite, headers });
}

/** RFC 3261 §8.1.1.5: a CSeq number is below 2^31. */
export const MAX_CSEQ = 2 ** 31 - 1;

/**
 * The CSeq of the next request the service sends in a dialog on someone's behalf. A
 * client that already used the largest number leaves no higher one: the request reuses
 * it (the peer's dialog still ends on the BYE) rather than build a CSeq no parser accepts.
 */
export function nextCseq(seq: number): number {
  return Math.min(seq + 1, MAX_CSEQ);
}

/** RFC 3326 Reason header saying why the service ended or cancelled something. */
export function reasonHeader(cause: number, text: string): HeaderField {
  return field('Reason', `SIP;cause=${cause};text="${text}"`);
}

/**
 * The flood's target: a registered browser whose user never picks up. It answers no INVITE
 * (not even 180), and behaves otherwise like a UA: a CANCEL gets 200 and its INVITE 487
 * (RFC 3261 §9.2), an ACK is absorbed, a BYE gets 200. It counts what reached it and lets
 * the size probe wait for one INVITE by Call-ID.
 */
import { response, token } from '../lib/sip-message.mjs';
import { RefreshingUa } from '../soak/refreshing-ua.mjs';

/** INVITEs kept for their CANCEL; the service holds far fewer forks than this. */
const MAX_PENDING = 4096;

export class SilentUa extends RefreshingUa {
  constructor(o) {
    super(o);
    this.pending = new Map();
    this.waiting = new Map();
    this.received = { invites: 0, inviteBytes: 0, cancels: 0, acks: 0, byes: 0, other: 0 };
  }

  /** Resolves with the INVITE of `callId` when it arrives. */
  awaitInvite(callId) {
    return new Promise((resolve) => this.waiting.set(callId, resolve));
  }

  forget(callId) {
    this.waiting.delete(callId);
  }

  onRequest(req) {
    switch (req.method) {
      case 'INVITE': {
        this.received.invites++;
        this.received.inviteBytes += req.lines.reduce((a, l) => a + l.length + 2, 2) + Buffer.byteLength(req.body);
        this.pending.set(req.callId, req);
        if (this.pending.size > MAX_PENDING) this.pending.delete(this.pending.keys().next().value);
        const w = this.waiting.get(req.callId);
        if (w) {
          this.waiting.delete(req.callId);
          w(req);
        }
        break;
      }
      case 'CANCEL': {
        this.received.cancels++;
        this.send(response(req, 200, 'OK', { toTag: token() }));
        const invite = this.pending.get(req.callId);
        if (invite) {
          this.pending.delete(req.callId);
          this.send(response(invite, 487, 'Request Terminated', { toTag: token() }));
        }
        break;
      }
      case 'ACK':
        this.received.acks++;
        break;
      case 'BYE':
        this.received.byes++;
        this.send(response(req, 200, 'OK'));
        break;
      default:
        this.received.other++;
        this.send(response(req, 200, 'OK'));
    }
  }
}

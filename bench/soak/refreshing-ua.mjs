/**
 * A simulated browser that keeps its registration alive: the bench's UA (bench/lib/sip-ua.mjs)
 * with a chosen Expires, a CSeq that grows on the one REGISTER Call-ID (RFC 3261 §10.2.4:
 * a refresh reuses the Call-ID with a higher CSeq, else the registrar answers 500), a check
 * that the 200 lists this UA's Contact with a lifetime, and a record of a socket the server
 * closed (a registration lost with it) and of the 180s it saw.
 */
import { authorization, md5Challenge } from '../lib/digest.mjs';
import { SipUa } from '../lib/sip-ua.mjs';
import { ScenarioFailure } from '../lib/stats.mjs';

const ALLOW = 'Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY';
const USER_AGENT = 'User-Agent: switchboard-bench/1';

export class RefreshingUa extends SipUa {
  /** @param o.expires REGISTER Expires in seconds; the rest as SipUa */
  constructor(o) {
    super(o);
    this.expires = o.expires ?? 600;
    this.cseq = 0;
    this.closedByUs = false;
    /** { code, reason, at } when the server closed the socket */
    this.serverClosed = null;
    this.onServerClose = o.onServerClose ?? null;
    this.ringing = new Set();
  }

  async connect(timeoutMs) {
    await super.connect(timeoutMs);
    this.ws.on('close', (code, reason) => {
      if (this.closedByUs) return;
      this.serverClosed = { code, reason: reason.toString(), at: Date.now() };
      this.onServerClose?.(this);
    });
  }

  close() {
    this.closedByUs = true;
    super.close();
  }

  onResponse(res) {
    if (res.status === 180) this.ringing.add(res.callId);
    super.onResponse(res);
  }

  registerRequest(cseq, auth) {
    return this.request('REGISTER', `sip:${this.domain}`, {
      to: `<${this.aor}>`,
      from: `<${this.aor}>;tag=${this.regTag}`,
      callId: this.regCallId,
      cseq,
      contact: false,
      auth,
      extra: [`Contact: <${this.contact}>;expires=${this.expires}`, `Expires: ${this.expires}`, ALLOW, 'Supported: path,gruu,outbound', USER_AGENT],
    });
  }

  /**
   * REGISTER (first or refresh) on this socket; a 401 is answered with MD5 digest as the
   * bench does. Resolves with the lifetime the 200 grants this UA's Contact.
   */
  async register() {
    let res = await this.transact('REGISTER', '*', this.registerRequest(++this.cseq, null));
    if (res.status === 401) {
      const challenge = md5Challenge(res.all('www-authenticate').map((l) => l.slice(l.indexOf(':') + 1).trim()));
      if (!challenge) throw new ScenarioFailure('no-md5-challenge');
      const auth = authorization(challenge, { user: this.user, password: this.password, method: 'REGISTER', uri: `sip:${this.domain}` });
      res = await this.transact('REGISTER', '*', this.registerRequest(++this.cseq, auth));
    }
    if (res.status !== 200) throw new ScenarioFailure(res.status, 'REGISTER');
    const mine = res.all('contact').find((l) => l.includes(`<${this.contact}>`));
    const expires = mine ? Number(/;\s*expires=(\d+)/i.exec(mine)?.[1] ?? NaN) : NaN;
    if (!(expires > 0)) throw new ScenarioFailure('binding-missing', `200 to REGISTER does not list ${this.contact}`);
    return expires;
  }
}

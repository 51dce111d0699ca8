/**
 * A SIP phone over a real WebSocket (the `ws` package) for the crash test: it registers
 * with digest, places calls and answers them the way JsSIP does (its own `100 Trying`,
 * then `180 Ringing`, then `200 OK` with an SDP answer), and writes down, on the client
 * side, when each thing happened: what the service's records are checked against after
 * the runtime was killed. Every wait ends when the socket does, so a kill leaves nothing
 * hanging.
 */
import WebSocket from 'ws';
import { computeHa1, expectedResponse, parseDigestCredentials } from '../../sip/auth/digest.js';
import { headerLines, type SipResponse } from '../../sip/message/message.js';
import { callId, cseq } from '../../sip/message/headers.js';
import { TestUA, parse, rand, webrtcSdp, type SentRequest, type UaDialog } from './ua.js';

/** What the two ends of one call saw, by wall-clock time (ms); null: it did not happen. */
export interface CallFacts {
  readonly callId: string;
  readonly caller: string;
  readonly callee: string;
  readonly inviteSentAt: number;
  /** 180 at the caller. */
  ringingAt: number | null;
  /** The callee sent its 200. */
  calleeAnsweredAt: number | null;
  /** The 200 reached the caller (its ACK went out at once). */
  answeredAt: number | null;
  /** A final status other than 2xx at the caller. */
  failedWith: number | null;
  byeSentAt: number | null;
  /** The 200 to the caller's BYE reached it. */
  byeOkAt: number | null;
}

/** Every call of a run, by Call-ID: callers and callees write into the same book. */
export type CallBook = Map<string, CallFacts>;

type ResponseHandler = (res: SipResponse, text: string) => void;

export class CrashPhone {
  readonly ua: TestUA;
  /** As a callee: how long to ring before answering; null rings until the end. */
  answerAfterMs: () => number | null = () => null;
  private answering = true;
  private readonly answerTimers = new Set<ReturnType<typeof setTimeout>>();
  private readonly waiting = new Map<string, ResponseHandler>();
  private readonly dialogs = new Map<string, UaDialog>();
  /** Resolves when the socket is closed, for whatever reason. */
  readonly gone: Promise<void>;

  private constructor(
    private readonly ws: WebSocket,
    user: string,
    domain: string,
    private readonly password: string,
    private readonly book: CallBook,
  ) {
    this.ua = new TestUA(user, domain);
    this.gone = new Promise((resolve) => ws.once('close', () => resolve()));
    ws.on('error', () => undefined);
    ws.on('message', (d) => this.receive(d.toString()));
  }

  /** Opens `${wsBase}/sip/{tenant}/{user}` offering `sip`, from the client address `client` (CF-Connecting-IP). */
  static open(o: { wsBase: string; tenant: string; user: string; domain: string; password: string; client: string; book: CallBook }): Promise<CrashPhone> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${o.wsBase}/sip/${o.tenant}/${o.user}`, 'sip', { perMessageDeflate: false, headers: { 'CF-Connecting-IP': o.client } });
      ws.once('open', () => resolve(new CrashPhone(ws, o.user, o.domain, o.password, o.book)));
      ws.once('unexpected-response', (_q, res) => reject(new Error(`${o.user}: upgrade answered ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  get user(): string {
    return this.ua.user;
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** REGISTER, answer the 401 with MD5 digest (qop=auth, as JsSIP does), expect 200. */
  async register(): Promise<void> {
    const sent = this.ua.register({ expires: 600 });
    const challenge = await this.transaction(sent, 'REGISTER');
    if (challenge.status !== 401) throw new Error(`${this.user}: REGISTER got ${challenge.status}, expected a 401 challenge`);
    const retry = this.withDigest(sent, challenge);
    const ok = await this.transaction(retry, 'REGISTER');
    if (ok.status !== 200) throw new Error(`${this.user}: digest REGISTER got ${ok.status} ${ok.reason}`);
  }

  /**
   * Places a call and records it in the book; resolves with its facts once the call is
   * answered (ACK sent), refused, or the socket is gone.
   */
  async call(callee: string): Promise<CallFacts> {
    const invite = this.ua.invite(callee);
    const facts: CallFacts = {
      callId: invite.callId,
      caller: this.user,
      callee,
      inviteSentAt: Date.now(),
      ringingAt: null,
      calleeAnsweredAt: null,
      answeredAt: null,
      failedWith: null,
      byeSentAt: null,
      byeOkAt: null,
    };
    this.book.set(facts.callId, facts);
    const settled = new Promise<void>((resolve) => {
      this.waiting.set(`${invite.callId} INVITE`, (res, text) => {
        if (res.status === 180) facts.ringingAt ??= Date.now();
        if (res.status < 200) return;
        this.waiting.delete(`${invite.callId} INVITE`);
        if (res.status < 300) {
          facts.answeredAt = Date.now();
          const dialog = this.ua.dialogAsCaller(invite, text);
          this.dialogs.set(invite.callId, dialog);
          this.send(this.ua.inDialog(dialog, 'ACK').text);
        } else {
          facts.failedWith = res.status;
          this.send(this.ua.ackNon2xx(invite, text));
        }
        resolve();
      });
    });
    this.send(invite.text);
    await Promise.race([settled, this.gone]);
    return facts;
  }

  /** Ends an answered call with BYE; resolves when its 200 came back, or the socket is gone. */
  async hangUp(facts: CallFacts): Promise<void> {
    const dialog = this.dialogs.get(facts.callId);
    if (!dialog) throw new Error(`${this.user}: no dialog for ${facts.callId}`);
    const bye = this.ua.inDialog(dialog, 'BYE');
    facts.byeSentAt = Date.now();
    const res = this.transaction(bye, 'BYE').then((r) => {
      if (r.status === 200) facts.byeOkAt = Date.now();
    });
    await Promise.race([res, this.gone]);
  }

  /** From now on, as a callee: ring, never answer (the answers already due are dropped). */
  stopAnswering(): void {
    this.answering = false;
    for (const t of this.answerTimers) clearTimeout(t);
    this.answerTimers.clear();
  }

  close(): void {
    this.stopAnswering();
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }

  private send(text: string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
  }

  /** Sends a request; resolves with its final response (never, if the socket goes first). */
  private transaction(sent: SentRequest, method: string): Promise<SipResponse> {
    return new Promise((resolve) => {
      const key = `${sent.callId} ${method}`;
      this.waiting.set(key, (res) => {
        if (res.status < 200) return;
        this.waiting.delete(key);
        resolve(res);
      });
      this.send(sent.text);
    });
  }

  private receive(text: string): void {
    // The service's CRLF keepalive answers (RFC 5626 §4.4.1) carry nothing.
    if (text.trim() === '') return;
    const msg = parse(text);
    if (msg.kind === 'response') {
      this.waiting.get(`${callId(msg)} ${cseq(msg)?.method}`)?.(msg, text);
      return;
    }
    switch (msg.method) {
      case 'INVITE':
        return this.ring(text);
      case 'ACK':
        return;
      default:
        // BYE, OPTIONS (the service's dead-flow probe), anything else: 200.
        this.send(this.ua.respond(text, 200, { contact: false }));
    }
  }

  /** As JsSIP answers an INVITE: 100, 180 with our tag, then the 200 with the SDP answer. */
  private ring(text: string): void {
    const tag = rand();
    this.send(this.ua.respond(text, 100, { contact: false }));
    this.send(this.ua.respond(text, 180, { toTag: tag }));
    const after = this.answering ? this.answerAfterMs() : null;
    if (after === null) return;
    const timer = setTimeout(() => {
      this.answerTimers.delete(timer);
      if (!this.answering || !this.open) return;
      const facts = this.book.get(callId(parse(text)));
      if (facts) facts.calleeAnsweredAt = Date.now();
      this.send(this.ua.respond(text, 200, { toTag: tag, body: webrtcSdp().replace('a=setup:actpass', 'a=setup:active') }));
    }, after);
    this.answerTimers.add(timer);
  }

  /** The request again with a new branch and CSeq, answering the MD5 challenge of a 401 (RFC 2617 §3.2.2). */
  private withDigest(sent: SentRequest, challenge: SipResponse): SentRequest {
    const offered = headerLines(challenge, 'www-authenticate').find((v) => /algorithm=MD5\b/i.test(v));
    if (!offered) throw new Error(`${this.user}: no MD5 challenge in ${JSON.stringify(headerLines(challenge, 'www-authenticate'))}`);
    const realm = /realm="([^"]+)"/.exec(offered)![1]!;
    const nonce = /nonce="([^"]+)"/.exec(offered)![1]!;
    // The REGISTER's Request-URI (TestUA.register).
    const uri = `sip:${this.ua.domain}`;
    const cnonce = rand();
    const fields = `username="${this.user}", realm="${realm}", nonce="${nonce}", uri="${uri}"`;
    const creds = parseDigestCredentials(`Digest ${fields}, response="x", algorithm=MD5, qop=auth, nc=00000001, cnonce="${cnonce}"`)!;
    const response = expectedResponse(creds, 'REGISTER', computeHa1('MD5', this.user, realm, this.password));
    const cseqNum = sent.cseq + 1;
    const branch = `z9hG4bK${rand()}`;
    const text = sent.text
      .replace(/^CSeq: \d+ /m, `CSeq: ${cseqNum} `)
      .replace(/^Via: (.*);branch=[^;\r\n]+/m, `Via: $1;branch=${branch}`)
      .replace(/\r\n\r\n/, `\r\nAuthorization: Digest ${fields}, response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="${cnonce}"\r\n\r\n`);
    return { ...sent, text, cseq: cseqNum, branch };
  }
}

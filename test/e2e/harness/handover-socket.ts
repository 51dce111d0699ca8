/**
 * Make-before-break for the libraries' WebSocket (RFC 5626 §4.2.1): a WebSocket that the
 * SIP library holds as one, while underneath the harness opens a second connection to
 * the same URL, sends everything through it from then on (the library re-registers its
 * instance on it), and only then closes the first, whose close the library never sees.
 * Neither JsSIP nor SIP.js forms a new flow before the old one fails; this is how a
 * client that does (a network hand-over seen coming) looks to the service.
 */
export class HandoverSocket extends EventTarget {
  /** The newest one made: the harness's handle on the library's socket. */
  static latest: HandoverSocket | null = null;
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  // Libraries compare readyState with these on the instance, too.
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readonly url: string;
  protocol = '';
  binaryType: BinaryType = 'blob';
  onopen: ((e: Event) => void) | null = null;
  onmessage: ((e: MessageEvent) => void) | null = null;
  onclose: ((e: CloseEvent) => void) | null = null;
  onerror: ((e: Event) => void) | null = null;
  private current: WebSocket;
  private readonly retired = new Set<WebSocket>();
  private opened = false;

  constructor(url: string | URL, protocols?: string | string[]) {
    super();
    this.url = String(url);
    this.current = this.attach(new Inner(this.url, protocols));
    HandoverSocket.latest = this;
  }

  get readyState(): number {
    return this.current.readyState;
  }

  get bufferedAmount(): number {
    return this.current.bufferedAmount;
  }

  get extensions(): string {
    return this.current.extensions;
  }

  send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
    this.current.send(data);
  }

  close(code?: number, reason?: string): void {
    this.retire();
    this.current.close(code, reason);
  }

  /** Opens the new connection; from when it is open, everything is sent through it. */
  async handover(): Promise<void> {
    const next = this.attach(new Inner(this.url, this.protocol || 'sip'));
    await new Promise<void>((resolve, reject) => {
      next.addEventListener('open', () => resolve(), { once: true });
      next.addEventListener('error', () => reject(new Error('the new connection did not open')), { once: true });
    });
    this.retired.add(this.current);
    this.current = next;
  }

  /** Closes the connections handed over from (the library is told nothing). */
  retire(): void {
    for (const ws of this.retired) ws.close(1000, 'moved to a newer flow');
    this.retired.clear();
  }

  private attach(ws: WebSocket): WebSocket {
    ws.binaryType = this.binaryType;
    ws.addEventListener('open', () => {
      if (this.opened) return;
      this.opened = true;
      this.protocol = ws.protocol;
      this.fire('open', new Event('open'));
    });
    // Messages from either connection reach the library: answers to what went out on the old one still count.
    ws.addEventListener('message', (e) => this.fire('message', new MessageEvent('message', { data: e.data })));
    ws.addEventListener('close', (e) => {
      if (ws === this.current) this.fire('close', new CloseEvent('close', { code: e.code, reason: e.reason, wasClean: e.wasClean }));
    });
    ws.addEventListener('error', () => {
      if (ws === this.current) this.fire('error', new Event('error'));
    });
    return ws;
  }

  private fire(type: 'open' | 'message' | 'close' | 'error', e: Event): void {
    const handler = this[`on${type}`] as ((e: Event) => void) | null;
    handler?.call(this, e);
    this.dispatchEvent(e);
  }
}

/** The page's WebSocket as the instrumentation left it (tapped), captured before we replace it. */
const Inner = window.WebSocket;

/** How many 200s to a REGISTER the page has received. */
export function registerOks(): number {
  return window.__e2e.frames.filter((f) => f.dir === 'in' && f.text.startsWith('SIP/2.0 200') && /^CSeq:\s*\d+ REGISTER/im.test(f.text)).length;
}

export async function until(test: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

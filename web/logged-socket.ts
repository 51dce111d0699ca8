/**
 * JsSIP's WebSocket transport with a tap: every SIP message that crosses the socket is
 * handed to `onFrame` as text, for the page's message log. JsSIP sets `onconnect`,
 * `ondisconnect` and `ondata` on whatever socket it is given, so those are forwarded to
 * the real socket, `ondata` through the tap.
 */
import JsSIP from 'jssip';

export type FrameDirection = 'sent' | 'received';

const decoder = new TextDecoder();

export class LoggedSocket {
  private readonly inner: JsSIP.WebSocketInterface;

  constructor(
    url: string,
    private readonly onFrame: (direction: FrameDirection, text: string) => void,
  ) {
    this.inner = new JsSIP.WebSocketInterface(url);
  }

  get via_transport(): string {
    return this.inner.via_transport;
  }

  set via_transport(value: string) {
    this.inner.via_transport = value;
  }

  get url(): string {
    return this.inner.url;
  }

  get sip_uri(): string {
    return this.inner.sip_uri;
  }

  connect(): void {
    this.inner.connect();
  }

  disconnect(): void {
    this.inner.disconnect();
  }

  isConnected(): boolean {
    return this.inner.isConnected();
  }

  isConnecting(): boolean {
    return this.inner.isConnecting();
  }

  send(message: string | ArrayBufferLike | Blob | ArrayBufferView): boolean {
    if (typeof message === 'string' && message.trim() !== '') this.onFrame('sent', message);
    return this.inner.send(message);
  }

  set onconnect(fn: () => void) {
    this.inner.onconnect = fn;
  }

  set ondisconnect(fn: (error: boolean, code?: number, reason?: string) => void) {
    this.inner.ondisconnect = fn;
  }

  set ondata(fn: (data: unknown) => void) {
    this.inner.ondata = (data: unknown) => {
      const text = typeof data === 'string' ? data : data instanceof ArrayBuffer ? decoder.decode(data) : '';
      // RFC 5626 keepalives (bare CRLFs) are not messages.
      if (text.trim() !== '') this.onFrame('received', text);
      fn(data);
    };
  }
}

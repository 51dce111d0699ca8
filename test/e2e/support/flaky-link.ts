/**
 * A network path the tests can break: a TCP relay on loopback between a page and the
 * product. `cut()` resets every connection through it (both ends see the transport fail,
 * as when a Wi-Fi network goes away), `down()` refuses new ones until `up()`. Only the
 * page's signaling goes through it: WebRTC media is peer-to-peer and does not notice.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface FlakyLink {
  /** `url` with its host and port replaced by the relay's. */
  via(url: string): string;
  /** Resets every open connection through the relay (TCP RST to both ends). */
  cut(): void;
  /** New connections are reset at once until `up()`. */
  down(): void;
  up(): void;
  /** How many connections the relay has accepted while up. */
  readonly accepted: number;
  close(): Promise<void>;
}

export async function flakyLink(target: string): Promise<FlakyLink> {
  const { hostname, port } = new URL(target);
  const open = new Set<Socket>();
  let isUp = true;
  let accepted = 0;
  const server: Server = createServer((client) => {
    if (!isUp) {
      client.resetAndDestroy();
      return;
    }
    accepted++;
    const upstream = connect(Number(port), hostname);
    open.add(client);
    open.add(upstream);
    const drop = () => {
      open.delete(client);
      open.delete(upstream);
      if (!client.destroyed) client.resetAndDestroy();
      if (!upstream.destroyed) upstream.resetAndDestroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const relayPort = (server.address() as AddressInfo).port;
  const cut = (): void => {
    for (const s of [...open]) s.resetAndDestroy();
    open.clear();
  };
  return {
    via(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(relayPort);
      return u.toString();
    },
    cut,
    down() {
      isUp = false;
    },
    up() {
      isUp = true;
    },
    get accepted() {
      return accepted;
    },
    close() {
      cut();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A real coturn for the TURN tests: loopback only, TURN REST auth (`use-auth-secret`),
 * no TLS, an empty configuration file so the distribution's defaults do not apply, run in
 * the foreground and stopped by its PID.
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../support/dev-server.js';

export interface Coturn {
  readonly port: number;
  readonly secret: string;
  /** For the Worker's TURN_URLS. */
  readonly urls: string;
  readonly logs: () => string;
  stop(): Promise<void>;
}

/** One RFC 5389 Binding request over UDP; resolves true when any answer comes back. */
function stunAnswers(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    const request = Buffer.alloc(20);
    request.writeUInt16BE(0x0001, 0); // Binding request
    request.writeUInt32BE(0x2112a442, 4); // magic cookie
    randomBytes(12).copy(request, 8);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.on('message', () => done(true));
    sock.on('error', () => done(false));
    sock.send(request, port, '127.0.0.1');
  });
}

export async function startCoturn(): Promise<Coturn> {
  const port = await freePort();
  const secret = randomBytes(18).toString('base64url');
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-coturn-'));
  const config = join(dir, 'empty.conf');
  const log = join(dir, 'turnserver.log');
  writeFileSync(config, '');
  const child = spawn(
    'turnserver',
    [
      '-c', config,
      '--listening-ip=127.0.0.1',
      '--relay-ip=127.0.0.1',
      `--listening-port=${port}`,
      '--use-auth-secret',
      `--static-auth-secret=${secret}`,
      '--realm=switchboard.test',
      '--allow-loopback-peers',
      '--no-tls',
      '--no-dtls',
      '--no-cli',
      '--no-multicast-peers',
      '--verbose',
      // A file, not stdout: coturn block-buffers a piped stdout.
      `--log-file=${log}`,
      '--simple-log',
      `--pidfile=${join(dir, 'turnserver.pid')}`,
      `--userdb=${join(dir, 'turndb')}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (d) => (output += d.toString()));
  child.stderr.on('data', (d) => (output += d.toString()));
  const logs = (): string => {
    try {
      return readFileSync(log, 'utf8');
    } catch {
      return output;
    }
  };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Should the test process end without stop(), coturn must not outlive it.
  const orphanGuard = () => child.pid && child.exitCode === null && process.kill(child.pid, 'SIGKILL');
  process.once('exit', orphanGuard);

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      process.kill(child.pid, 'SIGTERM');
      const killer = setTimeout(() => child.pid && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), 3000);
      await exited;
      clearTimeout(killer);
    }
    process.off('exit', orphanGuard);
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 15_000;
  while (!(await stunAnswers(port, 200))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`coturn did not answer STUN on 127.0.0.1:${port}:\n${output}\n${logs()}`);
    }
  }
  return { port, secret, urls: `turn:127.0.0.1:${port}?transport=udp`, logs, stop };
}

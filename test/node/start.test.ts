/**
 * `npm start` on this machine: the softphone page, a ready demo tenant whose users can
 * register at once with the printed passwords (the real jssip package), and the page's
 * sign-in path (password login -> token).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import JsSIP from 'jssip';
import type { UAConfiguration } from 'jssip/lib/UA';
import { ROOT, freePort, stopGroup } from '../support/dev-server.js';

(globalThis as unknown as { WebSocket: unknown }).WebSocket = WebSocket;
JsSIP.debug.disable('JsSIP:*');

let child: ChildProcess;
let output = '';
let base: string;
let port: number;
const state = mkdtempSync(join(tmpdir(), 'switchboard-start-'));

beforeAll(async () => {
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, [join(ROOT, 'scripts/start.mjs')], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), PERSIST_DIR: state, CI: '1', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout!.on('data', (d) => (output += d.toString()));
  child.stderr!.on('data', (d) => (output += d.toString()));
  const deadline = Date.now() + 120_000;
  while (!output.includes('Switchboard is running.')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`npm start did not come up:\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}, 150_000);

afterAll(async () => {
  if (child) await stopGroup(child);
  rmSync(state, { recursive: true, force: true });
});

it('says what to open and prints the demo credentials', () => {
  expect(output).toContain(`Open http://127.0.0.1:${port}/ in two tabs`);
  expect(output).toMatch(/tenant demo\s+user alice\s+password alice-demo-pass/);
  expect(output).toMatch(/tenant demo\s+user bob\s+password bob-demo-pass/);
});

it('serves the softphone page at /', async () => {
  const res = await fetch(`${base}/`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/text\/html/);
  expect(await res.text()).toMatch(/<title>[^<]*Switchboard/);
});

it('the demo users can sign in and register with the printed passwords', async () => {
  const login = await fetch(`${base}/v1/tenants/demo/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: 'alice', password: 'alice-demo-pass' }) });
  expect(login.status).toBe(200);
  const { sipUri } = (await login.json()) as { sipUri: string };
  const ua = new JsSIP.UA({ sockets: [new JsSIP.WebSocketInterface(`ws://127.0.0.1:${port}/sip/demo/bob`)], uri: sipUri.replace('alice', 'bob'), password: 'bob-demo-pass' } as UAConfiguration);
  await new Promise<void>((resolve, reject) => {
    ua.on('registered', () => resolve());
    ua.on('registrationFailed', (e: { cause?: string }) => reject(new Error(String(e.cause))));
    ua.start();
  });
  ua.stop();
});

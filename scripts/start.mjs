#!/usr/bin/env node
// `npm start`: the whole product on this machine. Builds the softphone page, runs
// `wrangler dev` (workerd) on 127.0.0.1:8787 with local persistence in .wrangler/state,
// and, in local development only, provisions a demo tenant through the real API.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const host = '127.0.0.1';
const port = Number(process.env.PORT ?? 8787);
const base = `http://${host}:${port}`;

// Local secrets live in .dev.vars (git-ignored). Create it once with a random admin token.
const devVars = `${root}.dev.vars`;
if (!existsSync(devVars)) {
  writeFileSync(devVars, `# Local development secrets (not committed)\nADMIN_TOKEN=${randomBytes(24).toString('base64url')}\n`);
}
// And a VAPID key pair, so that the softphone can offer Web Push (RFC 8292) locally too.
if (!/^VAPID_PUBLIC_KEY=/m.test(readFileSync(devVars, 'utf8'))) {
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign']);
  const pub = Buffer.from(await crypto.subtle.exportKey('raw', keys.publicKey)).toString('base64url');
  const { d } = await crypto.subtle.exportKey('jwk', keys.privateKey);
  writeFileSync(devVars, `${readFileSync(devVars, 'utf8').replace(/\n?$/, '\n')}VAPID_PUBLIC_KEY=${pub}\nVAPID_PRIVATE_KEY=${d}\nVAPID_SUBJECT=mailto:dev@localhost\n`);
}
const adminToken = /^ADMIN_TOKEN=(.+)$/m.exec(readFileSync(devVars, 'utf8'))?.[1]?.trim();
if (!adminToken) {
  console.error('.dev.vars has no ADMIN_TOKEN line; add one (ADMIN_TOKEN=<something random>) and retry.');
  process.exit(1);
}

const build = spawnSync(process.execPath, [`${root}scripts/build-web.mjs`], { stdio: 'inherit', cwd: root });
if (build.status !== 0) process.exit(build.status ?? 1);

const persist = process.env.PERSIST_DIR ?? `${root}.wrangler/state`;
const wrangler = spawn(process.execPath, [`${root}scripts/wrangler.mjs`, 'dev', '--ip', host, '--port', String(port), '--persist-to', persist], {
  cwd: root,
  stdio: ['inherit', 'pipe', 'inherit'],
  env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
});
wrangler.stdout.pipe(process.stdout);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => wrangler.kill(sig));
wrangler.on('exit', (code) => process.exit(code ?? 0));

const DEMO_USERS = { alice: 'alice-demo-pass', bob: 'bob-demo-pass', carol: 'carol-demo-pass' };

async function call(method, path, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

async function seed() {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      // not up yet
    }
    if (i > 240) throw new Error('wrangler dev did not start');
    await new Promise((r) => setTimeout(r, 250));
  }
  const tenant = await call('POST', '/v1/tenants', { id: 'demo', name: 'Demo' });
  if (tenant.status !== 201 && tenant.status !== 409) throw new Error(`demo tenant: ${tenant.status} ${JSON.stringify(tenant.body)}`);
  for (const [user, password] of Object.entries(DEMO_USERS)) {
    const r = await call('PUT', `/v1/tenants/demo/users/${user}`, { password, displayName: user[0].toUpperCase() + user.slice(1) });
    if (r.status !== 200 && r.status !== 201) throw new Error(`demo user ${user}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  const lines = [
    '',
    'Switchboard is running.',
    '',
    `  Open ${base}/ in two tabs, and sign in as alice and as bob of the demo tenant:`,
    ...Object.entries(DEMO_USERS).map(([u, p]) => `    tenant demo   user ${u.padEnd(6)} password ${p}`),
    '',
    `  SIP over WebSocket:  ws://${host}:${port}/sip/demo/<user>   (subprotocol "sip")`,
    `  API:                 ${base}/v1   (admin token in .dev.vars)   OpenAPI: ${base}/openapi.json`,
    '',
  ];
  console.log(lines.join('\n'));
}

seed().catch((err) => {
  console.error(`demo seeding failed: ${err.message}`);
});

#!/usr/bin/env node
// Runs the pinned wrangler (4.87) on this machine's Node 20. Its launcher refuses Node < 22,
// but the CLI itself runs fine on 20; this calls the CLI the way the launcher would.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const cli = join(dirname(require.resolve('wrangler/package.json')), 'wrangler-dist', 'cli.js');
const child = spawn(process.execPath, ['--no-warnings', '--experimental-vm-modules', cli, ...process.argv.slice(2)], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

/**
 * The generator runs pinned to its own core with the highest file-descriptor limit the
 * machine allows: the script re-executes itself that way once, and waits for the copy.
 * Returns true in the copy (go on), false in the original (the copy does the work).
 */
import { spawn } from 'node:child_process';

export function ensurePinned(scriptPath, core) {
  if (process.env.BENCH_PINNED === '1') return true;
  const script = 'ulimit -n "$(ulimit -Hn)" && exec taskset -c "$0" "$@"';
  const child = spawn('bash', ['-c', script, String(core), process.execPath, scriptPath, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_PINNED: '1' },
  });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  return false;
}

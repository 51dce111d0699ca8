/**
 * What else ran on the two cores during a measurement. A benchmark that shares its cores
 * with other work measures that work too, so the report says how much there was:
 * busy time of each core (/proc/stat) minus the time of our own processes on it.
 */
import { readFileSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** Busy milliseconds of one core since boot. */
export function coreBusyMs(core) {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`cpu${core} `));
  if (!line) return 0;
  // user nice system idle iowait irq softirq steal ...
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + (steal ?? 0)) * TICK_MS;
}

/**
 * Starts a reading; `end(ownGeneratorMs, ownServerMs, elapsedMs)` returns the share of
 * each core used by other processes (0 = the cores were ours alone).
 */
export function foreignLoad(generatorCore, serverCore) {
  const g0 = coreBusyMs(generatorCore);
  const s0 = coreBusyMs(serverCore);
  return (ownGeneratorMs, ownServerMs, elapsedMs) => {
    const share = (busy, own) => Math.max(0, Math.round(((busy - own) / elapsedMs) * 100) / 100);
    return {
      generatorCore: share(coreBusyMs(generatorCore) - g0, ownGeneratorMs),
      serverCore: share(coreBusyMs(serverCore) - s0, ownServerMs),
    };
  };
}

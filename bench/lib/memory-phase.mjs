/**
 * Memory per idle registered socket, and keepalives on idle sockets. On a freshly started
 * server: a baseline with no sockets, then N registered sockets left idle long enough for
 * Durable Objects to hibernate (~10 s without events), memory again, (M - baseline) / N.
 * Then every socket sends a CRLF keepalive (RFC 5626 §4.4.1) and must get "\r\n" back;
 * the server CPU this costs, and its memory just after, show whether objects woke up.
 */
import { Population } from './population.mjs';
import { cpuMs, pssKiB, sleep } from './proc.mjs';
import { summarize } from './stats.mjs';

/** PSS once it stops moving (two readings a second apart within 0.5 %), at most `maxMs` more. */
async function settledPss(pids, maxMs = 10_000) {
  let prev = pssKiB(pids());
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    await sleep(1000);
    const cur = pssKiB(pids());
    if (Math.abs(cur - prev) <= prev * 0.005) return cur;
    prev = cur;
  }
  return prev;
}

/** Runs `fn` over `items` with at most `limit` in flight; counts the ones that resolved. */
async function inFlight(items, limit, fn) {
  let next = 0;
  let ok = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
        ok++;
      } catch {
        // counted as not answered
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return ok;
}

/**
 * Sends `\r\n\r\n` on every open socket, `concurrency` at a time (clients spread their
 * keepalives; a burst on thousands of idle connections at once makes Kamailio's TCP
 * main process drop connections); every one must be answered.
 */
async function keepalives(uas, pids, concurrency) {
  const cpu0 = cpuMs(pids());
  const t0 = performance.now();
  const answered = await inFlight(uas, concurrency, (ua) => ua.ping());
  const ms = performance.now() - t0;
  const cpu = cpuMs(pids()) - cpu0;
  await sleep(1000);
  return {
    sent: uas.length,
    answered,
    seconds: Math.round(ms) / 1000,
    serverCpuMs: Math.round(cpu * 10) / 10,
    serverCpuUsPerKeepalive: Math.round((cpu * 1000) / uas.length),
    pssAfterKiB: pssKiB(pids()),
  };
}

/**
 * One request per socket that the user's object must answer itself (it wakes up). Only a
 * sample of the sockets: an awake object holds its SQLite files open, and thousands at
 * once would exhaust the file descriptors the machine allows.
 */
async function wakeUps(uas, pids, concurrency) {
  const cpu0 = cpuMs(pids());
  const lat = [];
  const answered = await inFlight(uas, concurrency, async (ua) => {
    const t = performance.now();
    await ua.options();
    lat.push(performance.now() - t);
  });
  const cpu = cpuMs(pids()) - cpu0;
  return {
    sent: uas.length,
    answered,
    serverCpuMs: Math.round(cpu * 10) / 10,
    serverCpuUsPerWakeUp: Math.round((cpu * 1000) / uas.length),
    latencyMs: summarize(lat),
  };
}

export async function memoryPhase({ target, steps, idleMs, concurrency, wake, log }) {
  const pids = () => target.pids();
  // Warm-up: load the code and run every path once, then let it all go idle.
  const warm = new Population(target);
  await warm.register(0, 20, { concurrency: 20 });
  await warm.closeAll();
  await sleep(idleMs);
  const baselineKiB = await settledPss(pids);
  log(`  baseline ${baselineKiB} KiB with no sockets`);

  const pop = new Population(target);
  const out = { baselineKiB, idleSeconds: idleMs / 1000, steps: [] };
  let have = 0;
  for (const n of steps) {
    const reg = await pop.registerPaced(have, n, { concurrency });
    have = n;
    if (reg.failures > 0) log(`  ${reg.failures} registrations failed: ${JSON.stringify(reg.failuresByCause)}`);
    // Idle sockets should cost no CPU: what the server spends now is timers waking objects.
    const cpu0 = cpuMs(pids());
    await sleep(idleMs);
    const idleCpu = cpuMs(pids()) - cpu0;
    const kib = await settledPss(pids);
    const sockets = pop.open.length;
    const step = {
      requested: n,
      sockets,
      registration: { perSecond: reg.registrationsPerSecond, failures: reg.failures, failuresByCause: reg.failuresByCause },
      idleServerCpuMs: Math.round(idleCpu),
      idleServerCpuMsPerNewSocket: reg.registered ? Math.round((idleCpu / reg.registered) * 1000) / 1000 : null,
      pssKiB: kib,
      perSocketKiB: Math.round(((kib - baselineKiB) / sockets) * 10) / 10,
    };
    const prev = out.steps.at(-1);
    // The cost of the sockets added since the previous step, once the heap has grown.
    if (prev) step.marginalPerSocketKiB = Math.round(((kib - prev.pssKiB) / (sockets - prev.sockets)) * 10) / 10;
    step.keepalive = await keepalives(pop.open, pids, concurrency);
    log(
      `  ${sockets} idle sockets: ${kib} KiB, ${step.perSocketKiB} KiB/socket; ${step.idleServerCpuMs} ms server CPU while idle; ` +
        `keepalives ${step.keepalive.answered}/${step.keepalive.sent} answered, ${step.keepalive.serverCpuMs} ms server CPU`,
    );
    out.steps.push(step);
  }
  if (wake > 0) {
    out.wakeUps = await wakeUps(pop.open.slice(0, wake), pids, concurrency);
    log(`  wake-ups: ${out.wakeUps.answered}/${out.wakeUps.sent} answered, ${out.wakeUps.serverCpuMs} ms server CPU`);
  }
  // The sockets stay open: the caller reads the server's log before they close.
  return { result: out, population: pop };
}

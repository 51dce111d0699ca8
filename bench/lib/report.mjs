/**
 * The results: ratios of the product to the relay and to Kamailio, the issue's targets
 * with PASS/FAIL, and a Markdown table for the README.
 */

const LABELS = { product: 'Switchboard', relay: 'bare relay', kamailio: 'Kamailio' };

const num = (v, digits = 0) =>
  v === null || v === undefined || Number.isNaN(v) ? 'n/a' : Number(v).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

const ratio = (a, b) => (a == null || b == null || b === 0 ? null : Math.round((a / b) * 100) / 100);

function memoryAt(t, sockets) {
  return t?.memory?.steps?.find((s) => s.requested === sockets) ?? null;
}

/** The figures compared across targets, as plain numbers. */
function figures(t, memorySockets) {
  const f = {
    registrationsPerSecond: t?.registration?.registrationsPerSecond ?? null,
    setupsPerSecond: t?.calls?.setupsPerSecond ?? null,
    p99: t?.calls?.setupLatencyMs?.p99 ?? null,
  };
  for (const n of memorySockets) f[`memoryPerSocketKiB@${n}`] = memoryAt(t, n)?.perSocketKiB ?? null;
  return f;
}

export function ratios(results, memorySockets) {
  const p = figures(results.product, memorySockets);
  const out = {};
  for (const other of ['relay', 'kamailio']) {
    if (!results.product || !results[other]) continue;
    const o = figures(results[other], memorySockets);
    out[`product/${other}`] = Object.fromEntries(Object.keys(p).map((k) => [k, ratio(p[k], o[k])]));
  }
  return out;
}

/** The issue's targets for the product, judged against the relay on the same runtime. */
export function checks(results, memorySockets) {
  const p = results.product;
  const r = results.relay;
  if (!p) return [];
  const out = [];
  const add = (name, actual, limit, pass) => out.push({ name, actual, limit, pass });
  if (r) {
    const pr = ratios(results, memorySockets)['product/relay'];
    add('call setups/s at least 0.7x the relay', pr.setupsPerSecond, 0.7, pr.setupsPerSecond !== null && pr.setupsPerSecond >= 0.7);
    add('p99 setup latency within 1.5x the relay', pr.p99, 1.5, pr.p99 !== null && pr.p99 <= 1.5);
    for (const n of memorySockets) {
      const v = pr[`memoryPerSocketKiB@${n}`];
      const step = memoryAt(p, n);
      if (!step) continue;
      const complete = step.sockets === n && memoryAt(r, n)?.sockets === n;
      add(`memory per idle socket at ${num(n)} at most 1.3x the relay`, v, 1.3, complete && v !== null && v <= 1.3);
    }
  }
  if (p.calls) {
    add('zero failed calls', p.calls.failedCalls, 0, p.calls.failedCalls === 0);
    add('zero SDP mismatches', p.calls.sdpMismatches, 0, p.calls.sdpMismatches === 0);
  }
  const errors = measuredErrors(p);
  add('no errors in the server log', errors, 0, errors === 0);
  const lastStep = p.memory?.steps?.at(-1);
  if (lastStep) {
    const k = lastStep.keepalive;
    add(`${num(lastStep.requested)} idle sockets registered`, `${lastStep.sockets}/${lastStep.requested}`, 'all', lastStep.sockets === lastStep.requested);
    add(`every keepalive answered at ${num(lastStep.requested)} idle sockets`, `${k.answered}/${k.sent}`, 'all', k.answered === k.sent);
  }
  return out;
}

/** Errors the server logged while being measured (closing every socket at the end is apart). */
function measuredErrors(t) {
  return ['provisioning', 'calls', 'memory'].reduce((a, phase) => a + (t.serverLogErrors?.[phase]?.total ?? 0), 0);
}

function failuresText(calls) {
  if (!calls) return 'n/a';
  const parts = Object.entries(calls.failuresByCause).map(([k, v]) => `${v}× ${k}`);
  return parts.length ? `${calls.failedCalls} (${parts.join(', ')})` : '0';
}

export function markdown(report) {
  const names = Object.keys(report.targets);
  const t = (n) => report.targets[n];
  const ms = report.options.memorySockets;
  const rs = report.ratios;
  const cols = [...names.map((n) => LABELS[n]), ...Object.keys(rs).map((k) => `Switchboard / ${LABELS[k.split('/')[1]]}`)];
  const rows = [];
  const row = (label, values, ratioKey, digits = 0) =>
    rows.push([label, ...names.map((n) => values(t(n))), ...Object.values(rs).map((r) => (ratioKey && r[ratioKey] != null ? `${num(r[ratioKey], 2)}×` : ''))]);

  row(`registrations/s (connect + digest REGISTER, ${report.options.regConcurrency} in flight)`, (x) => num(x.registration?.registrationsPerSecond), 'registrationsPerSecond');
  row(`call setups/s (${report.options.concurrency} calls in flight)`, (x) => num(x.calls?.setupsPerSecond), 'setupsPerSecond');
  row('setup latency p50 (ms, INVITE → 200 at caller)', (x) => num(x.calls?.setupLatencyMs.p50, 1));
  row('setup latency p95 (ms)', (x) => num(x.calls?.setupLatencyMs.p95, 1));
  row('setup latency p99 (ms)', (x) => num(x.calls?.setupLatencyMs.p99, 1), 'p99');
  row('failed calls (by status)', (x) => failuresText(x.calls));
  row('SDP mismatches', (x) => num(x.calls?.sdpMismatches));
  row('server CPU ms per call', (x) => num(x.calls?.serverCpuMsPerCall, 2));
  row('server CPU ms per registration', (x) => num(x.registration?.serverCpuMsPerRegistration, 2));
  for (const n of ms) {
    row(`memory per idle socket at ${num(n)} (KiB)`, (x) => {
      const st = memoryAt(x, n);
      if (!st) return 'n/a';
      return st.sockets === n ? num(st.perSocketKiB, 1) : `${num(st.perSocketKiB, 1)} (only ${num(st.sockets)} registered)`;
    }, `memoryPerSocketKiB@${n}`);
  }
  if (ms.length > 1) {
    const [a, b] = ms.slice(-2);
    row(`marginal memory per socket from ${num(a)} to ${num(b)} (KiB)`, (x) => num(memoryAt(x, b)?.marginalPerSocketKiB, 1));
  }
  row('server CPU while idle after registering (ms per socket)', (x) => {
    const m = x.memory;
    return m ? `${num(m.steps?.[0]?.idleServerCpuMsPerNewSocket, 3)} (${m.idleSeconds} s)` : 'n/a';
  });
  const last = ms.at(-1);
  row(`keepalives answered at ${num(last)} idle sockets`, (x) => {
    const k = memoryAt(x, last)?.keepalive;
    return k ? `${num(k.answered)}/${num(k.sent)}` : 'n/a';
  });
  row('server CPU per keepalive (µs)', (x) => num(memoryAt(x, last)?.keepalive.serverCpuUsPerKeepalive));
  row('server CPU per DO wake-up (µs, OPTIONS)', (x) => num(x.memory?.wakeUps?.serverCpuUsPerWakeUp));
  row('errors in the server log (provisioning, calls, memory)', (x) => num(measuredErrors(x)));
  row(`errors in the server log when ${num(ms.at(-1))} sockets close at once`, (x) => num(x.serverLogErrors?.teardown?.total));
  row('generator CPU during calls (% of its core)', (x) => (x.calls ? `${num(x.calls.generatorCpuUtilisation * 100)} %` : 'n/a'));
  row('other processes during calls (% of server / generator core)', (x) => {
    const o = x.calls?.otherProcessesCpuShare;
    return o ? `${num(o.serverCore * 100)} % / ${num(o.generatorCore * 100)} %` : 'n/a';
  });

  const lines = [];
  lines.push(`| | ${cols.join(' | ')} |`);
  lines.push(`|---|${cols.map(() => '---:').join('|')}|`);
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  lines.push('');
  lines.push('| target | value | limit | result |');
  lines.push('|---|---:|---:|---|');
  for (const c of report.checks) lines.push(`| ${c.name} | ${typeof c.actual === 'number' ? num(c.actual, 2) : c.actual} | ${c.limit} | ${c.pass ? 'PASS' : 'FAIL'} |`);
  lines.push('');
  lines.push(`Runtimes: ${names.map((n) => `${LABELS[n]}: ${t(n).runtime}`).join('; ')}.`);
  lines.push(`Machine: ${report.machine.cpuModel}, ${report.machine.cpus} cores; generator on core ${report.options.generatorCore}, server on core ${report.options.serverCore}; Node ${report.machine.node}.`);
  return lines.join('\n');
}

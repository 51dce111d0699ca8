/**
 * The results: each figure's median and spread over the interleaved runs, ratios of the
 * product's medians to the relay's (and, at bench load, to Kamailio's one run), the counts
 * per call from the metered pass, the targets with PASS/FAIL, and the Markdown.
 */

const LABELS = { product: 'Switchboard', baseline: 'Switchboard at the baseline ref', relay: 'bare relay', durable: 'durable relay', kamailio: 'Kamailio' };
const WORKERD = ['product', 'baseline', 'relay', 'durable'];

const num = (v, digits = 0) =>
  v === null || v === undefined || Number.isNaN(v) ? 'n/a' : Number(v).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

const ratio = (a, b) => (a == null || b == null || b === 0 ? null : Math.round((a / b) * 100) / 100);

export function median(values) {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Median, min, max and count of the values that exist. */
function spread(values) {
  const v = values.filter((x) => typeof x === 'number' && !Number.isNaN(x));
  if (v.length === 0) return null;
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

const memoryAt = (t, sockets) => t?.memory?.steps?.find((s) => s.requested === sockets) ?? null;

/** The figures of one run of one target at bench load: [key, label, value getter, digits, compared with the relay]. */
function loadFigures(o) {
  const last = o.memorySockets.at(-1);
  const f = [
    ['registrationsPerSecond', `registrations/s (connect + digest REGISTER, ${o.regConcurrency} in flight)`, (t) => t.registration?.registrationsPerSecond, 0, true],
    ['setupsPerSecond', `call setups/s (${o.concurrency} calls in flight)`, (t) => t.calls?.setupsPerSecond, 0, true],
    ['p50', 'setup latency p50 (ms, INVITE → 200 at caller)', (t) => t.calls?.setupLatencyMs.p50, 1, false],
    ['p95', 'setup latency p95 (ms)', (t) => t.calls?.setupLatencyMs.p95, 1, false],
    ['p99', 'setup latency p99 (ms)', (t) => t.calls?.setupLatencyMs.p99, 1, true],
    ['failedCalls', 'failed calls', (t) => t.calls?.failedCalls, 0, false],
    ['sdpMismatches', 'SDP mismatches', (t) => t.calls?.sdpMismatches, 0, false],
    ['serverCpuMsPerCall', 'server CPU ms per call', (t) => t.calls?.serverCpuMsPerCall, 2, true],
    ['serverCpuMsPerRegistration', 'server CPU ms per registration', (t) => t.registration?.serverCpuMsPerRegistration, 2, true],
  ];
  if (o.memory) {
    for (const n of o.memorySockets) f.push([`memoryPerSocketKiB@${n}`, `memory per idle socket at ${num(n)} (KiB)`, (t) => memoryAt(t, n)?.perSocketKiB, 1, true]);
    if (o.memorySockets.length > 1) {
      const [a, b] = o.memorySockets.slice(-2);
      f.push([`marginalPerSocketKiB@${b}`, `marginal memory per socket from ${num(a)} to ${num(b)} (KiB)`, (t) => memoryAt(t, b)?.marginalPerSocketKiB, 1, true]);
    }
    f.push(
      ['idleCpuPerSocket', 'server CPU while idle after registering (ms per socket)', (t) => t.memory?.steps?.[0]?.idleServerCpuMsPerNewSocket, 3, false],
      [`keepalivesAnswered@${last}`, `keepalives answered at ${num(last)} idle sockets`, (t) => memoryAt(t, last)?.keepalive.answered, 0, false],
      ['keepaliveCpuUs', 'server CPU per keepalive (µs)', (t) => memoryAt(t, last)?.keepalive.serverCpuUsPerKeepalive, 0, false],
      ['wakeUpCpuUs', 'server CPU per DO wake-up (µs, OPTIONS)', (t) => t.memory?.wakeUps?.serverCpuUsPerWakeUp, 0, false],
    );
  }
  f.push(
    ['generatorCpuPct', 'generator CPU during calls (% of its core)', (t) => pct(t.calls?.generatorCpuUtilisation), 0, false],
    ['otherServerCorePct', 'other processes during calls (% of the server core)', (t) => pct(t.calls?.otherProcessesCpuShare?.serverCore), 0, false],
    ['otherGeneratorCorePct', 'other processes during calls (% of the generator core)', (t) => pct(t.calls?.otherProcessesCpuShare?.generatorCore), 0, false],
  );
  return f;
}

const pct = (v) => (v == null ? null : v * 100);

function sparseFigures() {
  const perCall = (part) => (t) => (t.calls?.callsCompleted ? t.calls.serverCpuMs[part] / t.calls.callsCompleted : null);
  return [
    ['callsCompleted', 'calls completed', (t) => t.calls?.callsCompleted, 0, false],
    ['callsStartedPerSecond', 'calls started per second', (t) => t.calls?.callsStartedPerSecond, 1, false],
    ['failedCalls', 'failed calls', (t) => t.calls?.failedCalls, 0, false],
    ['sdpMismatches', 'SDP mismatches', (t) => t.calls?.sdpMismatches, 0, false],
    ['serverCpuMsPerCall', 'server CPU ms per call (window + drain + tail, all of it)', (t) => t.calls?.serverCpuMsPerCall, 3, true],
    ['cpuWindowPerCall', '  of which while calls start (ms per call)', perCall('window'), 3, false],
    ['cpuDrainPerCall', '  of which while the last calls end (ms per call)', perCall('drain'), 3, false],
    ['cpuTailPerCall', '  of which in the tail after the last call (ms per call)', perCall('tail'), 3, false],
    ['ringingP50', 'INVITE → 180 p50 (ms, both objects woken)', (t) => t.calls?.ringingLatencyMs.p50, 1, false],
    ['ringingP99', 'INVITE → 180 p99 (ms)', (t) => t.calls?.ringingLatencyMs.p99, 1, true],
    ['answerP50', '200 sent by the callee → received by the caller p50 (ms)', (t) => t.calls?.answerLatencyMs.p50, 1, false],
    ['answerP99', '200 sent → received p99 (ms)', (t) => t.calls?.answerLatencyMs.p99, 1, true],
    ['optionsProbesPerCall', 'OPTIONS probes answered by the UAs per call', (t) => (t.calls?.callsCompleted ? t.calls.optionsProbesAnswered / t.calls.callsCompleted : null), 3, false],
    ['openDatabasesMean', 'objects awake while calls run, mean (databases open, every 5 s)', (t) => t.calls?.openDatabases?.mean, 0, false],
    ['openDatabasesMax', 'objects awake, highest', (t) => t.calls?.openDatabases?.max, 0, false],
    ['quietBefore', 'server CPU just before the window (% of its core)', (t) => pct(t.serverCpuShareBeforeWindow), 1, false],
    ['generatorCpuPct', 'generator CPU (% of its core)', (t) => pct(t.calls?.generatorCpuUtilisation), 0, false],
    ['otherServerCorePct', 'other processes while calls start (% of the server core)', (t) => pct(t.calls?.otherProcessesCpuShare?.serverCore), 0, false],
    ['otherGeneratorCorePct', 'other processes while calls start (% of the generator core)', (t) => pct(t.calls?.otherProcessesCpuShare?.generatorCore), 0, false],
  ];
}

const figuresOf = (scenario, o) => (scenario === 'load' ? loadFigures(o) : sparseFigures());

/** summary[scenario][target][key] = { median, min, max, n } over the runs. */
export function summarize(report) {
  const o = report.options;
  const out = {};
  for (const scenario of o.scenarios) {
    out[scenario] = {};
    for (const name of WORKERD.filter((n) => o.targets.includes(n))) {
      const results = report.runs.map((r) => r[scenario]?.[name]).filter(Boolean);
      out[scenario][name] = Object.fromEntries(figuresOf(scenario, o).map(([key, , get]) => [key, spread(results.map((t) => get(t) ?? null))]));
    }
    if (scenario === 'load' && report.kamailio) {
      out.load.kamailio = Object.fromEntries(loadFigures(o).map(([key, , get]) => [key, spread([get(report.kamailio) ?? null])]));
    }
  }
  return out;
}

/** ratios[scenario]['product/relay'][key] of the medians. */
export function ratios(report) {
  const out = {};
  for (const [scenario, byTarget] of Object.entries(report.summary)) {
    out[scenario] = {};
    const p = byTarget.product;
    if (!p) continue;
    for (const other of ['relay', 'durable', 'baseline', 'kamailio']) {
      const q = byTarget[other];
      if (!q) continue;
      out[scenario][`product/${other}`] = Object.fromEntries(
        figuresOf(scenario, report.options)
          .filter((f) => f[4])
          .map(([key]) => [key, ratio(p[key]?.median, q[key]?.median)]),
      );
    }
  }
  return out;
}

const sumOver = (runs, scenario, name, get) => runs.reduce((a, r) => a + (get(r[scenario]?.[name]) ?? 0), 0);

/** Errors the server logged while being measured (closing every socket at the end is apart). */
function measuredErrors(t) {
  if (!t) return 0;
  return Object.entries(t.serverLogErrors ?? {}).reduce((a, [phase, e]) => a + (phase === 'teardown' ? 0 : e.total), 0);
}

/** The targets for the product, judged against the relay on the same runtime. */
export function checks(report) {
  const o = report.options;
  const out = [];
  const add = (name, actual, limit, pass) => out.push({ name, actual, limit, pass });
  const r = report.ratios;
  const runs = report.runs;
  const has = (scenario) => o.scenarios.includes(scenario) && o.targets.includes('product');
  const withRelay = o.targets.includes('relay');
  const atMost = (v, limit) => (v == null ? null : v <= limit);
  const atLeast = (v, limit) => (v == null ? null : v >= limit);

  if (has('load')) {
    const pr = r.load?.['product/relay'];
    if (withRelay && pr) {
      add('bench load: call setups/s at least 0.7× the relay (medians)', pr.setupsPerSecond, '≥ 0.7', atLeast(pr.setupsPerSecond, 0.7));
      add('bench load: p99 setup latency at most 1.5× the relay (medians)', pr.p99, '≤ 1.5', atMost(pr.p99, 1.5));
      add('bench load: registrations/s at least 0.7× the relay (medians)', pr.registrationsPerSecond, '≥ 0.7', atLeast(pr.registrationsPerSecond, 0.7));
      if (o.memory) {
        for (const n of o.memorySockets) {
          const v = pr[`memoryPerSocketKiB@${n}`];
          const complete = runs.every((run) => WORKERD.filter((t) => o.targets.includes(t)).every((t) => memoryAt(run.load?.[t], n)?.sockets === n));
          add(`bench load: memory per idle socket at ${num(n)} at most 1.1× the relay (medians)`, v, '≤ 1.1', complete ? atMost(v, 1.1) : false);
        }
      }
    }
    const failed = sumOver(runs, 'load', 'product', (t) => t?.calls?.failedCalls);
    const sdp = sumOver(runs, 'load', 'product', (t) => t?.calls?.sdpMismatches);
    add('bench load: 0 failed calls (every run)', failed, 0, failed === 0);
    add('bench load: 0 SDP mismatches (every run)', sdp, 0, sdp === 0);
    if (o.memory) {
      const last = o.memorySockets.at(-1);
      const steps = runs.map((run) => memoryAt(run.load?.product, last)).filter(Boolean);
      const registered = steps.every((s) => s.sockets === s.requested);
      const answered = steps.every((s) => s.keepalive.answered === s.keepalive.sent);
      add(`bench load: ${num(last)} idle sockets registered (every run)`, steps.map((s) => `${s.sockets}/${s.requested}`).join(', '), 'all', steps.length ? registered : null);
      add(`bench load: every keepalive answered at ${num(last)} idle sockets (every run)`, steps.map((s) => `${s.keepalive.answered}/${s.keepalive.sent}`).join(', '), 'all', steps.length ? answered : null);
    }
  }
  if (has('sparse')) {
    const counts = report.meter?.sparse?.product?.countsPerCall;
    add('sparse: billed requests per call at most 10.5 (both objects, metered pass)', counts?.billedRequests ?? 'not measured', '≤ 10.5', atMost(counts?.billedRequests, 10.5));
    add('sparse: rows written per call at most 4 (both objects: SQL rows + KV keys + setAlarms, metered pass)', counts?.billedRowsWritten ?? 'not measured', '≤ 4', atMost(counts?.billedRowsWritten, 4));
    const pr = r.sparse?.['product/relay'];
    if (withRelay && pr) add('sparse: server CPU per call at most 1.5× the relay (medians)', pr.serverCpuMsPerCall, '≤ 1.5', atMost(pr.serverCpuMsPerCall, 1.5));
    const failed = sumOver(runs, 'sparse', 'product', (t) => t?.calls?.failedCalls);
    const sdp = sumOver(runs, 'sparse', 'product', (t) => t?.calls?.sdpMismatches);
    add('sparse: 0 failed calls (every run)', failed, 0, failed === 0);
    add('sparse: 0 SDP mismatches (every run)', sdp, 0, sdp === 0);
  }
  if (o.targets.includes('product')) {
    const product = [report.provisioning?.product, ...runs.flatMap((run) => o.scenarios.map((s) => run[s]?.product)), ...o.scenarios.map((s) => report.meter?.[s]?.product)];
    const errors = product.reduce((a, t) => a + measuredErrors(t), 0);
    add('no errors in the product\'s server log (every phase and run)', errors, 0, errors === 0);
  }
  return out;
}

function cell(s, digits) {
  if (!s) return 'n/a';
  if (s.n === 1 || s.min === s.max) return num(s.median, digits);
  return `${num(s.median, digits)} (${num(s.min, digits)}–${num(s.max, digits)})`;
}

function table(header, rows) {
  const lines = [`| ${header.join(' | ')} |`, `|---|${header.slice(1).map(() => '---:').join('|')}|`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  return lines;
}

function failuresText(runs, scenario, name) {
  const byCause = {};
  for (const run of runs) for (const [k, v] of Object.entries(run[scenario]?.[name]?.calls?.failuresByCause ?? {})) byCause[k] = (byCause[k] ?? 0) + v;
  const parts = Object.entries(byCause).map(([k, v]) => `${v}× ${k}`);
  return parts.length ? parts.join(', ') : 'none';
}

function scenarioTable(report, scenario) {
  const o = report.options;
  const byTarget = report.summary[scenario];
  const names = Object.keys(byTarget);
  const rs = report.ratios[scenario] ?? {};
  const header = ['', ...names.map((n) => LABELS[n]), ...Object.keys(rs).map((k) => `Switchboard / ${LABELS[k.split('/')[1]]}`)];
  const rows = figuresOf(scenario, o).map(([key, label, , digits]) => [
    label,
    ...names.map((n) => cell(byTarget[n][key], digits)),
    ...Object.values(rs).map((r) => (r[key] != null ? `${num(r[key], 2)}×` : '')),
  ]);
  rows.push(['failed calls by cause (all runs)', ...names.map((n) => (n === 'kamailio' ? failuresText([{ load: { kamailio: report.kamailio } }], 'load', 'kamailio') : failuresText(report.runs, scenario, n))), ...Object.keys(rs).map(() => '')]);
  rows.push([
    'errors in the server log (all runs)',
    ...names.map((n) => num(n === 'kamailio' ? measuredErrors(report.kamailio) : report.runs.reduce((a, run) => a + measuredErrors(run[scenario]?.[n]), 0))),
    ...Object.keys(rs).map(() => ''),
  ]);
  return table(header, rows);
}

const COUNT_ROWS = [
  ['wakes (objects built)', 'wakes', 3],
  ['RPCs sent', 'rpcsOut', 3],
  ['RPC bytes sent (string arguments)', 'rpcBytesOut', 0],
  ['socket sends', 'socketSends', 3],
  ['socket bytes sent', 'socketSendBytes', 0],
  ['bytes received (frames, RPC strings)', 'bytesIn', 0],
  ['SQL statements', 'sqlStatements', 3],
  ['SQL rows written (workerd\'s count)', 'sqlRowsWritten', 3],
  ['SQL rows read', 'sqlRowsRead', 3],
  ['setAlarm calls', 'setAlarms', 3],
  ['deleteAlarm calls', 'deleteAlarms', 3],
  ['KV keys written / read', (k) => `${num(k.kvKeysWritten, 3)} / ${num(k.kvKeysRead, 3)}`],
  ['**billed requests** (Cloudflare pricing)', 'billedRequests', 3],
  ['**billed rows written** (SQL + KV + setAlarm)', 'billedRowsWritten', 3],
  ['meter lines with events overlapping in one object', (k) => (k.meterLines ? `${num((k.linesWithOverlappingEvents / k.meterLines) * 100, 1)} %` : 'n/a')],
];

function countsTable(report) {
  const cols = [];
  for (const scenario of report.options.scenarios) {
    for (const name of WORKERD) {
      const m = report.meter?.[scenario]?.[name];
      if (!m) continue;
      cols.push([`${LABELS[name]}, ${scenario === 'load' ? 'bench load' : 'sparse'}, per call`, m.countsPerCall]);
      if (m.countsPerRegistration) cols.push([`${LABELS[name]}, per registration`, m.countsPerRegistration]);
    }
  }
  if (cols.length === 0) return [];
  const kinds = [...new Set(cols.flatMap(([, k]) => Object.keys(k.events)))].sort();
  const rows = [['calls (or registrations) counted', ...cols.map(([, k]) => num(k.units))]];
  for (const kind of kinds) rows.push([`events: ${kind}`, ...cols.map(([, k]) => num(k.events[kind] ?? 0, 3))]);
  for (const [label, key, digits] of COUNT_ROWS) rows.push([label, ...cols.map(([, k]) => (typeof key === 'function' ? key(k) : num(k[key], digits)))]);
  rows.push(['RPCs sent by binding', ...cols.map(([, k]) => Object.entries(k.rpcsOutByBinding).map(([b, v]) => `${b} ${num(v, 3)}`).join(', ') || '0')]);
  return table(['', ...cols.map(([label]) => label)], rows);
}

export function markdown(report) {
  const o = report.options;
  const lines = [];
  const runs = `${o.runs} interleaved run${o.runs > 1 ? 's' : ''}, median (min–max)`;
  if (report.summary.load) {
    lines.push(`### Bench load: ${o.users} users, ${o.concurrency} calls in flight, ${o.seconds} s window (${runs}${report.kamailio ? '; Kamailio one run' : ''})`, '');
    lines.push(...scenarioTable(report, 'load'), '');
  }
  if (report.summary.sparse) {
    lines.push(
      `### Sparse: ${o.sparseUsers} users, one call per pair at a time (ring ${o.sparseRingSeconds} s, talk ${o.sparseTalkSeconds} s, ${o.sparseGapSeconds} s between), ` +
        `calls start for ${o.sparseSeconds} s, ${o.sparseTailSeconds} s tail (${runs})`,
      '',
    );
    lines.push(...scenarioTable(report, 'sparse'), '');
  }
  const counts = countsTable(report);
  if (counts.length) {
    lines.push('### Counts per call, both objects together (metered pass, SWITCHBOARD_METER=1; noise-free)', '');
    lines.push(...counts, '');
  }
  lines.push('### Targets', '');
  const verdict = (p) => (p === true ? 'PASS' : p === false ? 'FAIL' : 'NOT RUN');
  lines.push(...table(['target', 'value', 'limit', 'result'], report.checks.map((c) => [c.name, typeof c.actual === 'number' ? num(c.actual, Number.isInteger(c.actual) ? 0 : 2) : c.actual, c.limit, verdict(c.pass)])), '');
  const runtimes = Object.entries(report.runtimes).map(([n, rt]) => `${LABELS[n]}: ${rt}`);
  lines.push(`Runtimes: ${runtimes.join('; ')}.`);
  lines.push(
    `Machine: ${report.machine.cpuModel}, ${report.machine.cpus} cores; generator on core ${o.generatorCore}, server on core ${o.serverCore}; Node ${report.machine.node}. ` +
      `Run from ${report.startedAt} to ${report.finishedAt} (${num(report.minutes, 1)} min).`,
  );
  return lines.join('\n');
}

/**
 * The soak's targets (PASS/FAIL) and its Markdown table.
 */
import { mib } from './product-server.mjs';

const num = (v, digits = 0) =>
  v === null || v === undefined || Number.isNaN(v) ? 'n/a' : Number(v).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

const causes = (byCause) => {
  const parts = Object.entries(byCause ?? {}).map(([k, v]) => `${v}× ${k}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
};

export function soakChecks(r) {
  const out = [];
  const add = (name, actual, limit, pass) => out.push({ name, actual, limit, pass });
  add(`${num(r.options.sockets)} sockets registered at the start`, `${r.registration.registered}/${r.registration.users}`, 'all', r.registration.registered === r.registration.users);
  add(`memory growth from start to end (PSS) under ${r.options.maxGrowthPercent} %`, `${r.memory.growthPercent.pss} %`, `< ${r.options.maxGrowthPercent} %`, r.memory.growthPercent.pss < r.options.maxGrowthPercent);
  add('registrations lost (refresh not answered 200, socket closed by the server)', r.registrationsLost, 0, r.registrationsLost === 0);
  add('calls failed (any status, timeout, missing 180, SDP mismatch)', r.calls.failed, 0, r.calls.failed === 0 && r.calls.sdpMismatches === 0);
  add('errors in the server log', r.serverLogFailures.total, 0, r.serverLogFailures.total === 0);
  return out;
}

export function soakMarkdown(r) {
  const m = r.memory;
  const lines = [];
  const row = (k, v) => lines.push(`| ${k} | ${v} |`);
  lines.push(`Soak of ${r.startedAt}: ${num(r.options.sockets)} registered sockets for ${num(r.soakSeconds)} s on ${r.runtime}; bundle ${r.tree.bundleSha256}, newest product source ${r.tree.newestSource} (${r.tree.newestSourceAt}).`);
  lines.push('');
  lines.push('| | |');
  lines.push('|---|---:|');
  row(`registration at the start (connect + digest REGISTER, ${num(r.registration.ratePerSecond)}/s)`, `${num(r.registration.registered)}/${num(r.registration.users)} in ${num(r.registration.seconds, 1)} s${causes(r.registration.failuresByCause)}`);
  row('workerd memory at the start, PSS / RSS (MiB; all registered, settled)', `${num(mib(m.start.pssKiB), 1)} / ${num(mib(m.start.rssKiB), 1)}, ${num(m.start.openDatabases)} user objects awake`);
  row(`workerd memory at the end, PSS / RSS (MiB; ${r.options.settleSeconds} s after the last refresh and call)`, `${num(mib(m.end.pssKiB), 1)} / ${num(mib(m.end.rssKiB), 1)}, ${num(m.end.openDatabases)} user objects awake`);
  row('growth, PSS / RSS', `${m.growthPercent.pss} % / ${m.growthPercent.rss} %`);
  row('highest PSS during the soak (MiB)', `${num(mib(m.peakDuringSoak.pssKiB), 1)} at ${m.peakDuringSoak.second} s`);
  row(`refreshes (Expires ${r.options.expires} s, every ~${r.options.expires / 2} s on the same socket)`, `${num(r.refreshes.ok)}/${num(r.refreshes.sent)} answered 200 with the binding${causes(r.refreshes.failuresByCause)}, ${r.refreshes.perSecond}/s`);
  row('refresh latency p50 / p95 / max (ms)', `${num(r.refreshes.latencyMs.p50, 1)} / ${num(r.refreshes.latencyMs.p95, 1)} / ${num(r.refreshes.latencyMs.max, 1)}`);
  row('sockets closed by the server', `${num(r.socketsClosedByServer.total)}${causes(r.socketsClosedByServer.byCode)}`);
  row('registrations lost (users)', num(r.registrationsLost));
  row(`calls (INVITE/180/200/ACK/BYE/200, ${r.options.callsPerSecond}/s, ${r.options.holdSeconds} s each)`, `${num(r.calls.ok)}/${num(r.calls.started)} completed${causes(r.calls.failuresByCause)}`);
  row('call setup p50 / p95 / max (ms, INVITE → 200)', `${num(r.calls.setupLatencyMs.p50, 1)} / ${num(r.calls.setupLatencyMs.p95, 1)} / ${num(r.calls.setupLatencyMs.max, 1)}`);
  row('SDP mismatches', num(r.calls.sdpMismatches));
  row('errors in the server log', `${num(r.serverLogFailures.total)}${r.serverLogFailures.total ? ` (e.g. ${Object.keys(r.serverLogFailures.byMessage)[0].replace(/\|/g, '\\|')})` : ''}`);
  row('server CPU during the soak (% of its core)', `${num(r.serverCpuUtilisation * 100, 1)} %`);
  row('other processes during the soak (% of server / generator core)', `${num(r.otherProcessesCpuShare.serverCore * 100)} % / ${num(r.otherProcessesCpuShare.generatorCore * 100)} %`);
  lines.push('');
  lines.push('| target | value | limit | result |');
  lines.push('|---|---:|---:|---|');
  for (const c of r.checks) lines.push(`| ${c.name} | ${c.actual} | ${c.limit} | ${c.pass ? 'PASS' : 'FAIL'} |`);
  return lines.join('\n');
}

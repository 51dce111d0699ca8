/**
 * The abuse check's targets (PASS/FAIL) and its Markdown table: each latency series of the
 * quiet service beside the same series under the flood.
 */
import { mib } from '../soak/product-server.mjs';

const num = (v, digits = 0) =>
  v === null || v === undefined || Number.isNaN(v) ? 'n/a' : Number(v).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

const causes = (byCause) => {
  const parts = Object.entries(byCause ?? {}).map(([k, v]) => `${v}× ${k}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
};

const SERIES = [
  ['register', 'REGISTER of another user (connect + digest, ms)'],
  ['calls', 'call setup between two other users (INVITE → 200, ms)'],
  ['victimCalls', "the flooded user's own call setup (INVITE → 200, ms)"],
];

/** PSS growth over the flood's start, in MiB: at its peak and once its calls have ended. */
export function memoryGrowthMib(r) {
  const before = r.memory.beforeFlood.pssKiB;
  return { peak: mib(r.memory.peak.pssKiB - before), afterDrain: mib(r.memory.afterDrain.pssKiB - before) };
}

export function abuseChecks(r) {
  const out = [];
  const add = (name, actual, limit, pass) => out.push({ name, actual, limit, pass });
  for (const [key, label] of SERIES) {
    const s = r.underFlood[key];
    add(`${label.replace(/ \(.*\)$/, '')}: every sample under flood succeeded`, `${s.attempted - s.failed}/${s.attempted}`, 'all', s.failed === 0 && s.attempted > 0);
  }
  const quietFailed = SERIES.reduce((a, [key]) => a + r.quiet[key].failed, 0);
  add('every quiet sample succeeded', quietFailed, 0, quietFailed === 0);
  const growth = memoryGrowthMib(r);
  add('workerd PSS growth at the flood\'s peak (MiB)', num(growth.peak, 1), `< ${r.options.maxGrowthMib}`, growth.peak < r.options.maxGrowthMib);
  const open = Object.values(r.usersOpenAfterFlood).every(Boolean);
  add("other users' and the victim's sockets open after the flood", JSON.stringify(r.usersOpenAfterFlood).replace(/"/g, ''), 'all', open);
  add("the victim's REGISTER refresh after the flood", r.victimRefreshAfterFlood, 'ok', r.victimRefreshAfterFlood === 'ok');
  add('SDP mismatches', r.sdpMismatches, 0, r.sdpMismatches === 0);
  add('errors in the server log', r.serverLogFailures.total, 0, r.serverLogFailures.total === 0);
  return out;
}

export function abuseMarkdown(r) {
  const f = r.flood;
  const m = r.memory;
  const lines = [];
  lines.push(
    `Abuse under load of ${r.startedAt} on ${r.runtime}; bundle ${r.tree.bundleSha256}, newest product source ${r.tree.newestSource} (${r.tree.newestSourceAt}). ` +
      `Tenant limits: ${r.tenantLimits ? `${r.tenantLimits.maxSocketsPerUser} sockets per user, ${r.tenantLimits.messagesPerSecond} messages/s (burst ${r.tenantLimits.messageBurst}), ${r.tenantLimits.maxPendingRequestsPerUser} pending requests, ring timeout ${r.tenantLimits.ringTimeoutSeconds} s` : 'n/a'}.`,
  );
  lines.push('');
  lines.push('| p50 / p95 / p99 / max (failed) | quiet | one user flooding |');
  lines.push('|---|---:|---:|');
  const cell = (s) => `${num(s.latencyMs.p50, 1)} / ${num(s.latencyMs.p95, 1)} / ${num(s.latencyMs.p99, 1)} / ${num(s.latencyMs.max, 1)} (${s.failed}/${s.attempted}${causes(s.failuresByCause)})`;
  for (const [key, label] of SERIES) lines.push(`| ${label} | ${cell(r.quiet[key])} | ${cell(r.underFlood[key])} |`);
  lines.push('');
  lines.push('| the flood | |');
  lines.push('|---|---:|');
  const row = (k, v) => lines.push(`| ${k} | ${v} |`);
  row('flooder sockets × INVITEs/s each, seconds', `${f.sockets} × ${f.ratePerSocket}, ${num(f.seconds, 1)} s${f.socketsRefused.length ? ` (${f.socketsRefused.length} sockets refused)` : ''}`);
  row('each INVITE: bytes, display name bytes', `${num(f.messageBytes)}, ${num(f.displayNameBytes)}`);
  row('largest display name / message the victim receives (probed)', `${num(r.probe.nameBytes)}${r.probe.nameRefusal ? ` (${num(r.probe.wantedNameBytes)}: ${r.probe.nameRefusal})` : ''} / ${num(r.probe.messageBytes)}${r.probe.sizeRefusal ? ` (one more: ${r.probe.sizeRefusal})` : ''}`);
  row('INVITEs sent (per second), MB', `${num(f.invitesSent)} (${num(f.invitesPerSecond, 1)}/s), ${num(f.megabytesSent, 1)} MB`);
  row('final answers to the flood, by status', Object.entries(f.finalAnswersByStatus).map(([k, v]) => `${num(v)}× ${k}`).join(', ') || 'none');
  row('flood INVITEs without a final answer when it stopped', num(f.withoutFinalAnswer));
  row('INVITEs that reached the victim', num(f.victimReceived.invites));
  row('flooder sockets closed by the server (reconnected)', `${f.socketsClosedByServer.length} (${f.reconnects})`);
  row('server CPU during the flood (% of its core)', `${num(f.serverCpuUtilisation * 100, 1)} %`);
  const growth = memoryGrowthMib(r);
  row('workerd PSS before / peak / end of flood / after its calls ended (MiB)', `${num(mib(m.beforeFlood.pssKiB), 1)} / ${num(mib(m.peak.pssKiB), 1)} (at ${m.peak.second} s) / ${num(mib(m.endOfFlood.pssKiB), 1)} / ${num(mib(m.afterDrain.pssKiB), 1)}`);
  row('PSS growth at the peak / after the drain (MiB)', `${num(growth.peak, 1)} / ${num(growth.afterDrain, 1)}`);
  row('errors in the server log', `${num(r.serverLogFailures.total)}${r.serverLogFailures.total ? ` (e.g. ${Object.keys(r.serverLogFailures.byMessage)[0].replace(/\|/g, '\\|')})` : ''}`);
  lines.push('');
  lines.push('| target | value | limit | result |');
  lines.push('|---|---:|---:|---|');
  for (const c of r.checks) lines.push(`| ${c.name} | ${c.actual} | ${c.limit} | ${c.pass ? 'PASS' : 'FAIL'} |`);
  return lines.join('\n');
}

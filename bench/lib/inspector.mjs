/**
 * A V8 CPU profile of the Worker's isolate through workerd's inspector
 * (`--inspector-addr`), and a summary of it by self time.
 */
import WebSocket from 'ws';

export async function connectInspector(port) {
  const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const target = list.find((t) => t.webSocketDebuggerUrl);
  if (!target) throw new Error('workerd inspector lists no isolate');
  const ws = new WebSocket(target.webSocketDebuggerUrl.replace('localhost', '127.0.0.1'), { perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let id = 0;
  const pending = new Map();
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error) p.reject(new Error(msg.error.message));
    else p.resolve(msg.result);
  });
  const call = (method, params = {}) =>
    new Promise((resolve, reject) => {
      pending.set(++id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { call, close: () => ws.close() };
}

/** Self time per function, and total time per script file, in percent of busy samples. */
export function summarizeProfile(profile, top = 40) {
  const deltas = new Map();
  profile.samples.forEach((node, i) => deltas.set(node, (deltas.get(node) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const self = new Map();
  const byFile = new Map();
  let busy = 0;
  for (const n of profile.nodes) {
    const t = deltas.get(n.id) ?? 0;
    const { functionName, url, lineNumber } = n.callFrame;
    if (functionName === '(idle)') continue;
    busy += t;
    const file = url ? url.split('/').slice(-1)[0] : functionName;
    const key = `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + t);
    byFile.set(file, (byFile.get(file) ?? 0) + t);
  }
  const pct = (v) => Math.round((v / busy) * 1000) / 10;
  // Inclusive time: a sample counts once for every distinct function on its stack.
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const inclusive = new Map();
  const walk = (id, stack) => {
    const n = byId.get(id);
    const { functionName, url, lineNumber } = n.callFrame;
    const key = `${functionName || '(anonymous)'} ${url ? url.split('/').slice(-1)[0] : ''}:${lineNumber + 1}`;
    const added = !stack.has(key);
    if (added) stack.add(key);
    const t = functionName === '(idle)' ? 0 : (deltas.get(id) ?? 0);
    for (const k of stack) inclusive.set(k, (inclusive.get(k) ?? 0) + t);
    for (const c of n.children ?? []) walk(c, stack);
    if (added) stack.delete(key);
  };
  walk(profile.nodes[0].id, new Set());
  return {
    busyMs: Math.round(busy / 1000),
    inclusive: [...inclusive]
      .filter(([k]) => !k.startsWith('(root)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => ({ fn: k, totalPct: pct(v) })),
    functions: [...self].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => ({ fn: k, selfPct: pct(v) })),
    files: [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([k, v]) => ({ file: k, selfPct: pct(v) })),
  };
}

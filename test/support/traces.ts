import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/**
 * Real browser captures (SIP.js and JsSIP in Chromium, through Kamailio), as the team's
 * shared fixtures provide them; kept in the repository so a clean clone tests alone.
 */
export const TRACES_DIR = fileURLToPath(new URL('../fixtures/sip-traces/', import.meta.url));

export interface TraceEntry {
  readonly file: string;
  readonly direction: 'SENT' | 'RECEIVED';
  readonly text: string;
}

/** Splits a capture log into the messages exactly as they crossed the WebSocket. */
export function readTrace(path: string): TraceEntry[] {
  const raw = readFileSync(path, 'utf8');
  const out: TraceEntry[] = [];
  const re = /^---- \S+ (SENT|RECEIVED)\r?\n/gm;
  const marks: Array<{ index: number; end: number; direction: 'SENT' | 'RECEIVED' }> = [];
  for (let m = re.exec(raw); m; m = re.exec(raw)) marks.push({ index: m.index, end: m.index + m[0].length, direction: m[1] as 'SENT' | 'RECEIVED' });
  marks.forEach((mark, i) => {
    let text = raw.slice(mark.end, i + 1 < marks.length ? marks[i + 1]!.index : raw.length);
    // The log adds one line break after each message; the message keeps its own CRLFs.
    if (text.endsWith("\n\n")) text = text.slice(0, -1);
    out.push({ file: path, direction: mark.direction, text });
  });
  return out;
}

export function allTraces(): TraceEntry[] {
  const out: TraceEntry[] = [];
  for (const dir of readdirSync(TRACES_DIR)) {
    for (const f of readdirSync(join(TRACES_DIR, dir))) out.push(...readTrace(join(TRACES_DIR, dir, f)));
  }
  return out;
}

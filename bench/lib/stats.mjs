/**
 * Latency samples and failure counts. Percentiles are nearest-rank over every sample
 * (no histogram buckets, so p99 is exact).
 */

export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function summarize(samples) {
  const sorted = Float64Array.from(samples).sort();
  const round = (v) => (v === null ? null : Math.round(v * 10) / 10);
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.length ? sorted[sorted.length - 1] : null),
  };
}

/** Failures by cause: a SIP status ("486"), "timeout", "closed" or "sdp-mismatch". */
export class Failures {
  constructor() {
    this.byCause = {};
  }

  add(cause) {
    const key = String(cause);
    this.byCause[key] = (this.byCause[key] ?? 0) + 1;
  }

  get total() {
    return Object.values(this.byCause).reduce((a, b) => a + b, 0);
  }
}

/** Thrown inside a scenario to end it with a cause for the failure table. */
export class ScenarioFailure extends Error {
  constructor(cause, detail = '') {
    super(`${cause}${detail ? `: ${detail}` : ''}`);
    this.cause = String(cause);
  }
}

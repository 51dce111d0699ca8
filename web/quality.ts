/**
 * Call quality from `RTCPeerConnection.getStats()`: which path media takes (the selected
 * ICE candidate pair: a relay candidate on either side means TURN) and RTT, jitter, loss
 * and bitrate. Pure: the caller keeps the previous sample to turn counters into rates.
 */

export type MediaPath = 'peer-to-peer' | 'relay' | 'unknown';

export interface Quality {
  readonly path: MediaPath;
  /** ICE candidate types of the selected pair, e.g. "host" / "prflx" / "relay". */
  readonly localType: string | null;
  readonly remoteType: string | null;
  readonly rttMs: number | null;
  readonly jitterMs: number | null;
  /** Inbound audio packets lost since the previous sample, as a percentage. */
  readonly lossPercent: number | null;
  readonly inKbps: number | null;
  readonly outKbps: number | null;
}

export interface Sample {
  readonly at: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly packetsLost: number;
  readonly packetsReceived: number;
}

interface Stat {
  readonly type: string;
  readonly id: string;
  readonly timestamp: number;
  readonly [field: string]: unknown;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function selectedPair(stats: ReadonlyMap<string, Stat>): Stat | null {
  for (const s of stats.values()) {
    if (s.type === 'transport' && typeof s.selectedCandidatePairId === 'string') {
      const pair = stats.get(s.selectedCandidatePairId);
      if (pair) return pair;
    }
  }
  // Browsers without transport stats: the nominated pair that succeeded.
  for (const s of stats.values()) if (s.type === 'candidate-pair' && s.nominated === true && s.state === 'succeeded') return s;
  return null;
}

function candidateType(stats: ReadonlyMap<string, Stat>, id: unknown): string | null {
  const c = typeof id === 'string' ? stats.get(id) : undefined;
  return typeof c?.candidateType === 'string' ? c.candidateType : null;
}

export function summarize(report: RTCStatsReport, previous: Sample | null): { quality: Quality; sample: Sample } {
  const stats = report as unknown as ReadonlyMap<string, Stat>;
  const pair = selectedPair(stats);
  const localType = pair ? candidateType(stats, pair.localCandidateId) : null;
  const remoteType = pair ? candidateType(stats, pair.remoteCandidateId) : null;
  const path: MediaPath = !localType || !remoteType ? 'unknown' : localType === 'relay' || remoteType === 'relay' ? 'relay' : 'peer-to-peer';

  let jitter: number | null = null;
  let packetsLost = 0;
  let packetsReceived = 0;
  for (const s of stats.values()) {
    if (s.type !== 'inbound-rtp' || s.kind !== 'audio') continue;
    jitter = num(s.jitter);
    packetsLost += num(s.packetsLost) ?? 0;
    packetsReceived += num(s.packetsReceived) ?? 0;
  }

  const sample: Sample = {
    at: pair?.timestamp ?? Date.now(),
    bytesIn: num(pair?.bytesReceived) ?? 0,
    bytesOut: num(pair?.bytesSent) ?? 0,
    packetsLost,
    packetsReceived,
  };
  const seconds = previous ? (sample.at - previous.at) / 1000 : 0;
  const rate = (now: number, before: number): number | null => (previous && seconds > 0 && now >= before ? ((now - before) * 8) / 1000 / seconds : null);
  const lost = previous ? sample.packetsLost - previous.packetsLost : 0;
  const got = previous ? sample.packetsReceived - previous.packetsReceived : 0;
  const rtt = num(pair?.currentRoundTripTime);

  return {
    sample,
    quality: {
      path,
      localType,
      remoteType,
      rttMs: rtt === null ? null : rtt * 1000,
      jitterMs: jitter === null ? null : jitter * 1000,
      lossPercent: previous && lost + got > 0 ? (Math.max(0, lost) / (Math.max(0, lost) + got)) * 100 : null,
      inKbps: rate(sample.bytesIn, previous?.bytesIn ?? 0),
      outKbps: rate(sample.bytesOut, previous?.bytesOut ?? 0),
    },
  };
}

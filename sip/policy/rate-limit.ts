/**
 * Token bucket per socket. Pure: the caller keeps the bucket and supplies the time.
 * A full bucket is the state after any idle second or more, so a bucket lost with an
 * evicted object (which only happens after 10 s idle) is exactly a full one.
 */
export interface Bucket {
  readonly tokens: number;
  readonly at: number;
  /** Messages refused in a row; reset by the next one allowed. */
  readonly strikes: number;
}

/** Refused messages in a row after which the socket is closed (1008). */
export const ABUSE_STRIKES = 50;

export interface TakeResult {
  readonly bucket: Bucket;
  readonly allowed: boolean;
  readonly retryAfterSeconds: number;
  readonly abusive: boolean;
}

export function takeToken(bucket: Bucket | undefined, now: number, rate: number, burst: number): TakeResult {
  const prev = bucket ?? { tokens: burst, at: now, strikes: 0 };
  const tokens = Math.min(burst, prev.tokens + ((now - prev.at) / 1000) * rate);
  if (tokens >= 1) {
    return { bucket: { tokens: tokens - 1, at: now, strikes: 0 }, allowed: true, retryAfterSeconds: 0, abusive: false };
  }
  const strikes = prev.strikes + 1;
  return {
    bucket: { tokens, at: now, strikes },
    allowed: false,
    retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / rate)),
    abusive: strikes >= ABUSE_STRIKES,
  };
}

/**
 * Media assertions from `getStats()` in the pages: audio bytes that keep arriving with
 * non-zero energy (the fake capture device beeps), video frames that keep being decoded,
 * and which ICE candidate pair carries them.
 */
import type { Page } from 'playwright-core';
import type { MediaSnapshot } from '../harness/types.js';

export async function snapshot(page: Page): Promise<MediaSnapshot> {
  const s = await page.evaluate(() => window.__e2e.media());
  if (!s) throw new Error(`${page.url()} has no open peer connection`);
  return s;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls each page until inbound audio bytes grew by at least `minBytes` and audio energy
 * grew since the first sample; throws with both samples if that does not happen in time.
 */
export async function expectMediaFlowing(pages: Record<string, Page>, o: { video?: boolean; minBytes?: number; timeoutMs?: number } = {}): Promise<Record<string, MediaSnapshot>> {
  const minBytes = o.minBytes ?? 2000;
  const names = Object.keys(pages);
  const first = await Promise.all(names.map((n) => snapshot(pages[n]!)));
  const deadline = Date.now() + (o.timeoutMs ?? 15_000);
  for (;;) {
    await sleep(250);
    const now = await Promise.all(names.map((n) => snapshot(pages[n]!)));
    const flowing = (i: number): boolean => {
      const a = first[i]!;
      const b = now[i]!;
      const audio = (b.audioIn?.bytes ?? 0) >= (a.audioIn?.bytes ?? 0) + minBytes && (b.audioIn?.energy ?? 0) > (a.audioIn?.energy ?? 0);
      const video = !o.video || (b.videoIn?.framesDecoded ?? 0) >= (a.videoIn?.framesDecoded ?? 0) + 10;
      return audio && video;
    };
    if (names.every((_, i) => flowing(i))) return Object.fromEntries(names.map((n, i) => [n, now[i]!]));
    if (Date.now() > deadline) {
      const report = names.map((n, i) => `${n}: first ${JSON.stringify(first[i])}\n${n}: last  ${JSON.stringify(now[i])}`).join('\n');
      throw new Error(`media did not flow${o.video ? ' (audio and video)' : ''} on every page:\n${report}`);
    }
  }
}

/** Inbound audio bytes over `windowMs`: what a held call still receives. */
export async function inboundAudioBytesOver(page: Page, windowMs: number): Promise<number> {
  const a = await snapshot(page);
  await sleep(windowMs);
  const b = await snapshot(page);
  return (b.audioIn?.bytes ?? 0) - (a.audioIn?.bytes ?? 0);
}

export function pathOf(s: MediaSnapshot): string {
  return `${s.pair?.local ?? '?'}/${s.pair?.remote ?? '?'}`;
}

/**
 * Inbound audio over `windowMs`, sampled every 100 ms: the bytes that came, and the
 * longest stretch in which none did (the media gap a listener would hear).
 */
export async function audioDuring(page: Page, windowMs: number): Promise<{ bytes: number; longestGapMs: number }> {
  const start = Date.now();
  const first = (await snapshot(page)).audioIn?.bytes ?? 0;
  let last = first;
  let lastGrowth = start;
  let longestGapMs = 0;
  while (Date.now() - start < windowMs) {
    await sleep(100);
    const bytes = (await snapshot(page)).audioIn?.bytes ?? 0;
    const now = Date.now();
    if (bytes > last) {
      longestGapMs = Math.max(longestGapMs, now - lastGrowth);
      lastGrowth = now;
      last = bytes;
    }
  }
  longestGapMs = Math.max(longestGapMs, Date.now() - lastGrowth);
  return { bytes: last - first, longestGapMs };
}

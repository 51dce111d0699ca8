/**
 * Book-keeping shared by both library adapters: the calls a page has seen, in order, and
 * one <audio>/<video> sink per call (Chromium decodes remote audio only for a sink).
 */
import type { CallSummary } from './types.js';

export class CallBook {
  private readonly list: Array<{ -readonly [K in keyof CallSummary]: CallSummary[K] }> = [];

  open(peer: string, state: 'calling' | 'incoming'): number {
    this.list.push({ peer, state, heldLocally: false, heldByPeer: false, endedBy: null, endCause: null, endedAt: null });
    return this.list.length - 1;
  }

  set(id: number, change: Partial<CallSummary>): void {
    Object.assign(this.list[id]!, change);
  }

  ended(id: number, endedBy: 'local' | 'remote', endCause: string): void {
    const call = this.list[id]!;
    if (call.state !== 'ended') Object.assign(call, { state: 'ended', endedBy, endCause, endedAt: performance.timeOrigin + performance.now() });
  }

  summaries(): CallSummary[] {
    return this.list.map((c) => ({ ...c }));
  }
}

/** Plays a call's remote stream, so that its audio is decoded and its energy measured. */
export function play(stream: MediaStream): void {
  const audio = document.createElement('audio');
  audio.autoplay = true;
  audio.srcObject = stream;
  const video = document.createElement('video');
  video.autoplay = true;
  video.muted = true;
  video.playsInline = true;
  video.srcObject = stream;
  document.body.append(audio, video);
}

/** A stream that gathers a connection's remote tracks as they arrive. */
export function remoteStream(pc: RTCPeerConnection): MediaStream {
  const stream = new MediaStream();
  pc.addEventListener('track', (e) => stream.addTrack(e.track));
  return stream;
}

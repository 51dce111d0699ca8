/**
 * Test-only instrumentation, injected into every page (the library harness and the real
 * softphone) with `addInitScript`, before any page script runs. Never part of the product.
 *
 * 1. Loopback media. On this machine Chromium gathers its host candidate on the default
 *    interface (192.0.2.2, sockets bound to the any-address under
 *    `--webrtc-ip-handling-policy=default_public_and_private_interfaces`). The wrapper
 *    rewrites host candidates and `c=` lines of every local description to 127.0.0.1 before
 *    a SIP library reads it to send, so ICE checks and media stay on loopback. Neither
 *    JsSIP nor SIP.js trickles candidates (both wait for gathering to finish and send the
 *    full description), so the descriptions are the only place to rewrite.
 * 2. A record of every peer connection, with the time its first inbound audio arrived.
 * 3. A tap on WebSockets: every SIP message with its time, for call set-up figures.
 */
import type { Instrumentation, MediaSnapshot, PeerConnectionTiming, WireFrame } from './types.js';

const now = (): number => performance.timeOrigin + performance.now();

/** Host candidates and connection lines to 127.0.0.1; IPv6 host candidates are dropped. */
export function loopbackSdp(sdp: string): string {
  return sdp
    .split('\r\n')
    .flatMap((line) => {
      if (/^c=IN IP[46] /.test(line)) return ['c=IN IP4 127.0.0.1'];
      const host = /^(a=candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ host.*)$/.exec(line);
      if (!host) return [line];
      return host[2]!.includes(':') ? [] : [`${host[1]}127.0.0.1${host[3]}`];
    })
    .join('\r\n');
}

const NativePeerConnection = window.RTCPeerConnection;
const NativeWebSocket = window.WebSocket;
const peerConnections: Array<{ pc: RTCPeerConnection; timing: PeerConnectionTiming }> = [];
const frames: WireFrame[] = [];
const marks: Record<string, number> = {};

function rewritten(d: RTCSessionDescription | null): RTCSessionDescription | null {
  return d && new RTCSessionDescription({ type: d.type, sdp: loopbackSdp(d.sdp) });
}

interface Stat {
  readonly type: string;
  readonly [field: string]: unknown;
}

const n = (v: unknown): number => (typeof v === 'number' ? v : 0);

async function statsOf(pc: RTCPeerConnection): Promise<Map<string, Stat>> {
  return (await pc.getStats()) as unknown as Map<string, Stat>;
}

function inboundAudio(stats: Map<string, Stat>): Stat | undefined {
  return [...stats.values()].find((s) => s.type === 'inbound-rtp' && s.kind === 'audio');
}

/** Samples every 20 ms until the first inbound audio bytes, for time-to-first-media. */
async function watchFirstAudio(pc: RTCPeerConnection, timing: PeerConnectionTiming): Promise<void> {
  const deadline = now() + 60_000;
  while (pc.connectionState !== 'closed' && now() < deadline) {
    const audio = inboundAudio(await statsOf(pc));
    if (n(audio?.bytesReceived) > 0) {
      timing.firstAudioAt = now();
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

class LoopbackPeerConnection extends NativePeerConnection {
  constructor(config?: RTCConfiguration, ...legacy: unknown[]) {
    // JsSIP still passes a second, legacy constraints argument.
    super(config, ...(legacy as []));
    const timing: PeerConnectionTiming = { createdAt: now(), firstAudioAt: null };
    peerConnections.push({ pc: this, timing });
    void watchFirstAudio(this, timing);
  }

  override get localDescription(): RTCSessionDescription | null {
    return rewritten(super.localDescription);
  }

  override get currentLocalDescription(): RTCSessionDescription | null {
    return rewritten(super.currentLocalDescription);
  }

  override get pendingLocalDescription(): RTCSessionDescription | null {
    return rewritten(super.pendingLocalDescription);
  }
}

const decoder = new TextDecoder();
const record = (dir: WireFrame['dir'], data: unknown): void => {
  const text = typeof data === 'string' ? data : data instanceof ArrayBuffer ? decoder.decode(data) : '';
  if (text.trim() !== '') frames.push({ t: now(), dir, text });
};

class TappedWebSocket extends NativeWebSocket {
  constructor(url: string | URL, protocols?: string | string[]) {
    super(url, protocols);
    this.addEventListener('message', (e) => record('in', e.data));
  }

  override send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
    record('out', data);
    super.send(data);
  }
}

async function media(): Promise<MediaSnapshot | null> {
  const entry = [...peerConnections].reverse().find((e) => e.pc.connectionState !== 'closed');
  if (!entry) return null;
  const stats = await statsOf(entry.pc);
  const all = [...stats.values()];
  const audio = inboundAudio(stats);
  const audioOut = all.find((s) => s.type === 'outbound-rtp' && s.kind === 'audio');
  const video = all.find((s) => s.type === 'inbound-rtp' && s.kind === 'video');
  const transport = all.find((s) => s.type === 'transport' && typeof s.selectedCandidatePairId === 'string');
  const pair = transport ? stats.get(transport.selectedCandidatePairId as string) : undefined;
  const local = pair ? stats.get(pair.localCandidateId as string) : undefined;
  const remote = pair ? stats.get(pair.remoteCandidateId as string) : undefined;
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  return {
    connectionState: entry.pc.connectionState,
    audioIn: audio ? { bytes: n(audio.bytesReceived), packets: n(audio.packetsReceived), energy: n(audio.totalAudioEnergy), level: n(audio.audioLevel) } : null,
    audioOut: audioOut ? { bytes: n(audioOut.bytesSent) } : null,
    videoIn: video ? { bytes: n(video.bytesReceived), framesDecoded: n(video.framesDecoded) } : null,
    pair: pair
      ? { local: str(local?.candidateType), remote: str(remote?.candidateType), localAddress: str(local?.address), remoteAddress: str(remote?.address) }
      : null,
  };
}

const instrumentation: Instrumentation = {
  frames,
  marks,
  get peerConnections() {
    return peerConnections.map((e) => e.timing);
  },
  mark: (name) => {
    marks[name] = now();
  },
  media,
};

window.RTCPeerConnection = LoopbackPeerConnection;
window.WebSocket = TappedWebSocket as typeof WebSocket;
window.__e2e = instrumentation;

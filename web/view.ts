/**
 * Rendering: each function takes a plain value from the phone or the stats and writes it
 * into the page's elements, found by their data-testid.
 */
import type { CallView, RegistrationState } from './phone.js';
import type { Quality } from './quality.js';
import type { FrameDirection } from './logged-socket.js';

export function el<T extends HTMLElement = HTMLElement>(testid: string): T {
  const found = document.querySelector<T>(`[data-testid="${testid}"]`);
  if (!found) throw new Error(`the page has no element ${testid}`);
  return found;
}

const REGISTRATION_TEXT: Record<RegistrationState | 'signed-out', string> = {
  'signed-out': 'Signed out',
  connecting: 'Connecting…',
  registering: 'Registering…',
  registered: 'Registered',
  unregistered: 'Not registered',
  failed: 'Registration failed',
  disconnected: 'Reconnecting…',
};

export function renderRegistration(state: RegistrationState | 'signed-out', detail: string | null): void {
  const pill = el('reg-state');
  pill.dataset.state = state;
  pill.textContent = detail ? `${REGISTRATION_TEXT[state]}: ${detail}` : REGISTRATION_TEXT[state];
}

function callText(v: CallView): string {
  switch (v.phase) {
    case 'calling':
      return 'Calling';
    case 'ringing':
      return 'Ringing';
    case 'incoming':
      return 'Incoming call';
    case 'ended':
      return `Call ended (${v.endReason ?? 'ended'})`;
    case 'connected':
      if (v.reconnecting) return 'Reconnecting…';
      if (v.transfer === 'pending') return 'Connected, transferring';
      if (v.transfer === 'failed') return 'Connected, transfer failed';
      if (v.onHold) return 'On hold';
      if (v.heldByPeer) return 'Held by the other side';
      return 'Connected';
  }
}

function callStateName(v: CallView): string {
  if (v.phase !== 'connected') return v.phase;
  if (v.reconnecting) return 'reconnecting';
  if (v.onHold) return 'on-hold';
  if (v.heldByPeer) return 'held';
  return 'connected';
}

export function renderCall(v: CallView | null): void {
  const active = v !== null && v.phase !== 'ended';
  const connected = v?.phase === 'connected';
  el('call').hidden = v === null || v.phase === 'incoming';
  const state = el('call-state');
  state.dataset.state = v ? callStateName(v) : 'idle';
  state.textContent = v ? callText(v) : 'No call';
  el('call-peer').textContent = v ? `${v.direction === 'outgoing' ? 'to' : 'from'} ${v.peer}` : '';

  el('incoming').hidden = v?.phase !== 'incoming';
  if (v?.phase === 'incoming') {
    el('incoming-from').textContent = v.peer;
    el('incoming-kind').textContent = v.videoOffered ? 'video call' : 'call';
  }

  const mute = el<HTMLButtonElement>('mute');
  mute.disabled = !connected;
  mute.setAttribute('aria-pressed', String(!!v?.muted));
  mute.textContent = v?.muted ? 'Unmute' : 'Mute';
  const hold = el<HTMLButtonElement>('hold');
  hold.disabled = !connected;
  hold.setAttribute('aria-pressed', String(!!v?.onHold));
  hold.textContent = v?.onHold ? 'Resume' : 'Hold';
  const video = el<HTMLButtonElement>('video-toggle');
  video.disabled = !connected || !!v?.onHold;
  video.setAttribute('aria-pressed', String(!!v?.sendingVideo));
  video.textContent = v?.sendingVideo ? 'Stop video' : 'Start video';
  el<HTMLButtonElement>('hangup').disabled = !active || v?.phase === 'incoming';
  el<HTMLButtonElement>('transfer-submit').disabled = !connected || v?.transfer === 'pending';
  for (const key of el('keypad').querySelectorAll('button')) key.disabled = !connected;
  el<HTMLButtonElement>('dial-call').disabled = active;
  if (v?.phase !== 'connected') el('dtmf-sent').textContent = '';
  document.title = v?.phase === 'incoming' ? `Incoming call from ${v.peer} – Switchboard` : 'Switchboard softphone';
}

export function renderMedia(remote: MediaStream, local: MediaStream): void {
  const audio = el<HTMLAudioElement>('remote-audio');
  if (audio.srcObject !== remote) audio.srcObject = remote;
  const remoteVideo = el<HTMLVideoElement>('remote-video');
  // A remote video track is muted while no frames arrive (video off on the other side).
  const showRemote = remote.getVideoTracks().some((t) => !t.muted);
  remoteVideo.hidden = !showRemote;
  const video = showRemote ? remote : null;
  if (remoteVideo.srcObject !== video) remoteVideo.srcObject = video;
  const localVideo = el<HTMLVideoElement>('local-video');
  const showLocal = local.getVideoTracks().length > 0;
  localVideo.hidden = !showLocal;
  const preview = showLocal ? local : null;
  if (localVideo.srcObject !== preview) localVideo.srcObject = preview;
}

const fixed = (v: number | null, digits: number, unit: string): string => (v === null ? '–' : `${v.toFixed(digits)} ${unit}`);

export function renderQuality(q: Quality | null): void {
  const path = el('media-path');
  path.dataset.path = q?.path ?? 'unknown';
  path.textContent = !q || q.path === 'unknown' ? '–' : q.path === 'relay' ? `TURN relay (${q.localType}/${q.remoteType})` : `peer-to-peer (${q.localType}/${q.remoteType})`;
  el('q-rtt').textContent = fixed(q?.rttMs ?? null, 0, 'ms');
  el('q-jitter').textContent = fixed(q?.jitterMs ?? null, 1, 'ms');
  el('q-loss').textContent = fixed(q?.lossPercent ?? null, 1, '%');
  el('q-bitrate').textContent = q?.inKbps == null || q.outKbps == null ? '–' : `↓ ${q.inKbps.toFixed(0)} / ↑ ${q.outKbps.toFixed(0)} kbps`;
}

const MAX_LOG_ENTRIES = 300;

export function appendSipFrame(direction: FrameDirection, text: string): void {
  const list = el('sip-log-list');
  const item = document.createElement('li');
  item.dataset.direction = direction;
  const details = document.createElement('details');
  const summary = document.createElement('summary');
  const time = new Date().toLocaleTimeString(undefined, { hour12: false });
  summary.textContent = `${time} ${text.split(/\r?\n/, 1)[0]}`;
  const pre = document.createElement('pre');
  pre.textContent = text;
  details.append(summary, pre);
  item.append(details);
  list.append(item);
  while (list.childElementCount > MAX_LOG_ENTRIES) list.firstElementChild?.remove();
  const count = el('sip-log-count');
  count.textContent = String(Number(count.textContent) + 1);
}

export function clearSipLog(): void {
  el('sip-log-list').replaceChildren();
  el('sip-log-count').textContent = '0';
}

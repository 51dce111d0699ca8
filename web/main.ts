/**
 * The softphone page: sign in (password, or a token link `/?token=...`), then one JsSIP
 * phone registered over `ws(s)://<this host>/sip/<tenant>/<user>`. The API is same-origin.
 */
import { ApiError, iceServers, login, pushKey, type IceAnswer } from './api.js';
import { Phone, type CallView } from './phone.js';
import { summarize, type Sample } from './quality.js';
import { readTokenClaims } from './token.js';
import { appendSipFrame, clearSipLog, el, renderCall, renderMedia, renderQuality, renderRegistration } from './view.js';

interface Account {
  readonly tenant: string;
  readonly user: string;
  readonly domain: string;
  token: string;
  /** Unix seconds; a token link's socket cannot reconnect after it. */
  readonly expiresAt: number;
  /** Kept only for password sign-in: digest answers and renewing the API token. */
  readonly password: string | null;
}

let account: Account | null = null;
let phone: Phone | null = null;
let call: CallView | null = null;

const relayOnly = el<HTMLInputElement>('relay-only');
/** The tenant's grace for a dropped socket, as the last ICE answer gave it (the service's default until then). */
let graceSeconds = 30;

/** ICE servers for one call; an expired API token is renewed when we have the password. */
async function rtcConfig(): Promise<RTCConfiguration> {
  const a = account;
  if (!a) throw new Error('signed out');
  let answer: IceAnswer;
  try {
    answer = await iceServers(a.tenant, a.token);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401 && a.password !== null)) throw err;
    a.token = (await login(a.tenant, a.user, a.password)).token;
    answer = await iceServers(a.tenant, a.token);
  }
  graceSeconds = answer.flowGraceSeconds;
  return { iceServers: answer.iceServers, iceTransportPolicy: relayOnly.checked ? 'relay' : 'all' };
}

function begin(a: Account): void {
  account = a;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const base = `${scheme}//${location.host}/sip/${encodeURIComponent(a.tenant)}/${encodeURIComponent(a.user)}`;
  phone = new Phone(
    {
      // With a password, SIP authenticates by digest; a token link authenticates the socket.
      wsUrl: a.password === null ? `${base}?token=${encodeURIComponent(a.token)}` : base,
      uri: `sip:${a.user}@${a.domain}`,
      user: a.user,
      password: a.password,
      rtcConfig,
      graceSeconds: () => graceSeconds,
    },
    {
      registration: (state, detail) => {
        renderRegistration(state, detail);
        if (state === 'disconnected' && a.password === null && a.expiresAt * 1000 <= Date.now()) {
          signOut('The token link has expired; sign in with your password.');
        }
      },
      call: onCall,
      media: renderMedia,
      frame: appendSipFrame,
      dtmfPlayed: (tone) => (el('dtmf-sent').textContent += tone),
    },
  );
  el('signin').hidden = true;
  el('phone').hidden = false;
  el('identity-bar').hidden = false;
  el('sip-log').hidden = false;
  el('identity').textContent = `${a.user}@${a.domain}`;
  phone.start();
  el('dial-target').focus();
  void offerPush();
}

/**
 * Web Push: offered when the service has a VAPID key and the browser can do it; turned on
 * by the user (the browser asks for permission), or at once when permission was given before.
 */
async function offerPush(): Promise<void> {
  if (!('serviceWorker' in navigator) || !('PushManager' in window)) return;
  const key = await pushKey().catch(() => null);
  if (!key || !phone) return;
  const button = el<HTMLButtonElement>('push-enable');
  button.hidden = Notification.permission === 'denied';
  button.onclick = () => void enablePush(key);
  if (Notification.permission === 'granted') await enablePush(key);
}

async function enablePush(key: string): Promise<void> {
  if ((await Notification.requestPermission()) !== 'granted') return;
  const reg = await navigator.serviceWorker.register('/sw.js');
  await navigator.serviceWorker.ready;
  const sub = (await reg.pushManager.getSubscription()) ?? (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }));
  const json = sub.toJSON();
  if (!json.endpoint || !json.keys?.p256dh || !json.keys.auth) return;
  phone?.setPush({ endpoint: json.endpoint, p256dh: json.keys.p256dh, auth: json.keys.auth });
  el('push-enable').hidden = true;
  const state = el('push-state');
  state.hidden = false;
  state.dataset.state = 'on';
}

// The service worker got a push for a call: the page reconnects now to take it.
navigator.serviceWorker?.addEventListener('message', (e: MessageEvent<{ type?: string }>) => {
  if (e.data?.type === 'switchboard-push') phone?.wake();
});

function signOut(reason = ''): void {
  showSignInError(reason);
  el('push-enable').hidden = true;
  el('push-state').hidden = true;
  phone?.stop();
  phone = null;
  account = null;
  onCall(null);
  clearSipLog();
  renderRegistration('signed-out', null);
  el('identity-bar').hidden = true;
  el('sip-log').hidden = true;
  el('phone').hidden = true;
  el('signin').hidden = false;
  el('signin-user').focus();
}

function showCallError(message: string): void {
  const p = el('call-error');
  p.textContent = message;
  p.hidden = message === '';
}

/** Starting or answering a call fails before SIP when ICE servers cannot be had. */
function attempt(what: string, action: Promise<void> | undefined): void {
  showCallError('');
  action?.catch((err: unknown) => showCallError(`Could not ${what}: ${err instanceof Error ? err.message : String(err)}`));
}

function onCall(v: CallView | null): void {
  const wasIncoming = call?.phase === 'incoming';
  call = v;
  renderCall(v);
  if (v?.phase === 'incoming' && !wasIncoming) el('incoming-answer').focus();
  if (v?.phase !== 'connected') {
    previous = null;
    renderQuality(null);
  }
}

// Live quality, once a second while connected.
let previous: Sample | null = null;
setInterval(async () => {
  const pc = call?.phase === 'connected' ? phone?.connection() : null;
  if (!pc) return;
  const { quality, sample } = summarize(await pc.getStats(), previous);
  if (call?.phase !== 'connected') return;
  previous = sample;
  renderQuality(quality);
}, 1000);

function showSignInError(message: string): void {
  const p = el('signin-error');
  p.textContent = message;
  p.hidden = message === '';
}

el<HTMLFormElement>('signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const tenant = el<HTMLInputElement>('signin-tenant').value.trim();
  const user = el<HTMLInputElement>('signin-user').value.trim();
  const password = el<HTMLInputElement>('signin-password').value;
  if (!tenant || !user || !password) return showSignInError('Tenant, user and password are all needed.');
  const submit = el<HTMLButtonElement>('signin-submit');
  submit.disabled = true;
  showSignInError('');
  try {
    const issued = await login(tenant, user, password);
    const claims = readTokenClaims(issued.token);
    localStorage.setItem('switchboard.tenant', tenant);
    begin({ tenant, user, domain: claims?.domain ?? issued.sipUri.replace(/^sip:[^@]*@/, ''), token: issued.token, expiresAt: issued.expiresAt, password });
  } catch (err) {
    const status = err instanceof ApiError ? err.status : 0;
    showSignInError(status === 401 || status === 404 ? 'Wrong tenant, user or password.' : err instanceof Error ? err.message : String(err));
  } finally {
    submit.disabled = false;
  }
});

el('signout').addEventListener('click', () => signOut());

el<HTMLFormElement>('dial-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const target = el<HTMLInputElement>('dial-target').value.trim();
  if (target) attempt('start the call', phone?.call(target, el<HTMLInputElement>('dial-video').checked));
});

el('incoming-answer').addEventListener('click', () => attempt('answer', phone?.answer()));
el('incoming-decline').addEventListener('click', () => phone?.decline());
el('hangup').addEventListener('click', () => phone?.hangup());
el('mute').addEventListener('click', () => phone?.toggleMute());
el('hold').addEventListener('click', () => phone?.toggleHold());
el('video-toggle').addEventListener('click', () => attempt('switch the camera', phone?.setVideo(!call?.sendingVideo)));
el('keypad').addEventListener('click', (e) => {
  const key = (e.target as HTMLElement).closest<HTMLButtonElement>('button[data-key]');
  if (key) phone?.sendDigit(key.dataset.key!);
});
el<HTMLFormElement>('transfer-form').addEventListener('submit', (e) => {
  e.preventDefault();
  phone?.transfer(el<HTMLInputElement>('transfer-target').value);
});

// Digits typed anywhere but in a text field go to the keypad during a call.
document.addEventListener('keydown', (e) => {
  if (call?.phase !== 'connected' || e.ctrlKey || e.metaKey || e.altKey) return;
  if ((e.target as HTMLElement).closest('input, textarea, select')) return;
  if (/^[0-9*#]$/.test(e.key)) phone?.sendDigit(e.key);
});

function boot(): void {
  renderRegistration('signed-out', null);
  el<HTMLInputElement>('signin-tenant').value = localStorage.getItem('switchboard.tenant') ?? '';
  const token = new URLSearchParams(location.search).get('token');
  if (token === null) return;
  // Keep the token out of the address bar (and of bookmarks and screenshots).
  history.replaceState(null, '', location.pathname);
  const claims = readTokenClaims(token);
  if (!claims) return showSignInError('The token link is not valid.');
  if (claims.expiresAt * 1000 <= Date.now()) return showSignInError('The token link has expired; sign in with your password.');
  begin({ tenant: claims.tenant, user: claims.user, domain: claims.domain, token, expiresAt: claims.expiresAt, password: null });
}

boot();

/**
 * The softphone's service worker: the service's Web Push (RFC 8030) wakes it when a call
 * or message comes for this user while the page has no socket. It shows the call as a
 * notification, tells the open page to come back at once, and a click on the
 * notification brings the page (or opens it) to answer.
 */

interface PushData {
  readonly type?: string;
  readonly from?: string;
  readonly callId?: string;
}

interface WindowClient {
  postMessage(message: unknown): void;
  focus(): Promise<unknown>;
}

interface ServiceWorkerScope {
  addEventListener(type: 'push', fn: (e: { data: { json(): unknown } | null; waitUntil(p: Promise<unknown>): void }) => void): void;
  addEventListener(type: 'notificationclick', fn: (e: { notification: { close(): void; data: unknown }; waitUntil(p: Promise<unknown>): void }) => void): void;
  addEventListener(type: 'install' | 'activate', fn: (e: { waitUntil(p: Promise<unknown>): void }) => void): void;
  readonly clients: { matchAll(o: { type: 'window'; includeUncontrolled: boolean }): Promise<WindowClient[]>; openWindow(url: string): Promise<unknown>; claim(): Promise<void> };
  readonly registration: { showNotification(title: string, o: Record<string, unknown>): Promise<void> };
  skipWaiting(): Promise<void>;
}

const sw = self as unknown as ServiceWorkerScope;

sw.addEventListener('install', (e) => e.waitUntil(sw.skipWaiting()));
sw.addEventListener('activate', (e) => e.waitUntil(sw.clients.claim()));

sw.addEventListener('push', (e) => {
  const data = (e.data?.json() ?? {}) as PushData;
  e.waitUntil(
    (async () => {
      for (const page of await sw.clients.matchAll({ type: 'window', includeUncontrolled: true })) page.postMessage({ type: 'switchboard-push', data });
      // A push must show something (userVisibleOnly): the call, until it is answered or gone.
      const title = data.type === 'message' ? `Message from ${data.from ?? 'someone'}` : `Incoming call from ${data.from ?? 'someone'}`;
      await sw.registration.showNotification(title, { body: 'Open the softphone to answer', tag: `switchboard-${data.callId ?? 'call'}`, requireInteraction: true, data });
    })(),
  );
});

sw.addEventListener('notificationclick', (e) => {
  e.notification.close();
  e.waitUntil(
    (async () => {
      const [page] = await sw.clients.matchAll({ type: 'window', includeUncontrolled: true });
      if (!page) return sw.clients.openWindow('/');
      page.postMessage({ type: 'switchboard-push', data: e.notification.data });
      return page.focus();
    })(),
  );
});

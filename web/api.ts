/**
 * The two API calls the page makes, same-origin: password login (a token for the ICE
 * endpoint) and ICE servers with TURN credentials.
 */

export interface Login {
  readonly token: string;
  readonly sipUri: string;
  readonly expiresAt: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function request<T>(method: string, path: string, init: { body?: unknown; token?: string } = {}): Promise<T> {
  const headers: Record<string, string> = {};
  if (init.body !== undefined) headers['Content-Type'] = 'application/json';
  if (init.token) headers.Authorization = `Bearer ${init.token}`;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  } catch {
    throw new ApiError(0, 'the service cannot be reached');
  }
  const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
  if (!res.ok) throw new ApiError(res.status, body?.error?.message ?? `the service answered ${res.status}`);
  return body as T;
}

export function login(tenant: string, user: string, password: string): Promise<Login> {
  return request<Login>('POST', `/v1/tenants/${encodeURIComponent(tenant)}/login`, { body: { user, password } });
}

export interface IceAnswer {
  readonly iceServers: RTCIceServer[];
  /** How long the service holds a call whose socket dropped. */
  readonly flowGraceSeconds: number;
}

export function iceServers(tenant: string, token: string): Promise<IceAnswer> {
  return request<IceAnswer>('GET', `/v1/tenants/${encodeURIComponent(tenant)}/ice-servers`, { token });
}

/** The service's VAPID public key for Web Push, or null when it has none. */
export async function pushKey(): Promise<string | null> {
  return (await request<{ vapidPublicKey: string | null }>('GET', '/v1/push')).vapidPublicKey;
}

/**
 * Results of management operations across RPC: errors are values with the HTTP status they
 * map to, so the Worker can answer them without guessing (and nothing is half-done).
 */
export interface ApiError {
  readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 429 | 503;
  readonly code: string;
  readonly message: string;
}

export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ApiError };

export const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });
export const fail = (status: ApiError['status'], code: string, message: string): Outcome<never> => ({ ok: false, error: { status, code, message } });

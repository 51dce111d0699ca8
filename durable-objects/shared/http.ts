import { encodeBase64Url } from 'hono/utils/encode';

/** JSON error answers: `{ "error": { "code", "message" } }` with the right status. */
export function jsonError(status: number, code: string, message: string, headers: Record<string, string> = {}, details?: unknown): Response {
  const error: Record<string, unknown> = { code, message };
  if (details !== undefined) error.details = details;
  return new Response(JSON.stringify({ error }), {
    status,
    headers: { 'Content-Type': 'application/json; charset=utf-8', ...headers },
  });
}

/** A random identifier from the platform's CSPRNG, base64url without padding, `bytes` long before encoding. */
export function randomToken(bytes = 12): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(bytes)).buffer).replace(/=+$/, '');
}

/**
 * Who may read `/metrics`: with `edge.metrics_token` set, only requests carrying
 * `Authorization: Bearer <token>`. Shared by the app (the main port, every runtime) and the Node
 * metrics listener (`edge.metrics_listen`). Runtime-neutral.
 */

/** True when `authorization` (the request's header) carries `token`, or when no token is configured. */
export function metricsRequestAllowed(authorization: string | null | undefined, token: string): boolean {
  if (token === "") return true;
  if (!authorization) return false;
  const m = /^bearer[ \t]+(.+?)[ \t]*$/i.exec(authorization);
  return m !== null && sameText(m[1]!, token);
}

/** The answer to a refused /metrics request: 401 asking for a bearer token. */
export function metricsRefusal(): Response {
  return new Response("unauthorized: /metrics wants Authorization: Bearer <edge.metrics_token>\n", {
    status: 401,
    headers: { "www-authenticate": 'Bearer realm="metrics"', "content-type": "text/plain; charset=utf-8" },
  });
}

/** Compares two strings in time that does not depend on where they differ (only on the length). */
function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * The bearer token the page sends (status API and "try it" calls) once the gateway has asked for one.
 * Kept in sessionStorage: it survives reloads, not the tab.
 */
const key = "edge-signal-token";
/** Fallback when storage is disabled: the token lives as long as the page. */
let memory = "";

/** The token to send, or "" when none. */
export function currentToken(): string {
  try {
    return sessionStorage.getItem(key) ?? memory;
  } catch {
    return memory;
  }
}

/** Stores (or, with "", forgets) the token. */
export function setToken(token: string): void {
  memory = token;
  try {
    if (token) sessionStorage.setItem(key, token);
    else sessionStorage.removeItem(key);
  } catch {
    // storage disabled: keep it in memory only
  }
}

/** `authorization: Bearer <token>` when a token is set. */
export function authHeaders(): Record<string, string> {
  const t = currentToken();
  return t ? { authorization: `Bearer ${t}` } : {};
}

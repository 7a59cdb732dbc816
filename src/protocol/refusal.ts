/**
 * A request answered before any protocol runs (wrong HTTP method, content type, origin, unknown
 * method): the whole response, which a converter's sink sends with one `respond`. Runtime-neutral.
 */
import { HeaderList } from "./header-list.js";
import type { UniversalResponseSink } from "./universal.js";

/** A whole response refusing a request. Made per request: a converter may add headers (CORS) to it. */
export interface Refusal {
  readonly status: number;
  readonly headers: HeaderList;
  /** Undefined: no body. */
  readonly body?: Uint8Array;
}

/** A refusal with `headers` and an optional body. */
export function refusal(status: number, headers: Record<string, string>, body?: Uint8Array): Refusal {
  const h = new HeaderList();
  for (const k in headers) h.set(k, headers[k]!);
  return { status, headers: h, body };
}

/** A refusal with a plain-text body, as Hono's `c.text()` answers. */
export function textRefusal(status: number, text: string): Refusal {
  return refusal(status, { "content-type": "text/plain; charset=UTF-8" }, new TextEncoder().encode(text));
}

/** Sends `r` into `res`. */
export function sendRefusal(res: UniversalResponseSink, r: Refusal): void {
  res.respond(r.status, r.headers, r.body);
}

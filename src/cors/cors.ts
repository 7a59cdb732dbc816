/**
 * CORS for the gateway's RPC routes (Connect, gRPC-Web), as a Hono middleware.
 * WebSockets are not CORS-checked by browsers: use `checkWebSocketOrigin` on upgrades.
 */
import type { MiddlewareHandler } from "hono";
import { isOriginAllowed } from "../protocol/origin.js";

/** Options of {@link cors}. */
export interface CorsOptions {
  /** Allowed origins: exact (`https://app.example.com`), subdomain patterns (`https://*.example.com`), or `"*"`. */
  allowOrigins: readonly string[] | "*";
  /**
   * Request header names allowed besides the protocol ones (the app's metadata names, e.g. `x-room`),
   * or `"*"` to allow whatever the preflight asks for.
   */
  allowHeaders?: readonly string[] | "*";
  /**
   * Response header names to expose besides the protocol ones. Default: every non-standard header of
   * each actual response (custom metadata, Connect `trailer-*`), computed per response.
   */
  exposeHeaders?: readonly string[];
  /** Send `Access-Control-Allow-Credentials: true` (cookies). Default false. */
  credentials?: boolean;
  /** Preflight cache lifetime in seconds. Default 600. */
  maxAgeSeconds?: number;
}

/** Request headers every gateway protocol may need. */
export const corsAllowedHeaders = [
  "authorization",
  "content-type",
  "x-grpc-web",
  "x-user-agent",
  "grpc-timeout",
  "grpc-accept-encoding",
  "grpc-encoding",
  "connect-protocol-version",
  "connect-timeout-ms",
  "connect-content-encoding",
  "connect-accept-encoding",
  "content-encoding",
];

/** Response headers every gateway protocol may need exposed (trailers-only status, Connect encodings, the serving node). */
export const corsExposedHeaders = [
  "grpc-status",
  "grpc-message",
  "grpc-status-details-bin",
  "grpc-encoding",
  "content-encoding",
  "connect-content-encoding",
  "connect-accept-encoding",
  "x-edge-node",
];

/** Response headers that are CORS-safelisted or CORS's own: never listed as exposed. */
const notExposed = new Set([
  "cache-control",
  "content-language",
  "content-length",
  "content-type",
  "expires",
  "last-modified",
  "pragma",
  "vary",
  "date",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "set-cookie",
]);

/** The headers {@link CorsPolicy} reads and writes on a response: a fetch `Headers`, or a `HeaderList`. */
export interface CorsHeaderTarget {
  set(name: string, value: string): void;
  append(name: string, value: string): void;
  forEach(cb: (value: string, key: string) => void): void;
}

/** CORS for actual (non-preflight) responses, shared by the middleware and the Node gate. */
export interface CorsPolicy {
  /** True when `origin` may read responses. */
  allows(origin: string): boolean;
  /** Sets `Access-Control-Allow-Origin` (and `Vary`, `Access-Control-Allow-Credentials`) for an allowed origin. */
  setOrigin(h: CorsHeaderTarget, origin: string): void;
  /** Adds the CORS headers of an allowed origin to a finished response's headers. */
  decorate(h: CorsHeaderTarget, origin: string): void;
}

/** The CORS policy of {@link CorsOptions}, for actual responses (preflights are the middleware's). */
export function createCorsPolicy(opts: CorsOptions): CorsPolicy {
  const credentials = opts.credentials ?? false;
  const staticExpose = opts.exposeHeaders ? dedupe([...corsExposedHeaders, ...opts.exposeHeaders]).join(", ") : undefined;
  const anyOrigin = opts.allowOrigins === "*" && !credentials;
  const setOrigin = (h: CorsHeaderTarget, origin: string) => {
    if (anyOrigin) {
      h.set("access-control-allow-origin", "*");
    } else {
      h.set("access-control-allow-origin", origin);
      h.append("vary", "Origin");
    }
    if (credentials) h.set("access-control-allow-credentials", "true");
  };
  return {
    allows: (origin) => isOriginAllowed(origin, opts.allowOrigins),
    setOrigin,
    decorate(h, origin) {
      setOrigin(h, origin);
      h.set("access-control-expose-headers", staticExpose ?? exposeFor(h));
    },
  };
}

/**
 * The CORS middleware. A request without `Origin` passes untouched. A disallowed origin gets no CORS
 * headers (the browser then blocks the response), and its preflight a 403. An allowed preflight is
 * answered 204 here with methods `POST, GET`, the allowed headers and `Access-Control-Max-Age`.
 */
export function cors(opts: CorsOptions): MiddlewareHandler {
  const maxAge = String(opts.maxAgeSeconds ?? 600);
  const reflectHeaders = opts.allowHeaders === "*";
  const allowHeaders = dedupe([...corsAllowedHeaders, ...(reflectHeaders ? [] : (opts.allowHeaders as readonly string[] | undefined) ?? [])]).join(", ");
  const policy = createCorsPolicy(opts);

  return async (c, next) => {
    const origin = c.req.header("origin");
    if (origin === undefined) {
      await next();
      return;
    }
    const allowed = policy.allows(origin);
    const isPreflight = c.req.method === "OPTIONS" && c.req.header("access-control-request-method") !== undefined;
    if (isPreflight) {
      if (!allowed) return c.body(null, 403);
      const h = new Headers();
      policy.setOrigin(h, origin);
      h.set("access-control-allow-methods", "POST, GET");
      const requested = c.req.header("access-control-request-headers");
      h.set("access-control-allow-headers", reflectHeaders && requested ? dedupe([...corsAllowedHeaders, ...splitList(requested)]).join(", ") : allowHeaders);
      h.set("access-control-max-age", maxAge);
      return new Response(null, { status: 204, headers: h });
    }
    await next();
    if (!allowed) return;
    let res = c.res;
    try {
      policy.decorate(res.headers, origin);
    } catch {
      res = new Response(res.body, res); // immutable headers (a fetched Response): copy once
      c.res = res;
      policy.decorate(res.headers, origin);
    }
  };
}

function exposeFor(h: CorsHeaderTarget): string {
  const names = [...corsExposedHeaders];
  const seen = new Set(names);
  h.forEach((_v, k) => {
    if (!seen.has(k) && !notExposed.has(k) && !k.startsWith("access-control-")) {
      seen.add(k);
      names.push(k);
    }
  });
  return names.join(", ");
}

function splitList(v: string): string[] {
  return v
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== "");
}

function dedupe(list: readonly string[]): string[] {
  return [...new Set(list.map((s) => s.toLowerCase()))];
}

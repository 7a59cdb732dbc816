/**
 * An HTTP/1.1 request (`IncomingMessage` and its `ServerResponse`) as the seam's
 * {@link UniversalRequest}, Node only. Headers are read from `rawHeaders` into a {@link HeaderList}
 * (as a fetch `Headers` would hold them, without its per-request cost); the client is gone when the
 * response closes before it was written, or the request failed.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ClientWatch } from "../../protocol/client-signal.js";
import type { HeaderList } from "../../protocol/header-list.js";
import type { UniversalRequest } from "../../protocol/universal.js";
import { nodeRequestBody } from "./request-body.js";

/**
 * The request `req` answered through `res`: `path` and `search` are `req.url` split at its `?`;
 * `headers` its headers (`HeaderList.fromRaw(req.rawHeaders)`, which the caller has already read).
 */
export function nodeRequest(req: IncomingMessage, res: ServerResponse, path: string, search: string, headers: HeaderList): UniversalRequest {
  return {
    method: req.method ?? "GET",
    path,
    search,
    httpVersion: req.httpVersion,
    headers,
    authority: headers.get("host"),
    body: req.method === "GET" || req.method === "HEAD" ? null : nodeRequestBody(req, res),
    signal: watchClient(req, res),
    remoteAddress: req.socket.remoteAddress,
  };
}

/** The client went away: the response closed before it was written (or the request failed). */
function watchClient(req: IncomingMessage, res: ServerResponse): ClientWatch {
  return (onGone) => {
    if (res.destroyed || req.errored) {
      if (!res.writableFinished) onGone();
      return noop;
    }
    const onClose = () => {
      if (req.errored || !res.writableFinished) onGone();
    };
    res.once("close", onClose);
    return () => res.off("close", onClose);
  };
}

function noop(): void {}

/**
 * An HTTP/1.1 request body (`IncomingMessage`) as the seam's {@link UniversalBody}, Node only: read
 * whole from 'data' events (`readAll`, Connect unary and the bench's hot path), or chunk by chunk as
 * it arrives (streaming protocols). A body a protocol stops reading is read on and dropped within a
 * bound, as the app's path does (`discardBody`, then @hono/node-server's drain), so the connection
 * can carry the next request.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Code, ConnectError } from "@connectrpc/connect";
import { concatBytes, messageTooLarge } from "../../protocol/compression.js";
import { maxDiscardBytes } from "../../protocol/discard-body.js";
import type { UniversalBody } from "../../protocol/universal.js";

/** The body of `req`, whose response is `res` (the discard waits for the response to finish). */
export class NodeRequestBody implements UniversalBody {
  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {}

  readAll(maxBytes: number): Promise<Uint8Array> {
    return readBody(this.req, this.res, maxBytes);
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return iterateBody(this.req, this.res);
  }
}

/**
 * The chunks of `req` as they arrive. A read that fails (the client went away) throws CANCELLED;
 * `return()` before the end drops the rest (see {@link discard}).
 */
function iterateBody(req: IncomingMessage, res: ServerResponse): AsyncIterator<Uint8Array> {
  const it = req.iterator({ destroyOnReturn: false }) as AsyncIterator<Uint8Array>;
  let ended = false;
  return {
    async next() {
      try {
        const r = await it.next();
        if (r.done) ended = true;
        return r;
      } catch (e) {
        ended = true;
        throw new ConnectError(`reading the request body failed: ${e instanceof Error ? e.message : String(e)}`, Code.Canceled);
      }
    },
    async return() {
      if (!ended) {
        ended = true;
        await it.return?.();
        // All of it is in already: drop what is buffered. Otherwise read the rest within the bound.
        if (req.complete) req.resume();
        else discard(req, res);
      }
      return { done: true, value: undefined };
    },
  };
}

/**
 * The whole request body, as `readBody` (src/protocol/read-body.ts) reads a fetch body: RESOURCE_EXHAUSTED once it passes
 * `maxBytes` (the rest is read and dropped, see {@link discard}, so that the connection can carry the
 * next request), CANCELLED when the client goes away first.
 */
export function readBody(req: IncomingMessage, res: ServerResponse, maxBytes: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) {
        cleanup();
        discard(req, res);
        reject(messageTooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 0 ? new Uint8Array(0) : concatBytes(chunks, total)); // several chunks: one copy, none more in nrpc
    };
    const onError = (e: Error) => {
      cleanup();
      reject(new ConnectError(`reading the request body failed: ${e.message}`, Code.Canceled));
    };
    const onClose = () => {
      if (req.complete) return;
      cleanup();
      reject(new ConnectError("reading the request body failed: the client went away", Code.Canceled));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

/** How long @hono/node-server waits, after the response, for the rest of a body its handler left unread. */
const drainTimeoutMs = 500;

/**
 * Reads and drops the rest of a body the call no longer reads, as the app's path does (`discardBody`,
 * then @hono/node-server's drain): the connection stays usable for the next request when the body ends
 * within `maxDiscardBytes` and within 500 ms after the response; otherwise it is closed once the
 * response is out.
 */
export function discard(req: IncomingMessage, res: ServerResponse): void {
  let n = 0;
  let finished = false;
  let tooMuch = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const done = () => {
    clearTimeout(timer);
    req.off("data", onData);
    req.off("end", done);
    req.off("close", done);
    res.off("finish", onFinish);
  };
  const close = () => {
    done();
    req.socket.destroySoon();
  };
  const onData = (chunk: Buffer) => {
    n += chunk.length;
    if (n <= maxDiscardBytes) return;
    tooMuch = true;
    req.pause();
    if (finished) close();
  };
  const onFinish = () => {
    finished = true;
    if (tooMuch) return close();
    timer = setTimeout(close, drainTimeoutMs);
    timer.unref?.();
  };
  req.on("data", onData);
  req.on("end", done);
  req.on("close", done);
  req.on("error", noop);
  if (res.writableFinished) onFinish();
  else res.once("finish", onFinish);
}

function noop(): void {}

/**
 * What the streaming protocols on the seam (Connect streaming, gRPC-Web) share: starting a call whose
 * request messages are read from an enveloped body as the call consumes them, and the life of a
 * responder that writes into a {@link UniversalResponseSink}. Runtime-neutral.
 */
import type { ConnectError } from "@connectrpc/connect";
import type { CallResponder, WireProtocol } from "../core/call.js";
import type { CallAbort } from "../core/call-signal.js";
import type { Metadata } from "../core/metadata.js";
import { linkClientSignal } from "./client-signal.js";
import type { HeaderList } from "./header-list.js";
import type { ServeContext } from "./options.js";
import { RequestStream, type RequestStreamOptions } from "./request-stream.js";
import { runHandler } from "./run-handler.js";
import type { UniversalRequest, UniversalResponseSink } from "./universal.js";

/**
 * A responder writing into a sink: its head goes out (HTTP 200 and `headers`) at the first of header /
 * message / end, which the protocol's `header`, `message` and `end` decide. It ends once: by `end`,
 * by {@link fail} (the request stream failed), or when the client goes away ({@link cancelled}).
 */
export abstract class SinkResponder implements CallResponder {
  /** The call is over for this responder (later calls are ignored). */
  ended = false;
  /** The head has gone to the sink (or a whole response instead). */
  protected started = false;
  /** The client went away: nothing more is written. */
  protected gone = false;
  private ctrl: CallAbort | undefined;
  private detach: () => void = noop;
  private requests: RequestStream | undefined;

  constructor(
    protected readonly res: UniversalResponseSink,
    protected readonly headers: HeaderList,
  ) {}

  abstract header(md: Metadata): void;
  abstract message(data: Uint8Array): void | Promise<void>;
  abstract end(error: ConnectError | undefined, trailers: Metadata): void;

  /** Set by {@link startStreamingCall}: the call's controller, how to stop watching the client, the request stream. */
  attach(ctrl: CallAbort, detach: () => void, requests: RequestStream): void {
    this.ctrl = ctrl;
    this.detach = detach;
    this.requests = requests;
    if (this.ended) {
      // The client was gone already.
      detach();
      requests.close();
    }
  }

  /** The request stream failed (or a response message could not be converted): end with the error. */
  fail(err: ConnectError): void {
    if (this.ended) return;
    if (this.ctrl) this.ctrl.abort(err);
    this.end(err, new Map());
  }

  /**
   * The client went away (the call's signal is aborted already): stop reading, and end the response
   * (the sink drops what it can no longer send; a fetch `Response` must still be handed out).
   */
  cancelled(): void {
    this.gone = true;
    if (!this.finish()) return;
    this.start();
    this.res.end();
  }

  /** Marks the responder ended, stops watching the client and reading the body; false when it was already. */
  protected finish(): boolean {
    if (this.ended) return false;
    this.ended = true;
    this.detach();
    this.requests?.close();
    return true;
  }

  /** Sends the head, once. */
  protected start(): void {
    if (this.started) return;
    this.started = true;
    this.res.head(200, this.headers);
  }
}

/**
 * Starts a streaming call on `req`: links the client's sign to the call's signal (the responder is
 * cancelled when the client goes away), reads the request messages from the body with `body`'s
 * framing (failures end the call through the responder), and runs the call handler.
 */
export function startStreamingCall(
  req: UniversalRequest,
  ctx: ServeContext,
  responder: SinkResponder,
  protocol: WireProtocol,
  metadata: Metadata,
  timeoutMs: number | undefined,
  body: Pick<RequestStreamOptions, "decodeChunk" | "unwrap" | "single">,
): void {
  const { ctrl, detach } = linkClientSignal(req.signal, () => responder.cancelled());
  const requests = new RequestStream(req.body, { maxMessageBytes: ctx.options.maxMessageBytes, ...body, onError: (err) => responder.fail(err) });
  responder.attach(ctrl, detach, requests);
  runHandler(
    ctx.handler,
    {
      path: req.path,
      protocol,
      shape: "unknown",
      metadata,
      signal: ctrl.signal,
      timeoutMs,
      requests,
      remote: { address: req.remoteAddress, origin: req.headers.get("origin") ?? undefined },
      closed: req.closed,
    },
    responder,
    () => responder.ended,
  );
}

function noop(): void {}

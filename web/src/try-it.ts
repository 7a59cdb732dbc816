/**
 * The "try it" panel: calls demo.v1.EchoService from the page with @connectrpc/connect-web, over the
 * Connect protocol or gRPC-Web, unary (Echo) or server-streaming (EchoStream).
 */
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { EchoService } from "../../src/gen/demo/v1/echo_pb.js";
import { h } from "./dom.js";
import { authHeaders } from "./token.js";

/** The transports the panel offers. */
export type TransportKind = "connect" | "grpc-web";

/** A client of demo.v1.EchoService over `kind`, against `baseUrl` (default: this page's origin). */
export function echoClient(kind: TransportKind, baseUrl = location.origin): Client<typeof EchoService> {
  const transport: Transport = kind === "grpc-web" ? createGrpcWebTransport({ baseUrl }) : createConnectTransport({ baseUrl });
  return createClient(EchoService, transport);
}

/** The panel's elements. */
export interface TryItView {
  form: HTMLFormElement;
  message: HTMLInputElement;
  repeat: HTMLInputElement;
  unary: HTMLButtonElement;
  stream: HTMLButtonElement;
  stop: HTMLButtonElement;
  status: HTMLElement;
  output: HTMLOListElement;
}

const transportNames: Record<TransportKind, string> = { connect: "Connect", "grpc-web": "gRPC-Web" };

/** Wires the panel. */
export function setupTryIt(view: TryItView): void {
  let abort: AbortController | undefined;

  const transport = (): TransportKind => {
    const v = new FormData(view.form).get("transport");
    return v === "grpc-web" ? "grpc-web" : "connect";
  };
  const busy = (on: boolean) => {
    view.unary.disabled = on;
    view.stream.disabled = on;
    view.stop.disabled = !on;
  };
  const line = (message: string, node: string) => {
    view.output.append(h("li", {}, h("span", { class: "mono muted" }, node), " ", message));
  };

  const run = async (kind: "unary" | "stream") => {
    abort?.abort();
    abort = new AbortController();
    const signal = abort.signal;
    const t = transport();
    const client = echoClient(t);
    const opts = { headers: authHeaders(), signal, timeoutMs: 30_000 };
    const message = view.message.value;
    view.output.replaceChildren();
    view.status.dataset.code = "running";
    view.status.textContent = `calling ${kind === "unary" ? "Echo" : "EchoStream"} over ${transportNames[t]}…`;
    busy(true);
    const start = performance.now();
    let n = 0;
    try {
      if (kind === "unary") {
        const res = await client.echo({ message }, opts);
        line(res.message, res.node);
        n = 1;
      } else {
        const repeat = Math.max(1, Math.min(1000, Number(view.repeat.value) || 1));
        for await (const res of client.echoStream({ message, repeat }, opts)) {
          line(res.message, res.node);
          n++;
        }
      }
      const ms = performance.now() - start;
      view.status.dataset.code = "ok";
      view.status.textContent = `OK · ${n} message${n === 1 ? "" : "s"} · ${ms.toFixed(1)} ms · ${transportNames[t]}`;
    } catch (e) {
      const err = ConnectError.from(e);
      view.status.dataset.code = Code[err.code] ?? String(err.code);
      view.status.textContent = `${Code[err.code] ?? err.code}: ${err.rawMessage} · after ${n} message${n === 1 ? "" : "s"} · ${transportNames[t]}`;
    } finally {
      busy(false);
    }
  };

  view.form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const which = (ev as SubmitEvent).submitter === view.stream ? "stream" : "unary";
    void run(which);
  });
  view.stop.addEventListener("click", () => abort?.abort());
}

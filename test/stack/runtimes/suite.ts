/**
 * One end-to-end suite for every runtime (Node, Deno, Cloudflare workerd): a real nats-server with a
 * registry and two demo nodes (`startStack`), JWT auth on (HS256), and the runtime's gateway on the
 * same NATS. Each runtime's test file only says how to start its gateway.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { WebSocket } from "ws";
import { mintToken, parseAuthConfig } from "../../../src/auth/index.js";
import { EchoRequestSchema, EchoResponseSchema, EchoService } from "../../../src/gen/demo/v1/echo_pb.js";
import { startStack, type Stack } from "../../helpers/gateway.js";

/** The HS256 key every runtime is configured with. */
export const jwtKey = "runtime-suite-hs256-key-0123456789abcdef";

/** A gateway under test. */
export interface Target {
  /** http://127.0.0.1:port */
  url: string;
  stop(): Promise<void>;
  /** Its output, shown when a test fails. */
  output?(): string;
}

/**
 * How a runtime starts its gateway on the stack's NATS. `env` holds what the edge runtimes read
 * (NATS_URL = the stack's NATS WebSocket URL, JWT_KEY); the Node runtime uses the stack's own gateway.
 */
export type StartTarget = (stack: Stack, env: Record<string, string>) => Promise<Target>;

const enc = new TextEncoder();
const dec = new TextDecoder();
const reqBytes = (message: string) => toBinary(EchoRequestSchema, create(EchoRequestSchema, { message }));

/** One grpc-websockets call, frame by frame as improbable's client writes them. */
class WsCall {
  readonly ws: WebSocket;
  /** The subprotocol of the 101 response. */
  readonly protocol: Promise<string | undefined>;
  private readonly opened: Promise<void>;
  private readonly frames: { kind: "header" | "data"; bytes: Uint8Array }[] = [];
  private closeInfo: { code: number; reason: string } | undefined;
  private wake: (() => void) | undefined;

  constructor(url: string, path: string) {
    this.ws = new WebSocket(url.replace(/^http/, "ws") + path, ["grpc-websockets"]);
    this.protocol = new Promise((resolve, reject) => {
      this.ws.once("upgrade", (res) => resolve(res.headers["sec-websocket-protocol"] as string | undefined));
      this.ws.once("error", reject);
      this.ws.once("unexpected-response", (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("error", reject);
    });
    this.protocol.catch(() => {});
    this.opened.catch(() => {});
    this.ws.on("message", (data: Buffer) => {
      const m = new Uint8Array(data);
      for (let i = 0; i < m.length; ) {
        const len = new DataView(m.buffer, m.byteOffset + i + 1, 4).getUint32(0);
        this.frames.push({ kind: m[i] === 0x80 ? "header" : "data", bytes: m.slice(i + 5, i + 5 + len) });
        i += 5 + len;
      }
      this.wake?.();
    });
    this.ws.on("close", (code, reason) => {
      this.closeInfo = { code, reason: reason.toString() };
      this.wake?.();
    });
  }

  async open(md: Record<string, string>): Promise<void> {
    await this.opened;
    const lines = Object.entries({ "content-type": "application/grpc-web+proto", "x-grpc-web": "1", ...md }).map(([k, v]) => `${k}: ${v}\r\n`);
    this.ws.send(enc.encode(lines.join("")));
  }

  send(message: string): void {
    const msg = reqBytes(message);
    const f = new Uint8Array(6 + msg.length);
    new DataView(f.buffer).setUint32(2, msg.length);
    f.set(msg, 6);
    this.ws.send(f);
  }

  halfClose(): void {
    this.ws.send(Uint8Array.of(0x01));
  }

  /** The next frame the server sent (waits up to 20 s). */
  async next(): Promise<{ kind: "header" | "data" | "closed"; text?: string; bytes?: Uint8Array }> {
    const end = Date.now() + 20_000;
    while (this.frames.length === 0 && !this.closeInfo) {
      if (Date.now() > end) throw new Error("no frame from the server");
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 200);
      });
    }
    const f = this.frames.shift();
    if (!f) return { kind: "closed" };
    return { kind: f.kind, bytes: f.bytes, text: f.kind === "header" ? dec.decode(f.bytes) : undefined };
  }

  async closed(): Promise<{ code: number; reason: string }> {
    const end = Date.now() + 20_000;
    while (!this.closeInfo) {
      if (Date.now() > end) throw new Error("the server did not close the WebSocket");
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.closeInfo;
  }
}

/** What a runtime's own extra tests can use (valid once `before` has run). */
export interface SuiteContext {
  readonly stack: Stack;
  readonly target: Target;
  /** A valid token for `demo`. */
  readonly token: string;
}

/** Options of {@link runtimeSuite}. */
export interface RuntimeSuiteOptions {
  /** Start nats-server with JetStream. */
  jetstream?: boolean;
  /** Registers more tests inside the suite's `describe`. */
  more?: (ctx: SuiteContext) => void;
}

/** The suite: one `describe` with a stack, the runtime's gateway and the calls every runtime must serve. */
export function runtimeSuite(name: string, start: StartTarget, opts: RuntimeSuiteOptions = {}): void {
  describe(name, { timeout: 240_000 }, () => {
    let stack: Stack;
    let target: Target;
    let token: string;
    let nodeIds: string[];
    const auth: Interceptor = (next) => (req) => {
      req.header.set("authorization", `Bearer ${token}`);
      return next(req);
    };

    before(async () => {
      // startStack merges `config` shallowly: `signal` must keep the loopback port-0 listener.
      const signal = { grpc: { host: "127.0.0.1", port: 0 }, jwt: { enabled: true, key: jwtKey } };
      stack = await startStack({ nodes: 2, config: { signal }, jetstream: opts.jetstream });
      nodeIds = stack.nodes.map((n) => n.node.nid);
      token = await mintToken(parseAuthConfig({ enabled: true, key: jwtKey }), { uid: "u1", services: ["demo"] });
      try {
        target = await start(stack, { NATS_URL: stack.nats.wsUrl, JWT_KEY: jwtKey });
      } catch (e) {
        await stack.stop();
        throw e;
      }
    });
    const ctx: SuiteContext = {
      get stack() {
        return stack;
      },
      get target() {
        return target;
      },
      get token() {
        return token;
      },
    };
    after(async () => {
      await target?.stop();
      await stack?.stop();
    });

    const t = { timeout: 60_000 };
    const connect = (interceptors: Interceptor[] = [auth]) =>
      createClient(EchoService, createConnectTransport({ baseUrl: target.url, httpVersion: "1.1", interceptors }));
    const grpcWeb = (interceptors: Interceptor[] = [auth]) =>
      createClient(EchoService, createGrpcWebTransport({ baseUrl: target.url, httpVersion: "1.1", interceptors }));

    test("readyz and the runtime-neutral metrics answer", t, async () => {
      const ready = await fetch(target.url + "/readyz");
      assert.equal(ready.status, 200, await ready.text());
      const metrics = await (await fetch(target.url + "/metrics")).text();
      assert.match(metrics, /^edge_signal_nats_connected 1$/m);
      assert.match(metrics, /^edge_signal_discovery_nodes\{service="demo"\} 2$/m);
    });

    test("Connect unary (HTTP/1.1) reaches a demo node", t, async () => {
      const res = await connect().echo({ message: "hello connect" });
      assert.equal(res.message, "hello connect");
      assert.ok(nodeIds.includes(res.node), `answered by ${res.node}`);
    });

    test("Connect server streaming delivers every message in order", t, async () => {
      const got: string[] = [];
      for await (const r of connect().echoStream({ message: "s", repeat: 5 })) got.push(r.message);
      assert.deepEqual(got, ["s 0", "s 1", "s 2", "s 3", "s 4"]);
    });

    test("a backend error keeps its code and message (Connect)", t, async () => {
      await assert.rejects(connect().echo({ message: "error:5:no such room" }), (e: unknown) => {
        const err = ConnectError.from(e);
        return err.code === Code.NotFound && err.rawMessage === "no such room";
      });
    });

    test("gRPC-Web unary (binary) and a gRPC-Web error in the trailers", t, async () => {
      const res = await grpcWeb().echo({ message: "hello grpc-web" });
      assert.equal(res.message, "hello grpc-web");
      assert.ok(nodeIds.includes(res.node));
      await assert.rejects(grpcWeb().echo({ message: "error:7:not yours" }), (e: unknown) => ConnectError.from(e).code === Code.PermissionDenied);
    });

    test("grpc-websockets bidi: subprotocol echoed, interleaved messages, trailers, close 1000", t, async () => {
      const call = new WsCall(target.url, "/demo.v1.EchoService/EchoBidi");
      assert.equal(await call.protocol, "grpc-websockets");
      await call.open({ authorization: `Bearer ${token}` });
      call.send("one");
      const header = await call.next();
      assert.equal(header.kind, "header");
      assert.match(header.text!, /content-type: application\/grpc-web\+proto/i);
      const r1 = await call.next();
      assert.equal(r1.kind, "data");
      assert.equal(fromBinary(EchoResponseSchema, r1.bytes!).message, "one");
      // The second request goes out only after the first answer: full duplex, not batched.
      call.send("two");
      const r2 = await call.next();
      assert.equal(fromBinary(EchoResponseSchema, r2.bytes!).message, "two");
      call.halfClose();
      const trailers = await call.next();
      assert.equal(trailers.kind, "header");
      assert.match(trailers.text!, /grpc-status: 0\r\n/);
      assert.equal((await call.closed()).code, 1000);
    });

    test("JWT: a valid HS256 token is accepted; none or a forged one is UNAUTHENTICATED", t, async () => {
      const ok = await connect().echo({ message: "with token" });
      assert.equal(ok.message, "with token");
      await assert.rejects(connect([]).echo({ message: "no token" }), (e: unknown) => ConnectError.from(e).code === Code.Unauthenticated);
      await assert.rejects(grpcWeb([]).echo({ message: "no token" }), (e: unknown) => ConnectError.from(e).code === Code.Unauthenticated);
      const forged = await mintToken(parseAuthConfig({ enabled: true, key: "some-other-key-0123456789abcdef" }), { uid: "u1", services: ["demo"] });
      const forgedAuth: Interceptor = (next) => (req) => {
        req.header.set("authorization", `Bearer ${forged}`);
        return next(req);
      };
      await assert.rejects(connect([forgedAuth]).echo({ message: "forged" }), (e: unknown) => ConnectError.from(e).code === Code.Unauthenticated);

      // grpc-websockets without a token: a trailers-only frame with status 16, then close.
      const call = new WsCall(target.url, "/demo.v1.EchoService/EchoBidi");
      await call.open({});
      call.send("no token");
      const f = await call.next();
      assert.equal(f.kind, "header");
      assert.match(f.text!, /grpc-status: 16\r\n/);
      await call.closed();
    });

    opts.more?.(ctx);
  });
}

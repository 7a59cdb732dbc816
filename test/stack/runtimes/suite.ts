/**
 * One end-to-end suite for every runtime (Node, Deno, Cloudflare workerd): a real nats-server with a
 * registry and two demo nodes (`startStack`), JWT auth on (HS256), and the runtime's gateway on the
 * same NATS. Each runtime's test file only says how to start its gateway.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Agent } from "node:http";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { mintToken, parseAuthConfig } from "../../../src/auth/index.js";
import { EchoRequestSchema, EchoResponseSchema, EchoService } from "../../../src/gen/demo/v1/echo_pb.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { WsCall } from "../../helpers/grpc-websockets-client.js";

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

/** A target's base URL for WebSockets. */
const wsUrl = (target: Target) => target.url.replace(/^http/, "ws");
const reqBytes = (message: string) => toBinary(EchoRequestSchema, create(EchoRequestSchema, { message }));

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
      const call = new WsCall(wsUrl(target) + "/demo.v1.EchoService/EchoBidi");
      await call.start({ authorization: `Bearer ${token}` });
      assert.equal(call.ws.protocol, "grpc-websockets");
      call.send(reqBytes("one"));
      const header = await call.next();
      assert.ok(header?.kind === "header", `a header frame, got ${header?.kind ?? "the close"}`);
      assert.match(header.text, /content-type: application\/grpc-web\+proto/i);
      const r1 = await call.next();
      assert.ok(r1?.kind === "data", `a data frame, got ${r1?.kind ?? "the close"}`);
      assert.equal(fromBinary(EchoResponseSchema, r1.data).message, "one");
      // The second request goes out only after the first answer: full duplex, not batched.
      call.send(reqBytes("two"));
      const r2 = await call.next();
      assert.ok(r2?.kind === "data", `a data frame, got ${r2?.kind ?? "the close"}`);
      assert.equal(fromBinary(EchoResponseSchema, r2.data).message, "two");
      call.halfClose();
      const trailers = await call.next();
      assert.ok(trailers?.kind === "header", `a header frame, got ${trailers?.kind ?? "the close"}`);
      assert.match(trailers.text, /grpc-status: 0\r\n/);
      assert.equal((await call.result()).close, 1000);
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
      const call = new WsCall(wsUrl(target) + "/demo.v1.EchoService/EchoBidi");
      await call.start({});
      call.send(reqBytes("no token"));
      const f = await call.next();
      assert.ok(f?.kind === "header", `a header frame, got ${f?.kind ?? "the close"}`);
      assert.match(f.text, /grpc-status: 16\r\n/);
      await call.result();
    });

    test("calls refused before their body is read leave the keep-alive connection usable for the next call", t, async () => {
      // One HTTP/1.1 connection for every request, so each call follows a refused one on it. A refused
      // call whose body nobody read broke the next call on Workers: workerd cannot read a request body
      // once the response is complete, so the rest stayed on the connection (wrangler: 503 "Your worker
      // restarted mid-request", or EPIPE).
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const over = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const nodeOptions = { agent };
        const client = createClient(EchoService, createConnectTransport({ baseUrl: target.url, httpVersion: "1.1", interceptors: [auth], nodeOptions }));
        const refused = createClient(EchoService, createGrpcWebTransport({ baseUrl: target.url, httpVersion: "1.1", nodeOptions }));
        const outcomes = new Map<string, number>();
        const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
        const outcome = (p: Promise<unknown>) =>
          p.then(
            () => "ok",
            (e: unknown) => Code[ConnectError.from(e).code] + ": " + ConnectError.from(e).rawMessage,
          );
        for (let i = 0; i < 100; i++) {
          // No token: refused at authentication, before the Director reads a message.
          count(`refused ${await outcome(refused.echo({ message: `no token ${i}` }))}`);
          count(`then ${await outcome(client.echo({ message: `next ${i}` }))}`);
        }
        // A body over max_message_bytes: read in part, then RESOURCE_EXHAUSTED.
        const big = createClient(EchoService, createConnectTransport({ baseUrl: target.url, httpVersion: "1.1", interceptors: [auth], nodeOptions: { agent: over }, useBinaryFormat: true }));
        for (let i = 0; i < 5; i++) {
          count(`too large ${await outcome(big.echo({ message: "x".repeat(4 * 1024 * 1024 + 65536) }))}`);
          count(`then ${await outcome(big.echo({ message: `after too large ${i}` }))}`);
        }
        assert.deepEqual(Object.fromEntries(outcomes), {
          "refused Unauthenticated: missing token": 100,
          [`too large ResourceExhausted: message is larger than the limit of ${4 * 1024 * 1024} bytes`]: 5,
          "then ok": 105,
        });
        assert.doesNotMatch(target.output?.() ?? "", /Can't read from request stream/);
      } finally {
        agent.destroy();
        over.destroy();
      }
    });

    opts.more?.(ctx);
  });
}

/**
 * Starts a local `nats-server` child process on free loopback ports (client TCP, WebSocket, monitoring),
 * optionally with JetStream. Used by `edge-signal demo`, the tests and the benchmarks. Node only.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect as tcpConnect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Options for {@link startNatsServer}. */
export interface NatsServerOptions {
  /** Enable JetStream (store in a temporary directory). Default false. */
  jetstream?: boolean;
  /** Fixed ports; 0 or absent picks a free one. */
  port?: number;
  wsPort?: number;
  httpPort?: number;
  /** Max payload in bytes (nats-server default 1 MiB). */
  maxPayload?: number;
  /** Extra lines appended to the config file. */
  extraConfig?: string;
  /** Path to the binary; default `nats-server` from PATH. */
  binary?: string;
  /**
   * Run this config file as it is instead of generating one (the deploy/ configs): its `$VARS` come
   * from `env`, and `port`, `wsPort` (0 if none) and `httpPort` must say where it listens.
   */
  configFile?: string;
  /**
   * Environment of the server process (merged over this process's); what a config's `$VARS` read.
   * `STORE_DIR` is set to a temporary directory (removed by `stop()`) unless given.
   */
  env?: Record<string, string>;
  /**
   * Run the server in a process group of its own, for an owner that stops it last (`edge-signal demo`):
   * a terminal's Ctrl-C (SIGINT to the whole foreground group) then reaches only the owner, whose
   * gateway leaves discovery through the server before it stops it. In the owner's group the server
   * went down at once, and the gateway waited out its whole drain for a NATS that was gone. The server
   * is still killed when this process exits (not when it is SIGKILLed: then, as in its group, it stays).
   */
  ownProcessGroup?: boolean;
}

/** A running nats-server child process. */
export interface NatsServer {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  /** `ws://127.0.0.1:<wsPort>` */
  readonly wsUrl: string;
  /** `http://127.0.0.1:<httpPort>` (monitoring: /varz, /subsz, /connz) */
  readonly monitorUrl: string;
  readonly port: number;
  readonly wsPort: number;
  readonly httpPort: number;
  readonly process: ChildProcess;
  /** Fetches a monitoring endpoint as JSON, e.g. `monitor("subsz?subs=1")`. */
  monitor(path: string): Promise<any>;
  /** Stops the server (SIGTERM, then SIGKILL) and removes its temporary files. */
  stop(): Promise<void>;
  /** Kills the server and starts it again on the same ports (for reconnect tests). */
  restart(): Promise<void>;
  /** Kills the server with SIGKILL (no goodbye to clients, routes or leaf nodes); `restart()` starts it again. */
  crash(): Promise<void>;
}

/** Returns a TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** Message shown when the binary is missing. */
export const natsServerMissing =
  "nats-server was not found on PATH. Install it (Debian/Ubuntu: `apt-get install -y nats-server`; " +
  "elsewhere: https://docs.nats.io/running-a-nats-service/introduction/installation) or pass --nats <url>.";

/** The nats-server process could not be started or exited: told apart from a not-yet-ready port by class. */
class NatsServerFailed extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NatsServerFailed";
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:`port` now (the connection is closed at once). */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Starts nats-server and resolves once its monitoring endpoint answers and its client and WebSocket ports accept connections. */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  const dir = await mkdtemp(join(tmpdir(), "edge-signal-nats-"));
  if (opts.configFile && !(opts.port && opts.httpPort)) throw new Error("startNatsServer: configFile needs port and httpPort");
  const port = opts.port || (await freePort());
  const wsPort = opts.configFile ? (opts.wsPort ?? 0) : opts.wsPort || (await freePort());
  const httpPort = opts.httpPort || (await freePort());
  const conf = [
    `listen: "127.0.0.1:${port}"`,
    `http: "127.0.0.1:${httpPort}"`,
    `websocket { listen: "127.0.0.1:${wsPort}", no_tls: true, compression: false }`,
    opts.maxPayload ? `max_payload: ${opts.maxPayload}` : "",
    opts.jetstream ? `jetstream { store_dir: "${join(dir, "js")}", max_memory_store: 256MB, max_file_store: 1GB }` : "",
    opts.extraConfig ?? "",
  ].join("\n");
  const confPath = opts.configFile ?? join(dir, "nats.conf");
  if (!opts.configFile) await writeFile(confPath, conf);
  const bin = opts.binary ?? "nats-server";

  let child: ChildProcess;
  const launch = async () => {
    child = spawn(bin, ["-c", confPath], {
      stdio: ["ignore", "ignore", "pipe"],
      env: opts.configFile ? { ...process.env, STORE_DIR: join(dir, "js"), ...opts.env } : undefined,
      detached: opts.ownProcessGroup === true,
    });
    if (opts.ownProcessGroup) {
      const c = child;
      const killOnExit = () => void c.kill("SIGTERM");
      process.once("exit", killOnExit);
      c.once("exit", () => process.off("exit", killOnExit));
    }
    let stderr = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (d: string) => {
      if (stderr.length < 16384) stderr += d;
    });
    const exited = new Promise<never>((_, reject) => {
      child.once("error", (e: NodeJS.ErrnoException) =>
        reject(new NatsServerFailed(e.code === "ENOENT" ? natsServerMissing : e.message, { cause: e })),
      );
      child.once("exit", (code) => reject(new NatsServerFailed(`nats-server exited with ${code}: ${stderr.slice(-2000)}`)));
    });
    exited.catch(() => {});
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const r = await Promise.race([fetch(`http://127.0.0.1:${httpPort}/varz`), exited]);
        if (r.ok) {
          await r.arrayBuffer();
          // The monitoring port opens first; the client and WebSocket listeners only after JetStream has
          // recovered its store (nats-server's Start), so /varz alone let a client be refused (seen:
          // ECONNREFUSED on the first connect of a JetStream test).
          if ((await Promise.race([listening(port), exited])) && (!wsPort || (await Promise.race([listening(wsPort), exited])))) break;
        }
      } catch (e) {
        if (child.exitCode !== null || e instanceof NatsServerFailed) throw e;
      }
      if (Date.now() > deadline) throw new Error(`nats-server did not start: ${stderr.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const kill = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill("SIGTERM");
    const t = setTimeout(() => child.kill("SIGKILL"), 3000);
    await gone;
    clearTimeout(t);
  };
  await launch();

  const server: NatsServer = {
    url: `nats://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${wsPort}`,
    monitorUrl: `http://127.0.0.1:${httpPort}`,
    port,
    wsPort,
    httpPort,
    get process() {
      return child;
    },
    async monitor(path: string) {
      const r = await fetch(`http://127.0.0.1:${httpPort}/${path}`);
      return r.json();
    },
    async stop() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
    async restart() {
      await kill();
      await launch();
    },
    async crash() {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGKILL");
      await gone;
    },
  };
  return server;
}

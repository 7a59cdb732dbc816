/**
 * Browser test helpers: one headless Chromium per test file (playwright-core driving the system
 * Chromium with a fresh profile), a tiny static server that gives test pages their own origin, and an
 * esbuild bundler for the TypeScript those pages run.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { chromium, type BrowserContext, type ConsoleMessage, type Page } from "playwright-core";

/** The repository root. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/** Where tests write artifacts (screenshots); gitignored. */
export const resultsDir = join(repoRoot, "test-results");

/** The Chromium binary (`CHROMIUM_PATH` overrides). */
export const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/**
 * Why browser tests are skipped, or false: `EDGE_SIGNAL_SKIP_BROWSER=1` (as for setup.sh), or no
 * Chromium installed. Pass as `describe(name, { skip: skipBrowser })`.
 */
export const skipBrowser: string | false =
  process.env.EDGE_SIGNAL_SKIP_BROWSER === "1" ? "EDGE_SIGNAL_SKIP_BROWSER=1" : existsSync(chromiumPath) ? false : `no Chromium at ${chromiumPath}`;

/** Chromium flags for a quiet, deterministic headless run (see spec runtimes.md). */
export const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** A launched browser: one profile, pages opened from it, console lines kept for failure messages. */
export interface TestBrowser {
  readonly context: BrowserContext;
  /** Console lines and page errors of every page, `[type] text`. */
  readonly logs: string[];
  /** Opens a page at `url` and waits for its load event. */
  open(url: string): Promise<Page>;
  close(): Promise<void>;
}

/** Launches Chromium ({@link chromiumPath}) with a fresh `--user-data-dir` (playwright's persistent context). */
export async function launchBrowser(): Promise<TestBrowser> {
  const profile = await mkdtemp(join(tmpdir(), "edge-signal-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: chromiumArgs,
    timeout: 120_000,
    viewport: { width: 1100, height: 760 },
  });
  context.setDefaultTimeout(60_000);
  const logs: string[] = [];
  const watch = (page: Page) => {
    page.on("console", (m: ConsoleMessage) => logs.push(`[${m.type()}] ${m.text()}`));
    page.on("pageerror", (e) => logs.push(`[pageerror] ${e.message}`));
  };
  context.on("page", watch);
  for (const p of context.pages()) watch(p);
  return {
    context,
    logs,
    async open(url) {
      const page = await context.newPage();
      await page.goto(url, { waitUntil: "load" });
      return page;
    },
    async close() {
      await context.close().catch(() => {});
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** A file a {@link PageServer} serves. */
export interface PageFile {
  type: string;
  body: string | Uint8Array;
}

/** A tiny HTTP server on 127.0.0.1 (its own origin), serving fixed files by path. */
export interface PageServer {
  /** `http://127.0.0.1:port` */
  readonly origin: string;
  readonly files: Map<string, PageFile>;
  close(): Promise<void>;
}

/** Starts a {@link PageServer} with `files` (path → file); more can be added to `files` later. */
export async function servePages(files: Record<string, PageFile> = {}): Promise<PageServer> {
  const map = new Map(Object.entries(files));
  const server: Server = createServer((req, res) => {
    const f = map.get((req.url ?? "/").split("?")[0]!);
    if (!f) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": f.type, "cache-control": "no-store" }).end(f.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    files: map,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Bundles a browser entry (TypeScript) into one classic script. */
export async function bundle(entry: string): Promise<string> {
  const out = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: "iife",
    platform: "browser",
    target: ["es2022"],
    logLevel: "silent",
  });
  return out.outputFiles[0]!.text;
}

/** An HTML page that loads `scripts` in order (classic scripts). */
export function htmlPage(title: string, scripts: string[], body = ""): PageFile {
  const tags = scripts.map((s) => `<script src="${s}"></script>`).join("\n");
  return {
    type: "text/html; charset=utf-8",
    body: `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title><link rel="icon" href="data:,">${tags}</head><body>${body}</body></html>`,
  };
}

/** `application/javascript; charset=utf-8` */
export const jsType = "application/javascript; charset=utf-8";

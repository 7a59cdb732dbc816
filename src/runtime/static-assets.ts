/**
 * Static files (the status page) for runtimes that have a file system: the path rules and content
 * types in one place; each runtime entry only says how to read a file. Runtime-neutral.
 */

/**
 * The built status page of this package (`web/dist/`). This module is two folders below the package
 * root as source (src/runtime/), as built (dist/runtime/) and inlined in the CLI bundle
 * (dist/cli/edge-signal.mjs), so one relative URL names the folder in all three.
 */
export const packageWebRoot: URL = new URL("../../web/dist/", import.meta.url);

const contentTypes: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "application/javascript; charset=utf-8",
  mjs: "application/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  map: "application/json; charset=utf-8",
};

/**
 * The file a URL path names, relative to the asset root and starting with `/` (`/` → `/index.html`),
 * or undefined for anything that could leave the root (`..`, backslashes, NUL, bad escapes).
 */
export function assetPath(urlPath: string): string | undefined {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (!rel.startsWith("/") || rel.includes("\0") || rel.split("/").some((seg) => seg === ".." || seg.includes("\\"))) return undefined;
  return rel.endsWith("/") ? rel + "index.html" : rel;
}

/** Serves the files `read(rel)` gives (rel from {@link assetPath}); a file that cannot be read is not found. */
export function staticAssets(read: (rel: string) => Promise<Uint8Array>): (urlPath: string) => Promise<Response | undefined> {
  return async (urlPath) => {
    const rel = assetPath(urlPath);
    if (rel === undefined) return undefined;
    try {
      const body = await read(rel);
      const ext = rel.slice(rel.lastIndexOf(".") + 1);
      return new Response(body as Uint8Array<ArrayBuffer>, {
        headers: { "content-type": contentTypes[ext] ?? "application/octet-stream", "cache-control": "no-cache" },
      });
    } catch {
      return undefined;
    }
  };
}

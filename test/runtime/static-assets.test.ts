// Static assets: path rules (no way out of the root) and content types, as the Node and Deno entries use them.
import assert from "node:assert/strict";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { assetPath } from "../../src/runtime/static-assets.js";
import { staticFiles } from "../../src/runtime/node/index.js";

test("assetPath keeps paths inside the root", () => {
  assert.equal(assetPath("/"), "/index.html");
  assert.equal(assetPath("/examples/"), "/examples/index.html");
  assert.equal(assetPath("/vendor/ion%2Dconnector.min.js"), "/vendor/ion-connector.min.js");
  for (const bad of ["/../etc/passwd", "/a/../../b", "/%2e%2e/secret", "/a%5c..%5cb", "/x%00.html", "/%E0%A4%A", "relative"]) {
    assert.equal(assetPath(bad), undefined, bad);
  }
});

test("staticFiles (Node) serves the root's files with their types, and nothing else", async () => {
  const root = await mkdtemp(join(tmpdir(), "edge-signal-assets-"));
  try {
    await mkdir(join(root, "web"));
    await writeFile(join(root, "web", "index.html"), "<h1>hi</h1>");
    await writeFile(join(root, "web", "app.js"), "1");
    await writeFile(join(root, "secret.txt"), "no");
    const serve = staticFiles(join(root, "web"));
    const index = await serve("/");
    assert.equal(index?.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(await index?.text(), "<h1>hi</h1>");
    assert.equal((await serve("/app.js"))?.headers.get("content-type"), "application/javascript; charset=utf-8");
    assert.equal(await serve("/missing.css"), undefined);
    assert.equal(await serve("/../secret.txt"), undefined);
    assert.equal(await serve("/%2e%2e/secret.txt"), undefined);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

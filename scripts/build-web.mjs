#!/usr/bin/env node
// Builds the status page: web/src/main.ts → web/dist/app.js (esbuild, one ES module), plus
// index.html, styles.css, the examples, and ion-sdk-js's prebuilt browser bundle in web/dist/vendor/.
// Usage: node scripts/build-web.mjs [--dev]   (--dev: no minification, inline source map)
import { copyFile, cp, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const web = join(root, "web");
const out = join(web, "dist");
const dev = process.argv.includes("--dev");

await mkdir(join(out, "vendor"), { recursive: true });
await esbuild.build({
  entryPoints: [join(web, "src", "main.ts")],
  outfile: join(out, "app.js"),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022"],
  minify: !dev,
  sourcemap: dev ? "inline" : false,
  legalComments: "none",
  charset: "utf8",
  logLevel: "warning",
});
await copyFile(join(web, "index.html"), join(out, "index.html"));
await copyFile(join(web, "styles.css"), join(out, "styles.css"));
await cp(join(web, "examples"), join(out, "examples"), { recursive: true });
// ion-sdk-js's lib/ does not bundle (see spec); its dist bundle is the artifact apps load (global `Ion`).
await copyFile(join(root, "node_modules", "ion-sdk-js", "dist", "ion-connector.min.js"), join(out, "vendor", "ion-connector.min.js"));
if (!process.argv.includes("--quiet")) console.log(`build-web: wrote ${out}`);

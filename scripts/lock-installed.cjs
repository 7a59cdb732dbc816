// Exits 0 when node_modules holds every package of package-lock.json at its locked version (npm's own
// record, node_modules/.package-lock.json), 1 otherwise. scripts/setup.sh runs `npm ci` on 1. A check
// of content, not of file times: moving a package between dependencies and devDependencies, or a fresh
// checkout of the same lock file, needs no install. Optional packages for other platforms are skipped.
const { readFileSync } = require("node:fs");
const read = (f) => JSON.parse(readFileSync(f, "utf8")).packages ?? {};
let have;
try {
  have = read("node_modules/.package-lock.json");
} catch {
  process.exit(1);
}
for (const [path, pkg] of Object.entries(read("package-lock.json"))) {
  if (path === "" || pkg.link) continue;
  const got = have[path];
  if (!got && pkg.optional) continue;
  if (!got || got.version !== pkg.version) {
    process.stderr.write(`setup: ${path} ${got ? `is ${got.version}, locked ${pkg.version}` : "is missing"}\n`);
    process.exit(1);
  }
}

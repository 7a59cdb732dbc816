#!/usr/bin/env bash
# One set-up step shared by `npm start`, `npm test` and CI: installs what a fresh Debian machine lacks
# (nats-server, and Chromium for the browser tests), the npm packages, the generated protobuf code, the
# status page and the compiled package in dist/.
# Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
quiet=0; [ "${1:-}" = "--quiet" ] && quiet=1
say() { [ "$quiet" = 1 ] || echo "setup: $*"; }

need=()
command -v nats-server >/dev/null 2>&1 || need+=(nats-server)
if [ "${EDGE_SIGNAL_SKIP_BROWSER:-}" != "1" ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need[*]} with apt-get" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
  else
    echo "setup: missing ${need[*]}; install them (Debian: apt-get install -y ${need[*]})" >&2
    exit 1
  fi
fi

# npm ci when node_modules lacks a locked package or version (scripts/lock-installed.cjs compares contents).
if [ ! -d node_modules ] || ! node scripts/lock-installed.cjs; then
  if [ -L node_modules ]; then
    # A node_modules shared by several checkouts: npm ci here would empty it under the others' feet.
    echo "setup: node_modules links to $(readlink node_modules), which lacks a locked package: run npm ci there" >&2
    exit 1
  fi
  say "installing npm packages"
  npm ci --no-audit --no-fund >&2
fi

# Generated protobuf code (buf + protoc-gen-es, offline); regenerate when a .proto is newer.
if [ ! -d src/gen ] || [ -n "$(find proto buf.gen.yaml -newer src/gen -print -quit)" ]; then
  say "generating protobuf code"
  rm -rf src/gen
  PATH="$PWD/node_modules/.bin:$PATH" buf generate
  touch src/gen
fi

# The status page (web/ → web/dist/, esbuild); rebuild when web/, its build script or the generated code is newer.
if [ ! -f web/dist/.built ] || [ -n "$(find web scripts/build-web.mjs src/gen -path web/dist -prune -o -newer web/dist/.built -print -quit)" ]; then
  say "building the status page"
  node scripts/build-web.mjs --quiet
  touch web/dist/.built
fi

# The compiled package (src/ → dist/, scripts/build.mjs): what `bin/edge-signal.mjs` runs. Rebuilt when
# a source, the build script or the lock file is newer; declarations are left to `npm run build`.
if [ ! -f dist/.built ] || [ -n "$(find src scripts/build.mjs tsconfig.build.json package-lock.json -newer dist/.built -print -quit)" ]; then
  say "building dist/"
  node scripts/build.mjs --no-declarations --quiet
fi

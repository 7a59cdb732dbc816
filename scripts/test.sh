#!/usr/bin/env bash
# Runs the whole test suite with Node's test runner (through tsx), one file at a time (each test file
# starts its own nats-server). Extra arguments narrow it down: `npm test -- test/nrpc`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --quiet
# The whole run also type-checks (strict TypeScript: src, test, bench, scripts, web/src).
if [ "$#" -eq 0 ]; then
  echo "typecheck: tsc --noEmit -p ." >&2
  node_modules/.bin/tsc --noEmit -p .
fi
roots=("${@:-test}")
mapfile -t files < <(find "${roots[@]}" -name '*.test.ts' | sort)
if [ "${#files[@]}" -eq 0 ]; then echo "no test files under ${roots[*]}" >&2; exit 1; fi
# fast-check: a fixed seed under CI, a random one locally (FC_SEED=<n> replays one).
# Hang guards: a test may run 5 minutes at most, and a file whose tests are done exits even if a failed
# test left a handle open (the leak checks in test/stack/reliability run their stacks in child processes).
exec node --import tsx --import ./test/helpers/fast-check-seed.ts --test --test-concurrency=1 --test-force-exit \
  --test-timeout=300000 --test-reporter=spec "${files[@]}"

#!/usr/bin/env bash
# The JavaScript tests: builds the package (release) when pkg/ is missing or older than its sources,
# and the primary that tabs.test.mjs pulls from (scripts/lib/ensure-built.sh), then runs
# tests/js/*.test.mjs with node's test runner (tsc runs inside types.test.mjs).
# Set OUTPOST_BUILD=always to rebuild regardless, or OUTPOST_BUILD=never to test pkg/ as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_CONFIG_HOME="$PWD/.config"   # miniflare/workerd: keep their config inside the project
source scripts/lib/ensure-built.sh

ensure_package_built
ensure_primary_built

node --test --test-concurrency=1 tests/js/*.test.mjs

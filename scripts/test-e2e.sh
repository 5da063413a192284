#!/usr/bin/env bash
# The browser end-to-end tests (tests/e2e/): the demo page and sync between two browser devices,
# in headless Debian Chromium through playwright-core, against the real outpost-primary and the
# primary as a Durable Object (primary-do/serve.mjs, built by primary-do/build.sh).
# Builds the package when pkg/ is missing or older than its sources, and the primary (cargo is
# quick when it is fresh): scripts/lib/ensure-built.sh. OUTPOST_BUILD=never tests pkg/ as it is;
# OUTPOST_PRIMARY=path picks a binary.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export XDG_CONFIG_HOME="$PWD/.config"   # miniflare and workerd keep their config inside the project
source scripts/lib/ensure-built.sh

ensure_package_built
ensure_primary_built
ensure_primary_do_built

node --test --test-concurrency=1 tests/e2e/*.test.mjs

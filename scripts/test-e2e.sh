#!/usr/bin/env bash
# The browser end-to-end tests (tests/e2e/): the demo page and sync between two browser devices,
# in headless Debian Chromium through playwright-core, against the real outpost-primary.
# Builds the package when pkg/ is missing or older than its sources, and the primary (cargo is
# quick when it is fresh). OUTPOST_BUILD=never tests pkg/ as it is; OUTPOST_PRIMARY=path picks a binary.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

stamp=pkg/size.json   # written last by the build
build="${OUTPOST_BUILD:-auto}"
if [ "$build" = auto ]; then
  if [ ! -f "$stamp" ] || [ -n "$(find src pkg-template Cargo.toml Cargo.lock wasm-pack.toml scripts/build-package.mjs \
        -newer "$stamp" -print -quit 2>/dev/null)" ]; then
    build=always
  fi
fi
if [ "$build" = always ]; then
  node scripts/build-package.mjs
fi

# The debug build, shared with the other suites: building a release primary only for tests
# would add minutes on a fresh machine and test nothing more.
if [ -z "${OUTPOST_PRIMARY:-}" ]; then
  cargo build --quiet -p outpost-primary
  export OUTPOST_PRIMARY="${CARGO_TARGET_DIR:-$PWD/target}/debug/outpost-primary"
fi

node --test --test-concurrency=1 tests/e2e/*.test.mjs

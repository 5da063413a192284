#!/usr/bin/env bash
# The JavaScript tests: builds the package (release) when pkg/ is missing or older than its sources,
# then runs tests/js/*.test.mjs with node's test runner (tsc runs inside types.test.mjs).
# Set OUTPOST_BUILD=always to rebuild regardless, or OUTPOST_BUILD=never to test pkg/ as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_CONFIG_HOME="$PWD/.config"   # miniflare/workerd: keep their config inside the project

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

# tabs.test.mjs pulls from the real primary: build it here rather than inside a test's timeout.
if [ -z "${OUTPOST_PRIMARY:-}" ]; then
  cargo build --quiet -p outpost-primary
  export OUTPOST_PRIMARY="${CARGO_TARGET_DIR:-$PWD/target}/debug/outpost-primary"
fi

node --test --test-concurrency=1 tests/js/*.test.mjs

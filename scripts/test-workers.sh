#!/usr/bin/env bash
# The Cloudflare Workers tests: the example Worker (www-demo/worker/) bundled by wrangler's dry run
# and by esbuild, run in workerd through miniflare against a real outpost-primary on 127.0.0.1.
# Builds the package (release) when pkg/ is missing or older than its sources, as scripts/test-js.sh
# does (OUTPOST_BUILD=always|never overrides), and the primary (debug) with cargo unless
# OUTPOST_PRIMARY names a binary to use.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_CONFIG_HOME="$PWD/.config"   # wrangler, miniflare and workerd keep their config inside the project
export WRANGLER_SEND_METRICS=false

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

# The primary the tests start: $OUTPOST_PRIMARY when given, else target/debug/outpost-primary.
if [ -z "${OUTPOST_PRIMARY:-}" ]; then
  cargo build --quiet -p outpost-primary
fi

node --test --test-concurrency=1 tests/workers/

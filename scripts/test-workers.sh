#!/usr/bin/env bash
# The Cloudflare Workers tests: the example Worker (www-demo/worker/) bundled by wrangler's dry run
# and by esbuild, run in workerd through miniflare against a real outpost-primary on 127.0.0.1; and
# the primary as a Durable Object (primary-do/, built by primary-do/build.sh) in workerd, alone and
# with the example Worker as its edge replica.
# Builds the package (release) when pkg/ is missing or older than its sources, as scripts/test-js.sh
# does (OUTPOST_BUILD=always|never overrides), and the primary (debug) with cargo unless
# OUTPOST_PRIMARY names a binary to use: scripts/lib/ensure-built.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_CONFIG_HOME="$PWD/.config"   # wrangler, miniflare and workerd keep their config inside the project
export WRANGLER_SEND_METRICS=false
source scripts/lib/ensure-built.sh

ensure_package_built
ensure_primary_built
ensure_primary_do_built

node --test --test-concurrency=1 tests/workers/

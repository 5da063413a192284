#!/usr/bin/env bash
# The bundler tests: the package packed with npm pack, installed into fresh apps and built by Vite 8
# and 7 (dev and build), webpack, esbuild, Rollup and Parcel, checked in headless Chromium; then
# Node (ESM, CommonJS), tsc (bundler, node16, nodenext) and wrangler from the same tarball. The
# bundlers are installed once, in tests/bundlers/node_modules, from its package-lock.json
# (scripts/setup.sh). Builds the package (release) when pkg/ is missing or older than its sources
# (scripts/lib/ensure-built.sh; OUTPOST_BUILD=always|never overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_CONFIG_HOME="$PWD/.config"   # wrangler and workerd keep their config inside the project
export WRANGLER_SEND_METRICS=false
source scripts/lib/ensure-built.sh

ensure_package_built

node --test --test-concurrency=1 tests/bundlers/

#!/usr/bin/env bash
# Builds the Durable Object primary's wasm and its JS glue into primary-do/pkg/, which
# primary-do/js/index.js imports: cargo (wasm32, the package's size profile) then wasm-bindgen
# (--target web: workerd loads the module with initSync).
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${OUTPOST_DO_PROFILE:-wasm-release}"
cargo build --quiet --target wasm32-unknown-unknown -p outpost-primary-do --profile "$profile"
target="${CARGO_TARGET_DIR:-$PWD/target}"
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
wasm-bindgen --target web --out-dir primary-do/pkg "$target/wasm32-unknown-unknown/$dir/outpost_primary_do.wasm"

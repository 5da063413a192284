#!/usr/bin/env bash
# Every test Outpost has, after installing what they need (scripts/setup.sh) on a fresh Debian
# machine: formatting and lints (native and wasm32), the Rust tests (core, primary, end-to-end sync
# and the convergence simulation), the wasm tests in headless Chromium, the JS tests (package,
# pages, workerd, types, ORMs, browser end-to-end), and the package in every bundler's fresh app. Benchmarks are not tests: scripts/bench.sh runs them.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
export CHROMEDRIVER=/usr/bin/chromedriver
export XDG_CONFIG_HOME="$PWD/.config"

step() { printf '\n== %s\n' "$*"; }

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p outpost --target wasm32-unknown-unknown --all-targets -- -D warnings
cargo clippy -p outpost-primary-do --target wasm32-unknown-unknown --all-targets -- -D warnings

step "Rust tests (core, primary, end-to-end sync, convergence simulation)"
cargo test --workspace

step "wasm tests in headless Chromium (dedicated worker, OPFS)"
cargo test -p outpost --target wasm32-unknown-unknown --test wasm_opfs

step "JS tests (package, pages, workerd, types, README)"
bash scripts/test-js.sh

step "bundler tests (the packed package in fresh Vite, webpack, esbuild, Rollup, Parcel, Node, tsc and wrangler apps)"
bash scripts/test-bundlers.sh

step "Cloudflare Workers tests (workerd via miniflare, wrangler dry-run bundle)"
bash scripts/test-workers.sh

step "browser end-to-end tests (demo and sync through the real primary)"
bash scripts/test-e2e.sh

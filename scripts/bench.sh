#!/usr/bin/env bash
# Runs Outpost's benchmarks: builds what they measure, then bench/run.mjs writes
# bench/results/latest.json and bench/RESULTS.md. Slowness never fails it; only a broken harness does.
#   BENCH_RUNS=5 BENCH_SYNC_RUNS=3   runs per local / sync benchmark
#   BENCH_SKIP_BUILD=1               measure pkg/ and target/release/outpost-primary as they are
#   BENCH_PKG=dir OUTPOST_PRIMARY=bin   measure another build of the package / primary
set -euo pipefail
cd "$(dirname "$0")/.."

export CC_wasm32_unknown_unknown="${CC_wasm32_unknown_unknown:-clang}"
if [[ "${BENCH_SKIP_BUILD:-0}" != "1" ]]; then
  node scripts/build-package.mjs
  cargo build --release -p outpost-primary
  # The native sync client: a standalone crate (not a workspace member), own target dir.
  cargo build --release --manifest-path bench/native/Cargo.toml --target-dir bench/target
fi
(cd bench && npm ci --no-audit --no-fund --loglevel=error)
node bench/run.mjs

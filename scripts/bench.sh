#!/usr/bin/env bash
# Runs Outpost's benchmarks: builds what they measure, then bench/run.mjs writes
# bench/results/latest.json and bench/RESULTS.md, and bench/primary-do.mjs (a phase of its own)
# bench/results/primary-do.md. Slowness never fails it; only a broken harness does.
#   BENCH_RUNS=5 BENCH_SYNC_RUNS=3   runs per local / sync benchmark
#   BENCH_SKIP_BUILD=1               measure pkg/ and target/release/outpost-primary as they are
#   BENCH_PKG=dir OUTPOST_PRIMARY=bin   measure another build of the package / primary
#   BENCH_PRIMARY_DO=0               leave out the Durable Object primary's phase
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

# The Durable Object primary (primary-do/, workerd through miniflare) beside outpost-primary on
# the same requests: push, pull and write-to-visible, with and without sync rules.
if [[ "${BENCH_PRIMARY_DO:-1}" != "0" ]]; then
  [[ "${BENCH_SKIP_BUILD:-0}" == "1" ]] || bash primary-do/build.sh
  export XDG_CONFIG_HOME="${XDG_CONFIG_HOME:-$PWD/.config}"   # miniflare and workerd keep their config inside the project
  {
    printf 'Durable Object primary beside outpost-primary, %s, load average %s\n\n' "$(date -u '+%F %R UTC')" "$(cut -d' ' -f1-3 /proc/loadavg)"
    node bench/primary-do.mjs --primary "${OUTPOST_PRIMARY:-${CARGO_TARGET_DIR:-$PWD/target}/release/outpost-primary}"
  } | tee bench/results/primary-do.md
fi

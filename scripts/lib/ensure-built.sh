# Sourced by scripts/test-js.sh, test-workers.sh and test-e2e.sh (from the repository root): what
# their tests need built, built before any test's timeout starts.

# The package (release), when pkg/ is missing or older than its sources. OUTPOST_BUILD=always
# rebuilds regardless; OUTPOST_BUILD=never tests pkg/ as it is.
ensure_package_built() {
  local stamp=pkg/size.json   # written last by the build
  local build="${OUTPOST_BUILD:-auto}"
  if [ "$build" = auto ]; then
    if [ ! -f "$stamp" ] || [ -n "$(find src pkg-template Cargo.toml Cargo.lock wasm-pack.toml scripts/build-package.mjs \
          -newer "$stamp" -print -quit 2>/dev/null)" ]; then
      build=always
    fi
  fi
  if [ "$build" = always ]; then
    node scripts/build-package.mjs
  fi
}

# The primary the tests start (tests/support/primary.mjs reads $OUTPOST_PRIMARY): the binary it
# names, else the debug build, made now (cargo is quick when it is fresh). Debug, and shared by the
# suites: a release primary only for tests would add minutes on a fresh machine and test nothing more.
ensure_primary_built() {
  if [ -z "${OUTPOST_PRIMARY:-}" ]; then
    cargo build --quiet -p outpost-primary
    export OUTPOST_PRIMARY="${CARGO_TARGET_DIR:-$PWD/target}/debug/outpost-primary"
  fi
}

# The Durable Object primary's wasm and glue (primary-do/pkg/), when missing or older than the
# Rust it is built from: primary-do/build.sh.
ensure_primary_do_built() {
  local stamp=primary-do/pkg/outpost_primary_do_bg.wasm
  if [ ! -f "$stamp" ] || [ -n "$(find src primary/src primary-do/src Cargo.toml Cargo.lock primary/Cargo.toml \
        primary-do/Cargo.toml -newer "$stamp" -print -quit 2>/dev/null)" ]; then
    bash primary-do/build.sh
  fi
}

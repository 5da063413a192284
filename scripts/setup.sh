#!/usr/bin/env bash
# Installs what building and testing Outpost needs, on Debian as root; quick when all is present.
# Idempotent; non-interactive (CI=true). Run from anywhere: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# The wasm-bindgen CLI must match the crate exactly; Cargo.toml's `wasm-bindgen = "=X.Y.Z"` pin is
# the one place that version is written.
WASM_BINDGEN_VERSION=$(grep -oP '^wasm-bindgen = "=\K[0-9]+\.[0-9]+\.[0-9]+(?=")' Cargo.toml) || {
  echo 'setup: Cargo.toml has no exact pin wasm-bindgen = "=X.Y.Z"' >&2
  exit 1
}
export DEBIAN_FRONTEND=noninteractive
# wrangler/miniflare write their config under XDG_CONFIG_HOME: keep it inside the project.
export XDG_CONFIG_HOME="$PWD/.config"

# System packages: clang and lld compile SQLite to wasm; chromium runs the browser tests;
# postgresql runs the Postgres store's tests (each test starts and stops its own server).
missing=()
for pkg in clang lld chromium chromium-driver postgresql; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: apt-get install ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Rust's wasm target and the wasm-bindgen CLI matching the crate's pin (about 5 minutes to compile).
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  echo "setup: cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  cargo install wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION"
fi

# JS tooling, pinned in package-lock.json: playwright-core, typescript, binaryen (wasm-opt),
# miniflare and wrangler (workerd), esbuild, smol-toml, drizzle-orm and kysely; and, in
# tests/bundlers, the bundlers the package is tested with (Vite 8 and 7, webpack, Rollup, Parcel).
# npm ci is skipped when a node_modules matches its lockfile.
npm_ci() {
  local stamp="$1/node_modules/.outpost-lock.sha256"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$(sha256sum "$1/package-lock.json" | cut -d' ' -f1)" ]; then
    (cd "$1" && npm ci --no-audit --no-fund)
    sha256sum "$1/package-lock.json" | cut -d' ' -f1 > "$stamp"
  fi
}
npm_ci .
npm_ci tests/bundlers
echo "setup: ready"

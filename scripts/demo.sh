#!/usr/bin/env bash
# The demo, from a fresh machine: installs what is missing (scripts/setup.sh), builds the npm package
# and the primary when their sources changed, and serves www-demo/ from outpost-primary on its
# embedded SQLite store. Then open the printed URL; ?device=b in a second tab is a second replica.
#
#   bash scripts/demo.sh                 # http://127.0.0.1:8787/
#   PORT=9000 bash scripts/demo.sh       # another port
#   DEMO_DATA=/tmp/board bash scripts/demo.sh   # another data folder (default .demo-data/)
#   DEMO_RESET=1 bash scripts/demo.sh    # start with an empty primary
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
host="${HOST:-127.0.0.1}"
port="${PORT:-8787}"
data="${DEMO_DATA:-$root/.demo-data}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

bash scripts/setup.sh

# The package, as npm would ship it (release build), when pkg/ is missing or older than its sources.
stamp=pkg/size.json   # written last by the build
if [ ! -f "$stamp" ] || [ -n "$(find src pkg-template Cargo.toml Cargo.lock wasm-pack.toml scripts/build-package.mjs \
      -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  node scripts/build-package.mjs
fi

# The page imports the package as a user would, through its import map: ./pkg/browser.js.
if [ ! -L www-demo/pkg ] || [ "$(readlink www-demo/pkg)" != "../pkg" ]; then
  rm -rf www-demo/pkg
  ln -s ../pkg www-demo/pkg
fi

cargo build --quiet -p outpost-primary --release
primary="$CARGO_TARGET_DIR/release/outpost-primary"

if [ "${DEMO_RESET:-0}" = 1 ]; then rm -rf "$data"; fi
mkdir -p "$data"

cat <<MSG

  Outpost demo: http://$host:$port/
  A second device of the same board: http://$host:$port/?device=b
  The primary's data: $data  (Ctrl-C stops the primary)

MSG
exec "$primary" serve --listen "$host:$port" --data "$data" --schema www-demo/schema.sql --static www-demo --no-auth

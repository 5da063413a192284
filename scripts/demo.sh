#!/usr/bin/env bash
# The demo, from a fresh machine: installs what is missing (scripts/setup.sh), builds the npm package
# and the primary when their sources changed, and serves www-demo/ from outpost-primary on its
# embedded SQLite store, with the board's sync rules (www-demo/rules.txt) and a token for each of
# its two users, Ana and Ben (www-demo/users.json, minted at every start). Then open the printed
# URLs: ?user=ben is the other user, ?device=b a second replica of the same user.
#
#   bash scripts/demo.sh                 # http://127.0.0.1:8787/
#   PORT=9000 bash scripts/demo.sh       # another port
#   DEMO_DATA=/tmp/board bash scripts/demo.sh   # another data folder (default .demo-data/)
#   DEMO_RESET=1 bash scripts/demo.sh    # start with an empty primary
#   DEMO_USERS=0 bash scripts/demo.sh    # one shared board, no tokens and no rules (--no-auth)
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

serve=("$primary" serve --listen "$host:$port" --data "$data" --schema www-demo/schema.sql --static www-demo)
if [ "${DEMO_USERS:-1}" = 0 ]; then
  echo '{ "users": [] }' >www-demo/users.json   # no users: the page opens one shared board
  cat <<MSG

  Outpost demo, one shared board: http://$host:$port/
  A second device of the same board: http://$host:$port/?device=b
  The primary's data: $data  (Ctrl-C stops the primary)

MSG
  exec "${serve[@]}" --no-auth
fi

# The token secret stays with the data, so tokens minted at an earlier start still verify. A
# local demo's secret: the page holds the tokens it signs (docs/RULES.md says how apps mint them).
if [ ! -s "$data/secret" ]; then
  (umask 077 && node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("hex"))' >"$data/secret")
fi
OUTPOST_SECRET="$(cat "$data/secret")"
export OUTPOST_SECRET
node scripts/demo-users.mjs "$primary" www-demo/users.json   # the page's users and their tokens

cat <<MSG

  Outpost demo: http://$host:$port/  (Ana)
  The other user, whose board differs: http://$host:$port/?user=ben
  A second device of Ana's: http://$host:$port/?device=b
  Shared lists are on both boards; a private list only on its owner's. The rules: www-demo/rules.txt
  The primary's data: $data  (Ctrl-C stops the primary)

MSG
exec "${serve[@]}" --rules www-demo/rules.txt --secret-env OUTPOST_SECRET

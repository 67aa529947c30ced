#!/usr/bin/env bash
# The axum example (examples/src/bin/axum_server.rs) against Python
# `websockets` over 127.0.0.1: the plain HTTP page and the WebSocket on one
# port, a subprotocol chosen among two offered, an echo, and 403 for a
# foreign Origin.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_python -r "$root/conformance/requirements.txt"
# The debug build `cargo test --workspace --all-features` (scripts/test.sh)
# has already made, so nothing is rebuilt: asked for through `cargo test`, as
# it, over the whole workspace. `cargo build -p wsframe-examples` resolved
# features without the workspace's dev-dependencies (tokio's test-util,
# futures-util's std, ...), which rebuilt tokio, hyper, axum and wsframe a
# second time (about 100 s of CI's 104 s axum stage). server_limits is one of
# the examples' tests: building it builds every binary of the package.
(cd "$root" && cargo test --quiet --workspace --all-features --no-run --test server_limits)

log=$(mktemp)
port=$(free_port)
"$root/target/debug/axum_server" "127.0.0.1:$port" >"$log" 2>&1 &
pid=$!
trap 'stop "$pid"' EXIT
wait_port "$port"

echo "== axum_server with Python websockets $("$venv/bin/python" -c 'import websockets; print(websockets.__version__)')"
if ! "$venv/bin/python" "$root/conformance/axum_peer.py" "$port"; then
  echo "FAIL: axum example; server log:" >&2
  tail -20 "$log" >&2
  exit 1
fi

#!/usr/bin/env bash
# permessage-deflate's window bits and context takeover with real peers, both
# roles, over 127.0.0.1 (session 20's review; in the test command since
# session 21):
# - Python websockets and Node ws clients with every window setting against
#   both echo servers: every message (matches at distances around each
#   window's edge, noise, empty messages, 1 MiB of text) echoed intact, and
#   server_max_window_bits=8 answered (the clients then inflate with 256
#   bytes of window);
# - Python clients that agree on a small client window and then compress
#   past it: closed with 1007 by both servers;
# - our tokio client, with seven sets of preferences, against Python and
#   Node echo servers that set windows (8 among them) and context takeover
#   (codec/tests/deflate_newcomer.rs, ignored unless asked for), and with
#   windows 9-15 on both sides and each side's context takeover off: 1 MiB
#   of text and of binary, 100 small messages queued at once, a message
#   sent in compressed fragments (codec/tests/deflate_peers_review.rs).
# About 50 s once built (the test command runs it after cargo test has built
# deflate_newcomer and deflate_peers_review). Needs what conformance/peers.sh
# needs. Prints "== <check>" before each check and ends with "All deflate
# window checks green." or "FAIL: deflate windows: <checks>".
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_python -r "$root/conformance/requirements.txt"
(cd "$root/conformance/node" && npm install --no-audit --no-fund --silent >/dev/null)
build_examples

failed=()
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
for example in echo_server tokio_echo_server; do
  start_echo_server "$(mktemp)" "$example"
  pids+=("$ECHO_PID")
  echo "== $example: Python websockets clients"
  "$venv/bin/python" "$root/conformance/deflate_windows.py" clients "$ECHO_PORT" || failed+=("$example-python")
  echo "== $example: Python clients past the agreed window"
  "$venv/bin/python" "$root/conformance/deflate_windows.py" cheat "$ECHO_PORT" || failed+=("$example-cheat")
  echo "== $example: Node ws clients"
  node "$root/conformance/node/deflate_windows.mjs" clients "$ECHO_PORT" || failed+=("$example-node")
done

echo "== our tokio client against Python websockets and Node ws servers that set windows"
# 9 Python servers and 8 Node ones (their SERVER_SETTINGS), on one run of
# ports found free.
py_servers=9 node_servers=8
py_base=$(free_ports $((py_servers + node_servers)))
node_base=$((py_base + py_servers))
py_log=$(mktemp) node_log=$(mktemp) test_log=$(mktemp)
"$venv/bin/python" "$root/conformance/deflate_windows.py" servers "$py_base" >"$py_log" 2>&1 &
pids+=($!)
node "$root/conformance/node/deflate_windows.mjs" servers "$node_base" >"$node_log" 2>&1 &
pids+=($!)
peers=()
for ((i = 0; i < py_servers; i++)); do wait_port $((py_base + i)); peers+=("127.0.0.1:$((py_base + i))"); done
for ((i = 0; i < node_servers; i++)); do wait_port $((node_base + i)); peers+=("127.0.0.1:$((node_base + i))"); done
if (cd "$root" && WSFRAME_DEFLATE_PEERS=$(IFS=,; echo "${peers[*]}") \
  cargo test --workspace --all-features --test deflate_newcomer --test deflate_peers_review \
    -- --ignored --nocapture >"$test_log" 2>&1); then
  grep -E "sessions echoed" "$test_log" | sed 's/^/  /'
else
  failed+=(our-client)
  tail -30 "$test_log"
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAIL: deflate windows: ${failed[*]}" >&2
  exit 1
fi
echo "All deflate window checks green."

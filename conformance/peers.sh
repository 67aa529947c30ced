#!/usr/bin/env bash
# Real peers nobody here wrote, against the echo server over 127.0.0.1:
# Python `websockets`, Node `ws` and headless Chromium (which also talks to
# a second echo server, run with --no-deflate); and our client role
# (autobahn_client) against a Python `websockets` server, compressed. The peers' packages
# are installed here (a failed install says which and fails); Node, npm and
# Chromium themselves are prerequisites (scripts/prerequisites.sh). Last, our
# tokio client's real-peer tests run against a Python websockets and a Node
# ws echo server.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

bash "$root/scripts/prerequisites.sh" test >/dev/null

ensure_python -r "$root/conformance/requirements.txt"
npm_log=$(mktemp)
if ! (cd "$root/conformance/node" && npm install --no-audit --no-fund --silent >"$npm_log" 2>&1); then
  tail -20 "$npm_log" >&2
  echo "FAIL: npm could not install the Node peer (ws)" >&2
  exit 1
fi
build_examples

log=$(mktemp)
plain_log=$(mktemp)
# Chromium also talks to a server without permessage-deflate.
start_echo_server "$plain_log" echo_server --no-deflate
plain_port=$ECHO_PORT plain_pid=$ECHO_PID
start_echo_server "$log"
failed=()
echo "== Python websockets $("$venv/bin/python" -c 'import websockets; print(websockets.__version__)')"
"$venv/bin/python" "$root/conformance/python_peer.py" "$ECHO_PORT" || failed+=(python)
echo "== Python websockets, our client role (autobahn_client against a websockets server)"
"$venv/bin/python" "$root/conformance/python_client_peer.py" "$examples/autobahn_client" || failed+=(python-client)
echo "== Node ws $(cd "$root" && node -p 'require("./conformance/node/node_modules/ws/package.json").version')"
node "$root/conformance/node/peer.mjs" "$ECHO_PORT" || failed+=(node)
echo "== $("$(command -v chromium || command -v chromium-browser)" --version)"
"$venv/bin/python" "$root/conformance/browser_peer.py" "$ECHO_PORT" "$plain_port" || failed+=(chromium)
stop "$ECHO_PID" "$plain_pid"

# Our tokio client with permessage-deflate against real peers' echo servers
# (codec/tests/deflate_real_peer_echo.rs, ignored unless asked for): a Python
# websockets and a Node ws server, compression on, 64 MiB message limits.
# `--workspace` as in the test command's cargo test, so its build is reused
# (`-p wsframe` alone unifies other dependency features and rebuilds).
echo "== real-peer echo servers: our tokio client against Python websockets and Node ws (deflate_real_peer_echo --ignored); accept_with per request against Python websockets (accept_deflate --ignored)"
py_log=$(mktemp) node_log=$(mktemp) test_log=$(mktemp)
py_port=$(free_port)
"$venv/bin/python" "$root/conformance/python_echo_server.py" "$py_port" >"$py_log" 2>&1 &
py_pid=$!
# Stopped whatever happens below.
trap 'kill "$py_pid" ${node_pid:+"$node_pid"} 2>/dev/null || true' EXIT
wait_port "$py_port"
node_port=$(free_port)
node "$root/conformance/node/echo_server.mjs" "$node_port" >"$node_log" 2>&1 &
node_pid=$!
wait_port "$node_port"
if ! (cd "$root" && WSFRAME_PY_ECHO="ws://127.0.0.1:$py_port/" WSFRAME_NODE_ECHO="ws://127.0.0.1:$node_port/" \
  cargo test --workspace --all-features --test deflate_real_peer_echo --test accept_deflate -- --ignored >"$test_log" 2>&1); then
  failed+=(real-peer-echo)
  tail -40 "$test_log"
fi
# One check line per test, as the other peers print theirs.
sed -n -e 's/^test \(.*\) \.\.\. ok$/  ok   \1/p' -e 's/^test \(.*\) \.\.\. FAILED$/  FAIL \1/p' "$test_log"
if ! stop "$py_pid" "$node_pid"; then
  [[ " ${failed[*]} " == *" real-peer-echo "* ]] || failed+=(real-peer-echo)
  tail -5 "$py_log" "$node_log"
fi
trap - EXIT

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAIL: peers: ${failed[*]}; server log:" >&2
  tail -20 "$log" >&2
  echo "the --no-deflate server's log:" >&2
  tail -5 "$plain_log" >&2
  exit 1
fi
echo "All peers green."

#!/usr/bin/env bash
# Real peers nobody here wrote, against the echo server over 127.0.0.1:
# Python `websockets`, Node `ws` and headless Chromium (which also talks to
# a second echo server, run with --no-deflate); and our client role
# (autobahn_client) against a Python `websockets` server, compressed. The peers' packages
# are installed here (a failed install says which and fails); Node, npm and
# Chromium themselves are prerequisites (scripts/prerequisites.sh).
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

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAIL: peers: ${failed[*]}; server log:" >&2
  tail -20 "$log" >&2
  echo "the --no-deflate server's log:" >&2
  tail -5 "$plain_log" >&2
  exit 1
fi
echo "All peers green."

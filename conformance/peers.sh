#!/usr/bin/env bash
# Real peers nobody here wrote, against the echo server over 127.0.0.1:
# Python `websockets`, Node `ws` and headless Chromium. Each peer is installed
# here; a failed install says which and fails.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_python -r "$root/conformance/requirements.txt"
if ! (cd "$root/conformance/node" && npm install --no-audit --no-fund --silent >/dev/null 2>&1); then
  echo "FAIL: npm could not install the Node peer (ws)" >&2
  exit 1
fi
if ! command -v chromium >/dev/null; then
  echo "installing Debian's chromium ..."
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1; then
    echo "FAIL: apt-get could not install chromium" >&2
    exit 1
  fi
fi
build_examples

log=$(mktemp)
start_echo_server "$log"
failed=()
echo "== Python websockets $("$venv/bin/python" -c 'import websockets; print(websockets.__version__)')"
"$venv/bin/python" "$root/conformance/python_peer.py" "$ECHO_PORT" || failed+=(python)
echo "== Node ws $(node -p 'require("./conformance/node/node_modules/ws/package.json").version' 2>/dev/null || true)"
node "$root/conformance/node/peer.mjs" "$ECHO_PORT" || failed+=(node)
echo "== $(chromium --version 2>/dev/null || echo chromium)"
"$venv/bin/python" "$root/conformance/browser_peer.py" "$ECHO_PORT" || failed+=(chromium)
stop "$ECHO_PID"

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAIL: peers: ${failed[*]}; server log:" >&2
  tail -20 "$log" >&2
  exit 1
fi
echo "All peers green."

#!/usr/bin/env bash
# The tokio examples (chat server, client, keepalive server's graceful
# shutdown) against Python `websockets` over 127.0.0.1.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_python -r "$root/conformance/requirements.txt"
build_examples

log=$(mktemp)
port=$(free_port)
"$examples/tokio_chat_server" "127.0.0.1:$port" >"$log" 2>&1 &
pid=$!
wait_port "$port"
if ! "$venv/bin/python" "$root/conformance/tokio_examples.py" "$port" "$examples/tokio_client" \
    "$examples/tokio_keepalive_server"; then
  stop "$pid"
  echo "FAIL: tokio examples; chat server log:" >&2
  tail -20 "$log" >&2
  exit 1
fi
stop "$pid"

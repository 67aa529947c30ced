#!/usr/bin/env bash
# The whole test suite, from a fresh clone: every crate's unit, integration,
# property and doc tests (the example servers' limits among them); the
# explainer's checks; all 517 Autobahn cases, groups 1-10, 12 and 13
# (permessage-deflate), in the server and client role; the real peers (Python
# websockets, Node ws, headless Chromium, with and without permessage-deflate)
# against the echo server over 127.0.0.1, our client role against Python
# websockets, and our tokio client's real-peer tests against Python websockets
# and Node ws echo servers; permessage-deflate's window bits (8 to 15) and
# context takeover with Python websockets and Node ws, both roles
# (conformance/deflate_windows.sh); the tokio examples (chat, keepalive, client) and the axum
# example against Python websockets.
#
# It checks its prerequisites first (scripts/prerequisites.sh): what is
# missing is named with the command that installs it, and nothing is built;
# run as root (as CI is), it installs them. Then every stage runs, even after
# one failed, and the last line counts what ran:
#   SUMMARY: N passed, N failed (...)
# The exit status is 0 only when nothing failed.
# Usage: scripts/test.sh [--update-readme]   (regenerates the README's Autobahn table)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/prerequisites.sh test

logs=$(mktemp -d)
# Runs one stage, its output shown and kept; its exit status goes to a file.
stage() {
  local name=$1 status=0
  shift
  echo "== $name: $* (at ${SECONDS}s)"
  "$@" 2>&1 | tee "$logs/$name.log" || status=$?
  echo "$status" >"$logs/$name.status"
}

stage cargo-test cargo test --workspace --all-features --no-fail-fast
stage examples bash scripts/examples.sh
stage autobahn bash conformance/autobahn.sh "$@"
stage peers bash conformance/peers.sh
stage deflate-windows bash conformance/deflate_windows.sh
stage tokio-examples bash conformance/tokio_examples.sh
stage axum bash conformance/axum_check.sh

echo
python3 scripts/test_summary.py "$logs"

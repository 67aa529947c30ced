#!/usr/bin/env bash
# The whole test suite, from a fresh clone: every crate's unit, integration,
# property and doc tests; then the Autobahn case groups 1-10 (server and client
# role) and the real peers (Python websockets, Node ws, headless Chromium)
# against the echo server over 127.0.0.1. Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
echo "== cargo test --workspace --all-features"
cargo test --workspace --all-features 2>&1 | tee "$log"
echo "== Examples"
bash scripts/examples.sh
echo "== Autobahn (kosoku)"
bash conformance/autobahn.sh "$@"
echo "== Real peers"
bash conformance/peers.sh
echo "== tokio examples vs Python websockets"
examples_log=$(mktemp)
bash conformance/tokio_examples.sh 2>&1 | tee "$examples_log"

passed=$(grep -o '[0-9]* passed' "$log" | awk '{s += $1} END {print s + 0}')
binaries=$(grep -c '^test result: ok' "$log" || true)
tokio_checks=$(grep -c '^  ok  ' "$examples_log" || true)
echo
echo "SUMMARY: cargo test: $passed tests passed in $binaries test binaries, 0 failed;" \
  "Autobahn 1-10 server + client: all OK; peers: python, node, chromium green;" \
  "tokio examples vs websockets: $tokio_checks checks ok."

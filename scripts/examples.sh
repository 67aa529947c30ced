#!/usr/bin/env bash
# Runs the examples that conformance/ does not: the close-code explainer, with
# its output and exit codes checked.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release -p wsframe-examples --bin explain
explain=target/release/explain

out=$("$explain" 1000 1007)
for expected in "1000 Normal Closure" "1007 Invalid frame payload data" "Key differences" \
                "premature close()" "binary frames"; do
  grep -qF "$expected" <<<"$out" || { echo "FAIL: explain 1000 1007 lacks: $expected"; exit 1; }
done
# Whole output first: `grep -q` stops reading at its match, and the example
# writing on into the closed pipe would fail the pipeline (pipefail).
out=$("$explain" 3001)
grep -qF "Registered application code" <<<"$out" || { echo "FAIL: explain 3001"; exit 1; }
out=$("$explain" 4999)
grep -qF "Private application code" <<<"$out" || { echo "FAIL: explain 4999"; exit 1; }
for bad in abc 999 5000 70000 -1; do
  set +e
  "$explain" "$bad" >/dev/null 2>&1
  rc=$?
  set -e
  [ "$rc" -eq 2 ] || { echo "FAIL: explain $bad exited $rc, not 2"; exit 1; }
done
echo "examples: explain ok (1000 1007 side by side; 3001, 4999; bad input exits 2)"

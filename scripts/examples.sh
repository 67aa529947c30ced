#!/usr/bin/env bash
# Runs the examples that neither conformance/ nor examples/tests/ do: the
# close-code explainer, its output and exit codes checked. Every check runs;
# the last line counts them ("examples: N passed, N failed"), and the exit
# status is 1 if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."
# The same build as conformance/lib.sh's, so that the suite builds it once.
cargo build --quiet --release -p wsframe-examples --features tokio --bins
explain=target/release/explain

passed=0 failed=0
pass() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

# Captures the whole output first: `grep -q` stops reading at its match, and
# the example writing on into the closed pipe would fail the pipeline.
expect_output() {
  local expected=$1 out rc=0
  shift
  out=$("$explain" "$@") || rc=$?
  if [ "$rc" -ne 0 ]; then
    fail "explain $* exited $rc"
  elif grep -qF "$expected" <<<"$out"; then
    pass "explain $* says \"$expected\""
  else
    fail "explain $* lacks \"$expected\""
  fi
}
expect_exit() {
  local expected=$1 rc=0
  shift
  "$explain" "$@" >/dev/null 2>&1 || rc=$?
  if [ "$rc" -eq "$expected" ]; then
    pass "explain ${*:-(no argument)} exits $expected"
  else
    fail "explain ${*:-(no argument)} exited $rc, not $expected"
  fi
}

for expected in "1000 Normal Closure" "1007 Invalid frame payload data" "Key differences" \
                "premature close()" "binary frames"; do
  expect_output "$expected" 1000 1007
done
expect_output "Registered application code" 3001
expect_output "Private application code" 4999
expect_output "Exit codes" --help
for bad in abc 999 5000 70000 -1; do
  expect_exit 2 "$bad"
done
expect_exit 2

echo "examples: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# The Autobahn Testsuite, all 517 cases of groups 1-10, 12 and 13 (12 and 13
# are permessage-deflate, 216 cases of 1000 compressed messages each), run by
# `kosoku` (PyPI): against the echo servers, blocking and tokio (server role),
# and the autobahn_client example (client role), four cases at a time.
# AUTOBAHN_CASES selects cases by kosoku -i globs, e.g. AUTOBAHN_CASES='1.* 2.*'
# (the grade then skips the check of how many cases ran); AUTOBAHN_CASES=all
# is the default.
# Grading is strict: every case OK or INFORMATIONAL, and every case that sends
# invalid UTF-8 answered with a 1007 close frame on the wire.
#
# The servers and the client compress at zlib level 1 here (--deflate-level;
# their default is 6): nearly all the time of groups 12 and 13 goes into
# compressing 128 KiB messages of a bitmap, a PDF and Faust, and level 6 made
# the servers' share of the CPU 2.5 times level 1's. The level is zlib's
# speed/size trade, nothing the cases check; the peers (conformance/peers.sh)
# talk to the default level. Each role's wall time is printed.
# Usage: conformance/autobahn.sh [--update-readme]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_python -r "$root/conformance/requirements.txt"
build_examples
reports="$root/conformance/reports"
rm -rf "$reports"
mkdir -p "$reports"
select=()
selection=${AUTOBAHN_CASES:-all}
label="cases ${selection}"
[ "$selection" = all ] && selection="" && label="all 517 cases"
read -ra cases <<<"$selection"
for case in "${cases[@]}"; do select+=(-i "$case"); done
jobs=4
level=(--deflate-level 1)

for server in echo_server tokio_echo_server; do
  echo "== Autobahn, $label, server role ($server)"
  started=$SECONDS
  start_echo_server "$reports/$server.log" "$server" "${level[@]}"
  "$venv/bin/kosoku" "127.0.0.1:$ECHO_PORT" "${select[@]}" -p "$jobs" -o "$reports/$server" >"$reports/kosoku-vs-$server.log" 2>&1 \
    || { tail -20 "$reports/kosoku-vs-$server.log"; stop "$ECHO_PID"; exit 1; }
  stop "$ECHO_PID"
  echo "   $server: $((SECONDS - started)) s"
done

echo "== Autobahn, $label, client role (autobahn_client)"
started=$SECONDS
port=$(free_port)
"$venv/bin/kosoku" -m fuzzingserver "127.0.0.1:$port" "${select[@]}" -o "$reports/client" >"$reports/kosoku-server.log" 2>&1 &
fuzz_pid=$!
wait_port "$port"
"$examples/autobahn_client" "127.0.0.1:$port" wsframe --jobs "$jobs" "${level[@]}" >"$reports/autobahn_client.log" 2>&1 \
  || { tail -20 "$reports/autobahn_client.log"; stop "$fuzz_pid"; exit 1; }
# Asked on /updateReports, the fuzzing server writes its reports and exits.
# Wait for that: stopped as soon as index.json appeared, it once cut the
# file short (517 cases' reports take a while to write).
for _ in $(seq 1 1200); do kill -0 "$fuzz_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$fuzz_pid" 2>/dev/null; then
  echo "FAIL: the fuzzing server did not exit within 120 s of being asked for its reports" >&2
  stop "$fuzz_pid"
  exit 1
fi
# Its status says whether a case failed; the grade below says which.
wait "$fuzz_pid" || echo "(the fuzzing server exited with status $?: see the grade)"
echo "   autobahn_client: $((SECONDS - started)) s"

"$venv/bin/python" "$root/conformance/grade_autobahn.py" \
  "server (echo_server)=$reports/echo_server" \
  "server (tokio_echo_server)=$reports/tokio_echo_server" \
  "client (autobahn_client)=$reports/client" "$@"

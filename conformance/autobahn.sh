#!/usr/bin/env bash
# The Autobahn Testsuite, all 517 cases of groups 1-10, 12 and 13 (12 and 13
# are permessage-deflate, 216 cases of 1000 compressed messages each), run by
# `kosoku` (PyPI): against the echo servers, blocking and tokio (server role),
# and the autobahn_client example (client role), the three side by side,
# each four cases at a time.
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
# talk to the default level. Each role's wall time is printed, from the
# common start.
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

# The three roles run side by side, each four cases at a time. kosoku runs
# a case's Python code in one thread, so one role at a time left part of the
# second core idle (CI: 176, 196 and 184 s one after the other, groups 12 and
# 13 nearly all of it); side by side they share both cores (cases 1.*, 6.4.*,
# 12.1.* and 13.1.*: 53 and 61 s against 68 and 70 s one after the other). The servers and
# the fuzzing server are started one after the other, each listening before
# the next port is picked, so no two can be given the same free port.
echo "== Autobahn, $label, server role (echo_server, tokio_echo_server) and client role (autobahn_client), side by side"
started=$SECONDS
# A step that fails (set -e) leaves no server of ours running.
echo_pid='' tokio_pid='' fuzz_pid=''
leftovers() { for pid in $echo_pid $tokio_pid $fuzz_pid; do kill "$pid" 2>/dev/null || true; done; }
trap leftovers EXIT
start_echo_server "$reports/echo_server.log" echo_server "${level[@]}"
echo_pid=$ECHO_PID echo_port=$ECHO_PORT
start_echo_server "$reports/tokio_echo_server.log" tokio_echo_server "${level[@]}"
tokio_pid=$ECHO_PID tokio_port=$ECHO_PORT
port=$(free_port)
"$venv/bin/kosoku" -m fuzzingserver "127.0.0.1:$port" "${select[@]}" -o "$reports/client" >"$reports/kosoku-server.log" 2>&1 &
fuzz_pid=$!
wait_port "$port"

# kosoku against one of the servers; prints the role's wall time.
server_role() {
  local server=$1 server_port=$2
  "$venv/bin/kosoku" "127.0.0.1:$server_port" "${select[@]}" -p "$jobs" -o "$reports/$server" >"$reports/kosoku-vs-$server.log" 2>&1 \
    || { tail -20 "$reports/kosoku-vs-$server.log"; return 1; }
  echo "   $server: $((SECONDS - started)) s"
}
server_role echo_server "$echo_port" &
echo_role=$!
server_role tokio_echo_server "$tokio_port" &
tokio_role=$!
client_status=0
"$examples/autobahn_client" "127.0.0.1:$port" wsframe --jobs "$jobs" "${level[@]}" >"$reports/autobahn_client.log" 2>&1 \
  || { client_status=$?; tail -20 "$reports/autobahn_client.log"; }
failed=()
[ "$client_status" -eq 0 ] || failed+=("autobahn_client exited with status $client_status")
wait "$echo_role" || failed+=("kosoku against echo_server")
wait "$tokio_role" || failed+=("kosoku against tokio_echo_server")
stop "$echo_pid" || failed+=("echo_server exited before it was stopped")
stop "$tokio_pid" || failed+=("tokio_echo_server exited before it was stopped")
echo_pid='' tokio_pid=''
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAIL: ${failed[*]}" >&2
  stop "$fuzz_pid"
  exit 1
fi
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
fuzz_pid=''
# Printed after every role has ended: the three roles' time.
echo "   autobahn_client: $((SECONDS - started)) s"

"$venv/bin/python" "$root/conformance/grade_autobahn.py" \
  "server (echo_server)=$reports/echo_server" \
  "server (tokio_echo_server)=$reports/tokio_echo_server" \
  "client (autobahn_client)=$reports/client" "$@"

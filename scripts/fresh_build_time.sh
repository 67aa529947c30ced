#!/usr/bin/env bash
# How long the README's first command takes on a fresh clone: an empty target
# directory and an empty cargo home (so the registry index and every crate are
# fetched and built), from `cargo run` until the echo server listens.
#
#   bash scripts/fresh_build_time.sh          # the working tree
#   bash scripts/fresh_build_time.sh REV      # a commit, e.g. the one before examples/ existed
#
# Prints the seconds, the number of crates compiled, the core count and the
# load average before and after (on a busy machine the figure means little).
# The toolchain is not re-installed: rustup's own home is kept.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rev=${1:-}
limit=${FRESH_BUILD_LIMIT:-900}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -n "$rev" ]; then
  git -C "$root" archive "$rev" | tar -x -C "$work" --one-top-level=src
  src="$work/src"
else
  src=$root
fi
# The command the README of that tree gives: the examples crate, or (before it
# existed) the codec's example.
if [ -f "$src/examples/Cargo.toml" ]; then
  run=(cargo run --locked --release -p wsframe-examples --bin echo_server -- 127.0.0.1:0)
else
  run=(cargo run --locked --release -p wsframe --example echo_server -- 127.0.0.1:0)
fi

export RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}
export CARGO_HOME="$work/cargo-home" CARGO_TARGET_DIR="$work/target" CARGO_TERM_COLOR=never
mkdir -p "$CARGO_HOME"

echo "tree:    ${rev:-working tree} ($src)"
echo "command: ${run[*]}"
echo "cores:   $(nproc)"
echo "load before: $(uptime | sed 's/.*load average: //')"
ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
# Adds `times`' "1m2.345s"-shaped durations; prints milliseconds.
cpu_ms() {
  local total=0 t minutes seconds
  for t in "$@"; do
    minutes=${t%%m*} seconds=${t#*m}
    seconds=${seconds%s}
    total=$((total + minutes * 60000 + 10#${seconds%.*} * 1000 + 10#${seconds#*.}))
  done
  echo "$total"
}
: >"$work/out"
start=$(ms)
# Its own process group, so that stopping it stops the server cargo started.
(cd "$src" && exec setsid "${run[@]}" >"$work/out" 2>"$work/err") &
pid=$!
outcome=timeout
while [ $(($(ms) - start)) -lt $((limit * 1000)) ]; do
  if grep -q "listening on" "$work/out"; then outcome=listening; break; fi
  if ! kill -0 "$pid" 2>/dev/null; then outcome=exited; break; fi
  sleep 0.1
done
elapsed=$(($(ms) - start))
times >"$work/times" # in this shell: a subshell's own count starts at zero
read -r child_user child_sys < <(tail -1 "$work/times")
polling_ms=$(cpu_ms "$child_user" "$child_sys")
if kill -0 "$pid" 2>/dev/null; then kill -- "-$pid"; fi
# Its exit status is the kill's (or cargo's failure, reported below).
wait "$pid" 2>/dev/null || outcome_status=$?
echo "load after:  $(uptime | sed 's/.*load average: //')"
# CPU seconds of cargo and the compilers it ran (the server's are ~0): unlike
# the wall time, nearly independent of what else the machine is doing.
# (The polling's own children, counted before cargo was reaped, subtracted.)
times >"$work/times"
read -r child_user child_sys < <(tail -1 "$work/times")
cpu=$(($(cpu_ms "$child_user" "$child_sys") - polling_ms))
printf 'cpu time (user + sys): %d.%d s\n' $((cpu / 1000)) $((cpu % 1000 / 100))
echo "crates compiled: $(awk '/^ *Compiling /{n++} END{print n+0}' "$work/err")"
if [ "$outcome" != listening ]; then
  echo "FAIL: the server did not start ($outcome, exit status ${outcome_status:-?}); cargo said:" >&2
  tail -20 "$work/err" >&2
  exit 1
fi
printf 'fresh build to listening: %d.%d s\n' $((elapsed / 1000)) $((elapsed % 1000 / 100))

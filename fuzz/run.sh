#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 30) each; a crash fails.
# Installs cargo-fuzz if missing. Needs the nightly toolchain.
# Usage: fuzz/run.sh [SECONDS] [TARGET ...]
# The committed seeds in corpus/ are written by
#   cargo test -p wsframe --test fuzz_corpus -- --ignored
#   cargo test -p utf8stream --test fuzz_corpus -- --ignored
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(utf8_stream frame_header connection roundtrip mask deflate handshake)

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz ..."
  cargo install --locked cargo-fuzz
fi
cargo +nightly fuzz build
# A fuzzer runs on one core: two at a time (FUZZ_JOBS), so each target still
# gets its full time on a core of a 2-core CI machine, in half the wall time.
jobs=${FUZZ_JOBS:-2}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
fuzz_target() {
  local target=$1
  mkdir -p "corpus/$target"
  # A scratch corpus, seeded from the committed one, so runs add no files to git.
  local scratch
  scratch=$(mktemp -d)
  cp -r "corpus/$target/." "$scratch/" 2>/dev/null || true
  local status=0
  cargo +nightly fuzz run "$target" "$scratch" -- -max_total_time="$seconds" -print_final_stats=1 \
    >"$logs/$target" 2>&1 || status=$?
  rm -rf "$scratch"
  return "$status"
}
# Waits for the i-th target and prints its summary, in the targets' order.
report() {
  local target=${targets[$1]} status=0
  wait "${pids[$1]}" || status=$?
  echo "== fuzz $target for ${seconds}s"
  grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY|Test unit written|Done )' "$logs/$target" || true
  if [ "$status" -ne 0 ]; then
    # The other targets' runs are not waited for.
    kill "${pids[@]}" 2>/dev/null || true
    tail -40 "$logs/$target" >&2
    echo "FAIL: fuzz target $target crashed; the input is under fuzz/artifacts/$target/." \
         "Copy it to fuzz/regressions/$target/ so that cargo test replays it." >&2
    exit 1
  fi
}
pids=()
for i in "${!targets[@]}"; do
  if [ "$i" -ge "$jobs" ]; then report $((i - jobs)); fi
  fuzz_target "${targets[$i]}" &
  pids[i]=$!
done
for ((i = ${#targets[@]} > jobs ? ${#targets[@]} - jobs : 0; i < ${#targets[@]}; i++)); do
  report "$i"
done
echo "fuzz: ${targets[*]}: no crash in ${seconds}s each"

#!/usr/bin/env bash
# Instruction counts (callgrind, deterministic) for the utf8 targets: our
# streaming validator against one-shot simdutf8 (chunks >= 4 KiB) and against
# the std streaming validator (chunks <= 64 B), 1 MiB of each input kind.
# Prints a Markdown table. Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo bench -p wsframe-benches --bench utf8_instructions --no-run 2>/dev/null
bin=$(ls -t target/release/deps/utf8_instructions-* | grep -v '\.d$' | head -1)

count() { # INPUT IMPL CHUNK -> instructions inside measure_IMPL
  local out
  out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect="*measure_$2*" \
    "$bin" "$1" "$2" "$3" >/dev/null 2>&1
  grep -E '^summary:|^totals:' "$out" | head -1 | awk '{print $2}'
  rm -f "$out"
}

echo "| input | simdutf8 one-shot | ours 4 KiB | ours 64 KiB | ratio 4K / 64K (one-shot / ours, higher is better) | std stream 16 B | ours 16 B | std stream 64 B | ours 64 B | ratio 16 B / 64 B (std / ours) |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for kind in ascii latin1 cyrillic cjk emoji mixed; do
  simd=$(count "$kind" simdutf8 0)
  o4k=$(count "$kind" utf8stream 4096); o64k=$(count "$kind" utf8stream 65536)
  s16=$(count "$kind" std_stream 16); o16=$(count "$kind" utf8stream 16)
  s64=$(count "$kind" std_stream 64); o64=$(count "$kind" utf8stream 64)
  python3 - "$kind" "$simd" "$o4k" "$o64k" "$s16" "$o16" "$s64" "$o64" <<'PY'
import sys
k, simd, o4k, o64k, s16, o16, s64, o64 = sys.argv[1], *map(int, sys.argv[2:])
print(f"| {k} | {simd:,} | {o4k:,} | {o64k:,} | {simd/o4k:.2f}x / {simd/o64k:.2f}x | {s16:,} | {o16:,} | {s64:,} | {o64:,} | {s16/o16:.2f}x / {s64/o64:.2f}x |")
PY
done

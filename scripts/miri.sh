#!/usr/bin/env bash
# Miri over the code with unsafe in it or under it: the codec (the frame
# reader that unmasks into spare capacity (`recv`), frames, `Text`), and
# utf8stream's kernels, portable and AVX2 (enabled at compile time): masking,
# the fused unmask-and-validate loops, the validation loop and the entries
# over them. AddressSanitizer over the AVX-512 loop. (The NEON kernels run
# under qemu: scripts/aarch64.sh.) Installs Miri on the nightly toolchain if
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo +nightly miri --version >/dev/null 2>&1; then
  if ! rustup component add --toolchain nightly miri rust-src; then
    # The component comes from the Rust distribution server, which a closed
    # network may not reach; say so plainly rather than fail the whole run.
    echo "SKIPPED: Miri is not installed and could not be installed (rustup component add --toolchain nightly miri rust-src)"
    exit 0
  fi
fi
# Miri interprets on one core; CI has two, so the runs go in two chains side
# by side, each run in its own target directory (cargo holds a directory's
# lock while its tests run), each chain's output printed whole when it ends.
# The sysroot is built first, once, for both. The chains are balanced by what
# each run took in CI (build and tests, family-25 EPYC): the codec (about
# 200 s; its slowest tests take less under Miri: see their `cfg(miri)`) and
# then utf8stream's portable run (about 130 s) in one; utf8stream's AVX2 run
# (about 160 s) and then AddressSanitizer (about 165 s) in the other. (The
# codec then AddressSanitizer in one chain, both utf8stream runs in the
# other, was 367 s against 291 s.)
cargo +nightly miri setup
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
codec_then_portable() {
  CARGO_TARGET_DIR=target/miri-wsframe cargo +nightly miri test -p wsframe --lib
  cargo +nightly miri test -p utf8stream --lib --test display
}
avx2_then_asan() {
  # utf8stream's AVX2 kernels (its tests leave out the portable ones, which
  # the other chain's run checks). Under Miri the crate validates with core
  # where it would call simdutf8: simdutf8 0.1.5's own AVX2 loop offsets a
  # prefetch pointer out of bounds, which Miri reports (fixed upstream in
  # rusticstuff/simdutf8#120, unreleased).
  RUSTFLAGS="-C target-feature=+avx2" CARGO_TARGET_DIR=target/miri-avx2 \
    cargo +nightly miri test -p utf8stream --lib
  # The AVX-512 loop uses `vpermb`, which Miri cannot interpret; its loads
  # and stores are checked by AddressSanitizer instead (the tests' buffers
  # are exactly as long as the input, so one byte out of bounds is
  # reported), on a CPU that runs it.
  if grep -q avx512vbmi /proc/cpuinfo 2>/dev/null; then
    RUSTFLAGS="-Zsanitizer=address" CARGO_TARGET_DIR=target/asan \
      cargo +nightly test -p utf8stream --lib --target x86_64-unknown-linux-gnu
  else
    echo "SKIPPED: AddressSanitizer over the AVX-512 loop (this CPU has no AVX-512 VBMI)"
  fi
}
codec_then_portable >"$logs/codec" 2>&1 &
codec_pid=$!
avx2_then_asan >"$logs/avx2" 2>&1 &
avx2_pid=$!
failed=()
wait "$codec_pid" || failed+=("wsframe or utf8stream (portable)")
cat "$logs/codec"
wait "$avx2_pid" || failed+=("utf8stream (AVX2) or AddressSanitizer")
cat "$logs/avx2"
if [ ${#failed[@]} -gt 0 ]; then
  echo "miri: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "miri: no undefined behaviour found"

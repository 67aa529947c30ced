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
# Miri interprets on one core; CI has two, so the codec and utf8stream run
# side by side, each in its own target directory (cargo holds a directory's
# lock while its tests run), each's output printed whole when it ends. The
# sysroot is built first, once, for both. The codec's run is the shorter
# (its slowest tests take less under Miri: see their `cfg(miri)`), so
# AddressSanitizer runs after it, while utf8stream's two runs go on.
cargo +nightly miri setup
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
wsframe() {
  CARGO_TARGET_DIR=target/miri-wsframe cargo +nightly miri test -p wsframe --lib
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
wsframe >"$logs/wsframe" 2>&1 &
wsframe_pid=$!
utf8stream() {
  cargo +nightly miri test -p utf8stream --lib --test display
  # utf8stream's AVX2 kernels (its tests leave out the portable ones, which
  # the run above checked). Under Miri the crate validates with core where it
  # would call simdutf8: simdutf8 0.1.5's own AVX2 loop offsets a prefetch
  # pointer out of bounds, which Miri reports (fixed upstream in
  # rusticstuff/simdutf8#120, unreleased).
  RUSTFLAGS="-C target-feature=+avx2" CARGO_TARGET_DIR=target/miri-avx2 \
    cargo +nightly miri test -p utf8stream --lib
}
utf8stream >"$logs/utf8stream" 2>&1 &
utf8stream_pid=$!
failed=()
wait "$utf8stream_pid" || failed+=(utf8stream)
cat "$logs/utf8stream"
wait "$wsframe_pid" || failed+=("wsframe or AddressSanitizer")
cat "$logs/wsframe"
if [ ${#failed[@]} -gt 0 ]; then
  echo "miri: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "miri: no undefined behaviour found"

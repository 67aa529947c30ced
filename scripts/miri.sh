#!/usr/bin/env bash
# Miri over the code with unsafe in it or under it: the masking paths (SSE2,
# and AVX2 with the feature enabled at compile time), frames, `Text`, and the
# validator over simdutf8. Installs Miri on the nightly toolchain if missing.
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
cargo +nightly miri test -p utf8stream --lib --test display
cargo +nightly miri test -p wsframe --lib
RUSTFLAGS="-C target-feature=+avx2" CARGO_TARGET_DIR=target/miri-avx2 \
  cargo +nightly miri test -p wsframe --lib mask
echo "miri: no undefined behaviour found"

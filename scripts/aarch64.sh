#!/usr/bin/env bash
# The NEON kernels on the ISA they target: the lib tests of utf8stream (every
# kernel against std and each other, masking, the fused and streaming
# entries) and of wsframe, cross-compiled for aarch64 Linux and run under
# qemu-user. Installs the cross toolchain, qemu and the Rust target if
# missing (apt-get, rustup). About 2 minutes on 2 cores (109 s in a fresh
# clone's CI run, the toolchain already installed).
set -euo pipefail
cd "$(dirname "$0")/.."
target=aarch64-unknown-linux-gnu
if ! command -v qemu-aarch64 >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross
fi
rustup target add "$target" >/dev/null
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
cargo test -p utf8stream --lib --target "$target"
cargo test -p wsframe --lib --target "$target"
echo "aarch64: utf8stream and wsframe lib tests pass under qemu (NEON kernels)"

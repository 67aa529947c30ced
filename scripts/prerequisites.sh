#!/usr/bin/env bash
# What the test command (`test`) or CI (`ci`: the test command's and its own)
# needs besides Rust, checked before anything is built. For each missing piece
# it says what is missing, what for, and the command that installs it, then
# stops. Run as root (as CI is) it runs those commands itself and checks again.
#
#   bash scripts/prerequisites.sh test|ci
#
# WSFRAME_INSTALL=no only reports, even as root. Package names are Debian's.
# Exit status: 0 when everything is there, 1 when something is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scope=${1:?usage: prerequisites.sh test|ci}
case $scope in test | ci) ;; *) echo "usage: prerequisites.sh test|ci" >&2; exit 2 ;; esac

missing=()     # "what: why" lines
apt_packages=()
rustup_commands=()
other_commands=()

need_apt() { missing+=("$1"); apt_packages+=("$2"); }
need_rustup() { missing+=("$1"); rustup_commands+=("$2"); }
need_other() { missing+=("$1"); other_commands+=("$2"); }
have() { command -v "$1" >/dev/null 2>&1; }

check() {
  missing=() apt_packages=() rustup_commands=() other_commands=()
  if ! have cargo || ! have rustup; then
    need_other "Rust (cargo and rustup): everything" \
      "curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh"
    return # the rest is asked of rustup and cargo
  fi
  if ! have python3; then
    need_apt "python3: the conformance scripts and their peers" python3
  elif [ ! -x "$root/.venv/bin/python" ] && ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    need_apt "python3's venv module (with ensurepip): the venv for kosoku and websockets" python3-venv
  fi
  if ! have node; then
    need_apt "node: the Node ws peer" nodejs
  fi
  if ! have npm; then
    need_apt "npm: installs the Node peer's ws" npm
  fi
  if ! have chromium && ! have chromium-browser; then
    need_apt "chromium: the browser peer (headless)" chromium
  fi
  [ "$scope" = ci ] || return 0
  if ! cargo fmt --version >/dev/null 2>&1; then
    need_rustup "rustfmt: cargo fmt --check" "rustup component add rustfmt"
  fi
  if ! cargo clippy --version >/dev/null 2>&1; then
    need_rustup "clippy: cargo clippy -D warnings" "rustup component add clippy"
  fi
  if ! rustup target list --installed 2>/dev/null | grep -qx thumbv7em-none-eabihf; then
    need_rustup "the thumbv7em-none-eabihf target: utf8stream's no_std build" \
      "rustup target add thumbv7em-none-eabihf"
  fi
  if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    need_rustup "the nightly toolchain: fuzzing (cargo-fuzz) and Miri" \
      "rustup toolchain install nightly --component miri,rust-src"
  elif ! cargo +nightly miri --version >/dev/null 2>&1 \
    || ! rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^rust-src'; then
    need_rustup "Miri and rust-src on nightly: scripts/miri.sh" \
      "rustup component add --toolchain nightly miri rust-src"
  fi
  if ! cargo fuzz --version >/dev/null 2>&1; then
    need_other "cargo-fuzz: the fuzz smoke run" "cargo install --locked cargo-fuzz"
  fi
}

# The install commands, one a line, in the order they must run.
commands() {
  if [ ${#apt_packages[@]} -gt 0 ]; then
    echo "apt-get install ${apt_packages[*]}      # as root; Debian's package names"
  fi
  for command in "${rustup_commands[@]}" "${other_commands[@]}"; do
    echo "$command"
  done
}

install() {
  echo "installing (running as root):"
  if [ ${#apt_packages[@]} -gt 0 ]; then
    echo "  apt-get install ${apt_packages[*]}"
    # Another apt-get may hold the lock for a while; wait for it.
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${apt_packages[@]}"
  fi
  for command in "${rustup_commands[@]}" "${other_commands[@]}"; do
    echo "  $command"
    bash -c "$command"
  done
}

check
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && [ "${WSFRAME_INSTALL:-yes}" != no ]; then
  for what in "${missing[@]}"; do echo "missing: $what"; done
  if ! install; then
    echo "installing failed (see above); checking what is still missing" >&2
  fi
  check
fi
if [ ${#missing[@]} -eq 0 ]; then
  echo "prerequisites ($scope): all there"
  exit 0
fi
{
  echo "Missing prerequisites; nothing was built:"
  for what in "${missing[@]}"; do echo "  - $what"; done
  echo "Install them with:"
  commands | sed 's/^/    /'
  echo "then run this again. (Run as root, as CI is, this script installs them itself.)"
} >&2
exit 1

# Shared helpers for the conformance scripts; sourced, not run.
# Everything talks over 127.0.0.1 only.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
examples="$root/target/release"

# Creates the project's venv (once) and installs the given PyPI packages into it.
ensure_python() {
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" || { echo "FAIL: could not create a Python venv at $venv" >&2; return 1; }
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" \
    || { echo "FAIL: pip could not install: $*" >&2; return 1; }
}

# Builds the examples the scripts run.
build_examples() {
  (cd "$root" && cargo build --quiet --release -p wsframe-examples --features tokio --bins)
}

# Prints a TCP port that is free on 127.0.0.1 right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Prints the first of $1 consecutive TCP ports that are all free on 127.0.0.1
# right now (each bound and released), for servers listening on BASE, BASE+1, ...
free_ports() {
  python3 - "$1" <<'PY'
import random, socket, sys
count = int(sys.argv[1])
for _ in range(200):
    base = random.randrange(20000, 60000 - count)
    socks = []
    try:
        for port in range(base, base + count):
            s = socket.socket()
            socks.append(s)
            s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(base)
    sys.exit(0)
sys.exit("no run of free ports found")
PY
}

# Waits until something listens on 127.0.0.1:$1 (up to 20 s).
wait_port() {
  for _ in $(seq 1 200); do
    if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), 0.2)" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "FAIL: nothing listens on 127.0.0.1:$1" >&2
  return 1
}

# Starts an echo server example (default echo_server) on a free port, with
# any further arguments as its options; sets ECHO_PORT and ECHO_PID.
start_echo_server() {
  local log=$1 example=${2:-echo_server}
  shift $(($# < 2 ? $# : 2))
  ECHO_PORT=$(free_port)
  "$examples/$example" "127.0.0.1:$ECHO_PORT" "$@" >"$log" 2>&1 &
  ECHO_PID=$!
  wait_port "$ECHO_PORT"
}

# Stops processes this script started. Each must still be running: a server
# that exited on its own crashed or gave up, and that is a failure.
stop() {
  local pid
  for pid in "$@"; do
    if ! kill "$pid" 2>/dev/null; then
      echo "FAIL: process $pid, started by this script, had already exited" >&2
      return 1
    fi
    # Its exit status is now the signal's (143), not a result.
    wait "$pid" 2>/dev/null || [ $? -eq 143 ]
  done
}

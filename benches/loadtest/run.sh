#!/usr/bin/env bash
# The echo load test: every server × every workload, one raw client, and a
# markdown table of msg/s, the server's CPU per message and its syscalls per
# message. See benches/loadtest/README.md.
#
#   bash benches/loadtest/run.sh            # 3 rounds of 3 s each, + a perf round
#   bash benches/loadtest/run.sh --quick    # 1 round of 0.5 s, no perf: CI's smoke test
#   options: --rounds N --seconds S --servers "wsframe fastwebsockets"
#            --workloads "100x20 10x1048576"
#
# The server runs on core 0 and the client on core 1 (taskset), each on a
# single-threaded runtime. Logs go to target/loadtest/, the table to stdout
# and target/loadtest/table.md. Exits non-zero if any echo was wrong.
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds=3 seconds=3 warmup=1 syscalls=--syscalls
servers="wsframe tungstenite tokio_websockets fastwebsockets"
workloads="100x20 1000x64 10x16384 10x1048576"
while (($#)); do
  case $1 in
    --quick) rounds=1 seconds=0.5 warmup=0.2 syscalls= ;;
    --rounds) rounds=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --servers) servers=$2; shift ;;
    --workloads) workloads=$2; shift ;;
    --no-syscalls) syscalls= ;;
    *) echo "run.sh: unknown option $1 (see the head of $0)" >&2; exit 2 ;;
  esac
  shift
done

cargo build --release -p wsframe-loadtest
bin=target/release
out=target/loadtest
mkdir -p "$out"

# 1000 connections need 1000 descriptors on each side.
ulimit -n 65536 2>/dev/null || ulimit -n 4096 2>/dev/null || true
if command -v taskset >/dev/null && (($(nproc) >= 2)); then
  on_server_core=(taskset -c 0) on_client_core=(taskset -c 1)
else
  echo "run.sh: no taskset or one core: server and client are not pinned" >&2
  on_server_core=() on_client_core=()
fi
if [[ -n $syscalls ]] && ! perf stat -e raw_syscalls:sys_enter -- true >/dev/null 2>&1; then
  echo "run.sh: perf cannot count raw_syscalls:sys_enter here: no syscall counts" >&2
  syscalls=
fi

server_pid=
stop_server() {
  if [[ -n $server_pid ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
}
trap stop_server EXIT

declare -A result
for workload in $workloads; do
  conns=${workload%x*} size=${workload#*x}
  for server in $servers; do
    log=$out/$server-$workload
    # Emptied here, not by the background job's redirection: the loop
    # below must not read the address of the previous run's server.
    : >"$log.server.out"
    "${on_server_core[@]}" "$bin/${server}_server" >"$log.server.out" 2>"$log.server.err" &
    server_pid=$!
    addr=
    for _ in $(seq 100); do
      addr=$(sed -n 's/^listening on //p' "$log.server.out")
      [[ -n $addr ]] && break
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.05
    done
    if [[ -z $addr ]]; then
      echo "run.sh: $server did not start:" >&2
      cat "$log.server.err" >&2
      exit 1
    fi
    echo "== $server, $conns connections x $size B" >&2
    if ! "${on_client_core[@]}" "$bin/loadtest_client" "$addr" "$conns" "$size" \
      --rounds "$rounds" --seconds "$seconds" --warmup "$warmup" \
      --server-pid "$server_pid" $syscalls >"$log.client.out" 2> >(tee "$log.client.err" >&2); then
      echo "run.sh: the client failed against $server ($conns x $size B); server log: $log.server.err" >&2
      exit 1
    fi
    stop_server
    result[$server,$workload]=$(tail -n 1 "$log.client.out")
  done
done

# One value from a client's summary line ("key=value ...").
field() { tr ' ' '\n' <<<"${result[$1,$2]}" | sed -n "s/^$3=//p"; }

{
  echo "| workload | server | msg/s | wsframe / best peer | server CPU µs/msg | server syscalls/msg (reads, writes, epoll) | server CPU in the kernel | server busy / waiting for its core | client busy |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
  for workload in $workloads; do
    conns=${workload%x*} size=${workload#*x}
    best_peer=0
    for server in $servers; do
      [[ $server == wsframe ]] && continue
      best_peer=$(awk -v a="$best_peer" -v b="$(field "$server" "$workload" msgs_per_s)" 'BEGIN { print (b > a ? b : a) }')
    done
    for server in $servers; do
      ratio=
      if [[ $server == wsframe ]] && awk -v b="$best_peer" 'BEGIN { exit !(b > 0) }'; then
        ratio=$(awk -v w="$(field wsframe "$workload" msgs_per_s)" -v b="$best_peer" 'BEGIN { printf "%.2fx", w / b }')
      fi
      syscalls_per_msg=$(field "$server" "$workload" syscalls_per_msg)
      if [[ -n $syscalls_per_msg && $syscalls_per_msg != - ]]; then
        syscalls_per_msg="$syscalls_per_msg ($(field "$server" "$workload" reads_per_msg), $(field "$server" "$workload" writes_per_msg), $(field "$server" "$workload" polls_per_msg))"
      else
        syscalls_per_msg=-
      fi
      printf '| %s × %s B | %s | %s | %s | %s | %s | %s %% | %s %% / %s %% | %s %% |\n' "$conns" "$size" "$server" \
        "$(field "$server" "$workload" msgs_per_s)" "${ratio:--}" \
        "$(field "$server" "$workload" cpu_us_per_msg)" "$syscalls_per_msg" \
        "$(field "$server" "$workload" cpu_kernel_pct)" \
        "$(field "$server" "$workload" cpu_busy_pct)" "$(field "$server" "$workload" cpu_waiting_pct)" \
        "$(field "$server" "$workload" client_busy_pct)"
    done
  done
  echo
  echo "$rounds round(s) of $seconds s after $warmup s of warm-up, median; binary messages; $(nproc) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)), Linux $(uname -r), $(rustc --version), load average $(cut -d ' ' -f 1-3 /proc/loadavg) at the end."
} | tee "$out/table.md"

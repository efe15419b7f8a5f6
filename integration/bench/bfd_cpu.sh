#!/usr/bin/env bash
# What BFD costs rhi: CPU of rhi and of BIRD (the router, same run) while N multihop BFD sessions
# run at 100 ms x 3 on loopback, nothing else happening (no route changes).
#   integration/bench/bfd_cpu.sh [N...]     (default: 2 16; WINDOW=20 seconds measured per N)
# Each session sends 10 packets/s each way. CPU time is read from /proc/PID/task/*/schedstat
# (nanoseconds, every thread), before and after the window.
set -euo pipefail
cd "$(dirname "$0")/../.."
source integration/bench/lib.sh
WINDOW=${WINDOW:-20}
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(2 16)
net=127.48.0
BFD_TIMERS="min rx interval 100 ms; min tx interval 100 ms; multiplier 3;"

cpu_ns() {   # all threads of PID, nanoseconds on CPU
  local total=0 t
  for t in /proc/"$1"/task/*/schedstat; do
    total=$((total + $(awk '{print $1}' "$t" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

run_one() {
  local n=$1 i
  # Session 1 is lib.sh's `inj` (BIRD .1 - rhi .2); session i is BIRD .(10+i) - rhi .(100+i): BIRD
  # keys a multihop BFD session by the neighbour's address, so each needs its own.
  BIRD_PROTOCOL="bfd { $BFD_TIMERS };"
  BIRD_GLOBAL="protocol bfd { accept multihop; multihop { $BFD_TIMERS }; }"
  for ((i = 2; i <= n; i++)); do
    BIRD_GLOBAL+="
protocol bgp p$i { local $net.$((10 + i)) port 1179 as 65000; neighbor $net.$((100 + i)) port 1179 as 65010;
  multihop; strict bind yes; passive yes; bfd { $BFD_TIMERS }; ipv4 { import all; export none; }; }"
  done
  bench_setup bfd-cpu-$n "$net"
  {
    echo "router_id: $net.2"
    echo "local_as: 65010"
    echo "peers:"
    echo "  - {name: r1, address: $net.1, port: 1179, remote_as: 65000, local_address: $net.2, next_hop: 192.0.2.10, hold_time: 9s, bfd: {multihop: true}}"
    for ((i = 2; i <= n; i++)); do
      echo "  - {name: r$i, address: $net.$((10 + i)), port: 1179, remote_as: 65000, local_address: $net.$((100 + i)), next_hop: 192.0.2.10, hold_time: 9s, bfd: {multihop: true}}"
    done
    echo "control: {socket: $dir/rhi.sock}"
  } > "$dir/rhi.yaml"
  "$rhi" run -c "$dir/rhi.yaml" 2> "$dir/rhi.log" &
  rhi_pid=$!
  local up=0
  for _ in $(seq 300); do
    up=$(birdc_ show bfd sessions | grep -c ' Up ' || true)
    [ "$up" -ge "$n" ] && break
    sleep 0.1
  done
  [ "$up" -ge "$n" ] || { echo "only $up of $n BFD sessions Up" >&2; birdc_ show bfd sessions >&2; exit 1; }
  sleep 2   # the Poll that leaves the 1 s slow start, on every session
  local r0 b0 r1 b1
  r0=$(cpu_ns "$rhi_pid"); b0=$(cpu_ns "$bird_pid")
  sleep "$WINDOW"
  r1=$(cpu_ns "$rhi_pid"); b1=$(cpu_ns "$bird_pid")
  up=$(birdc_ show bfd sessions | grep -c ' Up ' || true)
  local rhi_pct bird_pct per_packet
  rhi_pct=$(echo "scale=3; ($r1 - $r0) / ($WINDOW * 10000000)" | bc)
  bird_pct=$(echo "scale=3; ($b1 - $b0) / ($WINDOW * 10000000)" | bc)
  # 20 packets/s per session: 10 sent, 10 received.
  per_packet=$(echo "scale=1; ($r1 - $r0) / ($WINDOW * 20 * $n) / 1000" | bc)
  printf '%-9s %-10s %-14s %-14s %-16s %s\n' "$n" "$up" "$rhi_pct %" "$bird_pct %" "$per_packet" \
    "$(echo "scale=2; ($r1 - $r0) / ($b1 - $b0)" | bc)"
  grep -q "BFD session down" "$dir/rhi.log" && echo "  (rhi logged a BFD Down during the run)"
  bench_cleanup
  trap - EXIT INT TERM
}

echo "rhi at $(git rev-parse --short HEAD); BIRD $(bird --version 2>&1 | awk '{print $NF}'); window ${WINDOW}s; 100 ms x 3, multihop on loopback"
printf '%-9s %-10s %-14s %-14s %-16s %s\n' sessions "Up at end" "rhi CPU" "BIRD CPU" "rhi us/packet" "rhi/BIRD"
for n in "${counts[@]}"; do run_one "$n"; done

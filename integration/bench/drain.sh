#!/usr/bin/env bash
# `rhi drain` → the router holds the drained route: latency from the CLI call to BIRD's import.
#
#   integration/bench/drain.sh [RUNS]     (default 20 drain/undrain pairs; needs bird2; builds --release)
#
# rhi announces 10.46.46.46/32 with MED 300 (drain: MED 1000 + GRACEFUL_SHUTDOWN) to a passive
# BIRD that traces route changes (`debug { routes }`) into its log with microsecond timestamps
# (`timeformat log "%F %T.%6f"`). Each run takes the wall clock (ns) just before forking
# `rhi drain`, waits for BIRD's next trace line for the prefix ("replaced"), and subtracts: the
# figure covers the CLI process, the control socket, the speaker, the UPDATE on the wire and
# BIRD's parsing and import. The route's MED in BIRD is then checked (1000 drained, 300 after
# `rhi undrain`, measured the same way). Both clocks are the same host clock.
# Everything runs on 127.250.0.0/24 and is stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-20}
BIRD_GLOBAL='timeformat log "%F %T.%6f";'
BIRD_PROTOCOL='debug { routes };'
source integration/bench/lib.sh
bench_setup drain 127.250.0
vip=10.46.46.46/32

bench_rhi_config 127.250.0 <<EOF
vips:
  - {prefix: $vip, med: 300}
drain: {med: 1000, withdraw_after: 0s}
EOF
RUST_LOG=info "$rhi" run -c "$dir/rhi.yaml" 2> "$dir/rhi.log" &
rhi_pid=$!

traces() { grep -c " $vip " "$dir/bird.log" || true; }
bird_med() { birdc_ show route all "$vip" | awk '/BGP.med:/ {print $2; exit}'; }
for _ in $(seq 500); do [ "$(bird_med)" = 300 ] && break; sleep 0.01; done
[ "$(bird_med)" = 300 ] || { echo "BIRD never got $vip"; tail -n 20 "$dir/rhi.log" "$dir/bird.log"; exit 1; }

# One timed change: prints the latency in µs from the fork of `rhi CMD` to BIRD's trace line, and
# how long the CLI process itself took to return.
timed() {
  local cmd=$1 want=$2 before t0 t_cli line ts
  before=$(traces)
  t0=$(now_ns)
  "$rhi" "$cmd" --socket "$dir/rhi.sock" > /dev/null
  t_cli=$(now_ns)
  for _ in $(seq 1000); do [ "$(traces)" -gt "$before" ] && break; sleep 0.005; done
  line=$(grep " $vip " "$dir/bird.log" | sed -n "$((before + 1))p")
  [ -n "$line" ] || { echo "no BIRD trace after rhi $cmd" >&2; exit 1; }
  ts=$(date -d "$(echo "$line" | cut -d' ' -f1-2)" +%s%N)
  for _ in $(seq 100); do [ "$(bird_med)" = "$want" ] && break; sleep 0.01; done
  [ "$(bird_med)" = "$want" ] || { echo "after rhi $cmd BIRD has MED $(bird_med), not $want: $line" >&2; exit 1; }
  echo $(((ts - t0) / 1000)) $(((t_cli - t0) / 1000))
}

: > "$dir/drain.us"; : > "$dir/undrain.us"
for _ in $(seq "$runs"); do
  timed drain 1000 >> "$dir/drain.us"
  timed undrain 300 >> "$dir/undrain.us"
done
echo "BIRD's trace of the last drain: $(grep " $vip " "$dir/bird.log" | tail -2 | head -1)"
stats() {
  cut -d' ' -f"$2" "$1" | sort -n | awk '{a[NR]=$1} END {
    q = int(NR * 0.9); if (q < 1) q = 1
    printf "median %.2f ms, p90 %.2f ms, min %.2f, max %.2f (%d runs)\n", a[int((NR + 1) / 2)] / 1000, a[q] / 1000, a[1] / 1000, a[NR] / 1000, NR }'
}
echo "rhi drain   → BIRD holds MED 1000: $(stats "$dir/drain.us" 1)"
echo "rhi undrain → BIRD holds MED 300:  $(stats "$dir/undrain.us" 1)"
echo "the CLI process alone (fork → exit), drain: $(stats "$dir/drain.us" 2)"
echo "rhi $("$rhi" --version | cut -d' ' -f2), $(bird --version 2>&1 | head -1), $(nproc) cores"

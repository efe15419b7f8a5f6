#!/usr/bin/env bash
# Health verdict → UPDATE latency: how long after a probe decides a check's state the UPDATE has
# been written to the session's socket (rhi measures it itself and logs it at debug level).
#
#   integration/bench/verdict_latency.sh [FLIPS]     (default 40; needs bird2, jq; builds --release)
#
# An `exec` check (`test -e FILE`, rise 1, fall 1, every 50 ms) is flipped FLIPS times by
# creating/removing FILE; each flip announces or withdraws the VIP toward a real BIRD. rhi logs
# each latency at debug level ("verdict → UPDATE written to the socket"); this prints their
# distribution.
# Everything runs on 127.48.0.0/24 and is stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
flips=${1:-40}
source integration/bench/lib.sh
bench_setup verdict 127.48.0

bench_rhi_config 127.48.0 <<EOF
checks:
  flag:
    exec: {command: ["test", "-e", "$dir/up"]}
    interval: 50ms
    fast_interval: 50ms
    timeout: 500ms
    rise: 1
    fall: 1
vips:
  - {prefix: 10.46.46.46/32, med: 300, check: flag}
EOF
RUST_LOG=info,rhi::driver::bgp=debug "$rhi" run -c "$dir/rhi.yaml" --log-format json 2> "$dir/rhi.log" &
rhi_pid=$!
for _ in $(seq 500); do grep -q '"session established"' "$dir/rhi.log" && break; sleep 0.01; done

route_in_bird() { birdc -s "$dir/bird.ctl" show route 10.46.46.46/32 | grep -q 10.46.46.46; }
for i in $(seq "$flips"); do
  if [ $((i % 2)) = 1 ]; then
    touch "$dir/up"
    for _ in $(seq 200); do route_in_bird && break; sleep 0.01; done
  else
    rm -f "$dir/up"
    for _ in $(seq 200); do route_in_bird || break; sleep 0.01; done
  fi
done

grep 'verdict → UPDATE' "$dir/rhi.log" | jq -r .micros | sort -n > "$dir/micros"
n=$(wc -l < "$dir/micros")
[ "$n" -gt 0 ] || { echo "no latency lines"; tail -20 "$dir/rhi.log"; exit 1; }
pick() { awk -v q="$1" '{a[NR]=$1} END {i=int(NR*q); if (i<1) i=1; print a[i]}' "$dir/micros"; }
echo "verdict → UPDATE written to the socket (µs, $n flips): min $(head -1 "$dir/micros"), median $(pick 0.5), p90 $(pick 0.9), max $(tail -1 "$dir/micros")"

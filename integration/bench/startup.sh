#!/usr/bin/env bash
# Start → Established with a passive BIRD, and idle RSS of `rhi run` with that one session up.
#
#   integration/bench/startup.sh [RUNS]      (default 10 runs; needs bird2; builds rhi --release)
#
# "Start" is the moment the shell forks rhi; "Established" is rhi's own log line for it (the
# router has accepted our OPEN and KEEPALIVE by then). RSS is read from /proc after the session
# has been up for a second, so it includes the tokio runtime, the session and its buffers.
# Everything runs on 127.47.0.0/24 and is stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-10}
source integration/bench/lib.sh
bench_setup startup 127.47.0

bench_rhi_config 127.47.0 <<EOF
vips:
  - {prefix: 10.46.46.46/32, med: 300}
EOF

established_ms=()
for run in $(seq "$runs"); do
  : > "$dir/rhi.log"
  start_ns=$(date +%s%N)
  RUST_LOG=info "$rhi" run -c "$dir/rhi.yaml" --log-format json 2> "$dir/rhi.log" &
  rhi_pid=$!
  for _ in $(seq 500); do grep -q '"session established"' "$dir/rhi.log" && break; sleep 0.01; done
  line=$(grep '"session established"' "$dir/rhi.log" | head -1)
  [ -n "$line" ] || { echo "run $run: no session"; cat "$dir/rhi.log"; exit 1; }
  ts=$(echo "$line" | jq -r .timestamp)
  est_ns=$(date -d "$ts" +%s%N)
  established_ms+=("$(echo "scale=2; ($est_ns - $start_ns) / 1000000" | bc)")
  if [ "$run" = "$runs" ]; then
    sleep 1   # let the session settle into its idle state before reading RSS (not synchronisation)
    rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$rhi_pid/status")
  fi
  kill -TERM "$rhi_pid"; wait "$rhi_pid" || true; rhi_pid=""
  # BIRD must see the session go before the next run connects again.
  for _ in $(seq 200); do birdc -s "$dir/bird.ctl" show protocols inj | grep -q Established || break; sleep 0.02; done
done

sorted=$(printf '%s\n' "${established_ms[@]}" | sort -n)
median=$(echo "$sorted" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "start → Established (ms, $runs runs): median $median; all: $(echo $sorted | tr '\n' ' ')"
echo "idle RSS with one Established peer: ${rss_kb} kB"
echo "rhi $("$rhi" --version | cut -d' ' -f2), $(bird --version 2>&1 | head -1), $(uname -m), $(nproc) cores"

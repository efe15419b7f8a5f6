#!/usr/bin/env bash
# Bulk injection, rhi vs ExaBGP 4.2 vs GoBGP 3, to the same passive BIRD receiver, in one run,
# and the receiver's own speed: a wire floor that spends nothing per prefix at send time.
#
#   integration/bench/inject.sh [N...]     (default 100000 1000000; needs bird2, exabgp, gobgpd;
#                                            builds rhi --release; EXABGP_TIMEOUT=1200 s by default)
#   TOOLS="floor rhi" ... runs only those (default: floor rhi exabgp exafast gobgp)
#
# For each N, one injector after the other (same address 127.249.0.2, AS 65010, same BIRD session
# config) announces N distinct /32s (10.0.0.0 upwards) with one attribute set (next hop
# 192.0.2.10, MED 100), by its fastest bulk path:
#   rhi     an ExaBGP API process (`processes:`, ack off) printing
#           `announce attributes next-hop 192.0.2.10 med 100 nlri P1 ... P1000` lines (`cat FILE`)
#   ExaBGP  the same process and file, the same way (exabgp.api.ack=false, group-updates), twice:
#           `exabgp` as configured by default, and `exafast` with exabgp.reactor.speed=0.01
#           (EXABGP_FAST_SPEED; default 1.0: its event loop sleeps speed/100 s whenever it has
#           nothing to do at once, which makes it 8× slower here; at 0.01 it is CPU-bound)
#   GoBGP   `gobgp mrt inject global FILE` of an MRT TABLE_DUMP_V2 file with the same routes (and
#           GOBGP_PAD=50000 padding routes it never sends to BIRD: its CLI loses a file's end)
#   floor   wire floor (pre-encoded, Python): integration/bench/floor.py, a minimal BGP speaker
#           that encodes every UPDATE before it connects (the prefixes and attribute bytes of rhi's
#           UPDATEs, 809 /32s in each UPDATE of at most 4096 octets, 5.06 MB for 1M) and, on the
#           go signal (the same FIFO), writes them all with one sendall. Its feed→all N is what
#           this receiver takes for N routes from an injector that costs nothing per prefix, sent
#           as one burst, and rhi's time / the floor's is how far rhi is from the receiver's own
#           speed. Not a strict bound: a sender that streams as BIRD reads can beat the burst
#           (BIRD spends less CPU on it), and rhi has. Its start→Est includes the pre-encoding (~0.1 s at 1M), its RSS
#           holds the encoded UPDATEs already when idle (B/prefix ≈ 0), and its CPU during the
#           feed is only the kernel's copy of the buffer.
# Each injector is started with no routes; once BIRD has the session Established and the
# injector has idled for a second, its RSS is read (idle), then the routes are released (the API
# process waits on a FIFO; GoBGP's CLI is started) and BIRD's imported-route counter for the
# protocol (`show protocols all`, O(1)) is polled every 2 ms until it is N, by bird_wait.py over
# one control-socket connection (started, and connected, before the release): no process per
# poll, so the poll does not take CPU from BIRD and the injector on a 2-core machine.
#   start→Est   injector start → BIRD shows Established
#   feed→all N  release of the routes → BIRD's first reply with all N (the injection figure; prefixes/s)
#   RSS         VmRSS idle (one peer) and with N announced (1 s after), VmHWM; bytes/prefix =
#               (RSS_N − RSS_idle) / N (N + padding for GoBGP). ExaBGP and gobgpd are measured alone: not the API
#               process / the gobgp CLI (whose CPU time is reported separately).
#   CPU         user+sys seconds of BIRD and of the injector during feed→all N: BIRD near 1 s per
#               second means the receiver is the limit.
# Between injectors the injector is killed and BIRD flushes its routes (table back to 0).
# Everything runs on 127.249.0.0/24, stopped by PID on exit; the temp dir is removed.
set -euo pipefail
cd "$(dirname "$0")/../.."
sizes=("${@:-100000 1000000}")
read -r -a sizes <<< "${sizes[*]}"
exabgp_timeout=${EXABGP_TIMEOUT:-1200}
pad=${GOBGP_PAD:-50000}
tools=${TOOLS:-floor rhi exabgp exafast gobgp}
fast_speed=${EXABGP_FAST_SPEED:-0.01}
timeout_for() { case $1 in exa*) echo "$exabgp_timeout" ;; *) echo 300 ;; esac; }
net=127.249.0
source integration/bench/lib.sh
bench_setup inject $net
gen=integration/bench/gen_routes.py
floor=$PWD/integration/bench/floor.py

# The API process for rhi and ExaBGP: waits for the go signal, prints the routes, stays alive
# (both withdraw or re-run a process that exits). Absolute paths: ExaBGP chdirs to /.
# ExaBGP puts its processes in their own process group: the PID file lets us stop it by PID, and
# `cat` (stdout kept open on fd 3) ends by itself when the daemon's end of its stdin closes.
cat > "$dir/feed.sh" <<EOF
#!/bin/sh
echo \$\$ > "$dir/feed.pid"
read go < "$dir/go.fifo"
cat "$dir/routes.txt"
exec cat 3>&1 > /dev/null
EOF

bench_rhi_config $net <<EOF
processes:
  - {name: feed, run: [/bin/sh, $dir/feed.sh], ack: false}
EOF

cat > "$dir/exabgp.conf" <<EOF
process feed {
  run /bin/sh $dir/feed.sh;
  encoder text;
}
neighbor $net.1 {
  router-id $net.2;
  local-address $net.2;
  local-as 65010;
  peer-as 65000;
  connect 1179;
  group-updates true;
  family { ipv4 unicast; }
  api { processes [ feed ]; }
}
EOF

cat > "$dir/gobgpd.toml" <<EOF
[global.config]
  as = 65010
  router-id = "$net.2"
  port = -1
[[neighbors]]
  [neighbors.config]
    neighbor-address = "$net.1"
    peer-as = 65000
  [neighbors.transport.config]
    local-address = "$net.2"
    remote-port = 1179
  [neighbors.timers.config]
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
EOF

start_injector() {
  rm -f "$dir/gobgp.sock"   # left by the previous gobgpd, killed with -9
  case $1 in
    rhi) RUST_LOG=warn setsid "$rhi" run -c "$dir/rhi.yaml" 2> "$dir/rhi.log" & ;;
    exabgp | exafast)
      local speed=1.0
      [ "$1" = exafast ] && speed=$fast_speed
      setsid env exabgp.daemon.daemonize=false exabgp.daemon.user=root exabgp.daemon.drop=false \
        exabgp.api.cli=false exabgp.api.ack=false exabgp.tcp.bind="" exabgp.reactor.speed="$speed" \
        exabgp.log.destination="$dir/exabgp.log" exabgp.log.level=WARNING \
        /usr/sbin/exabgp "$dir/exabgp.conf" > "$dir/exabgp.out" 2>&1 & ;;
    floor) setsid python3 "$floor" --peer $net.1 --port 1179 --peer-as 65000 --as 65010 --local $net.2 \
             --count "$n" --next-hop 192.0.2.10 --med 100 --go "$dir/go.fifo" 2> "$dir/floor.log" & ;;
    gobgp) setsid gobgpd -f "$dir/gobgpd.toml" --log-plain --log-level warn --api-hosts "unix://$dir/gobgp.sock" \
             --pprof-disable > "$dir/gobgpd.log" 2>&1 & ;;
  esac
  injector_pid=$!
  bench_pids+=("$injector_pid")
}

gobgp_() { gobgp --target "unix://$dir/gobgp.sock" "$@"; }
gobgp_rib_count() { gobgp_ global rib summary -a ipv4 | awk -F'[:,]' '/Destination/ {print $2 + 0; exit}'; }

release_routes() {
  case $1 in
    rhi | exa* | floor) timeout 30 sh -c "echo go > '$dir/go.fifo'" ;;
    gobgp)
      # gobgp 3.10's `mrt inject` half-closes its gRPC stream and exits without waiting for
      # gobgpd to read it: the end of the file is lost. The file ends with $pad padding routes
      # that GoBGP does not send to BIRD (see gen_routes.py); should real routes still be lost:
      # wait until gobgpd's RIB stops growing, inject the rest (`... FILE COUNT SKIP`), repeat.
      # The CLI runs and their CPU time are reported.
      (
        have=0 runs=0
        while [ "$have" -lt "$n" ]; do
          gobgp_ mrt inject global "$dir/routes.mrt" $((n + pad - have)) "$have" > "$dir/gobgp-cli.log" 2>&1
          runs=$((runs + 1)) prev=-1
          while [ "$have" != "$prev" ]; do prev=$have; sleep 0.2; have=$(gobgp_rib_count); done
        done
        times > "$dir/gobgp-cli.times"
        echo "$runs $(tail -1 "$dir/gobgp-cli.times")" > "$dir/gobgp-cli.times"
      ) &
      cli_pid=$!
      ;;
  esac
}

stop_injector() {
  kill -9 -- "-$injector_pid" 2>/dev/null || true
  wait "$injector_pid" 2>/dev/null || true
  [ -s "$dir/feed.pid" ] && kill -9 "$(cat "$dir/feed.pid")" 2>/dev/null || true
  rm -f "$dir/feed.pid"
  unset 'bench_pids[-1]'
  # The counter first (O(1)), then the table once (a walk): both back to 0, session down.
  bird_wait 0 --drop --timeout 120 > /dev/null || { echo "BIRD did not flush the routes"; exit 1; }
  for _ in $(seq 100); do
    ! bird_established && [ "$(bird_table_count)" = 0 ] && return
    sleep 0.1
  done
  echo "BIRD did not flush the routes"; exit 1
}

results=()
run_one() {
  local tool=$1 n=$2 cli_pid='' t0 t_est t_go bird0 inj0 status=ok
  rm -f "$dir/go.fifo"; mkfifo "$dir/go.fifo"
  t0=$(now_ns)
  start_injector "$tool"
  for _ in $(seq 3000); do bird_established && break; sleep 0.01; done
  bird_established || { echo "$tool: no session"; tail -n 20 "$dir"/*.log; exit 1; }
  t_est=$(ms_since "$t0")
  sleep 1   # idle with one peer (not synchronisation: the session is up)
  local rss_idle hwm_idle
  rss_idle=$(rss_kb "$injector_pid"); hwm_idle=$(hwm_kb "$injector_pid")
  bird_wait_start "$n" --pid "$injector_pid" --timeout "$(timeout_for "$tool")"
  bird0=$(cpu_ticks "$bird_pid"); inj0=$(cpu_ticks "$injector_pid")
  t_go=$(now_ns)
  bird_wait_go "$t_go"
  release_routes "$tool"
  bird_wait_end
  local feed_ms bird_s inj_s rss_n hwm_n bpp rate held
  feed_ms=$bird_wait_ms
  bird_s=$(ticks_to_s $(( $(cpu_ticks "$bird_pid") - bird0 )))
  case $bird_wait_rc in
    0) ;;
    1) status="timeout ($(bird_imported) of $n)" ;;
    3) status="died" ;;
    *) status="bird_wait.py failed ($bird_wait_rc)" ;;
  esac
  if [ "$status" = ok ]; then
    inj_s=$(ticks_to_s $(( $(cpu_ticks "$injector_pid") - inj0 )))
    # The same work from every injector: spot-check the first and last route's attributes.
    for p in 10.0.0.0/32 "$(python3 -c "import ipaddress; print(ipaddress.ip_address(0x0A000000 + $n - 1))")/32"; do
      birdc_ show route all "$p" > "$dir/route.txt"
      grep -q 'BGP.next_hop: 192.0.2.10' "$dir/route.txt" && grep -q 'BGP.med: 100' "$dir/route.txt" &&
        grep -qE 'BGP.as_path: 65010$' "$dir/route.txt" || { status="wrong attributes"; cat "$dir/route.txt" >&2; }
    done
    sleep 1
    rss_n=$(rss_kb "$injector_pid"); hwm_n=$(hwm_kb "$injector_pid")
    held=$n; [ "$tool" = gobgp ] && held=$((n + pad))   # gobgpd's RIB holds the padding too
    bpp=$(echo "scale=1; ($rss_n - $rss_idle) * 1024 / $held" | bc)
    rate=$(echo "$n * 1000 / $feed_ms" | bc)
  else
    inj_s=- rss_n=- hwm_n=- bpp=- rate=-
    echo "$tool N=$n: $status after $feed_ms ms" >&2
  fi
  if [ "$tool" = gobgp ]; then
    if [ "$status" = ok ] && wait "$cli_pid"; then
      read -r runs u s < "$dir/gobgp-cli.times"
      inj_s="$inj_s (+CLI ${u%s}+${s%s} in $runs runs)"
    else
      kill "$cli_pid" 2>/dev/null || true
      echo "gobgp mrt inject: $(cat "$dir/gobgp-cli.log")" >&2
    fi
  fi
  results+=("$(printf '%-7s %8s %9s %10s %10s %9s %9s %8s %8s %7s %s' "$tool" "$n" "$t_est" "$feed_ms" "$rate" \
    "$rss_idle/$hwm_idle" "$rss_n/$hwm_n" "$bpp" "$bird_s" "$status" "$inj_s")")
  eval "feed_${tool}_$n=$feed_ms bpp_${tool}_$n=$bpp"
  echo "${results[-1]}" >&2
  stop_injector
}

header=$(printf '%-7s %8s %9s %10s %10s %9s %9s %8s %8s %7s %s' tool N 'start→Est' 'feed→all' 'prefix/s' \
  'idle kB' 'N kB' 'B/prefix' 'BIRD cpu' status 'injector cpu s')
echo "$header  (ms; RSS/HWM in kB)" >&2
for n in "${sizes[@]}"; do
  python3 "$gen" api "$n" "$dir/routes.txt"
  python3 "$gen" mrt "$n" "$dir/routes.mrt" "$pad"
  for tool in $tools; do run_one "$tool" "$n"; done
done

echo
echo "$header  (times in ms; RSS/HWM in kB; CPU in s during feed→all N)"
printf '%s\n' "${results[@]}"
echo
ratio() { [ "${1:--}" = - ] || [ "${2:--}" = - ] && echo - || echo "scale=1; $1 / $2" | bc; }
for n in "${sizes[@]}"; do
  eval "r=\${feed_rhi_$n:--} e=\${feed_exabgp_$n:--} f=\${feed_exafast_$n:--} g=\${feed_gobgp_$n:--}"
  eval "br=\${bpp_rhi_$n:--} be=\${bpp_exabgp_$n:--} bf=\${bpp_exafast_$n:--} bg=\${bpp_gobgp_$n:--}"
  eval "w=\${feed_floor_$n:--}"
  echo "N=$n: injection speed rhi/ExaBGP $(ratio "$e" "$r")× (rhi/ExaBGP at reactor.speed $fast_speed $(ratio "$f" "$r")×)," \
    "rhi/GoBGP $(ratio "$g" "$r")×; bytes/prefix rhi $br, ExaBGP $be ($bf), GoBGP $bg"
  # The floor is the receiver's own speed: rhi's time over it, and how much faster than ExaBGP a
  # sender costing nothing per prefix gets with this receiver (ExaBGP's time over the floor's).
  [ "$w" = - ] || echo "N=$n: wire floor (pre-encoded) $w ms; rhi time/floor time $(ratio "$r" "$w")×;" \
    "a zero-cost sender with this receiver: ExaBGP/floor $(ratio "$e" "$w")× (at reactor.speed $fast_speed $(ratio "$f" "$w")×)," \
    "GoBGP/floor $(ratio "$g" "$w")×"
done
echo "rhi $("$rhi" --version | cut -d' ' -f2), ExaBGP $(/usr/sbin/exabgp --version 2>&1 | awk '/ExaBGP/ {print $NF; exit}')," \
  "GoBGP $(gobgpd --version | awk '{print $NF}'), $(python3 --version) (floor), $(bird --version 2>&1 | head -1), $(nproc) cores"

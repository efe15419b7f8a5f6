# Shared by the bench scripts: build rhi, a temp dir, and a passive BIRD receiver on loopback,
# all stopped by PID (and the dir removed) on exit.
#   source integration/bench/lib.sh; bench_setup NAME NET   (NET like 127.47.0: BIRD .1, rhi .2)
# Sets: rhi (binary), dir, bird_pid; the script sets rhi_pid when it starts rhi, and appends any
# other daemon it starts to bench_pids (each is killed with its process group on exit).
# RHI_BIN=PATH uses that rhi binary instead of building one; RHI_BENCH_KEEP=1 keeps the temp dir.
# Optional, set before bench_setup: BIRD_GLOBAL (extra top-level lines, e.g. a timeformat) and
# BIRD_PROTOCOL (extra lines inside `protocol bgp inj`, e.g. `debug { routes };`).

bench_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

bench_setup() {
  local name=$1 net=$2
  export PATH="$PATH:/usr/sbin:/sbin"
  if [ -n "${RHI_BIN:-}" ]; then
    rhi=$RHI_BIN   # a given build (e.g. of one commit, from a clean worktree)
  else
    cargo build --release --quiet
    rhi=$PWD/target/release/rhi
  fi
  dir=$(mktemp -d "/tmp/rhi-bench-$name.XXXXXX")
  bird_pid="" rhi_pid="" bird_wait_pid=""
  bench_pids=()
  trap bench_cleanup EXIT INT TERM
  if ss -Hltn 'sport = :1179' | grep -qE " ($net\.1|$net\.2):1179 "; then
    echo "$net.1 or $net.2 port 1179 is in use (another bench or test?)" >&2
    exit 1
  fi
  cat > "$dir/bird.conf" <<CONF
log "$dir/bird.log" all;
${BIRD_GLOBAL:-}
router id $net.1;
protocol device { }
protocol bgp inj {
  local $net.1 port 1179 as 65000;
  neighbor $net.2 port 1179 as 65010;
  multihop; strict bind yes; passive yes;
  ipv4 { import all; export none; };
  ${BIRD_PROTOCOL:-}
}
CONF
  bird -f -c "$dir/bird.conf" -s "$dir/bird.ctl" -P "$dir/bird.pid" &
  bird_pid=$!
  for _ in $(seq 100); do [ -S "$dir/bird.ctl" ] && break; sleep 0.05; done
}

bench_cleanup() {
  [ -n "$rhi_pid" ] && kill -9 "$rhi_pid" 2>/dev/null || true
  [ -n "$bird_wait_pid" ] && kill "$bird_wait_pid" 2>/dev/null || true
  for pid in "${bench_pids[@]}"; do
    # Started with setsid: the group is the daemon and the API processes it forked.
    kill -9 -- "-$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null || true
  done
  [ -n "$bird_pid" ] && kill "$bird_pid" 2>/dev/null && wait "$bird_pid" 2>/dev/null || true
  if [ -n "${RHI_BENCH_KEEP:-}" ]; then echo "kept $dir" >&2; else rm -rf "$dir"; fi
}

# Writes $dir/rhi.yaml: rhi at NET.2 with one peer, the BIRD at NET.1, and its control socket in
# $dir; the script's own sections (vips:, checks:, processes:, drain:) come on stdin.
bench_rhi_config() {   # bench_rhi_config NET <<EOF ... EOF
  local net=$1
  {
    cat <<CONF
router_id: $net.2
local_as: 65010
peers:
  - {name: r1, address: $net.1, port: 1179, remote_as: 65000, local_address: $net.2, next_hop: 192.0.2.10}
control: {socket: $dir/rhi.sock}
CONF
    cat
  } > "$dir/rhi.yaml"
}

birdc_() { birdc -s "$dir/bird.ctl" "$@"; }

# Routes BIRD has imported from the injector: the protocol's counter, O(1) for BIRD (unlike
# `show route`, which walks the table).
bird_imported() { birdc_ show protocols all inj | awk '/Routes:/ {print $2; exit}'; }
# Waits on that counter over one control-socket connection, polling every 2 ms (bird_wait.py:
# no process per poll): bird_wait TARGET [--drop] [--timeout S] ... prints the ms it took.
bird_wait() { python3 "$bench_lib_dir/bird_wait.py" "$dir/bird.ctl" inj "$@"; }
# The same, timed from a moment the caller takes, with the poller started (Python's startup,
# ~0.1 s of CPU here) and connected before it:
#   bird_wait_start TARGET [--pid PID] [--timeout S]; t0=$(now_ns); bird_wait_go "$t0"; <release>
#   bird_wait_end   → bird_wait_ms: ms from t0 to BIRD's reply with the count, bird_wait_rc: 0
#                     reached, 1 timeout, 3 PID gone, 2 error (see bird_wait.py)
bird_wait_start() {
  coproc bird_wait_co { exec python3 "$bench_lib_dir/bird_wait.py" "$dir/bird.ctl" inj "$@" --since-ns -; }
  bird_wait_pid=$bird_wait_co_PID
  # Our own copies: bash closes the coproc's fds when it reaps it.
  exec {bird_wait_out}<&"${bird_wait_co[0]}" {bird_wait_in}>&"${bird_wait_co[1]}"
  local ready=''
  read -r ready <&"$bird_wait_out" || true
  [ "$ready" = ready ] || { echo "bird_wait.py did not start" >&2; exit 1; }
}
bird_wait_go() { echo "$1" >&"$bird_wait_in"; }
bird_wait_end() {
  bird_wait_ms='' bird_wait_rc=0
  read -r bird_wait_ms <&"$bird_wait_out" || true
  wait "$bird_wait_pid" || bird_wait_rc=$?
  exec {bird_wait_out}<&- {bird_wait_in}>&-
  bird_wait_pid=""
}
bird_established() { birdc_ show protocols inj | grep -q Established; }
# Routes in BIRD's table (walks it: call it when nothing else is being measured).
bird_table_count() { birdc_ show route count | awk '/routes for/ {print $1; exit}'; }

now_ns() { date +%s%N; }
ms_since() { echo "scale=1; ($(now_ns) - $1) / 1000000" | bc; }
# user+system CPU time of a process (all its threads) in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks_to_s() { echo "scale=2; $1 / $(getconf CLK_TCK)" | bc; }
# VmRSS / VmHWM of a process in kB.
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

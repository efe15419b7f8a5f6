#!/usr/bin/env bash
# rhi in one minute, on this machine's loopback, nothing left behind:
#   1. builds rhi (cargo build --release),
#   2. starts BIRD 2 as the upstream router at 127.46.0.1:1179 (AS 65000),
#   3. runs rhi at 127.46.0.2 (AS 65010) announcing 10.46.46.46/32 and 2001:db8:46::46/128 with
#      MED 300 and community 65000:46,
#   4. shows the routes as BIRD holds them, then SIGTERMs rhi and shows them withdrawn.
# Needs bird2 (installed with apt-get when run as root) and cargo. Set RHI_BIN to use an
# already built binary. Everything lives in a temp dir removed on exit, even on Ctrl-C.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUTER=127.46.0.1 ROUTER_AS=65000
NODE=127.46.0.2 NODE_AS=65010
PORT=1179
VIP4=10.46.46.46/32 VIP6=2001:db8:46::46/128
TIMEOUT=${RHI_DEMO_TIMEOUT:-30}   # seconds per wait
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"   # bird lives in sbin

if [ -t 1 ]; then bold=$'\e[1m' plain=$'\e[0m'; else bold="" plain=""; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
die() { echo "demo: $*" >&2; exit 1; }

# --- what we need ---------------------------------------------------------------------------
if ! command -v bird >/dev/null || ! command -v birdc >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "Installing BIRD 2 (apt-get install bird2)"
    # Keep the packaged bird service from starting: this demo runs its own.
    created_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
      created_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q bird2
    if [ -n "$created_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
  else
    die "BIRD 2 is missing: sudo apt-get install bird2 (then run this again)"
  fi
fi

if [ -n "${RHI_BIN:-}" ]; then
  [ -x "$RHI_BIN" ] || die "RHI_BIN=$RHI_BIN is not an executable"
else
  command -v cargo >/dev/null || die "cargo is missing (https://rustup.rs), or set RHI_BIN"
  say "Building rhi (cargo build --release)"
  locked=()
  if [ -f "$ROOT/Cargo.lock" ]; then locked=(--locked); fi
  (cd "$ROOT" && cargo build --release "${locked[@]}")
  RHI_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/rhi"
  [ -x "$RHI_BIN" ] || die "cargo built no $RHI_BIN"
fi

# --- lab, and its cleanup -------------------------------------------------------------------
RUN=$(mktemp -d "${TMPDIR:-/tmp}/rhi-demo.XXXXXX")
BIRD_PID="" RHI_PID=""

stop_pid() {   # stop_pid PID: SIGTERM, up to 5 s, then SIGKILL. Only our own children.
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  trap - EXIT INT TERM
  stop_pid "$RHI_PID"
  stop_pid "$BIRD_PID"
  rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

birdc_() { birdc -s "$RUN/bird.ctl" "$@"; }

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND until it succeeds.
wait_for() {
  local timeout=$1 what=$2 deadline=$((SECONDS + $1))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "demo: timed out after ${timeout} s waiting for $what" >&2
      return 1
    fi
    sleep 0.2
  done
}

show_logs() {
  echo "--- rhi log (last 40 lines) ---" >&2; tail -n 40 "$RUN/rhi.log" >&2 2>/dev/null || true
  echo "--- BIRD log (last 20 lines) ---" >&2; tail -n 20 "$RUN/bird.log" >&2 2>/dev/null || true
  echo "--- birdc show protocols all rhi ---" >&2; birdc_ show protocols all rhi >&2 2>/dev/null || true
}

bird_holds() { birdc_ show route protocol rhi | grep -qF "$1"; }
bird_lacks() { ! bird_holds "$1"; }
bird_holds_both() { bird_holds "$VIP4" && bird_holds "$VIP6"; }
# bash reaps its exited background children at once, so kill -0 fails as soon as rhi is gone.
rhi_exited() { ! kill -0 "$RHI_PID" 2>/dev/null; }

# --- the upstream router --------------------------------------------------------------------
cat > "$RUN/bird.conf" <<EOF
# The upstream router: accepts the VIPs from rhi, sends nothing back.
log stderr all;
router id $ROUTER;
protocol device { }
# Makes the (documentation-range) next hops resolvable inside BIRD only; no kernel protocol,
# so nothing on this machine changes.
protocol static static4 { ipv4; route 0.0.0.0/0 via "lo"; }
protocol static static6 { ipv6; route ::/0 via "lo"; }
protocol bgp rhi {
  local $ROUTER port $PORT as $ROUTER_AS;
  neighbor $NODE port $PORT as $NODE_AS;
  strict bind yes;   # listen on $ROUTER only
  multihop;          # BIRD refuses loopback neighbours without it
  passive on;        # rhi connects
  ipv4 { import all; export none; };
  ipv6 { import all; export none; };
}
EOF
say "Starting BIRD at $ROUTER:$PORT (AS $ROUTER_AS)"
bird -f -c "$RUN/bird.conf" -s "$RUN/bird.ctl" -P "$RUN/bird.pid" >"$RUN/bird.log" 2>&1 &
BIRD_PID=$!
wait_for 10 "BIRD's control socket" birdc_ show status || { show_logs; exit 1; }

# --- rhi ------------------------------------------------------------------------------------
cat > "$RUN/rhi.yaml" <<EOF
# Written by integration/demo.sh (schema: README "Configuration").
router_id: $NODE
local_as: $NODE_AS
peers:
  - name: bird
    address: $ROUTER
    port: $PORT
    remote_as: $ROUTER_AS
    local_address: $NODE
    hold_time: 9s
    connect_retry: 1s
    next_hop: 192.0.2.10           # routers refuse 127/8 next hops; on a real LAN: self
    next_hop_v6: 2001:db8::10      # next hop for the IPv6 VIP over this IPv4 session
vips:
  - prefix: $VIP4
    med: 300
    communities: ["65000:46"]
  - prefix: $VIP6
    med: 300
    communities: ["65000:46"]
control:
  socket: $RUN/rhi.sock
state_file: $RUN/state.json
EOF
say "rhi config ($RUN/rhi.yaml), validated by rhi check-config"
cat "$RUN/rhi.yaml"
"$RHI_BIN" check-config -c "$RUN/rhi.yaml" >"$RUN/check.out" 2>&1 || {
  cat "$RUN/check.out" >&2
  die "rhi check-config rejected the config"
}

say "Starting rhi at $NODE (AS $NODE_AS)"
"$RHI_BIN" run -c "$RUN/rhi.yaml" >"$RUN/rhi.log" 2>&1 &
RHI_PID=$!
if ! wait_for "$TIMEOUT" "BIRD to receive $VIP4 and $VIP6" bird_holds_both; then
  show_logs
  exit 1
fi

say "BIRD now holds (birdc show route all protocol rhi):"
birdc_ show route all protocol rhi | tail -n +2
say "Session (birdc show protocols rhi):"
birdc_ show protocols rhi | tail -n +2

# --- withdraw on SIGTERM --------------------------------------------------------------------
say "Sending SIGTERM to rhi (pid $RHI_PID): it withdraws its routes and exits"
kill -TERM "$RHI_PID"
wait_for 5 "rhi to exit" rhi_exited || { show_logs; exit 1; }
status=0
wait "$RHI_PID" || status=$?
RHI_PID=""
echo "rhi exited with status $status"
wait_for 10 "BIRD to drop $VIP4" bird_lacks "$VIP4" || { show_logs; exit 1; }
say "BIRD after the withdraw (birdc show route all protocol rhi):"
birdc_ show route all protocol rhi | tail -n +2
echo "(no routes from rhi left)"
[ "$status" = 0 ] || die "rhi exited with $status instead of 0 on SIGTERM"
say "Demo complete: announced, seen by a real router, withdrawn on shutdown."

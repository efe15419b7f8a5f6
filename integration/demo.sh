#!/usr/bin/env bash
# rhi's seed scenario, end to end, in private network namespaces (needs root), in about a minute:
#
#                        rhi-demo-PID-router: BIRD 2, AS 65000, port 179, BGP routes -> kernel (ECMP)
#        10.255.0.1/30 r-h1 |   r-h2 10.255.1.1/30   | r-c 10.255.2.1/30
#     10.255.0.2 h1-r ------+   +---- h2-r 10.255.1.2 +---- c-r 10.255.2.2
#   haproxy01 (AS 65010)        haproxy02 (AS 65010)       client: integration/lab/traffic.py
#   VIP 10.46.46.46 on lo       VIP 10.46.46.46 on lo        1 stream: a new TCP connection per request
#   HAProxy :80 -> backend      HAProxy :80 -> backend       4 streams: keep-alive connections
#   rhi: MED 300 (active)       rhi: MED 400 (passive)       each request every 10 ms, one JSON line each
#   BGP hold 9 s, BFD 100 ms x 3 to the router on both nodes (BIRD: protocol bfd on r-h*, bfd on)
#
# Timeline (each step waits on the router's kernel route, never on a bare sleep; the steady phases
# run traffic for a fixed, measured 2 s):
#   steady (haproxy01) -> drain haproxy01 (HAProxy told to close keep-alive connections first, then
#   `rhi drain`) -> drained (haproxy02) -> haproxy01 down (rhi SIGTERM, HAProxy stopped) -> return
#   (started again) -> back (haproxy01) -> freeze: every process of haproxy01 SIGSTOPped (rhi,
#   HAProxy, web server), BIRD's BFD drops it -> thaw (SIGCONT, the route comes back) -> bfd_off
#   (BFD to haproxy01 turned off on both sides, BGP kept: `bfd off` + birdc configure, rhi reload
#   with `bfd: false`) -> freeze_no_bfd (the same freeze; only BGP's hold timer notices) ->
#   thaw_no_bfd (SIGCONT, BFD on again) -> HAProxy SIGKILLed on haproxy01 -> failover (haproxy02)
#   -> HAProxy restarted -> recovered (haproxy01) -> ECMP (haproxy02 reconfigured to MED 300,
#   `rhi reload`) -> the route has 2 next hops and new connections are served by both nodes.
# Then a per-phase table (requests sent / failed, TCP connections reset, who answered) and a
# verdict; exit 1 if any phase missed its target:
#   steady phases   0 failed requests, 0 reset connections, every answer from the expected node
#   planned moves   drain, return, recovery and the move to ECMP: 0 failed, 0 reset. Two things
#                   make a route move lossless, and neither is rhi's: HAProxy on the node losing
#                   traffic first closes every client connection after its response (runtime ACL),
#                   and only once the keep-alive connections have cycled does the route move; and
#                   the nodes forward TCP packets of flows they do not know to each other over a
#                   direct link ("second chance", as in GitHub's GLB or Beamer; nftables), so a
#                   handshake in flight at the move (SYN to one node, ACK to the other) survives.
#                   Without the second chance (RHI_DEMO_SECOND_CHANCE=0) such a handshake is reset
#                   in about 1 move in 25 (measured): the moves are then reported, not checked.
#   kill            outage (first failed request to the end of the last) <= BOUND_MS below
#   freeze          outage <= FREEZE_BOUND_MS below (500 ms), measured the same way with the
#                   client's per-request timeout at 100 ms (a request stuck on the frozen node fails
#                   after its timeout; with the usual 1 s it would measure the client, not routing)
#   freeze_no_bfd   reported, not a target: the outage the same freeze costs without BFD, against
#                   its own bound NO_BFD_BOUND_MS below (the hold time)
#   thaw, thaw_no_bfd  planned moves back to haproxy01 (prepared like the others): 0 failed, 0 reset
#   ecmp            new connections answered by both nodes, 0 failed
#
# Env: RHI_BIN (use this binary instead of cargo build --release), RHI_DEMO_REPORT=PATH (also
# write the report as JSON), RHI_DEMO_TIMEOUT (seconds per wait, default 30), RHI_DEMO_KEEP=1
# (keep the run directory with every log), RHI_DEMO_NAIVE=1 (skip the HAProxy keep-alive step
# before planned moves, to see what it saves: the drain then resets the keep-alive connections),
# RHI_DEMO_SECOND_CHANCE=0 (no stray-packet forwarding between the nodes: plain L3, what a site
# gets without it; planned moves are reported, not checked).
# Why SIGSTOP and not a link that drops everything: it is the fault the issue measured (a hung
# node: kernel alive, every process stopped), and it is the harder one to notice, since the node's
# kernel still ACKs TCP (BGP's socket looks healthy) and accepts connections to the VIP that
# nobody serves; only BFD (which shares fate with rhi, C=0) or the hold timer can tell. It is also
# undone exactly (SIGCONT), by PID, inside our own namespace.
# Needs root, ip netns, bird2, haproxy, socat, nftables, /usr/bin/python3 (installed with apt-get when run
# as root and missing). The namespaces (rhi-demo-PID-*), their processes and the run directory
# are removed on exit, Ctrl-C or SIGTERM; nothing outside the namespaces is touched.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LAB=$ROOT/integration/lab
PY=/usr/bin/python3
TIMEOUT=${RHI_DEMO_TIMEOUT:-30}   # seconds per wait
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"   # bird, haproxy, ip live in sbin

VIP=10.46.46.46
ROUTER_AS=65000
# Both nodes in the same AS: a router compares MED only between routes from the same neighbouring
# AS (RFC 4271 9.1.2.2 c), so MED 300 vs 400 ranks them natively, with no vendor knob like BIRD's
# `med metric yes` or Cisco's `always-compare-med` that every router of a real site would need.
NODE_AS=65010
MED_ACTIVE=300 MED_PASSIVE=400 MED_DRAIN=1000
# Health-check timing (rhi) and the outage bound it implies after HAProxy dies:
CHECK_INTERVAL_MS=200 CHECK_FAST_MS=100 CHECK_TIMEOUT_MS=200 CHECK_RISE=2 CHECK_FALL=2
# The first failing check starts at most one interval after the kill and takes at most the
# timeout; fall-1 more fail fast_interval apart; then the withdraw UPDATE, BIRD's best-path run and
# its netlink write to the router's kernel: measured in milliseconds, allowed MARGIN. The client
# sees the outage from its first failed request to the end of its last one (10 ms granularity).
MARGIN_MS=300
BOUND_MS=$((CHECK_INTERVAL_MS + (CHECK_FALL - 1) * CHECK_FAST_MS + CHECK_TIMEOUT_MS + MARGIN_MS))
BOUND_FORMULA="interval ${CHECK_INTERVAL_MS} + (fall ${CHECK_FALL} - 1) x fast_interval ${CHECK_FAST_MS} + timeout ${CHECK_TIMEOUT_MS} + margin ${MARGIN_MS} (BGP UPDATE + BIRD + kernel) = ${BOUND_MS} ms"
KEEPALIVE_STREAMS=4
CLIENT_TIMEOUT_MS=1000   # the client's per-request timeout (a deadline), except in the freezes
HOLD_S=9                 # BGP hold time (rhi's offer; BIRD's default 240 s, so 9 s is negotiated)
# The node freeze. BFD 100 ms x 3 on both sides (rhi's peer config and BIRD's protocol bfd). BIRD
# declares haproxy01's session Down once no packet came for its detection time, rhi's multiplier
# x max(BIRD's min rx, rhi's min tx) (RFC 5880 6.8.4), counted from the last packet rhi sent
# before it froze, so at most that long after the freeze. Then BIRD takes the BGP session down,
# runs best path and writes the route via haproxy02 to its kernel (BFD_MARGIN: BIRD measured in
# milliseconds). The client's outage runs from the first failed request (sent at or after the
# freeze) to the end of the last one, which was sent to haproxy01 just before the route moved and
# fails at its timeout: FREEZE_TIMEOUT.
BFD_MIN_RX_MS=100 BFD_MIN_TX_MS=100 BFD_MULT=3
FREEZE_TIMEOUT_MS=100 BFD_MARGIN_MS=100 FREEZE_TARGET_MS=500
BFD_INTERVAL_MS=$((BFD_MIN_RX_MS > BFD_MIN_TX_MS ? BFD_MIN_RX_MS : BFD_MIN_TX_MS))
FREEZE_BOUND_MS=$((BFD_MULT * BFD_INTERVAL_MS + FREEZE_TIMEOUT_MS + BFD_MARGIN_MS))
FREEZE_BOUND_FORMULA="BFD multiplier ${BFD_MULT} x max(min_rx ${BFD_MIN_RX_MS}, min_tx ${BFD_MIN_TX_MS}) + client timeout ${FREEZE_TIMEOUT_MS} + margin ${BFD_MARGIN_MS} (BIRD: BGP down, best path, kernel) = ${FREEZE_BOUND_MS} ms"
# Without BFD only BGP's hold timer notices: BIRD gives up HOLD after the last KEEPALIVE (rhi sends
# one every HOLD/3), so between 2/3 HOLD and HOLD after the freeze; then the same client timeout and
# the kill phase's margin. Reported against this bound, not a target.
NO_BFD_BOUND_MS=$((HOLD_S * 1000 + FREEZE_TIMEOUT_MS + MARGIN_MS))
NO_BFD_BOUND_FORMULA="hold time ${HOLD_S} s + client timeout ${FREEZE_TIMEOUT_MS} + margin ${MARGIN_MS} = ${NO_BFD_BOUND_MS} ms"

if [ -t 1 ]; then bold=$'\e[1m' plain=$'\e[0m'; else bold="" plain=""; fi
die() { echo "demo: $*" >&2; exit 1; }
[ "$FREEZE_BOUND_MS" -le "$FREEZE_TARGET_MS" ] || die "the freeze bound $FREEZE_BOUND_MS ms exceeds its target $FREEZE_TARGET_MS ms"

# --- what we need ---------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "needs root: it creates network namespaces (sudo $0)"
missing=()
SECOND_CHANCE=${RHI_DEMO_SECOND_CHANCE:-1}
[ "$SECOND_CHANCE" = 0 ] || SECOND_CHANCE=1
tools=(bird:bird2 birdc:bird2 haproxy:haproxy socat:socat ip:iproute2 "$PY":python3)
[ "$SECOND_CHANCE" = 0 ] || tools+=(nft:nftables)
for tool in "${tools[@]}"; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool##*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null || die "missing: ${missing[*]} (install these packages)"
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "== Installing ${missing[*]} (apt-get install)"
  # Keep the packaged bird/haproxy services from starting: this demo runs its own.
  created_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  if [ -n "$created_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi
ip netns list >/dev/null 2>&1 || die "ip netns does not work here (no network namespaces?)"

if [ -n "${RHI_BIN:-}" ]; then
  [ -x "$RHI_BIN" ] || die "RHI_BIN=$RHI_BIN is not an executable"
else
  command -v cargo >/dev/null || die "cargo is missing (https://rustup.rs), or set RHI_BIN"
  echo "== Building rhi (cargo build --release)"
  locked=()
  if [ -f "$ROOT/Cargo.lock" ]; then locked=(--locked); fi
  (cd "$ROOT" && cargo build --release "${locked[@]}")
  RHI_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/rhi"
  [ -x "$RHI_BIN" ] || die "cargo built no $RHI_BIN"
fi

# --- lab, and its cleanup -------------------------------------------------------------------
NS=rhi-demo-$$
R=$NS-router C=$NS-client
NODE_NS=("" "$NS-haproxy01" "$NS-haproxy02")
NODE_NAME=("" haproxy01 haproxy02)
NODE_ADDR=("" 10.255.0.2 10.255.1.2)
ROUTER_ADDR=("" 10.255.0.1 10.255.1.1)
RUN=$(mktemp -d "${TMPDIR:-/tmp}/rhi-demo.XXXXXX")
BIRD_PID="" CLIENT_PID=""
WEB_PID=("" "" "") HAP_PID=("" "" "") RHI_PID=("" "" "")
CREATED_NS=() FROZEN=()

stop_pid() {   # stop_pid PID [SIGNAL]: SIGNAL (TERM), up to 5 s, then SIGKILL. Only our own children.
  local pid=$1 sig=${2:-TERM}
  [ -n "$pid" ] || return 0
  kill "-$sig" "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  [ "${#FROZEN[@]}" -eq 0 ] || kill -CONT "${FROZEN[@]}" 2>/dev/null   # a freeze cut short
  stop_pid "$CLIENT_PID"
  for i in 1 2; do stop_pid "${RHI_PID[$i]}"; stop_pid "${HAP_PID[$i]}"; stop_pid "${WEB_PID[$i]}"; done
  stop_pid "$BIRD_PID"
  for ns in "${CREATED_NS[@]}"; do
    # Anything still inside our own namespaces was started by this script: kill it by PID.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null || echo "demo: could not delete netns $ns" >&2
  done
  if [ -n "${RHI_DEMO_KEEP:-}" ]; then echo "demo: run directory kept: $RUN"; else rm -rf "$RUN"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

us() { local t=${EPOCHREALTIME/./}; echo "${t#0}"; }   # wall clock, microseconds
T0=$(us)
say() {   # say TEXT: a timeline line with the elapsed time
  local e=$(( $(us) - T0 ))
  printf '%s[%3d.%02d s]%s %s\n' "$bold" $((e / 1000000)) $(((e / 10000) % 100)) "$plain" "$*"
}

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every 20 ms until it succeeds.
wait_for() {
  local timeout=$1 what=$2 deadline=$((SECONDS + $1))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "demo: timed out after ${timeout} s waiting for $what" >&2
      show_logs
      return 1
    fi
    sleep 0.02
  done
}

show_logs() {
  for i in 1 2; do
    echo "--- rhi ${NODE_NAME[$i]} log (last 15 lines) ---" >&2
    tail -n 15 "$RUN/${NODE_NAME[$i]}/rhi.log" >&2 2>/dev/null || true
    echo "--- HAProxy ${NODE_NAME[$i]} log (last 5 lines) ---" >&2
    tail -n 5 "$RUN/${NODE_NAME[$i]}/haproxy.log" >&2 2>/dev/null || true
  done
  echo "--- BIRD log (last 15 lines) ---" >&2; tail -n 15 "$RUN/bird.log" >&2 2>/dev/null || true
  echo "--- birdc show protocols; router route to $VIP ---" >&2
  birdc_ show protocols >&2 2>/dev/null || true
  route >&2 || true
}

birdc_() { birdc -s "$RUN/bird.ctl" "$@"; }
route() { ip -n "$R" route show "$VIP/32"; }
# The router's kernel route to the VIP: a single path via node I / two next hops / none.
route_via() { local r; r=$(route); [[ $r == "$VIP via ${NODE_ADDR[$1]} "* ]] && [[ $r != *nexthop* ]]; }
route_ecmp() { [ "$(route | grep -c 'nexthop via')" = 2 ]; }
bird_has_route_from() { birdc_ show route protocol "${NODE_NAME[$1]}" | grep -qF "$VIP/32"; }
bird_lacks_route_from() { ! bird_has_route_from "$1"; }
rhi_() { local n=$1; shift; "$RHI_BIN" "$@" --socket "$RUN/${NODE_NAME[$n]}/rhi.sock"; }   # rhi_ I ARGS
haproxy_cmd() { echo "$2" | socat stdio "unix-connect:$RUN/${NODE_NAME[$1]}/admin.sock"; }
# HAProxy's keep-alive switch: while the close ACL holds 0.0.0.0/0, every response closes its
# client connection (http-after-response set-header Connection close).
close_keepalive() {
  if [ -n "${RHI_DEMO_NAIVE:-}" ]; then say "  (RHI_DEMO_NAIVE: HAProxy is not told to close keep-alive connections)"; return; fi
  haproxy_cmd "$1" "add acl $RUN/${NODE_NAME[$1]}/close.acl 0.0.0.0/0" >/dev/null
  CLOSE_SINCE=$EPOCHREALTIME
  mark "keepalive_off_${NODE_NAME[$1]}"
  say "  ${NODE_NAME[$1]}: HAProxy closes every client connection after its response (runtime ACL)"
}
keepalive_back() {
  if [ -n "${RHI_DEMO_NAIVE:-}" ]; then return; fi
  haproxy_cmd "$1" "clear acl $RUN/${NODE_NAME[$1]}/close.acl" >/dev/null
  mark "keepalive_on_${NODE_NAME[$1]}"
  say "  ${NODE_NAME[$1]}: HAProxy keeps connections alive again"
}
# Every keep-alive connection that was open when close_keepalive ran has been closed by HAProxy.
keepalive_cycled() { [ -n "${RHI_DEMO_NAIVE:-}" ] || "$PY" "$LAB/report.py" cycled "$RUN/traffic.jsonl" "$CLOSE_SINCE" "$KEEPALIVE_STREAMS"; }
# bash reaps its exited background children at once, so kill -0 fails as soon as one is gone.
exited() { ! kill -0 "$1" 2>/dev/null; }
client_saw() { tail -n 20 "$RUN/traffic.jsonl" | grep -qF "\"node\":\"$1\""; }

PHASE="" PHASE_START="" PHASE_EXPECT="" PHASE_CHECK="" PHASE_EVENTS="" PHASE_BOUND_MS="" PHASE_BOUND_FORMULA=""
phase() {   # phase NAME EXPECTED_NODE CHECK DESCRIPTION [BOUND_MS FORMULA]: the phase's own bound
  PHASE=$1 PHASE_EXPECT=$2 PHASE_CHECK=$3 PHASE_START=$EPOCHREALTIME PHASE_EVENTS=""
  PHASE_BOUND_MS=${5:-} PHASE_BOUND_FORMULA=${6:-}
  say "== phase $PHASE: $4"
}
# A planned move away from node N: HAProxy there closes its keep-alive connections, and the move
# waits until every client connection opened before that has cycled.
prepare_move_from() {
  close_keepalive "$1"
  wait_for "$TIMEOUT" "the keep-alive connections to ${NODE_NAME[$1]} to cycle" keepalive_cycled
}
# The route has moved (WHAT, a condition): mark it; traffic in flight at the move belongs to this
# phase for 0.5 s more; node N's HAProxy keeps connections alive again.
finish_move() {
  local what=$1 node=$2
  shift 2
  wait_for "$TIMEOUT" "$what" "$@"
  mark route_moved
  say "  router: $(route | tr '\n' ' ' | tr -s ' ')"
  sleep 0.5
  [ -z "$node" ] || keepalive_back "$node"
}

mark() {   # mark EVENT: when it happened (wall clock), kept in the phase's record
  PHASE_EVENTS+="${PHASE_EVENTS:+,}\"$1\":$EPOCHREALTIME"
}
end_phase() {
  local bound=""
  [ -z "$PHASE_BOUND_MS" ] || bound=$(printf ',"bound_ms":%d,"bound_formula":"%s"' "$PHASE_BOUND_MS" "$PHASE_BOUND_FORMULA")
  printf '{"name":"%s","start":%s,"end":%s,"expect":"%s","check":"%s"%s,"events":{%s}}\n' \
    "$PHASE" "$PHASE_START" "$EPOCHREALTIME" "$PHASE_EXPECT" "$PHASE_CHECK" "$bound" "$PHASE_EVENTS" >> "$RUN/phases.jsonl"
}

# The client's per-request timeout (ms) from each stream's next request on; returns once every
# stream has started one with it (traffic.py re-reads the file when it changes).
client_timeout() {
  local since=$EPOCHREALTIME secs
  secs=$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))
  echo "$secs" > "$RUN/client_timeout.new"
  mv -f "$RUN/client_timeout.new" "$RUN/client_timeout"
  wait_for 10 "every client stream to use a ${1} ms timeout" \
    "$PY" "$LAB/report.py" timeout "$RUN/traffic.jsonl" "$since" "$secs" "$KEEPALIVE_STREAMS"
}
# BIRD's BFD session to node I is Up / exists and is not Up (birdc show bfd sessions).
bfd_up_at_router() { birdc_ show bfd sessions | awk -v a="${NODE_ADDR[$1]}" '$1 == a && $3 == "Up" {f = 1} END {exit !f}'; }
bfd_gone_at_router() { ! birdc_ show bfd sessions | awk -v a="${NODE_ADDR[$1]}" '$1 == a {f = 1} END {exit !f}'; }
bgp_established() { birdc_ show protocols "${NODE_NAME[$1]}" | grep -q Established; }
# Freeze node I: SIGSTOP to every process in its namespace (rhi, HAProxy, the web server: all
# started by this script), at once; thaw: SIGCONT to the same PIDs.
freeze_node() {
  mapfile -t FROZEN < <(ip netns pids "${NODE_NS[$1]}")
  [ "${#FROZEN[@]}" -gt 0 ] || die "no process in ${NODE_NS[$1]} to freeze"
  kill -STOP "${FROZEN[@]}"
}
thaw_node() { kill -CONT "${FROZEN[@]}"; FROZEN=(); }
frozen_names() { local p; for p in "${FROZEN[@]}"; do printf '%s(%s) ' "$(cat "/proc/$p/comm" 2>/dev/null)" "$p"; done; }
# BFD between node I and the router on or off, on both sides, without resetting BGP: BIRD's
# protocol for the node gets `bfd on|off` (birdc configure: BIRD applies a BFD change to the
# running session), rhi gets its settings or `bfd: false` (rhi reload: the same). Off: BIRD first,
# then rhi at once, because either side ending its BFD session alone takes BGP down: rhi sends
# AdminDown, which BIRD 2.0.12 treats as a failure (seen here), and a BIRD that just drops its
# session falls silent, which rhi's detection time (300 ms) would catch.
set_bfd() {   # set_bfd I on|off
  local f=$RUN/${NODE_NAME[$1]}/rhi.yaml want="    bfd: false"
  [ "$2" = off ] || want="    bfd: $BFD_YAML"
  sed -i "s/^\(protocol bgp ${NODE_NAME[$1]} .*\)bfd o[nf]*;/\1bfd $2;/" "$RUN/bird.conf"
  grep -q "^protocol bgp ${NODE_NAME[$1]} .*bfd $2;" "$RUN/bird.conf" || die "could not set bfd $2 in bird.conf"
  sed -i "s/^    bfd: .*\$/$want/" "$f"
  grep -qxF "$want" "$f" || die "could not set bfd $2 in $f"
  birdc_ configure >/dev/null
  rhi_ "$1" reload >/dev/null
}

# --- namespaces -----------------------------------------------------------------------------
say "Creating namespaces $NS-{router,haproxy01,haproxy02,client}"
for ns in "$R" "${NODE_NS[1]}" "${NODE_NS[2]}" "$C"; do
  ip netns add "$ns"
  CREATED_NS+=("$ns")
  ip -n "$ns" link set lo up
done
for i in 1 2; do
  ip link add "r-h$i" netns "$R" type veth peer name "h$i-r" netns "${NODE_NS[$i]}"
  ip -n "$R" addr add "${ROUTER_ADDR[$i]}/30" dev "r-h$i"
  ip -n "${NODE_NS[$i]}" addr add "${NODE_ADDR[$i]}/30" dev "h$i-r"
  ip -n "$R" link set "r-h$i" up
  ip -n "${NODE_NS[$i]}" link set "h$i-r" up
  ip -n "${NODE_NS[$i]}" route add default via "${ROUTER_ADDR[$i]}"
  ip -n "${NODE_NS[$i]}" addr add "$VIP/32" dev lo   # the VIP lives on both nodes
done
ip link add r-c netns "$R" type veth peer name c-r netns "$C"
ip -n "$R" addr add 10.255.2.1/30 dev r-c
ip -n "$C" addr add 10.255.2.2/30 dev c-r
ip -n "$R" link set r-c up
ip -n "$C" link set c-r up
ip -n "$C" route add default via 10.255.2.1
ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1
# per-flow (L4) ECMP hashing: different TCP source ports may take different next hops
ip netns exec "$R" sysctl -qw net.ipv4.fib_multipath_hash_policy=1

# Every planned move (drain, return, recovery, ECMP) is prepared the same way. Without the second
# chance they are only reported: a pure L3 move still resets a connection whose handshake is in
# flight at that instant (its SYN reached the old node, its ACK reaches the new one).
PLANNED_CHECK=planned
if [ "$SECOND_CHANCE" = 1 ]; then
  PLANNED_CHECK=lossless
  # "Second chance" forwarding between the nodes (as in GitHub's GLB or Beamer).
  # A TCP packet for the VIP that a node has no connection for (not a SYN, and conntrack has
  # never seen the flow: its handshake happened on the other node just before a route move) is
  # forwarded over a direct link to the other node instead of being answered with a RST.
  ip link add h1-h2 netns "${NODE_NS[1]}" type veth peer name h2-h1 netns "${NODE_NS[2]}"
  ip -n "${NODE_NS[1]}" addr add 10.255.3.1/30 dev h1-h2
  ip -n "${NODE_NS[2]}" addr add 10.255.3.2/30 dev h2-h1
  for i in 1 2; do
    peer=$((3 - i)) ns=${NODE_NS[$i]}
    ip -n "$ns" link set "h$i-h$peer" up
    ip netns exec "$ns" nft -f - <<NFT
table ip rhi_second_chance {
  chain pre {
    type filter hook prerouting priority mangle;
    iifname "h$i-r" ip daddr $VIP tcp dport 80 ct state invalid counter meta mark set 1
  }
}
NFT
    ip netns exec "$ns" sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0 net.ipv4.ip_forward=1 \
      net.ipv4.conf.all.rp_filter=0 "net.ipv4.conf.h$i-h$peer.rp_filter=0"
    # marked packets skip local delivery: the fwmark rule comes before the local table
    ip -n "$ns" rule add pref 100 lookup local
    ip -n "$ns" rule del pref 0 lookup local
    ip -n "$ns" rule add pref 10 fwmark 1 lookup 100
    ip -n "$ns" route add default via "10.255.3.$peer" dev "h$i-h$peer" table 100
  done
  say "Second-chance forwarding between haproxy01 and haproxy02 (RHI_DEMO_SECOND_CHANCE=0 turns it off)"
fi

# --- the router -----------------------------------------------------------------------------
cat > "$RUN/bird.conf" <<EOF
# The router (namespace $R): learns the VIP from both nodes, installs the best path (or, with
# equal attributes, all of them) into its kernel table, which forwards the client's traffic.
log stderr all;
router id 10.255.0.1;
protocol device { }
protocol direct { ipv4; interface "r-*"; }
protocol kernel {
  ipv4 { import none; export where source = RTS_BGP; };
  merge paths yes limit 8;      # equal routes from both nodes -> one route with two next hops
}
filter from_lb {
  # RFC 8326: a route tagged GRACEFUL_SHUTDOWN (65535:0) gets the lowest LOCAL_PREF
  if (65535, 0) ~ bgp_community then bgp_local_pref = 0;
  accept;
}
# Single-hop BFD (RFC 5881) to the nodes, on their links; the sessions are asked for by BGP.
protocol bfd {
  interface "r-h*" { min rx interval $BFD_MIN_RX_MS ms; min tx interval $BFD_MIN_TX_MS ms; multiplier $BFD_MULT; };
}
template bgp lb {
  local as $ROUTER_AS;
  passive on;                   # the nodes' rhi connects
  # After a session error (BFD Down, hold timer expired) BIRD accepts the node again only after
  # this delay, 60 s by default: the thawed node returns within seconds here.
  error wait time 1, 2;
  ipv4 { import filter from_lb; export none; };
}
# bfd on: BFD Down takes the session down at once (the demo turns it off for haproxy01 for a while
# with birdc configure, which keeps the BGP session)
protocol bgp ${NODE_NAME[1]} from lb { neighbor ${NODE_ADDR[1]} as $NODE_AS; bfd on; }
protocol bgp ${NODE_NAME[2]} from lb { neighbor ${NODE_ADDR[2]} as $NODE_AS; bfd on; }
EOF
ip netns exec "$R" bird -f -c "$RUN/bird.conf" -s "$RUN/bird.ctl" -P "$RUN/bird.pid" >"$RUN/bird.log" 2>&1 &
BIRD_PID=$!
wait_for 10 "BIRD's control socket" birdc_ show status

# --- the load-balancer nodes ----------------------------------------------------------------
BFD_YAML="{min_rx: ${BFD_MIN_RX_MS}ms, min_tx: ${BFD_MIN_TX_MS}ms, multiplier: $BFD_MULT}"
write_node() {   # write_node I MED: the backend page, HAProxy's and rhi's configs of node I
  local i=$1 med=$2 dir=$RUN/${NODE_NAME[$1]}
  mkdir -p "$dir/www"
  echo "${NODE_NAME[$i]}" > "$dir/www/index.html"
  : > "$dir/close.acl"
  cat > "$dir/haproxy.cfg" <<EOF
global
  stats socket $dir/admin.sock mode 600 level admin
  maxconn 4000
defaults
  mode http
  timeout connect 1s
  timeout client 10s
  timeout server 5s
  timeout http-keep-alive 10s
frontend fe_web
  bind $VIP:80
  # Empty at start; the demo adds 0.0.0.0/0 at runtime before a planned route move, so every
  # response closes its client connection and no keep-alive connection is left to be reset.
  acl close_keepalive src -f $dir/close.acl
  http-after-response set-header Connection close if close_keepalive
  default_backend be_web
backend be_web
  server app 127.0.0.1:8080 check inter 200ms
frontend stats
  bind 127.0.0.1:8404
  stats enable
  stats uri /stats
EOF
  cat > "$dir/rhi.yaml" <<EOF
# ${NODE_NAME[$i]}, written by integration/demo.sh (schema: README "Configuration")
router_id: ${NODE_ADDR[$i]}
local_as: $NODE_AS
peers:
  - name: router
    address: ${ROUTER_ADDR[$i]}
    remote_as: $ROUTER_AS
    local_address: ${NODE_ADDR[$i]}
    hold_time: ${HOLD_S}s
    connect_retry: 1s
    bfd: $BFD_YAML
checks:
  web:
    haproxy: {stats_url: "http://127.0.0.1:8404/stats;csv", backend: be_web}
    interval: ${CHECK_INTERVAL_MS}ms
    fast_interval: ${CHECK_FAST_MS}ms
    timeout: ${CHECK_TIMEOUT_MS}ms
    rise: $CHECK_RISE
    fall: $CHECK_FALL
vips:
  - prefix: $VIP/32
    check: web
    med: $med
drain:
  med: $MED_DRAIN
  graceful_shutdown: true
  withdraw_after: 2s
control:
  socket: $dir/rhi.sock
EOF
  "$RHI_BIN" check-config -c "$dir/rhi.yaml" >"$dir/check.out" 2>&1 || {
    cat "$dir/check.out" >&2
    die "rhi check-config rejected $dir/rhi.yaml"
  }
}
# The backend: Python's http.server, with a listen backlog of 1024 instead of its 5. After a freeze
# HAProxy forwards at once every request the frozen node's kernel queued (hundreds after 7 s): with 5,
# the backend's SYN queue overflows and live requests wait out 1-s SYN retransmits for seconds after
# the thaw (seen here: requests stuck up to 1 s in the phases that follow).
WEB_SERVER='import functools, sys, http.server as h
class Server(h.ThreadingHTTPServer):
    request_queue_size = 1024
h.test(HandlerClass=functools.partial(h.SimpleHTTPRequestHandler, directory=sys.argv[1]),
       ServerClass=Server, port=8080, bind="127.0.0.1")'
start_web() {
  ip netns exec "${NODE_NS[$1]}" "$PY" -c "$WEB_SERVER" "$RUN/${NODE_NAME[$1]}/www" \
    >>"$RUN/${NODE_NAME[$1]}/web.log" 2>&1 &
  WEB_PID[$1]=$!
}
start_haproxy() {
  ip netns exec "${NODE_NS[$1]}" haproxy -db -f "$RUN/${NODE_NAME[$1]}/haproxy.cfg" \
    >>"$RUN/${NODE_NAME[$1]}/haproxy.log" 2>&1 &
  HAP_PID[$1]=$!
}
start_rhi() {
  ip netns exec "${NODE_NS[$1]}" "$RHI_BIN" run -c "$RUN/${NODE_NAME[$1]}/rhi.yaml" \
    >>"$RUN/${NODE_NAME[$1]}/rhi.log" 2>&1 &
  RHI_PID[$1]=$!
}
web_up() { ip netns exec "${NODE_NS[$1]}" "$PY" -c 'import socket; socket.create_connection(("127.0.0.1", 8080), 1)'; }

write_node 1 "$MED_ACTIVE"
write_node 2 "$MED_PASSIVE"
say "Router: BIRD 2 in $R (AS $ROUTER_AS, port 179); nodes: AS $NODE_AS, haproxy01 MED $MED_ACTIVE, haproxy02 MED $MED_PASSIVE"
for i in 1 2; do start_web "$i"; done
for i in 1 2; do wait_for 10 "the backend of ${NODE_NAME[$i]}" web_up "$i"; done
for i in 1 2; do start_haproxy "$i"; start_rhi "$i"; done
wait_for "$TIMEOUT" "BIRD to learn $VIP from both nodes" bash -c "
  birdc -s '$RUN/bird.ctl' show route protocol haproxy01 | grep -qF '$VIP/32' &&
  birdc -s '$RUN/bird.ctl' show route protocol haproxy02 | grep -qF '$VIP/32'"
wait_for "$TIMEOUT" "the router's route to $VIP via haproxy01" route_via 1
say "Router: $(route)"

ip netns exec "$C" "$PY" "$LAB/traffic.py" --vip "$VIP" --log "$RUN/traffic.jsonl" \
  --keepalive "$KEEPALIVE_STREAMS" --interval 0.01 --timeout "$((CLIENT_TIMEOUT_MS / 1000)).$(printf %03d $((CLIENT_TIMEOUT_MS % 1000)))" \
  --timeout-file "$RUN/client_timeout" >"$RUN/traffic.log" 2>&1 &
CLIENT_PID=$!
wait_for 10 "the client's first answers from haproxy01" client_saw haproxy01
say "Client: 1 stream of new connections + $KEEPALIVE_STREAMS keep-alive connections, a request every 10 ms each"

# --- the timeline ---------------------------------------------------------------------------
phase steady haproxy01 steady "active/passive, traffic on haproxy01 (MED $MED_ACTIVE < $MED_PASSIVE)"
sleep 2
end_phase

phase drain "" "$PLANNED_CHECK" "planned maintenance of haproxy01"
prepare_move_from 1
say "  every keep-alive connection opened before that has been closed by haproxy01"
rhi_ 1 drain >/dev/null
mark rhi_drain
say "  rhi drain on haproxy01: MED $MED_DRAIN + GRACEFUL_SHUTDOWN, withdraw after 2 s"
finish_move "the route to move to haproxy02" "" route_via 2
end_phase

phase drained haproxy02 steady "haproxy01 drained, traffic on haproxy02"
wait_for "$TIMEOUT" "haproxy01 to withdraw after withdraw_after" bird_lacks_route_from 1
say "  haproxy01 withdrew the VIP (withdraw_after 2 s)"
sleep 1
end_phase

phase down haproxy02 steady "haproxy01 down: rhi SIGTERM, HAProxy stopped"
kill -TERM "${RHI_PID[1]}"
wait_for 10 "rhi on haproxy01 to exit on SIGTERM" exited "${RHI_PID[1]}"
status=0
wait "${RHI_PID[1]}" || status=$?
RHI_PID[1]=""
[ "$status" = 0 ] || die "rhi on haproxy01 exited with $status instead of 0 on SIGTERM"
say "  rhi on haproxy01 exited 0"
stop_pid "${HAP_PID[1]}"
HAP_PID[1]=""
say "  HAProxy on haproxy01 stopped"
sleep 1
end_phase

phase return "" "$PLANNED_CHECK" "haproxy01 back: HAProxy and rhi started again"
prepare_move_from 2
start_haproxy 1
start_rhi 1
mark started
say "  haproxy01: HAProxy and rhi started"
finish_move "the route to move back to haproxy01" 2 route_via 1
end_phase

phase back haproxy01 steady "traffic back on haproxy01"
sleep 2
wait_for "$TIMEOUT" "BIRD's BFD session to haproxy01 to be Up" bfd_up_at_router 1
client_timeout "$FREEZE_TIMEOUT_MS"   # for the freeze, which follows at once
end_phase

phase freeze haproxy02 outage "haproxy01 frozen (every process SIGSTOPped), BFD $BFD_INTERVAL_MS ms x $BFD_MULT: BIRD must drop it" \
  "$FREEZE_BOUND_MS" "$FREEZE_BOUND_FORMULA"
freeze_node 1
mark frozen
say "  haproxy01 frozen: $(frozen_names)"
wait_for "$TIMEOUT" "BIRD to drop haproxy01 (BFD Down)" route_via 2
mark route_moved
say "  router: $(route)"
sleep 1
end_phase

phase thaw "" "$PLANNED_CHECK" "haproxy01 thawed (SIGCONT): rhi reconnects, the route comes back"
client_timeout "$CLIENT_TIMEOUT_MS"
prepare_move_from 2
thaw_node 1
mark thawed
say "  haproxy01 thawed (SIGCONT)"
finish_move "the route to move back to haproxy01" 2 route_via 1
end_phase

phase bfd_off haproxy01 steady "BFD to haproxy01 off on both sides (birdc configure, rhi reload); BGP stays up"
wait_for "$TIMEOUT" "BIRD's BFD session to haproxy01 to be Up" bfd_up_at_router 1
set_bfd 1 off
mark bfd_off
wait_for "$TIMEOUT" "BIRD to drop its BFD session to haproxy01" bfd_gone_at_router 1
sleep 0.5   # longer than rhi's detection time: a BGP reset by either side's BFD would show now
bgp_established 1 || die "BIRD's BGP session to haproxy01 went down when BFD was turned off"
say "  BIRD: no BFD session to haproxy01; BGP still Established"
sleep 1
client_timeout "$FREEZE_TIMEOUT_MS"
end_phase

phase freeze_no_bfd haproxy02 info "haproxy01 frozen again, no BFD: only BGP's hold timer ($HOLD_S s) notices" \
  "$NO_BFD_BOUND_MS" "$NO_BFD_BOUND_FORMULA"
freeze_node 1
mark frozen
say "  haproxy01 frozen: $(frozen_names)"
wait_for "$TIMEOUT" "BIRD to drop haproxy01 (hold timer)" route_via 2
mark route_moved
say "  router: $(route)"
sleep 1
end_phase

phase thaw_no_bfd "" "$PLANNED_CHECK" "haproxy01 thawed (SIGCONT), BFD back on both sides; the route comes back"
client_timeout "$CLIENT_TIMEOUT_MS"
prepare_move_from 2
thaw_node 1
mark thawed
set_bfd 1 on
mark rhi_reload
say "  haproxy01 thawed (SIGCONT); BFD on again (BIRD: bfd on; rhi: bfd: $BFD_YAML)"
finish_move "the route to move back to haproxy01" 2 route_via 1
wait_for "$TIMEOUT" "BIRD's BFD session to haproxy01 to be Up again" bfd_up_at_router 1
end_phase

phase kill haproxy02 outage "HAProxy on haproxy01 killed (SIGKILL); rhi must withdraw"
mark haproxy_killed
kill -KILL "${HAP_PID[1]}"
wait "${HAP_PID[1]}" 2>/dev/null || true
HAP_PID[1]=""
say "  HAProxy on haproxy01 SIGKILLed"
wait_for "$TIMEOUT" "rhi on haproxy01 to withdraw" route_via 2
mark route_moved
say "  router: $(route)"
sleep 1
end_phase

phase failover haproxy02 steady "traffic on haproxy02"
sleep 2
end_phase

phase recovery "" "$PLANNED_CHECK" "HAProxy on haproxy01 restarted; rhi announces again after rise"
prepare_move_from 2
start_haproxy 1
mark started
say "  HAProxy on haproxy01 restarted"
finish_move "the route to move back to haproxy01" 2 route_via 1
end_phase

phase recovered haproxy01 steady "traffic on haproxy01"
sleep 2
end_phase

phase ecmp-move "" "$PLANNED_CHECK" "haproxy02 reconfigured to MED $MED_ACTIVE (rhi reload): ECMP"
prepare_move_from 1
sed -i "s/^    med: $MED_PASSIVE\$/    med: $MED_ACTIVE/" "$RUN/haproxy02/rhi.yaml"
grep -q "^    med: $MED_ACTIVE\$" "$RUN/haproxy02/rhi.yaml" || die "could not edit haproxy02's MED"
rhi_ 2 reload >/dev/null
mark rhi_reload
say "  haproxy02: med $MED_ACTIVE in its config, rhi reload"
finish_move "an ECMP route with 2 next hops" 1 route_ecmp
end_phase

phase ecmp "" ecmp "ECMP: new connections spread over both nodes"
sleep 3
end_phase

# --- report ---------------------------------------------------------------------------------
stop_pid "$CLIENT_PID"
CLIENT_PID=""
if [ "$SECOND_CHANCE" = 1 ]; then
  for i in 1 2; do
    n=$(ip netns exec "${NODE_NS[$i]}" nft list chain ip rhi_second_chance pre | grep -o 'packets [0-9]*' || true)
    say "Second chance: ${NODE_NAME[$i]} forwarded ${n:-packets 0} to the other node"
  done
fi
echo
echo "${bold}Per phase (a request counts in the phase it ended in; resets = TCP connections that got a RST):${plain}"
settings=$(printf '{"check_interval_ms":%d,"check_fast_interval_ms":%d,"check_timeout_ms":%d,"rise":%d,"fall":%d,"margin_ms":%d,"keepalive_streams":%d,"request_interval_ms":10,"hold_time_s":%d,"withdraw_after_s":2,"client_timeout_ms":%d,"bfd_min_rx_ms":%d,"bfd_min_tx_ms":%d,"bfd_multiplier":%d,"freeze_client_timeout_ms":%d,"bfd_margin_ms":%d,"freeze_target_ms":%d}' \
  "$CHECK_INTERVAL_MS" "$CHECK_FAST_MS" "$CHECK_TIMEOUT_MS" "$CHECK_RISE" "$CHECK_FALL" "$MARGIN_MS" "$KEEPALIVE_STREAMS" \
  "$HOLD_S" "$CLIENT_TIMEOUT_MS" "$BFD_MIN_RX_MS" "$BFD_MIN_TX_MS" "$BFD_MULT" "$FREEZE_TIMEOUT_MS" "$BFD_MARGIN_MS" "$FREEZE_TARGET_MS")
report_args=(report "$RUN/traffic.jsonl" "$RUN/phases.jsonl" --bound-ms "$BOUND_MS"
  --bound-formula "$BOUND_FORMULA" --settings "$settings")
if [ -n "${RHI_DEMO_REPORT:-}" ]; then report_args+=(--json "$RHI_DEMO_REPORT"); fi
verdict=0
"$PY" "$LAB/report.py" "${report_args[@]}" || verdict=$?
echo "Outage bound after the HAProxy kill: $BOUND_FORMULA"
echo "Outage bound after the node freeze (BFD): $FREEZE_BOUND_FORMULA (target $FREEZE_TARGET_MS ms)"
echo "Bound of the same freeze without BFD (reported, not a target): $NO_BFD_BOUND_FORMULA"
if [ "$verdict" = 0 ]; then
  moves="lossless planned moves"
  [ "$SECOND_CHANCE" = 1 ] || moves="planned moves reported (RHI_DEMO_SECOND_CHANCE=0)"
  echo "${bold}demo: PASSED${plain}: $moves, outage within the bound after a crash and after a freeze, ECMP on both nodes ($(( ($(us) - T0) / 1000000 )) s)"
else
  echo "${bold}demo: FAILED${plain}: see the phases marked FAIL above" >&2
  exit 1
fi

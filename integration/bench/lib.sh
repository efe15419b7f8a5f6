# Shared by the bench scripts: build rhi, a temp dir, and a passive BIRD receiver on loopback,
# all stopped by PID (and the dir removed) on exit.
#   source integration/bench/lib.sh; bench_setup NAME NET   (NET like 127.47.0: BIRD .1, rhi .2)
# Sets: rhi (binary), dir, bird_pid; the script sets rhi_pid when it starts rhi.

bench_setup() {
  local name=$1 net=$2
  export PATH="$PATH:/usr/sbin:/sbin"
  cargo build --release --quiet
  rhi=$PWD/target/release/rhi
  dir=$(mktemp -d "/tmp/rhi-bench-$name.XXXXXX")
  bird_pid="" rhi_pid=""
  trap bench_cleanup EXIT INT TERM
  cat > "$dir/bird.conf" <<CONF
log "$dir/bird.log" all;
router id $net.1;
protocol device { }
protocol bgp inj {
  local $net.1 port 1179 as 65000;
  neighbor $net.2 port 1179 as 65010;
  multihop; strict bind yes; passive yes;
  ipv4 { import all; export none; };
}
CONF
  bird -f -c "$dir/bird.conf" -s "$dir/bird.ctl" -P "$dir/bird.pid" &
  bird_pid=$!
  for _ in $(seq 100); do [ -S "$dir/bird.ctl" ] && break; sleep 0.05; done
}

bench_cleanup() {
  [ -n "$rhi_pid" ] && kill -9 "$rhi_pid" 2>/dev/null || true
  [ -n "$bird_pid" ] && kill "$bird_pid" 2>/dev/null || true
  rm -rf "$dir"
}

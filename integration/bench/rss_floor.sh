#!/usr/bin/env bash
# The idle-RSS floor under `rhi run`: what the mandated crate stack costs before rhi's own code.
#
#   integration/bench/rss_floor.sh [VARIANT...]     (needs bird2; never builds rhi)
#
# Measures, one after another, each idle for a second after it is up:
#   sleep       coreutils `sleep 30`: the ld.so + libc floor of any dynamically linked program
#   std-idle    a Rust main() that only sleeps, same profile: + Rust std
#   rss-floor   integration/bench/rss_floor/: clap, serde_yaml, tracing, a current-thread tokio
#               runtime, a reqwest Client, a hyper http1 listener and one TCP connection to the
#               passive BIRD, idle on a 1 s timer: + the mandated crates, none of rhi's code
#   rhi         `rhi run` with startup.sh's config (one Established BGP session), if RHI_BIN is set
#               or target/release/rhi exists (this script does not build it)
# Each VARIANT adds an rss-floor build, in its own target dir under target/: an opt-level (`s`,
# `z`, `2`...: --config profile.release.opt-level), `musl` (static, x86_64-unknown-linux-musl) or
# `crt-static` (static glibc). `RSS_FLOOR_RUNS=N` (default 3) measures each process N times and
# keeps the run with the median VmRSS (shared-library residency moves by ~100 kB between runs).
# For each process: VmRSS / RssAnon / RssFile from /proc/PID/status, Rss per mapping group from
# /proc/PID/smaps (the binary, its r-x mapping alone, libc, ld.so, libgcc_s, other files, [heap],
# [stack], other anonymous), and the binary's file and .text sizes. All kB. The floor is then sent
# one HTTP GET and its VmRSS read again (after-GET).
# Everything runs on 127.45.0.0/24 and is stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
# An unset RHI_BIN would make bench_setup build rhi: point it at the usual path instead.
RHI_BIN=${RHI_BIN:-$PWD/target/release/rhi}
source integration/bench/lib.sh
manifest=integration/bench/rss_floor/Cargo.toml

# Build before BIRD starts (a cold build takes minutes). Target dirs under target/, never the
# root package's own target/release.
floors=()   # "label binary-dir" pairs
build_floor() {   # build_floor LABEL TARGET_DIR BIN_SUBDIR [cargo args...]
  local label=$1 target=$2 sub=$3; shift 3
  cargo build --release --quiet --manifest-path "$manifest" --target-dir "$target" "$@"
  floors+=("$label $PWD/$target/$sub")
}
build_floor profile target/rss-floor release
host=$(rustc -vV | awk '/^host:/ {print $2}')
for variant in "$@"; do
  case $variant in
    musl)   # static musl: no ld.so / libc.so / libgcc_s mappings at all
      build_floor musl target/rss-floor-musl x86_64-unknown-linux-musl/release \
        --target x86_64-unknown-linux-musl ;;
    crt-static)   # static glibc (same libc, linked in: only the objects it uses)
      build_floor crt-static target/rss-floor-crt-static "$host/release" --target "$host" \
        --config "target.$host.rustflags=[\"-C\", \"target-feature=+crt-static\"]" ;;
    *)
      build_floor "opt-$variant" "target/rss-floor-opt-$variant" release \
        --config "profile.release.opt-level=\"$variant\"" ;;
  esac
done

bench_setup rssfloor 127.45.0
metrics=127.45.0.2:19180
cat > "$dir/floor.yaml" <<EOF
peer: 127.45.0.1
port: 1179
local_address: 127.45.0.2
metrics: $metrics
prefix: 10.46.46.46/32
keepalive: 1s
EOF
bench_rhi_config 127.45.0 <<EOF
vips:
  - {prefix: 10.46.46.46/32, med: 300}
EOF

# One row on stdout: status counters, smaps Rss summed per mapping group, file and .text sizes.
measure() {   # measure PID
  local pid=$1 exe
  exe=$(readlink "/proc/$pid/exe")
  local status smaps
  status=$(awk '/^(VmRSS|RssAnon|RssFile):/ {printf "%s ", $2}' "/proc/$pid/status")
  smaps=$(awk -v exe="$exe" '
    /^[0-9a-f]+-[0-9a-f]+ / { perms = $2; path = (NF >= 6) ? $6 : ""
      if (path == exe) g = "bin"; else if (path ~ /\/libc\.so/) g = "libc"
      else if (path ~ /\/ld-linux|\/ld\.so/) g = "ldso"; else if (path ~ /\/libgcc_s/) g = "libgcc"
      else if (path == "[heap]") g = "heap"; else if (path == "[stack]") g = "stack"
      else if (path ~ /^\//) g = "files"; else g = "anon"   # anon includes [vdso]/[vvar]
      next }
    /^Rss:/ { rss[g] += $2; if (g == "bin" && perms ~ /x/) binx += $2 }
    END { printf "%d %d %d %d %d %d %d %d %d", rss["bin"], binx, rss["libc"], rss["ldso"],
          rss["libgcc"], rss["files"], rss["heap"], rss["stack"], rss["anon"] }' "/proc/$pid/smaps")
  local size text
  size=$(( $(stat -c %s "$exe") / 1024 ))
  text=$(( $(size -A "$exe" | awk '$1 == ".text" {print $2}') / 1024 ))
  echo "$status$smaps $size $text"
}

# Start a process, wait for its "up" line on stderr (or just start it), settle 1 s, measure;
# RSS_FLOOR_RUNS times, keeping the run with the median VmRSS (and the VmRSS range).
runs=${RSS_FLOOR_RUNS:-3}
rows=()
run_measured() {   # run_measured LABEL UP_REGEX CMD...
  local label=$1 up=$2; shift 2
  local samples=() run pid get
  for run in $(seq "$runs"); do
    : > "$dir/proc.log"
    "$@" 2> "$dir/proc.log" &
    pid=$!
    bench_pids=("$pid")
    if [ -n "$up" ]; then
      for _ in $(seq 500); do grep -qE "$up" "$dir/proc.log" && break; sleep 0.01; done
      grep -qE "$up" "$dir/proc.log" || { echo "$label: never up"; cat "$dir/proc.log"; exit 1; }
    fi
    sleep 1   # settle into the idle state before reading RSS (not synchronisation)
    kill -0 "$pid" || { echo "$label exited"; cat "$dir/proc.log"; exit 1; }
    get=-
    if [[ $label == rss-floor* ]]; then   # then one request to its hyper endpoint
      samples+=("$(measure "$pid")")
      curl -sf "http://$metrics/" > /dev/null
      sleep 0.2
      get=$(rss_kb "$pid")
      samples[-1]+=" $get"
    else
      samples+=("$(measure "$pid") $get")
    fi
    kill -TERM "$pid"; wait "$pid" || true; bench_pids=()
    # BIRD must see a session go before the next process connects again.
    for _ in $(seq 200); do birdc_ show protocols inj | grep -qE 'Established|OpenSent|OpenConfirm' || break; sleep 0.02; done
  done
  local sorted median
  sorted=$(printf '%s\n' "${samples[@]}" | sort -n -k1,1)
  median=$(echo "$sorted" | sed -n "$(( (runs + 1) / 2 ))p")
  rows+=("$label $median $(echo "$sorted" | head -1 | cut -d' ' -f1)-$(echo "$sorted" | tail -1 | cut -d' ' -f1)")
}

run_measured sleep "" sleep 30
run_measured std-idle "" "$(echo "${floors[0]}" | cut -d' ' -f2)/std-idle"
for floor in "${floors[@]}"; do
  read -r label bindir <<< "$floor"
  run_measured "rss-floor($label)" 'connected' "$bindir/rss-floor" -c "$dir/floor.yaml"
done
if [ -x "$rhi" ]; then
  RUST_LOG=info run_measured rhi 'session established' "$rhi" run -c "$dir/rhi.yaml" --log-format json
else
  echo "(no rhi binary at $rhi: RHI_BIN=PATH to include it)"
fi

{
  echo "process VmRSS RssAnon RssFile bin bin-r-x libc ld.so libgcc_s files heap stack anon file-size .text after-GET VmRSS-range"
  printf '%s\n' "${rows[@]}"
} | column -t
echo "(kB, the median-VmRSS run of $runs; bin = all mappings of the binary, bin-r-x = its executable"
echo " mapping; anon includes [vdso]/[vvar]; after-GET = the floor's VmRSS after one request to its hyper endpoint)"
echo "$(rustc --version), $(uname -r), $(uname -m), $(nproc) cores"

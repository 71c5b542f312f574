#!/usr/bin/env bash
# CNI ADD latency, Petrel (petrel-agent + petrel-cni) against the reference bridge + host-local
# plugins, side by side in one run: N pods one after another (serial), then C pods at once
# (concurrent). Each ADD is timed from the runtime's point of view (fork/exec of the plugin
# from the node netns until it exits). Reports p50/p99 per phase, the wall time of the
# concurrent batch, and DEL p50; ratios are Petrel/bridge.
#
# Usage (root, after `ninja -C build`): bench/cni_add.sh [-n SERIAL_PODS] [-c CONCURRENT_PODS]
#   PETREL_BIN_DIR overrides build/bin. Everything it creates is removed on exit.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

SERIAL=100
CONCURRENT=20
while getopts "n:c:" opt; do
  case $opt in
    n) SERIAL=$OPTARG ;;
    c) CONCURRENT=$OPTARG ;;
    *) die "usage: $0 [-n SERIAL_PODS] [-c CONCURRENT_PODS]" ;;
  esac
done
TOTAL=$((SERIAL + CONCURRENT))
[ "$TOTAL" -le 250 ] || die "at most 250 pods in total (one /24 per plugin)"

require ip nsenter "$BIN_DIR/petrel-agent" "$BIN_DIR/petrel-cni" "$BIN_DIR/petrel" \
  "$REF_CNI_DIR/bridge" "$REF_CNI_DIR/host-local"

now_us() { echo $(($(date +%s%N) / 1000)); }

# timed_cni OUTFILE NODE PLUGIN CMD POD CONF: appends the call's duration in ms to OUTFILE.
timed_cni() {
  local out=$1 node=$2 plugin=$3 cmd=$4 pod=$5 conf=$6 t0 t1
  t0=$(now_us)
  cni "$node" "$plugin" "$cmd" "$pod" "$pod" "$conf" >"$BENCH_TMP/$pod.$cmd.out" 2>&1 ||
    { echo "bench: $cmd $pod failed: $(cat "$BENCH_TMP/$pod.$cmd.out")" >&2; return 1; }
  t1=$(now_us)
  awk -v d=$((t1 - t0)) 'BEGIN { printf "%.2f\n", d / 1000 }' >>"$out"
}

# run_plugin NAME PLUGIN_BIN CONF NODE: serial ADDs, concurrent ADDs, then DEL of all pods.
run_plugin() {
  local name=$1 plugin=$2 conf=$3 node=$4 i pod t0 t1 failed=0
  local pods=()
  for i in $(seq "$TOTAL"); do
    pod="$BENCH_ID-${name:0:1}$i"
    netns_add "$pod"
    pods+=("$pod")
  done
  # Warm the page cache / agent connection once, outside the measurement.
  netns_add "$BENCH_ID-${name:0:1}w"
  cni "$node" "$plugin" ADD "$BENCH_ID-${name:0:1}w" "$BENCH_ID-${name:0:1}w" "$conf" >/dev/null ||
    die "$name: warm-up ADD failed"
  cni "$node" "$plugin" DEL "$BENCH_ID-${name:0:1}w" "$BENCH_ID-${name:0:1}w" "$conf" >/dev/null

  for i in $(seq 0 $((SERIAL - 1))); do
    timed_cni "$BENCH_TMP/$name.serial" "$node" "$plugin" ADD "${pods[$i]}" "$conf" ||
      die "$name: serial ADD failed"
  done
  t0=$(now_us)
  local bg=()
  for i in $(seq "$SERIAL" $((TOTAL - 1))); do
    timed_cni "$BENCH_TMP/$name.concurrent" "$node" "$plugin" ADD "${pods[$i]}" "$conf" &
    bg+=($!)
  done
  for i in "${bg[@]}"; do wait "$i" || failed=1; done
  t1=$(now_us)
  [ "$failed" -eq 0 ] || die "$name: a concurrent ADD failed"
  awk -v d=$((t1 - t0)) 'BEGIN { printf "%.1f\n", d / 1000 }' >"$BENCH_TMP/$name.wall"
  # Every pod got its own address.
  local ips
  ips=$(for pod in "${pods[@]}"; do pod_ip "$pod"; done | sort -u | grep -c .)
  [ "$ips" -eq "$TOTAL" ] || die "$name: $ips distinct pod addresses for $TOTAL pods"
  for pod in "${pods[@]}"; do
    timed_cni "$BENCH_TMP/$name.del" "$node" "$plugin" DEL "$pod" "$conf" || die "$name: DEL"
  done
  echo "$name: $TOTAL pods added and deleted" >&2
}

netns_add "$BENCH_ID-bn"
run_plugin bridge "$REF_CNI_DIR/bridge" "$(bridge_conf 10.204.0.0/24 "br$BENCH_ID")" "$BENCH_ID-bn"

netns_add "$BENCH_ID-pn"
agent_start "$BENCH_ID-pn" 10.205.0.0/24
run_plugin petrel "$BIN_DIR/petrel-cni" "$(petrel_conf "$AGENT_SOCKET")" "$BENCH_ID-pn"

stat_of() { percentile "$2" <"$BENCH_TMP/$1"; }

line() {
  local label=$1 b=$2 p=$3
  printf '%-34s %10s %10s %14s\n' "$label" "$b" "$p" "$(ratio "$p" "$b")"
}

echo
echo "CNI ADD latency in ms ($SERIAL serial, $CONCURRENT concurrent; $(nproc) CPUs, $(uname -r))"
printf '%-34s %10s %10s %14s\n' metric bridge petrel petrel/bridge
for phase in serial concurrent; do
  for p in 50 99; do
    line "ADD $phase p$p" "$(stat_of "bridge.$phase" "$p")" "$(stat_of "petrel.$phase" "$p")"
  done
done
line "concurrent batch wall time" "$(cat "$BENCH_TMP/bridge.wall")" "$(cat "$BENCH_TMP/petrel.wall")"
line "DEL p50" "$(stat_of bridge.del 50)" "$(stat_of petrel.del 50)"

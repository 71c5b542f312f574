#!/usr/bin/env bash
# Pod-to-pod throughput and latency, side by side in one run:
#   veth   - a bare veth pair between two namespaces (the floor: no CNI, no node hop)
#   bridge - two pods wired by the reference bridge + host-local CNI plugins in a node netns
#   petrel - two pods wired by petrel-agent + petrel-cni in a node netns (tc BPF, redirect_peer)
# Each round runs every setup once (interleaved, so drift hits all alike); the table shows the
# median over rounds of iperf3 single-stream TCP throughput and TCP request/response latency
# (1-byte ping-pong on one connection, p50/p99), plus the ratios Petrel/bridge and Petrel/veth.
#
# Usage (root, after `ninja -C build`): bench/pod_to_pod.sh [-r ROUNDS] [-t SECONDS]
#   PETREL_BIN_DIR overrides build/bin. Everything it creates is removed on exit.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

ROUNDS=3
SECS=3
while getopts "r:t:" opt; do
  case $opt in
    r) ROUNDS=$OPTARG ;;
    t) SECS=$OPTARG ;;
    *) die "usage: $0 [-r ROUNDS] [-t SECONDS]" ;;
  esac
done

require ip nsenter iperf3 ss "$BIN_DIR/petrel-agent" "$BIN_DIR/petrel-cni" "$BIN_DIR/petrel" \
  "$BIN_DIR/petrel-bench-rr" "$REF_CNI_DIR/bridge" "$REF_CNI_DIR/host-local"

IPERF_PORT=5201
RR_PORT=7001
declare -A CLIENT SERVER SERVER_IP

# --- (a) bare veth pair
setup_veth() {
  local a="$BENCH_ID-va" b="$BENCH_ID-vb"
  netns_add "$a"
  netns_add "$b"
  ip link add "${BENCH_ID}va0" netns "$a" type veth peer name "${BENCH_ID}vb0" netns "$b" ||
    die "veth pair"
  ip -n "$a" addr add 10.201.0.1/24 dev "${BENCH_ID}va0"
  ip -n "$b" addr add 10.201.0.2/24 dev "${BENCH_ID}vb0"
  ip -n "$a" link set "${BENCH_ID}va0" up
  ip -n "$b" link set "${BENCH_ID}vb0" up
  CLIENT[veth]=$a SERVER[veth]=$b SERVER_IP[veth]=10.201.0.2
}

# --- (b) reference bridge + host-local in a node netns
setup_bridge() {
  local node="$BENCH_ID-bn" p1="$BENCH_ID-b1" p2="$BENCH_ID-b2"
  local conf
  conf=$(bridge_conf 10.202.0.0/24 "br$BENCH_ID")
  netns_add "$node"
  netns_add "$p1"
  netns_add "$p2"
  cni "$node" "$REF_CNI_DIR/bridge" ADD "$p1" "$p1" "$conf" >/dev/null || die "bridge ADD $p1"
  cni "$node" "$REF_CNI_DIR/bridge" ADD "$p2" "$p2" "$conf" >/dev/null || die "bridge ADD $p2"
  CLIENT[bridge]=$p1 SERVER[bridge]=$p2 SERVER_IP[bridge]=$(pod_ip "$p2")
}

# --- (c) Petrel
setup_petrel() {
  local node="$BENCH_ID-pn" p1="$BENCH_ID-p1" p2="$BENCH_ID-p2"
  netns_add "$node"
  netns_add "$p1"
  netns_add "$p2"
  agent_start "$node" 10.203.0.0/24
  local conf
  conf=$(petrel_conf "$AGENT_SOCKET")
  cni "$node" "$BIN_DIR/petrel-cni" ADD "$p1" "$p1" "$conf" >/dev/null || die "petrel ADD $p1"
  cni "$node" "$BIN_DIR/petrel-cni" ADD "$p2" "$p2" "$conf" >/dev/null || die "petrel ADD $p2"
  CLIENT[petrel]=$p1 SERVER[petrel]=$p2 SERVER_IP[petrel]=$(pod_ip "$p2")
}

SETUPS=(veth bridge petrel)
setup_veth
setup_bridge
setup_petrel

for s in "${SETUPS[@]}"; do
  [ -n "${SERVER_IP[$s]}" ] || die "$s: server pod has no address"
  bg_in_ns "${SERVER[$s]}" iperf3 -s -p "$IPERF_PORT"
  bg_in_ns "${SERVER[$s]}" "$BIN_DIR/petrel-bench-rr" server --port "$RR_PORT"
  wait_port "${SERVER[$s]}" "$IPERF_PORT"
  wait_port "${SERVER[$s]}" "$RR_PORT"
  in_ns "${CLIENT[$s]}" ping -c 1 -W 2 "${SERVER_IP[$s]}" >/dev/null || die "$s: no connectivity"
done

declare -A GBPS P50 P99
for round in $(seq "$ROUNDS"); do
  for s in "${SETUPS[@]}"; do
    out=$(in_ns "${CLIENT[$s]}" iperf3 -c "${SERVER_IP[$s]}" -p "$IPERF_PORT" -t "$SECS" -f m) ||
      die "$s: iperf3 failed: $out"
    mbps=$(awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i-1) }' \
      <<<"$out")
    gbps=$(awk -v m="$mbps" 'BEGIN { printf "%.2f", m / 1000 }')
    rr=$(in_ns "${CLIENT[$s]}" "$BIN_DIR/petrel-bench-rr" client --host "${SERVER_IP[$s]}" \
      --port "$RR_PORT" --seconds "$SECS") || die "$s: latency run failed"
    p50=$(sed -n 's/.*p50_us=\([0-9.]*\).*/\1/p' <<<"$rr")
    p99=$(sed -n 's/.*p99_us=\([0-9.]*\).*/\1/p' <<<"$rr")
    GBPS[$s]+="$gbps " P50[$s]+="$p50 " P99[$s]+="$p99 "
    printf 'round %d %-6s  %6s Gbit/s  rr p50 %6s us  p99 %6s us\n' "$round" "$s" "$gbps" \
      "$p50" "$p99" >&2
  done
done

# shellcheck disable=SC2086
row() {
  local name=$1 unit=$2
  local -n data=$3
  local v b p
  v=$(median ${data[veth]}) b=$(median ${data[bridge]}) p=$(median ${data[petrel]})
  printf '%-22s %10s %10s %10s %14s %12s\n' "$name ($unit)" "$v" "$b" "$p" "$(ratio "$p" "$b")" \
    "$(ratio "$p" "$v")"
}

echo
echo "pod-to-pod, median of $ROUNDS rounds, ${SECS}s each ($(nproc) CPUs, $(uname -r))"
printf '%-22s %10s %10s %10s %14s %12s\n' metric veth bridge petrel petrel/bridge petrel/veth
row "TCP throughput" Gbit/s GBPS
row "TCP RR latency p50" us P50
row "TCP RR latency p99" us P99

#!/usr/bin/env bash
# Cross-node pod-to-pod throughput and latency over VXLAN, side by side in one run:
#   petrel   - two pods of a 2-node petrel-sandbox (client on node-1, server on node-2), wired by
#              petrel-cni; petrel-agent's tunnel mode (collect_md petrel_vxlan, tunnel key set by
#              BPF, delivery with bpf_redirect_peer)
#   baseline - plain Linux VXLAN between the SAME two node namespaces, no BPF: in each node a
#              classic vxlan device (VNI 42, dstport 4789, fixed remote) and a veth into a
#              "baseline pod" namespace, routed by the node's stack; MTU 1450 like Petrel's pods.
#              Path: veth -> node stack -> vxlan -> underlay bridge -> vxlan -> node stack -> veth
# Native routing mode is not implemented in Petrel yet; only tunnel mode is measured.
# Rounds alternate which setup goes first; the table shows medians over rounds of iperf3
# single-stream TCP throughput (client->server and, with -R, server->client) and TCP
# request/response latency (1-byte ping-pong on one connection, p50/p99, petrel-bench-rr), and
# the ratios Petrel/baseline.
#
# Usage (root, after `ninja -C build petrel-sandbox petrel-agent petrel-cni petrel-kubelet
#   petrel-apiserver petrel-controller petrel-operator petrel-workload petrel petrel-bench-rr`):
#   bench/cross_node.sh [-r ROUNDS] [-t IPERF_SECONDS] [-l RR_SECONDS]
# PETREL_BIN_DIR overrides build/bin. The sandbox (own prefix, subnets, API port and state dir)
# and everything else it creates are removed on exit, also on Ctrl-C or failure.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

ROUNDS=3
SECS=10
RR_SECS=5
while getopts "r:t:l:" opt; do
  case $opt in
    r) ROUNDS=$OPTARG ;;
    t) SECS=$OPTARG ;;
    l) RR_SECS=$OPTARG ;;
    *) die "usage: $0 [-r ROUNDS] [-t IPERF_SECONDS] [-l RR_SECONDS]" ;;
  esac
done

require ip nsenter tc iperf3 ss jq kubectl "$BIN_DIR/petrel-sandbox" "$BIN_DIR/petrel-agent" \
  "$BIN_DIR/petrel-cni" "$BIN_DIR/petrel-kubelet" "$BIN_DIR/petrel-apiserver" \
  "$BIN_DIR/petrel-controller" "$BIN_DIR/petrel-operator" "$BIN_DIR/petrel-workload" \
  "$BIN_DIR/petrel" "$BIN_DIR/petrel-bench-rr"

IPERF_PORT=5201
RR_PORT=7001
MTU=1450
SBX_DIR=/tmp/petrel-bench-xnode-$$
SBX_PREFIX="pxn$$"
SBX_UP=0

xnode_cleanup() {
  bench_cleanup
  if [ "$SBX_UP" = 1 ]; then
    local out
    if ! out=$("$BIN_DIR/petrel-sandbox" --state-dir "$SBX_DIR" down --prefix "$SBX_PREFIX" 2>&1); then
      printf '%s\nbench: petrel-sandbox down failed; run: %s --state-dir %s down --prefix %s\n' \
        "$out" "$BIN_DIR/petrel-sandbox" "$SBX_DIR" "$SBX_PREFIX" >&2
      return
    fi
  fi
  rm -rf "$SBX_DIR"
}
trap xnode_cleanup EXIT

# Subnets and a port nobody else on this machine uses (e2e sandboxes take 172.31.x / 10.100-199,
# the other benches 10.201-205 and 192.168.250).
pick_free() {
  local i
  for i in $(seq 0 79); do
    NET_N=$(((20 + $$ + i) % 80 + 20))
    ip route show | grep -q "^10\.$NET_N\.\|^172\.30\.$NET_N\." || return 0
  done
  die "no free 10.N.0.0/16 (N in 20-99) for the sandbox"
}
pick_free
POD_NET="10.$NET_N"
UNDERLAY_NET="172.30.$NET_N"
API_PORT=$((20000 + $$ % 20000))
while [ -n "$(ss -Htln "sport = :$API_PORT")" ]; do API_PORT=$((API_PORT + 1)); done

# --- Petrel: a 2-node sandbox and two pods
echo "bench: petrel-sandbox up (prefix $SBX_PREFIX, underlay $UNDERLAY_NET.0/24, pods $POD_NET.0.0/16)" >&2
mkdir -p "$SBX_DIR"
SBX_UP=1
"$BIN_DIR/petrel-sandbox" --state-dir "$SBX_DIR" up --nodes 2 --prefix "$SBX_PREFIX" \
  --underlay-net "$UNDERLAY_NET" --pod-net "$POD_NET" --api-port "$API_PORT" \
  >"$BENCH_TMP/sandbox-up.log" 2>&1 || { cat "$BENCH_TMP/sandbox-up.log" >&2; die "petrel-sandbox up failed"; }

KUBECTL=(kubectl --kubeconfig "$SBX_DIR/kubeconfig")
pod_yaml() {
  printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: default}\nspec:\n  nodeName: %s\n  containers: [{name: c, image: none, command: [sleep, infinity]}]\n---\n' "$1" "$2"
}
{ pod_yaml xn-client node-1; pod_yaml xn-server node-2; } | "${KUBECTL[@]}" apply -f - >/dev/null ||
  die "kubectl apply of the bench pods failed"
"${KUBECTL[@]}" wait --for=condition=Ready pod/xn-client pod/xn-server --timeout=90s >/dev/null ||
  die "bench pods did not become Ready"

STATUS=$("$BIN_DIR/petrel-sandbox" --state-dir "$SBX_DIR" status -o json) || die "sandbox status"
jqs() { jq -r "$1" <<<"$STATUS"; }
declare -A NODE_NS NODE_IP CLIENT SERVER SERVER_IP
for i in 1 2; do
  NODE_NS[$i]=$(jqs ".nodes[] | select(.name == \"node-$i\") | .netns")
  NODE_IP[$i]=$(jqs ".nodes[] | select(.name == \"node-$i\") | .ip")
done
CLIENT[petrel]=$(jqs '.pods[] | select(.name == "xn-client") | .netns')
SERVER[petrel]=$(jqs '.pods[] | select(.name == "xn-server") | .netns')
SERVER_IP[petrel]=$(jqs '.pods[] | select(.name == "xn-server") | .ip')
in_ns "${CLIENT[petrel]}" ip -o link show eth0 | grep -q "mtu $MTU " ||
  die "Petrel's pod MTU is not $MTU; the baseline would not be comparable"

# --- Baseline: plain Linux VXLAN between the same node namespaces, no BPF.
# Node i: vxlan vx-base (10.N.250.i/24), veth bveth0 (10.N.20i.1/24) to pod netns eth0
# (10.N.20i.2/24); route to the other baseline pod via the other node's vx-base address.
setup_baseline() {
  local i other node pod
  for i in 1 2; do
    other=$((3 - i)) node=${NODE_NS[$i]} pod="$BENCH_ID-xb$i"
    netns_add "$pod"
    # No outer UDP checksum (the kernel default for IPv4), as Petrel's tunnel key asks for
    # (BPF_F_ZERO_CSUM_TX); the device flags otherwise match petrel_vxlan's.
    ip -n "$node" link add vx-base type vxlan id 42 dstport 4789 local "${NODE_IP[$i]}" \
      remote "${NODE_IP[$other]}" dev eth0 noudpcsum || die "baseline vxlan in $node"
    ip -n "$node" link set vx-base mtu "$MTU" up
    ip -n "$node" addr add "$POD_NET.250.$i/24" dev vx-base
    ip -n "$node" link add bveth0 type veth peer name eth0 netns "$pod" || die "baseline veth in $node"
    ip -n "$node" addr add "$POD_NET.20$i.1/24" dev bveth0
    ip -n "$node" link set bveth0 mtu "$MTU" up
    ip -n "$pod" addr add "$POD_NET.20$i.2/24" dev eth0
    ip -n "$pod" link set eth0 mtu "$MTU" up
    ip -n "$pod" route add default via "$POD_NET.20$i.1"
    ip -n "$node" route add "$POD_NET.20$other.0/24" via "$POD_NET.250.$other" dev vx-base ||
      die "baseline route in $node"
  done
  CLIENT[baseline]="$BENCH_ID-xb1" SERVER[baseline]="$BENCH_ID-xb2"
  SERVER_IP[baseline]="$POD_NET.202.2"
  # Nothing of Petrel's may sit on the baseline path.
  local dev dir
  for i in 1 2; do
    for dev in eth0 vx-base bveth0; do
      for dir in ingress egress; do
        [ -z "$(in_ns "${NODE_NS[$i]}" tc filter show dev "$dev" "$dir" 2>/dev/null)" ] ||
          die "baseline path has a tc filter: ${NODE_NS[$i]} $dev $dir"
      done
    done
  done
}
setup_baseline

SETUPS=(petrel baseline)
for s in "${SETUPS[@]}"; do
  if [ -z "${SERVER_IP[$s]}" ] || [ -z "${CLIENT[$s]}" ]; then
    die "$s: pod netns or address missing"
  fi
  bg_in_ns "${SERVER[$s]}" iperf3 -s -p "$IPERF_PORT"
  bg_in_ns "${SERVER[$s]}" "$BIN_DIR/petrel-bench-rr" server --port "$RR_PORT"
  wait_port "${SERVER[$s]}" "$IPERF_PORT"
  wait_port "${SERVER[$s]}" "$RR_PORT"
  in_ns "${CLIENT[$s]}" ping -c 1 -W 2 "${SERVER_IP[$s]}" >/dev/null ||
    in_ns "${CLIENT[$s]}" ping -c 2 -W 2 "${SERVER_IP[$s]}" >/dev/null || die "$s: no connectivity"
  # A full-size packet must pass with DF set (1450 - 28 bytes of IP/ICMP header).
  in_ns "${CLIENT[$s]}" ping -c 1 -W 2 -M "do" -s $((MTU - 28)) "${SERVER_IP[$s]}" >/dev/null ||
    die "$s: a $MTU-byte packet does not pass"
done

# iperf_gbps SETUP [-R]: receiver throughput of one single-stream run, Gbit/s.
iperf_gbps() {
  local s=$1 out
  shift
  out=$(in_ns "${CLIENT[$s]}" iperf3 -c "${SERVER_IP[$s]}" -p "$IPERF_PORT" -t "$SECS" -J "$@") ||
    die "$s: iperf3 $* failed: $(jq -r '.error // empty' <<<"$out")"
  jq -r '.end.sum_received.bits_per_second / 1e9 * 100 | round / 100' <<<"$out"
}

declare -A UP DOWN P50 P99
for round in $(seq "$ROUNDS"); do
  order=("${SETUPS[@]}")
  [ $((round % 2)) -eq 0 ] && order=(baseline petrel)
  for s in "${order[@]}"; do
    up=$(iperf_gbps "$s") || exit 1
    down=$(iperf_gbps "$s" -R) || exit 1
    rr=$(in_ns "${CLIENT[$s]}" "$BIN_DIR/petrel-bench-rr" client --host "${SERVER_IP[$s]}" \
      --port "$RR_PORT" --seconds "$RR_SECS") || die "$s: latency run failed"
    p50=$(sed -n 's/.*p50_us=\([0-9.]*\).*/\1/p' <<<"$rr")
    p99=$(sed -n 's/.*p99_us=\([0-9.]*\).*/\1/p' <<<"$rr")
    UP[$s]+="$up " DOWN[$s]+="$down " P50[$s]+="$p50 " P99[$s]+="$p99 "
    printf 'round %d %-8s  c->s %6s Gbit/s  s->c %6s Gbit/s  rr p50 %7s us  p99 %7s us\n' \
      "$round" "$s" "$up" "$down" "$p50" "$p99" >&2
  done
done

# row NAME UNIT ARRAY higher|lower: medians, the ratio, and which side is better (within 3 %: tie).
# shellcheck disable=SC2086
row() {
  local name=$1 unit=$2 better=$4
  local -n data=$3
  local b p r verdict
  b=$(median ${data[baseline]}) p=$(median ${data[petrel]})
  r=$(ratio "$p" "$b")
  verdict=$(awk -v r="$r" -v hb="$better" 'BEGIN {
    if (r == "n/a") { print "n/a"; exit }
    if (r >= 0.97 && r <= 1.03) { print "tie (within 3%)"; exit }
    if ((hb == "higher") == (r > 1)) print "petrel"; else print "baseline" }')
  printf '%-30s %10s %10s %16s  %s\n' "$name ($unit)" "$b" "$p" "$r" "$verdict"
  [ "$verdict" = petrel ] && PETREL_WINS=$((PETREL_WINS + 1))
  [ "$verdict" = baseline ] && BASE_WINS=$((BASE_WINS + 1))
  return 0
}

PETREL_WINS=0 BASE_WINS=0
echo
echo "cross-node pod-to-pod over VXLAN (Petrel tunnel mode vs plain Linux vxlan, same node"
echo "namespaces), median of $ROUNDS rounds; iperf3 ${SECS}s single stream, rr ${RR_SECS}s; MTU $MTU"
echo "($(nproc) CPUs, $(uname -r)); native routing mode: not implemented in Petrel yet, not measured"
printf '%-30s %10s %10s %16s  %s\n' metric baseline petrel petrel/baseline better
row "TCP throughput c->s" Gbit/s UP higher
row "TCP throughput s->c" Gbit/s DOWN higher
row "TCP RR latency p50" us P50 lower
row "TCP RR latency p99" us P99 lower
echo "(throughput: higher is better; latency: lower is better)"
if [ "$PETREL_WINS" -gt "$BASE_WINS" ]; then
  echo "verdict: Petrel is better ($PETREL_WINS of 4 metrics beyond 3%, baseline $BASE_WINS)"
elif [ "$BASE_WINS" -gt "$PETREL_WINS" ]; then
  echo "verdict: the plain Linux VXLAN path is better ($BASE_WINS of 4 metrics beyond 3%, Petrel $PETREL_WINS)"
else
  echo "verdict: even (Petrel better on $PETREL_WINS, baseline on $BASE_WINS of 4 metrics beyond 3%)"
fi

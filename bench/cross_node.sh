#!/usr/bin/env bash
# Cross-node pod-to-pod throughput and latency, side by side in one run, in three modes:
#   collect-md: petrel - two pods of a 2-node petrel-sandbox in tunnel mode with the default
#                      overlay device (client on node-1, server on node-2), wired by petrel-cni;
#                      petrel_vxlan is an external (collect_md) device, the egress program sets
#                      each packet's tunnel key (remote node, VNI = source identity); the
#                      receiving uplink's tc program decapsulates and delivers with
#                      bpf_redirect_peer; pod MTU 1450. Path: pod -> lxc (tc, redirect) ->
#                      petrel_vxlan (tc: tunnel key) -> eth0 -> underlay bridge -> eth0 (tc:
#                      decapsulation, redirect into the pod) -> pod
#           baseline - plain Linux VXLAN between the SAME two node namespaces, no BPF: in each
#                      node a classic vxlan device (VNI 42, dstport 4789, fixed remote) and a veth
#                      into a "baseline pod" namespace, routed by the node's stack; MTU 1450.
#                      Path: veth -> node stack -> vxlan -> underlay bridge -> vxlan -> node
#                      stack -> veth
#   classic: the same with the agents' --vxlan-mode classic: petrel_vxlan has VNI 1 and a
#                      forwarding entry per remote node (the inner destination MAC set by BPF);
#                      same baseline
#   native: petrel   - the same in a sandbox started with --routing-mode native: the agents route
#                      the other node's pod CIDR via its node IP on eth0, no encapsulation; pod
#                      MTU 1500. Path: pod -> lxc (tc: FIB next hop, redirect) -> eth0 ->
#                      underlay bridge -> eth0 (tc: redirect into the pod) -> pod
#           baseline - plain Linux routing between the SAME two node namespaces, no BPF: in each
#                      node a veth into a "baseline pod" namespace and a kernel route to the other
#                      baseline pod's subnet via the other node's IP on eth0; MTU 1500.
#                      Path: veth -> node stack -> eth0 -> underlay bridge -> eth0 -> node stack
#                      -> veth
# The modes run one after the other, each in its own sandbox (torn down before the next).
# Within a mode, rounds alternate which setup goes first; the tables show medians over rounds of
# iperf3 single-stream TCP throughput (client->server and, with -R, server->client) and TCP
# request/response latency (1-byte ping-pong on one connection, p50/p99, petrel-bench-rr), and
# the ratios Petrel/baseline.
#
# Usage (root, after `ninja -C build petrel-sandbox petrel-agent petrel-cni petrel-kubelet
#   petrel-operator petrel-workload petrel petrel-bench-rr`, and scripts/build-k8s.sh):
#   bench/cross_node.sh [-m MODE[,MODE...]] [-r ROUNDS] [-t IPERF_SECONDS] [-l RR_SECONDS]
#   MODE: collect-md, classic or native (default: all three; "tunnel" = collect-md, the default
#   device; "both" = collect-md,native)
# PETREL_BIN_DIR overrides build/bin. The sandboxes (own prefix, subnets, API port and state dir)
# and everything else it creates are removed on exit, also on Ctrl-C or failure.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

MODES=(collect-md classic native)
ROUNDS=3
SECS=10
RR_SECS=5
usage="usage: $0 [-m collect-md|classic|native|tunnel|both[,...]] [-r ROUNDS] [-t IPERF_SECONDS] [-l RR_SECONDS]"
while getopts "m:r:t:l:" opt; do
  case $opt in
    m)
      MODES=()
      IFS=, read -ra asked <<<"${OPTARG//both/collect-md,native}"
      for m in "${asked[@]}"; do
        case $m in
          tunnel) m=collect-md ;;
          collect-md | classic | native) ;;
          *) die "$usage" ;;
        esac
        [[ " ${MODES[*]} " == *" $m "* ]] || MODES+=("$m") # each mode once
      done
      ;;
    r) ROUNDS=$OPTARG ;;
    t) SECS=$OPTARG ;;
    l) RR_SECS=$OPTARG ;;
    *) die "$usage" ;;
  esac
done

require ip nsenter tc iperf3 ss jq kubectl ping "$BIN_DIR/petrel-sandbox" "$BIN_DIR/petrel-agent" \
  "$BIN_DIR/petrel-cni" "$BIN_DIR/petrel-kubelet" "$BIN_DIR/petrel-k8s" \
  "$BIN_DIR/petrel-operator" "$BIN_DIR/petrel-workload" \
  "$BIN_DIR/petrel" "$BIN_DIR/petrel-bench-rr"

IPERF_PORT=5201
RR_PORT=7001
# The sandbox of the mode being measured (SBX_DIR, SBX_PREFIX: px<m|c|n><pid>; lib.sh).
xnode_cleanup() {
  bench_cleanup
  sandbox_down
}
trap xnode_cleanup EXIT

# Subnets and a port nobody else on this machine uses. The modes run one after the other, so they
# share them.
pick_free_sandbox_nets
POD_NET="10.$NET_N"
UNDERLAY_NET="172.30.$NET_N"
API_PORT=$((20000 + $$ % 20000))

# stop_servers: ends the iperf3 / petrel-bench-rr servers of the current mode (started after
# SERVER_PIDS_FROM in lib.sh's list), so nothing outlives its namespaces.
stop_servers() {
  local pid k
  for ((k = SERVER_PIDS_FROM; k < ${#_pids[@]}; k++)); do kill -TERM "${_pids[k]}" 2>/dev/null; done
  for ((k = SERVER_PIDS_FROM; k < ${#_pids[@]}; k++)); do
    pid=${_pids[k]}
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  _pids=("${_pids[@]:0:SERVER_PIDS_FROM}")
}

# mode_code MODE: one letter for names (sandbox prefix, baseline pods).
mode_code() {
  case $1 in
    collect-md) echo m ;;
    classic) echo c ;;
    *) echo n ;;
  esac
}

KUBECTL=()
pod_yaml() {
  printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: default}\nspec:\n  nodeName: %s\n  containers: [{name: c, image: none, command: [sleep, infinity]}]\n---\n' "$1" "$2"
}

declare -A NODE_NS NODE_IP CLIENT SERVER SERVER_IP

# sandbox_up MODE: a 2-node sandbox in MODE and two pods (client on node-1, server on node-2);
# fills NODE_NS, NODE_IP and CLIENT/SERVER/SERVER_IP[petrel].
sandbox_up() {
  local mode=$1 flags
  SBX_PREFIX="px$(mode_code "$mode")$$"
  SBX_DIR="/tmp/petrel-bench-xnode-$mode-$$"
  case $mode in
    native) flags=(--routing-mode native) ;;
    collect-md) flags=(--routing-mode tunnel --vxlan-mode collect-md) ;;
    classic) flags=(--routing-mode tunnel --vxlan-mode classic) ;;
  esac
  while [ -n "$(ss -Htln "sport = :$API_PORT")" ]; do API_PORT=$((API_PORT + 1)); done
  echo "bench: $mode: petrel-sandbox up ${flags[*]} (prefix $SBX_PREFIX, underlay $UNDERLAY_NET.0/24, pods $POD_NET.0.0/16)" >&2
  mkdir -p "$SBX_DIR"
  SBX_UP=1
  "$BIN_DIR/petrel-sandbox" --state-dir "$SBX_DIR" up --nodes 2 --prefix "$SBX_PREFIX" \
    --underlay-net "$UNDERLAY_NET" --pod-net "$POD_NET" --api-port "$API_PORT" \
    "${flags[@]}" >"$BENCH_TMP/sandbox-up-$mode.log" 2>&1 ||
    { cat "$BENCH_TMP/sandbox-up-$mode.log" >&2; die "$mode: petrel-sandbox up failed"; }

  KUBECTL=(kubectl --kubeconfig "$SBX_DIR/kubeconfig")
  { pod_yaml xn-client node-1; pod_yaml xn-server node-2; } | "${KUBECTL[@]}" apply -f - >/dev/null ||
    die "$mode: kubectl apply of the bench pods failed"
  "${KUBECTL[@]}" wait --for=condition=Ready pod/xn-client pod/xn-server --timeout=90s >/dev/null ||
    die "$mode: bench pods did not become Ready"

  local status i
  status=$("$BIN_DIR/petrel-sandbox" --state-dir "$SBX_DIR" status -o json) || die "$mode: sandbox status"
  jqs() { jq -r "$1" <<<"$status"; }
  for i in 1 2; do
    NODE_NS[$i]=$(jqs ".nodes[] | select(.name == \"node-$i\") | .netns")
    NODE_IP[$i]=$(jqs ".nodes[] | select(.name == \"node-$i\") | .ip")
  done
  CLIENT[petrel]=$(jqs '.pods[] | select(.name == "xn-client") | .netns')
  SERVER[petrel]=$(jqs '.pods[] | select(.name == "xn-server") | .netns')
  SERVER_IP[petrel]=$(jqs '.pods[] | select(.name == "xn-server") | .ip')
  in_ns "${CLIENT[petrel]}" ip -o link show eth0 | grep -q "mtu $MTU " ||
    die "$mode: Petrel's pod MTU is not $MTU; the baseline would not be comparable"
}

# Baseline pods: veth bveth0 (10.N.20i.1/24) in node i to the baseline pod's eth0 (10.N.20i.2/24,
# default route via the node). The pod namespaces are named per mode.
baseline_pods() {
  local mode=$1 i node pod
  for i in 1 2; do
    node=${NODE_NS[$i]} pod="$BENCH_ID-$(mode_code "$mode")$i"
    netns_add "$pod"
    ip -n "$node" link add bveth0 type veth peer name eth0 netns "$pod" || die "baseline veth in $node"
    ip -n "$node" addr add "$POD_NET.20$i.1/24" dev bveth0
    ip -n "$node" link set bveth0 mtu "$MTU" up
    ip -n "$pod" addr add "$POD_NET.20$i.2/24" dev eth0
    ip -n "$pod" link set eth0 mtu "$MTU" up
    ip -n "$pod" route add default via "$POD_NET.20$i.1"
  done
  CLIENT[baseline]="$BENCH_ID-$(mode_code "$mode")1" SERVER[baseline]="$BENCH_ID-$(mode_code "$mode")2"
  SERVER_IP[baseline]="$POD_NET.202.2"
}

# baseline_tunnel MODE: plain Linux VXLAN. Node i: vxlan vx-base (10.N.250.i/24), a route to
# the other baseline pod via the other node's vx-base address.
baseline_tunnel() {
  local i other node
  for i in 1 2; do
    other=$((3 - i)) node=${NODE_NS[$i]}
    # No outer UDP checksum and no learning, as petrel_vxlan; the UDP port makes no difference
    # (measured: classic devices on 8472 perform as on 4789).
    ip -n "$node" link add vx-base type vxlan id 42 dstport 4789 local "${NODE_IP[$i]}" \
      remote "${NODE_IP[$other]}" dev eth0 noudpcsum nolearning || die "baseline vxlan in $node"
    ip -n "$node" link set vx-base mtu "$MTU" up
    ip -n "$node" addr add "$POD_NET.250.$i/24" dev vx-base
  done
  baseline_pods "$1"
  for i in 1 2; do
    other=$((3 - i))
    ip -n "${NODE_NS[$i]}" route add "$POD_NET.20$other.0/24" via "$POD_NET.250.$other" dev vx-base ||
      die "baseline route in ${NODE_NS[$i]}"
  done
  BASE_DEVS=(eth0 vx-base bveth0)
}

# Native baseline: plain Linux routing. Node i: a route to the other baseline pod's subnet via
# the other node's IP on eth0, as Petrel's native mode routes pod CIDRs.
baseline_native() {
  local i other
  baseline_pods native
  for i in 1 2; do
    other=$((3 - i))
    ip -n "${NODE_NS[$i]}" route add "$POD_NET.20$other.0/24" via "${NODE_IP[$other]}" dev eth0 ||
      die "baseline route in ${NODE_NS[$i]}"
  done
  BASE_DEVS=(eth0 bveth0)
}

# Petrel's uplink programs (masquerading, Service LB from outside) sit on each node's eth0, which
# the baseline's packets cross too. uplink_off removes them for the baseline's measurements;
# uplink_on restarts the agents, which attach them again, for Petrel's.
uplink_off() {
  local i dir
  for i in 1 2; do
    for dir in ingress egress; do
      in_ns "${NODE_NS[$i]}" tc filter del dev eth0 "$dir" 2>/dev/null || true
    done
  done
}
uplink_on() {
  local i _
  for i in 1 2; do
    "$BIN_DIR/petrel-sandbox" --state-dir "$SBX_DIR" restart "node-$i/agent" >/dev/null ||
      die "restart node-$i/agent"
  done
  for i in 1 2; do
    for _ in $(seq 100); do
      [ -n "$(in_ns "${NODE_NS[$i]}" tc filter show dev eth0 egress 2>/dev/null)" ] && break
      sleep 0.1
    done
    [ -n "$(in_ns "${NODE_NS[$i]}" tc filter show dev eth0 egress 2>/dev/null)" ] ||
      die "node-$i's agent did not attach its uplink programs again"
  done
  sleep 3 # let the restarted agents finish starting (API lists, first passes) before measuring
}

# check_paths MODE: nothing of Petrel's sits on the baseline path, in native mode Petrel's pod
# traffic leaves node-1 by a plain route via node-2's IP (no overlay device), and the overlay
# device is of the mode's kind.
check_paths() {
  local mode=$1 i dev dir
  for i in 1 2; do
    for dev in "${BASE_DEVS[@]}"; do
      for dir in ingress egress; do
        [ -z "$(in_ns "${NODE_NS[$i]}" tc filter show dev "$dev" "$dir" 2>/dev/null)" ] ||
          die "$mode: baseline path has a tc filter: ${NODE_NS[$i]} $dev $dir"
      done
    done
  done
  if [ "$mode" = native ]; then
    for i in 1 2; do
      ! ip -n "${NODE_NS[$i]}" link show petrel_vxlan >/dev/null 2>&1 ||
        die "native: ${NODE_NS[$i]} has an overlay device"
    done
  else
    for i in 1 2; do
      local external=0
      ip -n "${NODE_NS[$i]}" -d link show petrel_vxlan | grep -q " external " && external=1
      [ "$external" = "$([ "$mode" = collect-md ] && echo 1 || echo 0)" ] ||
        die "$mode: ${NODE_NS[$i]}'s petrel_vxlan is not the $mode device"
    done
  fi
}

# start_servers MODE: iperf3 and petrel-bench-rr servers in both server pods, then connectivity
# and a full-size DF packet on both paths.
start_servers() {
  local mode=$1 s _
  SERVER_PIDS_FROM=${#_pids[@]}
  for s in petrel baseline; do
    if [ -z "${SERVER_IP[$s]}" ] || [ -z "${CLIENT[$s]}" ]; then
      die "$mode/$s: pod netns or address missing"
    fi
    bg_in_ns "${SERVER[$s]}" iperf3 -s -p "$IPERF_PORT"
    bg_in_ns "${SERVER[$s]}" "$BIN_DIR/petrel-bench-rr" server --port "$RR_PORT"
    wait_port "${SERVER[$s]}" "$IPERF_PORT"
    wait_port "${SERVER[$s]}" "$RR_PORT"
    # The agents install the routes to the other node's pod CIDR shortly after the pods start.
    for _ in $(seq 10); do
      in_ns "${CLIENT[$s]}" ping -c 1 -W 1 "${SERVER_IP[$s]}" >/dev/null && break
    done
    in_ns "${CLIENT[$s]}" ping -c 1 -W 2 "${SERVER_IP[$s]}" >/dev/null || die "$mode/$s: no connectivity"
    # A full-size packet must pass with DF set (MTU - 28 bytes of IP/ICMP header).
    in_ns "${CLIENT[$s]}" ping -c 1 -W 2 -M "do" -s $((MTU - 28)) "${SERVER_IP[$s]}" >/dev/null ||
      die "$mode/$s: a $MTU-byte packet does not pass"
  done
  if [ "$mode" = native ]; then
    ip -n "${NODE_NS[1]}" route get "${SERVER_IP[petrel]}" | grep -q "via ${NODE_IP[2]} dev eth0" ||
      die "native: node-1 does not route ${SERVER_IP[petrel]} via ${NODE_IP[2]} on eth0"
  fi
}

# iperf_gbps SETUP [-R]: receiver throughput of one single-stream run, Gbit/s.
iperf_gbps() {
  local s=$1 out
  shift
  out=$(in_ns "${CLIENT[$s]}" iperf3 -c "${SERVER_IP[$s]}" -p "$IPERF_PORT" -t "$SECS" -J "$@") ||
    die "$s: iperf3 $* failed: $(jq -r '.error // empty' <<<"$out")"
  jq -r '.end.sum_received.bits_per_second / 1e9 * 100 | round / 100' <<<"$out"
}

# Per mode/setup: space-separated values of each round.
declare -A UP DOWN P50 P99

# run_rounds MODE: odd rounds start with Petrel, even rounds with the baseline.
run_rounds() {
  local mode=$1 round s up down rr p50 p99 k
  local order
  for round in $(seq "$ROUNDS"); do
    order=(petrel baseline)
    [ $((round % 2)) -eq 0 ] && order=(baseline petrel)
    for s in "${order[@]}"; do
      if [ "$s" = baseline ]; then uplink_off; else uplink_on; fi
      up=$(iperf_gbps "$s") || exit 1
      down=$(iperf_gbps "$s" -R) || exit 1
      rr=$(in_ns "${CLIENT[$s]}" "$BIN_DIR/petrel-bench-rr" client --host "${SERVER_IP[$s]}" \
        --port "$RR_PORT" --seconds "$RR_SECS") || die "$mode/$s: latency run failed"
      p50=$(sed -n 's/.*p50_us=\([0-9.]*\).*/\1/p' <<<"$rr")
      p99=$(sed -n 's/.*p99_us=\([0-9.]*\).*/\1/p' <<<"$rr")
      k="$mode/$s"
      UP[$k]+="$up " DOWN[$k]+="$down " P50[$k]+="$p50 " P99[$k]+="$p99 "
      printf '%-6s round %d %-8s  c->s %6s Gbit/s  s->c %6s Gbit/s  rr p50 %7s us  p99 %7s us\n' \
        "$mode" "$round" "$s" "$up" "$down" "$p50" "$p99" >&2
    done
  done
}

for mode in "${MODES[@]}"; do
  if [ "$mode" = native ]; then MTU=1500; else MTU=1450; fi
  sandbox_up "$mode"
  if [ "$mode" = native ]; then baseline_native; else baseline_tunnel "$mode"; fi
  uplink_off
  check_paths "$mode"
  start_servers "$mode"
  run_rounds "$mode"
  stop_servers
  sandbox_down || exit 1
  for i in 1 2; do ip netns del "$BENCH_ID-$(mode_code "$mode")$i" 2>/dev/null; done
done

# row MODE NAME UNIT ARRAY higher|lower: medians, the ratio, and which side is better (within
# 3 %: tie).
# shellcheck disable=SC2086
row() {
  local mode=$1 name=$2 unit=$3 better=$5
  local -n data=$4
  local b p r verdict
  b=$(median ${data[$mode/baseline]}) p=$(median ${data[$mode/petrel]})
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

for mode in "${MODES[@]}"; do
  PETREL_WINS=0 BASE_WINS=0
  if [ "$mode" = collect-md ]; then
    base_name="plain Linux VXLAN path" mtu=1450
    echo
    echo "cross-node pod-to-pod, TUNNEL mode (collect_md device, the default): Petrel VXLAN tunnel"
    echo "vs plain Linux vxlan + veth (same"
  elif [ "$mode" = classic ]; then
    base_name="plain Linux VXLAN path" mtu=1450
    echo
    echo "cross-node pod-to-pod, TUNNEL mode with --vxlan-mode classic: Petrel VXLAN tunnel vs"
    echo "plain Linux vxlan + veth (same"
  else
    base_name="plain Linux routing path" mtu=1500
    echo
    echo "cross-node pod-to-pod, NATIVE mode: Petrel native routing vs plain Linux routes + veth (same"
  fi
  echo "node namespaces), median of $ROUNDS rounds; iperf3 ${SECS}s single stream, rr ${RR_SECS}s;"
  echo "MTU $mtu ($(nproc) CPUs, $(uname -r))"
  printf '%-30s %10s %10s %16s  %s\n' metric baseline petrel petrel/baseline better
  row "$mode" "TCP throughput c->s" Gbit/s UP higher
  row "$mode" "TCP throughput s->c" Gbit/s DOWN higher
  row "$mode" "TCP RR latency p50" us P50 lower
  row "$mode" "TCP RR latency p99" us P99 lower
  echo "(throughput: higher is better; latency: lower is better)"
  if [ "$PETREL_WINS" -gt "$BASE_WINS" ]; then
    echo "verdict ($mode): Petrel is better ($PETREL_WINS of 4 metrics beyond 3%, baseline $BASE_WINS)"
  elif [ "$BASE_WINS" -gt "$PETREL_WINS" ]; then
    echo "verdict ($mode): the $base_name is better ($BASE_WINS of 4 metrics beyond 3%, Petrel $PETREL_WINS)"
  else
    echo "verdict ($mode): even (Petrel better on $PETREL_WINS, baseline on $BASE_WINS of 4 metrics beyond 3%)"
  fi
done

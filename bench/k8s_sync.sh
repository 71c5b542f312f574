#!/usr/bin/env bash
# Kubernetes scale: how long petrel-agent takes to sync its informer caches against a loaded
# real kube-apiserver, and how much memory it holds, next to `kubectl get ... -A -o json` listing
# the same objects, in one run.
#
# Per case, the sandbox's real control plane alone (`petrel-sandbox up --nodes 0`: etcd,
# kube-apiserver, controller manager, scheduler; its own prefix, state dir, subnets and API port)
# is filled by petrel-bench-k8s-load (parallel keep-alive HTTPS): 10 Nodes, PODS Pods with
# status.podIP (set through the status subresource after create), SERVICES ClusterIP Services and
# one EndpointSlice per Service (2 endpoints each). Two cases, each with its own control plane:
#   spread - pods spread evenly over the 10 nodes (the agent's node has PODS/10)
#   local  - every pod on the agent's node (the agent lists pods with spec.nodeName=<node>)
# The controller manager is stopped right after `up`, before the load, so the loaded objects stay
# as loaded: the Nodes have no kubelet, and its node lifecycle controller would mark them
# NotReady, taint them and evict their pods after a while; its EndpointSlice controller would
# replace the loader's slices (the Services keep their selectors, as users write them) and its
# ServiceAccount controller is not needed (the loader makes the namespace's `default` account).
# The scheduler stays (the pods are bound by spec.nodeName, so it has nothing to do).
# Each round starts a fresh agent in a fresh node namespace attached to the sandbox's underlay
# bridge (address <underlay>.50; the API server is at <underlay>.254, which is in its
# certificate; the agent's kubeconfig names that with the admin certificate), polls its Status RPC
# every 20 ms (petrel-bench-k8s-wait, one gRPC channel: exec'ing `petrel status` costs 60-300 ms
# a call here) until every cache is synced, checks that with `petrel status -o json`, and reads
# VmRSS/VmHWM then and 5 s later; then runs kubectl once (its discovery cache warmed before the
# first round).
# The table shows medians over rounds and the ratios Petrel/kubectl.
#
# Usage (root, after a build): bench/k8s_sync.sh [--pods N] [--services N] [--rounds N]
#   PETREL_BIN_DIR overrides build/bin. Everything it creates is removed on exit.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
# kubectl: the release built with the control plane (build/bin/kubectl) ahead of any other.
export PATH="$BIN_DIR:$PATH"

PODS=1000
SERVICES=2000
ROUNDS=3
NODES=10
usage() { die "usage: $0 [--pods N] [--services N] [--rounds N]"; }
while [ $# -gt 0 ]; do
  case $1 in
    --pods) PODS=${2:-} && shift ;;
    --services) SERVICES=${2:-} && shift ;;
    --rounds) ROUNDS=${2:-} && shift ;;
    *) usage ;;
  esac
  shift
done
for v in "$PODS" "$SERVICES" "$ROUNDS"; do [[ $v =~ ^[0-9]+$ ]] || usage; done
[ "$ROUNDS" -ge 1 ] || usage

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, BPF)"
for b in petrel-agent petrel petrel-sandbox petrel-k8s petrel-bench-k8s-load \
  petrel-bench-k8s-wait; do
  [ -x "$BIN_DIR/$b" ] || die "missing $BIN_DIR/$b; build it with:" \
    "ninja -C build petrel-agent petrel petrel-sandbox petrel-bench-k8s-load" \
    "petrel-bench-k8s-wait (and scripts/build-k8s.sh for petrel-k8s, kubectl)"
done
require ip nsenter ss kubectl jq /usr/bin/time
/usr/bin/time -f %M true >/dev/null 2>&1 ||
  die "/usr/bin/time is not GNU time (apt-get install time)"

AGENT_NODE="node-0"
KUBE_CACHE="$BENCH_TMP/kube-cache"

now_ns() { date +%s%N; }
ms_since() { echo $((($(now_ns) - $1) / 1000000)); }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
# status_kb PID FIELD: VmRSS / VmHWM of PID in kB.
status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# stop_pid PID: SIGTERM, then waits up to 5 s (SIGKILL after).
stop_pid() {
  kill -TERM "$1" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

# The current case's sandbox (SBX_DIR, SBX_PREFIX, SBX_UP; sandbox_down in lib.sh).
sync_cleanup() {
  bench_cleanup
  sandbox_down
}
trap sync_cleanup EXIT

pick_free_sandbox_nets
UNDERLAY_NET="172.30.$NET_N"
POD_NET="10.$NET_N"
API_IP="$UNDERLAY_NET.254"
NODE_IP="$UNDERLAY_NET.50"

# component_pid NAME: the pid of a sandbox component from `petrel-sandbox status -o json`.
component_pid() {
  "$BIN_DIR/petrel-sandbox" --state-dir "$SBX_DIR" status -o json |
    jq -r --arg n "$1" '.components[] | select(.name == $n) | .pid'
}

# api_start CASE: the real control plane in a fresh sandbox, its controller manager stopped;
# sets API_PID, API_DIR (the state dir: kubeconfig, pki/), API_PORT and writes
# $API_DIR/kubeconfig.node (the API server's underlay address, the admin certificate).
api_start() {
  SBX_PREFIX="pk${1:0:1}$$"
  SBX_DIR="/tmp/petrel-bench-k8s-sync-$1-$$"
  API_DIR="$SBX_DIR"
  API_PORT=$(free_port)
  echo "== $1: petrel-sandbox up --nodes 0 (prefix $SBX_PREFIX, underlay $UNDERLAY_NET.0/24," \
    "API port $API_PORT)" >&2
  SBX_UP=1
  "$BIN_DIR/petrel-sandbox" --state-dir "$SBX_DIR" up --nodes 0 --prefix "$SBX_PREFIX" \
    --underlay-net "$UNDERLAY_NET" --pod-net "$POD_NET" --api-port "$API_PORT" \
    >"$BENCH_TMP/sandbox-up-$1.log" 2>&1 ||
    { cat "$BENCH_TMP/sandbox-up-$1.log" >&2; die "$1: petrel-sandbox up failed"; }
  local kcm
  kcm=$(component_pid controller-manager)
  [[ $kcm =~ ^[0-9]+$ ]] || die "$1: no controller-manager in petrel-sandbox status"
  kill -TERM "$kcm"
  for _ in $(seq 100); do kill -0 "$kcm" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$kcm" 2>/dev/null && die "$1: the controller manager ($kcm) did not stop"
  API_PID=$(component_pid apiserver)
  [[ $API_PID =~ ^[0-9]+$ ]] || die "$1: no apiserver in petrel-sandbox status"
  jq --arg s "https://$API_IP:$API_PORT" '.clusters[].cluster.server = $s' "$API_DIR/kubeconfig" \
    >"$API_DIR/kubeconfig.node"
}

# node_ns_create NAME: a node namespace on the sandbox's underlay bridge ($NODE_IP/24).
node_ns_create() {
  netns_add "$1"
  ip link add "${BENCH_ID}k0" netns "$SBX_PREFIX-underlay" type veth peer name eth0 netns "$1" ||
    die "veth $SBX_PREFIX-underlay <-> $1"
  ip -n "$SBX_PREFIX-underlay" link set "${BENCH_ID}k0" master br0 up
  ip -n "$1" addr add "$NODE_IP/24" dev eth0
  ip -n "$1" link set eth0 up
}

# agent_round CASE ROUND: one fresh agent; sets SYNC_MS (exec -> every cache synced), ANSWER_MS
# (exec -> first Status answer), WATCH_MS (exec -> informers started, from the agent's log),
# RSS_KB HWM_KB ANON_KB (at sync; RssAnon is heap, the rest mostly the binary's pages), RSS5_KB
# HWM5_KB (5 s later) and COUNTS (objects per cache).
agent_round() {
  local case=$1 round=$2
  local ns="$BENCH_ID-n$round$case"
  local state="$BENCH_TMP/agent-$case-$round"
  local bpf_root="/sys/fs/bpf/$BENCH_ID-$case-$round"
  local sock="$state/petrel.sock" log="$state/agent.log" json out t0 pid
  mkdir -p "$state"
  _pin_dirs+=("$bpf_root")
  node_ns_create "$ns"
  t0=$(now_ns)
  nsenter --net="/run/netns/$ns" -- "$BIN_DIR/petrel-agent" --node-name "$AGENT_NODE" \
    --pod-cidr 10.244.0.0/22 --bpf-root "$bpf_root" --state-dir "$state" --socket "$sock" \
    --kubeconfig "$API_DIR/kubeconfig.node" >"$log" 2>&1 &
  pid=$!
  _pids+=("$pid")
  if ! out=$("$BIN_DIR/petrel-bench-k8s-wait" --socket "$sock" --pid "$pid" --start-ns "$t0" \
    --interval-ms 20); then
    cat "$log" >&2
    "$BIN_DIR/petrel" --socket "$sock" status -o json >&2
    die "$case round $round: the agent did not sync"
  fi
  SYNC_MS=$(sed -n 's/.*synced_ms=\([0-9]*\).*/\1/p' <<<"$out")
  ANSWER_MS=$(sed -n 's/.*answer_ms=\([0-9]*\).*/\1/p' <<<"$out")
  RSS_KB=$(status_kb "$pid" VmRSS) HWM_KB=$(status_kb "$pid" VmHWM)
  ANON_KB=$(status_kb "$pid" RssAnon)
  json=$("$BIN_DIR/petrel" --socket "$sock" status -o json) || die "petrel status failed"
  [ "$(jq -r '.kubernetes.synced // false' <<<"$json")" = true ] ||
    die "$case round $round: petrel status does not say synced: $json"
  COUNTS=$(jq -r '[.kubernetes.caches[] | "\(.kind)=\(.objects)"] | join(" ")' <<<"$json")
  # When the watch started, from the agent's log timestamp (ms resolution).
  local started
  started=$(sed -n 's/^\([0-9T:.-]*\) .*watching the Kubernetes API.*/\1/p' "$log")
  WATCH_MS=n/a
  [ -n "$started" ] &&
    WATCH_MS=$((($(date -d "$started" +%s%N) - t0) / 1000000))
  sleep 5
  RSS5_KB=$(status_kb "$pid" VmRSS) HWM5_KB=$(status_kb "$pid" VmHWM)
  stop_pid "$pid"
  ip netns del "$ns"
  rm -rf "$bpf_root"
}

# kubectl_round: sets KC_MS and KC_KB (max RSS).
kubectl_round() {
  local out
  local t0
  t0=$(now_ns)
  out=$(/usr/bin/time -f 'maxrss_kb=%M' kubectl \
    --kubeconfig "$API_DIR/kubeconfig" --cache-dir "$KUBE_CACHE" \
    get pods,services,endpointslices,nodes -A -o json 2>&1 >/dev/null) ||
    die "kubectl failed: $out"
  KC_MS=$(ms_since "$t0")
  KC_KB=$(sed -n 's/^maxrss_kb=//p' <<<"$out" | tail -1)
}

CASES=(spread local)
declare -A LOAD_S LOAD_RATE API_KB ETCD_KB SYNC ANSWER WATCH RSS ANON HWM RSS5 HWM5 KCMS KCKB OBJS
for c in "${CASES[@]}"; do
  api_start "$c"
  flags=()
  [ "$c" = local ] && flags+=(--all-on-agent-node)
  echo "== $c: loading $NODES nodes, $PODS pods, $SERVICES services + endpointslices" >&2
  out=$("$BIN_DIR/petrel-bench-k8s-load" \
    --kubeconfig "$API_DIR/kubeconfig" --nodes "$NODES" --pods "$PODS" \
    --services "$SERVICES" --agent-node "$AGENT_NODE" "${flags[@]}") || die "$c: load failed"
  LOAD_S[$c]=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$out")
  LOAD_RATE[$c]=$(sed -n 's/.*objects_per_s=\([0-9]*\).*/\1/p' <<<"$out")
  API_KB[$c]=$(status_kb "$API_PID" VmRSS)
  ETCD_KB[$c]=$(status_kb "$(component_pid etcd)" VmRSS)
  echo "$c: $out; kube-apiserver VmRSS $(mib "${API_KB[$c]}") MiB," \
    "etcd $(mib "${ETCD_KB[$c]}") MiB" >&2
  # Warm kubectl's discovery cache once, as a user's kubectl would have it.
  kubectl_round
  for round in $(seq "$ROUNDS"); do
    agent_round "$c" "$round"
    kubectl_round
    SYNC[$c]+="$SYNC_MS " ANSWER[$c]+="$ANSWER_MS " WATCH[$c]+="$WATCH_MS "
    RSS[$c]+="$RSS_KB " ANON[$c]+="$ANON_KB " HWM[$c]+="$HWM_KB "
    RSS5[$c]+="$RSS5_KB " HWM5[$c]+="$HWM5_KB " KCMS[$c]+="$KC_MS " KCKB[$c]+="$KC_KB "
    OBJS[$c]=$COUNTS
    printf '%s round %d: agent synced %5d ms (informers started %s ms, API up %s ms), ' \
      "$c" "$round" "$SYNC_MS" "$WATCH_MS" "$ANSWER_MS" >&2
    printf 'VmRSS %s MiB, VmHWM %s MiB, +5 s %s/%s MiB | kubectl %5d ms, max RSS %s MiB\n' \
      "$(mib "$RSS_KB")" "$(mib "$HWM_KB")" "$(mib "$RSS5_KB")" "$(mib "$HWM5_KB")" "$KC_MS" \
      "$(mib "$KC_KB")" >&2
  done
  echo "$c: agent caches: ${OBJS[$c]}" >&2
  sandbox_down || die "$c: petrel-sandbox down failed"
done

declare -A m_sync m_kc m_rss m_hwm5 m_kckb
# shellcheck disable=SC2086
{
  echo
  echo "k8s sync against the real kube-apiserver ($("$BIN_DIR/petrel-k8s" kube-apiserver \
    --version 2>/dev/null)), $PODS pods / $SERVICES services + endpointslices / $NODES nodes," \
    "median of $ROUNDS rounds ($(nproc) CPUs, $(uname -r))"
  printf '%-44s %10s %10s\n' metric spread local
  for c in "${CASES[@]}"; do
    m_sync[$c]=$(median ${SYNC[$c]})
    m_kc[$c]=$(median ${KCMS[$c]})
    m_rss[$c]=$(median ${RSS[$c]})
    m_hwm5[$c]=$(median ${HWM5[$c]})
    m_kckb[$c]=$(median ${KCKB[$c]})
  done
  line() { printf '%-44s %10s %10s\n' "$@"; }
  line "load: seconds (loader, keep-alive HTTPS)" "${LOAD_S[spread]}" "${LOAD_S[local]}"
  line "load: objects/s" "${LOAD_RATE[spread]}" "${LOAD_RATE[local]}"
  line "kube-apiserver VmRSS after load (MiB)" "$(mib "${API_KB[spread]}")" \
    "$(mib "${API_KB[local]}")"
  line "etcd VmRSS after load (MiB)" "$(mib "${ETCD_KB[spread]}")" "$(mib "${ETCD_KB[local]}")"
  line "petrel-agent exec -> synced (ms)" "${m_sync[spread]}" "${m_sync[local]}"
  line "  exec -> informers started (ms)" "$(median ${WATCH[spread]})" \
    "$(median ${WATCH[local]})"
  line "  exec -> API answers (ms)" "$(median ${ANSWER[spread]})" "$(median ${ANSWER[local]})"
  line "petrel-agent VmRSS at sync (MiB)" "$(mib "${m_rss[spread]}")" "$(mib "${m_rss[local]}")"
  line "  of which RssAnon (heap) (MiB)" "$(mib "$(median ${ANON[spread]})")" \
    "$(mib "$(median ${ANON[local]})")"
  line "petrel-agent VmHWM at sync (MiB)" "$(mib "$(median ${HWM[spread]})")" \
    "$(mib "$(median ${HWM[local]})")"
  line "petrel-agent VmRSS sync+5s (MiB)" "$(mib "$(median ${RSS5[spread]})")" \
    "$(mib "$(median ${RSS5[local]})")"
  line "petrel-agent VmHWM sync+5s (MiB)" "$(mib "${m_hwm5[spread]}")" "$(mib "${m_hwm5[local]}")"
  line "kubectl get -A -o json (ms)" "${m_kc[spread]}" "${m_kc[local]}"
  line "kubectl max RSS (MiB)" "$(mib "${m_kckb[spread]}")" "$(mib "${m_kckb[local]}")"
  line "ratio petrel sync / kubectl time" "$(ratio "${m_sync[spread]}" "${m_kc[spread]}")" \
    "$(ratio "${m_sync[local]}" "${m_kc[local]}")"
  line "ratio petrel VmHWM+5s / kubectl max RSS" \
    "$(ratio "${m_hwm5[spread]}" "${m_kckb[spread]}")" \
    "$(ratio "${m_hwm5[local]}" "${m_kckb[local]}")"
}

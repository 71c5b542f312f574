#!/usr/bin/env bash
# Kubernetes scale: how long petrel-agent takes to sync its informer caches against a loaded
# apiserver, and how much memory it holds, next to `kubectl get ... -A -o json` listing the same
# objects, in one run.
#
# The sandbox apiserver (petrel-apiserver) runs in its own network namespace and is filled by
# petrel-bench-k8s-load (parallel keep-alive HTTPS): 10 Nodes, PODS Pods with status.podIP,
# SERVICES ClusterIP Services and one EndpointSlice per Service (2 endpoints each). Two cases,
# each with its own apiserver:
#   spread - pods spread evenly over the 10 nodes (the agent's node has PODS/10)
#   local  - every pod on the agent's node (the agent lists pods with spec.nodeName=<node>)
# Each round starts a fresh agent in a fresh node namespace (veth to the apiserver's namespace),
# polls its Status RPC every 20 ms (petrel-bench-k8s-wait, one gRPC channel: exec'ing
# `petrel status` costs 60-300 ms a call here) until every cache is synced, checks that with
# `petrel status -o json`, and reads VmRSS/VmHWM then and 5 s later; then runs kubectl once
# (its discovery cache warmed before the first round).
# The table shows medians over rounds and the ratios Petrel/kubectl.
#
# Usage (root, after a build): bench/k8s_sync.sh [--pods N] [--services N] [--rounds N]
#   PETREL_BIN_DIR overrides build/bin. Everything it creates is removed on exit.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

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
for b in petrel-agent petrel petrel-apiserver petrel-bench-k8s-load petrel-bench-k8s-wait; do
  [ -x "$BIN_DIR/$b" ] || die "missing $BIN_DIR/$b; build it with:" \
    "flock /tmp/petrel-build.lock ninja -C build petrel-agent petrel petrel-apiserver" \
    "petrel-bench-k8s-load petrel-bench-k8s-wait"
done
require ip nsenter kubectl jq /usr/bin/time
/usr/bin/time -f %M true >/dev/null 2>&1 ||
  die "/usr/bin/time is not GNU time (apt-get install time)"

API_NS="$BENCH_ID-api"
API_IP=192.168.250.1
NODE_IP=192.168.250.2
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

# api_start CASE: a fresh apiserver in $API_NS; sets API_PID, API_DIR, API_PORT.
api_start() {
  API_DIR="$BENCH_TMP/api-$1"
  mkdir -p "$API_DIR"
  nsenter --net="/run/netns/$API_NS" -- "$BIN_DIR/petrel-apiserver" --data-dir "$API_DIR" \
    --bind-address 0.0.0.0 --tls-san "$API_IP" --port 0 --no-persist >"$API_DIR/log" 2>&1 &
  API_PID=$!
  _pids+=("$API_PID")
  for _ in $(seq 100); do
    API_PORT=$(sed -n 's/^petrel-apiserver ready on https:\/\/[^:]*:\([0-9]*\).*/\1/p' \
      "$API_DIR/log")
    [ -n "$API_PORT" ] && break
    kill -0 "$API_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$API_PORT" ] || { cat "$API_DIR/log" >&2; die "petrel-apiserver did not start"; }
  # The agent reaches the server over the veth; kubectl and the loader use 127.0.0.1.
  sed "s|server: https://.*|server: https://$API_IP:$API_PORT|" "$API_DIR/kubeconfig" \
    >"$API_DIR/kubeconfig.node"
}

# node_ns_create NAME: a node namespace with a veth to $API_NS ($NODE_IP <-> $API_IP).
node_ns_create() {
  netns_add "$1"
  ip link add "${BENCH_ID}k0" netns "$API_NS" type veth peer name eth0 netns "$1" ||
    die "veth $API_NS <-> $1"
  ip -n "$API_NS" addr add "$API_IP/30" dev "${BENCH_ID}k0"
  ip -n "$API_NS" link set "${BENCH_ID}k0" up
  ip -n "$1" addr add "$NODE_IP/30" dev eth0
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
  out=$(nsenter --net="/run/netns/$API_NS" -- /usr/bin/time -f 'maxrss_kb=%M' kubectl \
    --kubeconfig "$API_DIR/kubeconfig" --cache-dir "$KUBE_CACHE" \
    get pods,services,endpointslices,nodes -A -o json 2>&1 >/dev/null) ||
    die "kubectl failed: $out"
  KC_MS=$(ms_since "$t0")
  KC_KB=$(sed -n 's/^maxrss_kb=//p' <<<"$out" | tail -1)
}

netns_add "$API_NS"

CASES=(spread local)
declare -A LOAD_S LOAD_RATE API_KB SYNC ANSWER WATCH RSS ANON HWM RSS5 HWM5 KCMS KCKB OBJS
for c in "${CASES[@]}"; do
  api_start "$c"
  flags=()
  [ "$c" = local ] && flags+=(--all-on-agent-node)
  echo "== $c: loading $NODES nodes, $PODS pods, $SERVICES services + endpointslices" >&2
  out=$(nsenter --net="/run/netns/$API_NS" -- "$BIN_DIR/petrel-bench-k8s-load" \
    --kubeconfig "$API_DIR/kubeconfig" --nodes "$NODES" --pods "$PODS" \
    --services "$SERVICES" --agent-node "$AGENT_NODE" "${flags[@]}") || die "$c: load failed"
  LOAD_S[$c]=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$out")
  LOAD_RATE[$c]=$(sed -n 's/.*objects_per_s=\([0-9]*\).*/\1/p' <<<"$out")
  API_KB[$c]=$(status_kb "$API_PID" VmRSS)
  echo "$c: $out; apiserver VmRSS $(mib "${API_KB[$c]}") MiB" >&2
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
  stop_pid "$API_PID"
done

declare -A m_sync m_kc m_rss m_hwm5 m_kckb
# shellcheck disable=SC2086
{
  echo
  echo "k8s sync, $PODS pods / $SERVICES services + endpointslices / $NODES nodes, median of" \
    "$ROUNDS rounds ($(nproc) CPUs, $(uname -r))"
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
  line "apiserver VmRSS after load (MiB)" "$(mib "${API_KB[spread]}")" "$(mib "${API_KB[local]}")"
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

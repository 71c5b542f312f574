# Shared helpers for the Petrel benchmarks (sourced, not run). Everything created is recorded
# and removed by the EXIT trap: processes, network namespaces, pin dirs, temp dirs.
# shellcheck shell=bash

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN_DIR=${PETREL_BIN_DIR:-$BENCH_ROOT/build/bin}
REF_CNI_DIR=${REF_CNI_DIR:-/usr/lib/cni}
BENCH_ID="pb$$"
BENCH_TMP=$(mktemp -d "/tmp/petrel-bench-$BENCH_ID.XXXXXX")

_pids=()
_netns=()
_pin_dirs=()

bench_cleanup() {
  local pid ns dir
  for pid in "${_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${_pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  for ns in "${_netns[@]}"; do ip netns del "$ns" 2>/dev/null; done
  for dir in "${_pin_dirs[@]}"; do rm -rf "$dir"; done
  rm -rf "$BENCH_TMP"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "bench: $*" >&2; exit 1; }

require() {
  [ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, BPF)"
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || [ -x "$t" ] || die "missing tool: $t (run scripts/install-deps.sh / build)"
  done
}

# netns_add NAME: creates /run/netns/NAME with lo up, removed on exit.
netns_add() {
  ip netns add "$1" || die "ip netns add $1"
  _netns+=("$1")
  ip -n "$1" link set lo up
}

# pick_free_sandbox_nets: sets NET_N so that a petrel-sandbox can use underlay 172.30.NET_N.0/24
# and pods 10.NET_N.0.0/16, N in 20-99 and not routed on this machine yet (e2e sandboxes take
# 172.31.x / 10.100-199, the other benches 10.201-205 and 192.168.250).
pick_free_sandbox_nets() {
  local i
  for i in $(seq 0 79); do
    NET_N=$(((20 + $$ + i) % 80 + 20))
    ip route show | grep -q "^10\.$NET_N\.\|^172\.30\.$NET_N\." || return 0
  done
  die "no free 10.N.0.0/16 (N in 20-99) for a sandbox"
}

# free_port: a TCP port nothing listens on in this namespace (20000-39999, from the pid up).
free_port() {
  local p=$((20000 + $$ % 20000))
  while [ -n "$(ss -Htln "sport = :$p")" ]; do p=$((p + 1)); done
  echo "$p"
}

# The benchmark's petrel-sandbox, when it runs one: its state dir, its prefix, and whether
# `down` is still owed (set SBX_UP=1 just before `up`).
SBX_DIR=""
SBX_PREFIX=""
SBX_UP=0

# sandbox_down: `petrel-sandbox down` of that sandbox if it is up, then removes its state dir;
# when down fails, says how to finish by hand and returns 1.
sandbox_down() {
  [ "$SBX_UP" = 1 ] || return 0
  SBX_UP=0
  local out
  if ! out=$("$BIN_DIR/petrel-sandbox" --state-dir "$SBX_DIR" down --prefix "$SBX_PREFIX" 2>&1); then
    printf '%s\nbench: petrel-sandbox down failed; run: %s --state-dir %s down --prefix %s\n' \
      "$out" "$BIN_DIR/petrel-sandbox" "$SBX_DIR" "$SBX_PREFIX" >&2
    return 1
  fi
  rm -rf "$SBX_DIR"
}

# in_ns NAME CMD...: runs CMD in the netns, keeping the mount namespace (bpffs stays visible).
in_ns() {
  local ns=$1
  shift
  nsenter --net="/run/netns/$ns" -- "$@"
}

# bg_in_ns NAME CMD...: starts CMD in the netns in the background; killed on exit.
bg_in_ns() {
  local ns=$1
  shift
  nsenter --net="/run/netns/$ns" -- "$@" >/dev/null 2>&1 &
  _pids+=($!)
}

# pod_ip NETNS [IFNAME]: the IPv4 address on eth0 inside the pod.
pod_ip() {
  ip -n "$1" -4 -o addr show dev "${2:-eth0}" | awk '{ split($4, a, "/"); print a[1]; exit }'
}

# wait_port NETNS PORT: waits until something listens on TCP PORT in NETNS.
wait_port() {
  local _
  for _ in $(seq 100); do
    ip netns exec "$1" ss -Htln 2>/dev/null | grep -q ":$2 " && return 0
    sleep 0.05
  done
  die "nothing listens on :$2 in $1"
}

# agent_start NODE_NETNS POD_CIDR: runs petrel-agent in the node netns with unique pin/state
# dirs; sets AGENT_SOCKET and AGENT_PID.
agent_start() {
  local node=$1 cidr=$2
  local bpf_root="/sys/fs/bpf/$BENCH_ID-$node"
  local state="$BENCH_TMP/agent-$node"
  mkdir -p "$state"
  _pin_dirs+=("$bpf_root")
  AGENT_SOCKET="$state/petrel.sock"
  nsenter --net="/run/netns/$node" -- "$BIN_DIR/petrel-agent" --node-name "$node" \
    --pod-cidr "$cidr" --bpf-root "$bpf_root" --state-dir "$state" --socket "$AGENT_SOCKET" \
    --mtu 1500 >"$BENCH_TMP/agent-$node.log" 2>&1 &
  AGENT_PID=$!
  _pids+=("$AGENT_PID")
  local _
  for _ in $(seq 300); do
    "$BIN_DIR/petrel" status --socket "$AGENT_SOCKET" >/dev/null 2>&1 && return 0
    kill -0 "$AGENT_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$BENCH_TMP/agent-$node.log" >&2
  die "petrel-agent did not become ready in $node"
}

petrel_conf() {
  printf '{"cniVersion":"1.0.0","name":"petrel","type":"petrel-cni","agentSocket":"%s","mtu":1500}' \
    "$1"
}

# bridge_conf SUBNET BRIDGE: the reference bridge + host-local network config.
bridge_conf() {
  printf '{"cniVersion":"1.0.0","name":"bench-bridge","type":"bridge","bridge":"%s","isGateway":true,"ipMasq":false,"mtu":1500,"ipam":{"type":"host-local","ranges":[[{"subnet":"%s"}]],"dataDir":"%s/ipam-%s"}}' \
    "$2" "$1" "$BENCH_TMP" "$2"
}

# cni NODE PLUGIN_BIN COMMAND CONTAINER_ID POD_NETNS CONFIG: one CNI call from the node netns.
cni() {
  local node=$1 plugin=$2 cmd=$3 id=$4 pod=$5 conf=$6
  CNI_COMMAND=$cmd CNI_CONTAINERID=$id CNI_NETNS="/run/netns/$pod" CNI_IFNAME=eth0 \
    CNI_PATH="$BIN_DIR:$REF_CNI_DIR" CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=$pod" \
    nsenter --net="/run/netns/$node" -- "$plugin" <<<"$conf"
}

# percentile P < numbers: nearest-rank percentile of the numbers on stdin (one per line).
percentile() {
  sort -n | awk -v p="$1" '{ v[NR] = $1 } END {
    if (NR == 0) { print "nan"; exit }
    i = int(p / 100 * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR; print v[i] }'
}

median() { printf '%s\n' "$@" | percentile 50; }

# ratio A B: A/B with two decimals, "n/a" when B is zero or missing.
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}

#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and runs Petrel's node-local
# demo: a "node" network namespace running petrel-agent, three pods (namespaces) wired by the
# real petrel-cni, traffic between them, and what to look at next.
#   scripts/demo.sh        start (or restart) the demo
#   scripts/demo.sh down   remove everything the demo made
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/build/bin
NODE=petrel-demo-node
PODS=(petrel-demo-web petrel-demo-client petrel-demo-db)
RUN=/run/petrel-demo
SOCK=$RUN/petrel.sock
BPF_ROOT=/sys/fs/bpf/petrel-demo
CIDR=10.244.0.0/24

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }
in_node() { nsenter --net=/run/netns/$NODE "$@"; }

cni() {  # cni <command> <pod>
  CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_NETNS=/run/netns/$2 CNI_IFNAME=eth0 CNI_PATH=$BIN \
  CNI_ARGS="K8S_POD_NAMESPACE=default;K8S_POD_NAME=$2;K8S_POD_UID=demo-$2" \
    in_node "$BIN/petrel-cni" <"$RUN/10-petrel.conf"
}

down() {
  if [ -f "$RUN/10-petrel.conf" ] && [ -e /run/netns/$NODE ]; then
    for pod in "${PODS[@]}"; do cni DEL "$pod" >/dev/null 2>&1 || true; done
  fi
  [ -f "$RUN/agent.pid" ] && kill "$(cat "$RUN/agent.pid")" 2>/dev/null || true
  for pod in "${PODS[@]}"; do
    [ -e /run/netns/$pod ] && ip netns pids "$pod" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns del "$pod" 2>/dev/null || true
  done
  ip netns del $NODE 2>/dev/null || true
  rm -rf "$BPF_ROOT" "$RUN"
}

if [ "${1:-}" = "down" ]; then
  down
  echo "demo: removed the node, its pods, pinned maps and state"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || die "run as root: the demo creates network namespaces and loads BPF programs"

step "Installing missing Debian packages"
./scripts/install-deps.sh
step "Building"
./scripts/build.sh >/dev/null
echo "built: $(ls "$BIN" | grep -E '^petrel(-agent|-cni)?$' | tr '\n' ' ')"

step "Starting a node ($NODE) running petrel-agent for pod CIDR $CIDR"
down
mkdir -p "$RUN"
ip netns add $NODE
in_node ip link set lo up
in_node "$BIN/petrel-agent" --node-name demo-node --pod-cidr $CIDR --bpf-root $BPF_ROOT \
  --state-dir "$RUN/state" --socket "$SOCK" >"$RUN/agent.log" 2>&1 &
echo $! >"$RUN/agent.pid"
for _ in $(seq 50); do "$BIN/petrel" status --socket "$SOCK" >/dev/null 2>&1 && break; sleep 0.2; done
"$BIN/petrel" status --socket "$SOCK" || { cat "$RUN/agent.log"; die "the agent did not come up"; }

step "Wiring ${#PODS[@]} pods with petrel-cni (CNI ADD, as a container runtime would)"
cat >"$RUN/10-petrel.conf" <<CONF
{"cniVersion":"1.1.0","name":"petrel","type":"petrel-cni","agentSocket":"$SOCK"}
CONF
declare -A IP
for pod in "${PODS[@]}"; do
  ip netns add "$pod"
  result=$(cni ADD "$pod") || die "CNI ADD for $pod failed: $result"
  IP[$pod]=$(printf '%s' "$result" | sed -n 's/.*"address":"\([0-9.]*\)\/.*/\1/p')
  echo "  $pod -> ${IP[$pod]}"
done
"$BIN/petrel" endpoint list --socket "$SOCK"

step "Traffic: ping, HTTP and TCP between pods (redirected by BPF, no bridge)"
mkdir -p "$RUN/www"
echo "hello from petrel-demo-web" >"$RUN/www/index.html"
ip netns exec petrel-demo-web busybox httpd -p 8080 -h "$RUN/www"
ip netns exec petrel-demo-client ping -c 3 -i 0.2 "${IP[petrel-demo-web]}" | tail -2
echo "HTTP GET http://${IP[petrel-demo-web]}:8080/ from petrel-demo-client:"
ip netns exec petrel-demo-client busybox wget -q -O - "http://${IP[petrel-demo-web]}:8080/"
echo "pod -> node gateway (10.244.0.1):"
ip netns exec petrel-demo-db ping -c 1 10.244.0.1 | tail -1
echo "node -> pod:"
in_node ping -c 1 "${IP[petrel-demo-db]}" | tail -1

step "What the datapath did (read straight from the pinned BPF maps)"
"$BIN/petrel" bpf metrics list --bpf-root $BPF_ROOT

cat <<NEXT

Petrel is running. Try:
  $BIN/petrel status --socket $SOCK
  $BIN/petrel endpoint list --socket $SOCK -o json
  $BIN/petrel bpf endpoint list --bpf-root $BPF_ROOT        # works even with the agent stopped
  ip netns exec petrel-demo-client ping ${IP[petrel-demo-web]}
  ip netns exec petrel-demo-client busybox wget -qO- http://${IP[petrel-demo-web]}:8080/
  tail -f $RUN/agent.log
Stop and remove everything:
  scripts/demo.sh down
NEXT

#!/usr/bin/env bash
# The README's first command: installs what is missing, builds (Petrel, and the sandbox's real
# Kubernetes control plane: the first build takes 15-20 minutes more, with progress), starts the
# local sandbox cluster (petrel-sandbox up: an underlay, node namespaces, etcd, kube-apiserver,
# controller manager, scheduler, a kubelet per node, CoreDNS, and Petrel installed with `helm
# install` of charts/petrel), applies the example manifests with the real kubectl, shows pods
# talking, a Deployment behind a Service found by its DNS name, and prints what to try next.
#   scripts/demo.sh [--nodes N]   start the sandbox (again) and run the demo
#   scripts/demo.sh down          remove everything the sandbox made
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/build/bin
STATE=/run/petrel-sandbox
export KUBECONFIG=$STATE/kubeconfig
export PATH=$BIN:$PATH  # the build's kubectl and helm (links to petrel-k8s)
# Each node's pinned maps (Petrel installed with its chart: the agent's /sys/fs/bpf/petrel).
pins_of() { echo "/sys/fs/bpf/petrel-psbx/$1/petrel"; }
NODES=2

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }
# Runs a command as a pod's process: in its network namespace and its node's cgroup (where the
# node's agent attached socket-level Service load balancing).
in_pod() {
  local pod=$1 ns cg
  shift
  ns=$(netns_of "$pod")
  cg=$(cgroup_of_node "$(pod_field "$pod" '{.spec.nodeName}')")
  sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec nsenter --net=/run/netns/"$0" "$@"' \
    "$ns" "$cg" "$@"
}
netns_of() { "$BIN/petrel-sandbox" status | awk -v p="$1" '$1 == "default" && $2 == p { print $6 }'; }
cgroup_of_node() { "$BIN/petrel-sandbox" status | awk -v n="$1" '$1 == n && NF >= 6 { print $6 }'; }
pod_field() { kubectl get pod "$1" -o jsonpath="$2"; }

case "${1:-}" in
  down) exec "$BIN/petrel-sandbox" down ;;
  --nodes) NODES=${2:?--nodes needs a number} ;;
  "") ;;
  *) die "unknown argument '$1': use no argument, --nodes N, or down" ;;
esac
[ "$(id -u)" -eq 0 ] || die "run as root: the sandbox creates network namespaces and loads BPF programs"

step "Installing missing Debian packages"
./scripts/install-deps.sh
step "Building"
# Only what the demo runs (scripts/test.sh builds the tests and benches on top); Ninja's steps
# shown every 20th.
if ! PETREL_TARGETS=petrel-binaries ./scripts/build.sh 2>&1 | awk '
    /^\[[0-9]+\/[0-9]+\]/ { split(substr($1, 2), n, "[/\\]]"); if (n[1] % 20 == 0 || n[1] == n[2])
                             printf "  C++: step %d of %d\n", n[1], n[2]; fflush(); next }
    { print; fflush() }'; then
  die "the build failed (its messages are above)"
fi
echo "built: $(cd "$BIN" && ls petrel petrel-agent petrel-cni petrel-operator petrel-sandbox \
  petrel-kubelet petrel-workload petrel-k8s kubectl helm | tr '\n' ' ')"

step "Starting the sandbox cluster ($NODES nodes)"
"$BIN/petrel-sandbox" down >/dev/null 2>&1 || true
# native: the agents' XDP Service fast path on the nodes' veths (the underlay acts as a wire for it)
"$BIN/petrel-sandbox" up --nodes "$NODES" --lb-acceleration native

step "Petrel runs as the chart made it: an agent DaemonSet and an operator Deployment"
helm --kubeconfig "$KUBECONFIG" list -n kube-system
kubectl -n kube-system get daemonset,deployment,pods -o wide

step "kubectl get nodes -o wide"
kubectl get nodes -o wide

step "kubectl apply -f examples/sandbox/echo.yaml (three echo pods, a Service, a client)"
kubectl apply -f examples/sandbox/echo.yaml
kubectl wait --for=condition=Ready pod --all --timeout=90s >/dev/null
kubectl get pods -o wide

step "The EndpointSlice controller put the ready pods behind the Service"
kubectl get endpointslices -l kubernetes.io/service-name=echo -o wide

CLIENT_NODE=$(pod_field client '{.spec.nodeName}')
step "Traffic: the client pod (on $CLIENT_NODE) asks every echo pod who it is, on any node"
for pod in echo-1 echo-2 echo-3; do
  ip=$(pod_field $pod '{.status.podIP}')
  node=$(pod_field $pod '{.spec.nodeName}')
  if [ "$node" = "$CLIENT_NODE" ]; then how="same node, bpf_redirect_peer"; else how="VXLAN to $node"; fi
  printf '  client -> %-12s HTTP: %-7s UDP: %-10s (%s)\n' "$ip" \
    "$(in_pod client curl -s -m 3 "http://$ip:8080/")" \
    "$(echo hi | in_pod client socat -t 2 - "UDP:$ip:9001")" "$how"
done
step "Traffic: this machine reaches every pod through its node"
for pod in echo-1 echo-2 echo-3; do
  ip=$(pod_field $pod '{.status.podIP}')
  printf '  host -> %-12s (%s)  %s\n' "$ip" "$(pod_field $pod '{.spec.nodeName}')" \
    "$(curl -s -m 3 "http://$ip:8080/")"
done

step "Traffic to the outside: a server in the underlay namespace (192.168.200.1) sees the node's address"
nsenter --net=/run/netns/psbx-underlay "$BIN/petrel-workload" --name outside >/dev/null 2>&1 &
OUTSIDE_PID=$!
trap 'kill $OUTSIDE_PID 2>/dev/null || true' EXIT
for _ in 1 2 3 4 5 6 7 8 9 10; do
  nsenter --net=/run/netns/psbx-underlay curl -s -m 1 http://192.168.200.1:8080/ >/dev/null && break
  sleep 0.2
done
printf '  client (%s on %s) -> 192.168.200.1: the server saw %s (masqueraded by BPF)\n' \
  "$(pod_field client '{.status.podIP}')" "$CLIENT_NODE" \
  "$(in_pod client curl -s -m 3 http://192.168.200.1:8080/json | sed -n 's/.*"client": "\(.*\)".*/\1/p')"

CLUSTER_IP=$(kubectl get service echo -o jsonpath='{.spec.clusterIP}')
step "Services: the client asks the echo Service at its ClusterIP $CLUSTER_IP (socket-level LB: one translation at connect)"
for _ in 1 2 3 4 5 6; do
  printf '  client -> %s:80  HTTP: %s\n' "$CLUSTER_IP" "$(in_pod client curl -s -m 3 "http://$CLUSTER_IP/")"
done
printf '  client -> %s:9001/UDP  %s\n' "$CLUSTER_IP" \
  "$(echo hi | in_pod client socat -t 1 - "UDP:$CLUSTER_IP:9001")"
step "Services from outside: the underlay namespace asks NodePort 30080 on node-1 (Maglev + conntrack; backends on other nodes in XDP, local ones in tc)"
for _ in 1 2 3 4 5 6; do
  printf '  outside -> 192.168.200.11:30080  HTTP: %s\n' \
    "$(nsenter --net=/run/netns/psbx-underlay curl -s -m 3 http://192.168.200.11:30080/)"
done
echo "  node-1's Service counters (petrel bpf metrics list):"
"$BIN/petrel" bpf metrics list --bpf-root "$(pins_of node-1)" | grep -E 'REASON|service' |
  sed 's/^/    /'

step "What the agent on $CLIENT_NODE sees"
"$BIN/petrel" --socket "$STATE/nodes/$CLIENT_NODE/run/petrel.sock" endpoint list
"$BIN/petrel" --socket "$STATE/nodes/$CLIENT_NODE/run/petrel.sock" service list
"$BIN/petrel" bpf nat list --bpf-root "$(pins_of "$CLIENT_NODE")"
"$BIN/petrel" --socket "$STATE/nodes/$CLIENT_NODE/run/petrel.sock" bpf metrics list \
  --bpf-root "$(pins_of "$CLIENT_NODE")"

step "A Deployment (the real controllers: ReplicaSet, scheduler, EndpointSlices) and its DNS name"
kubectl create deployment web --image=petrel/workload --replicas=3 --port=8080
kubectl expose deployment web --port=80 --target-port=8080
kubectl rollout status deployment/web --timeout=120s
kubectl get pods -l app=web -o wide
CLIENT_PID=$(pod_field client '{.status.containerStatuses[0].containerID}')
CLIENT_PID=${CLIENT_PID#process://}
in_pod_fs() {  # as in_pod, and with the pod's own files (its resolv.conf names the cluster DNS)
  local cg
  cg=$(cgroup_of_node "$CLIENT_NODE")
  sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec nsenter -t "$0" -m -n "$@"' \
    "$CLIENT_PID" "$cg" "$@"
}
echo "  the client's /etc/resolv.conf: $(in_pod_fs cat /etc/resolv.conf | tr '\n' ' ')"
printf '  getent hosts web.default.svc.cluster.local: %s\n' \
  "$(in_pod_fs getent hosts web.default.svc.cluster.local)"
for _ in 1 2 3 4; do
  printf '  client -> http://web/  HTTP: %s\n' "$(in_pod_fs curl -s -m 3 http://web/)"
done

cat <<NEXT

$(printf '\033[1mThe sandbox keeps running. Next:\033[0m')
  export KUBECONFIG=$KUBECONFIG
  kubectl get pods -o wide -w                 # watch pods; try kubectl delete pod echo-2
  build/bin/petrel-sandbox status             # what runs where, every network namespace
  ip netns exec <NETNS> sh                    # step into a node or pod
  build/bin/petrel --socket $STATE/nodes/$CLIENT_NODE/run/petrel.sock status
  build/bin/petrel-sandbox restart node-1/agent  # pods keep their network across it
  build/bin/helm upgrade petrel charts/petrel -n kube-system --reuse-values --set agent.logLevel=debug
  scripts/demo.sh down                        # remove everything
NEXT

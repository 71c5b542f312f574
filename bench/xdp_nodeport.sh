#!/usr/bin/env bash
# The XDP NodePort fast path, per packet: Petrel's uplink XDP program against a no-op XDP_TX
# program (the floor: what any XDP forwarder costs at least), measured in the same run with
# BPF_PROG_TEST_RUN by bench/tools/xdp_bench.cc (see there for why every packet is its own run
# and how the counters prove every run took the real path).
#
#   bench/xdp_nodeport.sh [-n PACKETS] [-r ROUNDS]
#
# Prints ns per packet (median of the rounds' medians) for: the floor; an established
# connection to a backend on another node (conntrack hit, translation, cached next hop,
# XDP_TX); a new connection (Maglev choice, conntrack and NAT entries created, FIB); the
# established case in tunnel mode (plus VXLAN encapsulation); and the same established packet
# through the tc program. Goal: established under 100 ns above the floor (Katran's forwarding
# path costs about 105-125 ns above it on this kind of machine).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

PACKETS=200000
ROUNDS=5
while getopts "n:r:h" opt; do
  case $opt in
    n) PACKETS=$OPTARG ;;
    r) ROUNDS=$OPTARG ;;
    *) sed -n '2,14p' "$0"; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "run as root: it loads BPF programs" >&2; exit 1; }
[ -x "$BIN_DIR/petrel-bench-xdp" ] || { echo "missing $BIN_DIR/petrel-bench-xdp: run scripts/build.sh" >&2; exit 1; }

echo "XDP NodePort path: $PACKETS packets per case, $ROUNDS rounds (BPF_PROG_TEST_RUN, one run per packet)"
"$BIN_DIR/petrel-bench-xdp" --packets "$PACKETS" --rounds "$ROUNDS" >"$BENCH_TMP/xdp.json"
python3 - "$BENCH_TMP/xdp.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
floor = d["floor"]["median_ns"]
rows = [("floor (no-op XDP_TX)", "floor"), ("established, XDP", "established"),
        ("established, XDP + VXLAN", "tunnel"), ("new connection, XDP", "new-flow"),
        ("established, tc", "tc")]
print(f"{'case':28} {'ns/packet':>10} {'above floor':>12} {'x floor':>8}")
for label, key in rows:
    ns = d[key]["median_ns"]
    print(f"{label:28} {ns:10.0f} {ns - floor:12.0f} {ns / floor:8.2f}")
PY

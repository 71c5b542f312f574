#!/usr/bin/env bash
# Service load balancing: Petrel's socket LB (BPF on cgroup connect hooks) against kube-proxy's
# iptables rules (KUBE-SERVICES -> KUBE-SVC-* statistic random -> KUBE-SEP-* DNAT), loaded with
# iptables-nft-restore and iptables-legacy-restore, for the same N Services of 2 endpoints each.
#
#   bench/service_lb.sh [-n "1 1000 10000"] [-p "50000"] [-r ROUNDS] [-c COUNT] [-T ROUNDS]
#                       [-t SECONDS] [-R REPEAT]
#
# Measures, per N:
#   - time to program all N Services (from empty) and to add one more at N (Petrel:
#     BpfLbDatapath::apply() on the pinned maps; iptables: iptables-restore --noflush of the nat
#     table, the full table N + 1 for the add, as kube-proxy's full sync does), median of REPEAT;
#     for Petrel also what the agent's sync adds around apply() for one added Service: copying
#     the informers' object lists and serviceFrontends() over all N + 1 Services;
#   - new-connection request latency (connect, 16-byte request, answer, close; mean, p50, p99) with
#     one client, COUNT connections a round (-r rounds), and connections/s with two client threads
#     for SECONDS (-T rounds), to the last Service (the one added; last in KUBE-SERVICES), against
#     connecting straight to a backend pod IP; for Petrel also the connect4 and sock_release
#     programs' own run time per call (BPF stats, in a pass of their own).
# -p lists extra N for Petrel's programming time only. Each setup's client has its own network
# namespace with a veth to one server namespace, where 10.244.1.10 and .11 (the backends) answer.
# Rounds rotate the order of the setups. Everything is removed on exit.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

NS_LIST="1 1000 10000"
PETREL_ONLY="50000"
ROUNDS=15
COUNT=1000
TPUT_ROUNDS=3
SECONDS_TPUT=1
REPEAT=3
while getopts "n:p:r:c:T:t:R:h" opt; do
  case $opt in
    n) NS_LIST=$OPTARG ;;
    p) PETREL_ONLY=$OPTARG ;;
    r) ROUNDS=$OPTARG ;;
    c) COUNT=$OPTARG ;;
    T) TPUT_ROUNDS=$OPTARG ;;
    t) SECONDS_TPUT=$OPTARG ;;
    R) REPEAT=$OPTARG ;;
    *) sed -n '2,23p' "$0"; exit 2 ;;
  esac
done

for t in iptables-nft iptables-legacy iptables-nft-restore iptables-legacy-restore; do
  command -v "$t" >/dev/null 2>&1 ||
    die "missing $t: install the Debian package 'iptables' (it has both the nft and legacy variants)"
done
LB=$BIN_DIR/petrel-bench-lb
require jq nsenter ip "$LB"

SERVER=$BENCH_ID-srv
BACKEND_A=10.244.1.10
BACKEND_B=10.244.1.11
BACKEND_PORT=8080
CGROUP_MOUNT=""
_cgroups=()
_lb_pins=()

lb_cleanup() {
  set +e  # every step is best-effort (bench_cleanup's kill/wait fail for processes already gone)
  local dir
  for dir in "${_lb_pins[@]}"; do "$LB" detach --pin-root "$dir" >/dev/null 2>&1 || true; done
  for dir in "${_cgroups[@]}"; do
    # Nothing of ours is left in it (the clients have exited); move stragglers to the root.
    if [ -f "$dir/cgroup.procs" ]; then
      while read -r pid; do echo "$pid" >"$CGROUP_MOUNT/cgroup.procs" 2>/dev/null || true; done \
        <"$dir/cgroup.procs"
      rmdir "$dir" 2>/dev/null || echo "bench: could not remove $dir" >&2
    fi
  done
  bench_cleanup
}
trap lb_cleanup EXIT

# cluster_ip INDEX: the ClusterIP of Service INDEX (10.96.0.10 + INDEX, as petrel-bench-lb).
cluster_ip() {
  local x=$((10 + $1))
  echo "10.$((96 + x / 65536)).$(((x / 256) % 256)).$((x % 256))"
}

# ---- network ----------------------------------------------------------------------------------
netns_add "$SERVER"
ip -n "$SERVER" addr add "$BACKEND_A/32" dev lo
ip -n "$SERVER" addr add "$BACKEND_B/32" dev lo
bg_in_ns "$SERVER" "$LB" serve --port "$BACKEND_PORT" --threads 4
wait_port "$SERVER" "$BACKEND_PORT"

_client_count=0
# client_ns NAME: a client namespace with a veth to the server (10.244.(100+k).2 -> .1), default
# route. Client addresses are in the cluster CIDR (10.244.0.0/16), as a pod's: kube-proxy's rules
# then DNAT without masquerading. (With a source outside it, KUBE-MARK-MASQ + MASQUERADE
# --random-fully SNATs every connection, and tens of thousands of connections a second from one
# address to one backend fill the conntrack port space within a round: seconds-long stalls that
# measure that artifact, not the rules.)
client_ns() {
  local ns=$BENCH_ID-$1 k=$((++_client_count))
  netns_add "$ns"
  ip -n "$SERVER" link add "lbs$k" type veth peer name eth0 netns "$ns"
  ip -n "$SERVER" addr add "10.244.$((100 + k)).1/24" dev "lbs$k"
  ip -n "$SERVER" link set "lbs$k" up
  ip -n "$ns" addr add "10.244.$((100 + k)).2/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add default via "10.244.$((100 + k)).1"
}

# Setups measured: name -> netns, target, cgroup to join, pin root for connect4 stats.
declare -A SETUP_NS SETUP_TARGET SETUP_CGROUP SETUP_PIN
SETUPS=()
add_setup() {  # NAME TARGET [CGROUP PIN_ROOT]
  client_ns "$1"
  SETUPS+=("$1")
  SETUP_NS[$1]=$BENCH_ID-$1
  SETUP_TARGET[$1]=$2
  SETUP_CGROUP[$1]=${3:-}
  SETUP_PIN[$1]=${4:-}
}

add_setup direct "$BACKEND_A:$BACKEND_PORT"

RES=$BENCH_TMP/results
mkdir -p "$RES"

# ---- Petrel: program the maps -----------------------------------------------------------------
CGROUP_MOUNT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$CGROUP_MOUNT" ] || die "no cgroup2 mount (the socket LB needs cgroup v2)"

for n in $NS_LIST $PETREL_ONLY; do
  pin=/sys/fs/bpf/$BENCH_ID-lb-$n
  _pin_dirs+=("$pin")
  _lb_pins+=("$pin")
  if [[ " $NS_LIST " == *" $n "* ]]; then
    cg=$CGROUP_MOUNT/petrel-bench-$BENCH_ID-$n
    mkdir "$cg"
    _cgroups+=("$cg")
    echo "Petrel: programming $n Services (x$REPEAT), socket LB on $cg" >&2
    "$LB" program --pin-root "$pin" --services "$n" --repeat "$REPEAT" --keep --cgroup "$cg" \
      2>"$BENCH_TMP/program-$n.log" >"$RES/program-petrel-$n.json" ||
      { cat "$BENCH_TMP/program-$n.log" >&2; die "petrel-bench-lb program failed for $n Services"; }
    add_setup "petrel-$n" "$(cluster_ip "$n"):80" "$cg" "$pin"
    # The pod IP from a socket-LB cgroup: what the hooks cost traffic that is no Service.
    [ -n "${SETUP_NS[direct-cgroup]:-}" ] ||
      add_setup direct-cgroup "$BACKEND_A:$BACKEND_PORT" "$cg" "$pin"
  else
    echo "Petrel: programming $n Services (x$REPEAT), programming time only" >&2
    "$LB" program --pin-root "$pin" --services "$n" --repeat "$REPEAT" \
      2>"$BENCH_TMP/program-$n.log" >"$RES/program-petrel-$n.json" ||
      { cat "$BENCH_TMP/program-$n.log" >&2; die "petrel-bench-lb program failed for $n Services"; }
    "$LB" detach --pin-root "$pin" >/dev/null 2>&1 || true
    rm -rf "$pin"
  fi
done

# ---- iptables: load kube-proxy's nat table ----------------------------------------------------
EMPTY_NAT=$'*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n'
# Runs inside the client netns: REPEAT x (reset the nat table; time restore of N; time restore of
# N + 1), the clock read by bash itself ($EPOCHREALTIME) around each iptables-restore exec; once
# only when one pass takes more than 10 s.
# shellcheck disable=SC2016
TIME_RESTORE='
  restore=$1 file_n=$2 file_n1=$3 repeat=$4 empty=$5
  for ((i = 0; i < repeat; i++)); do
    printf "%s" "$empty" | $restore -w
    t0=$EPOCHREALTIME; $restore -w --noflush <"$file_n" || exit 1
    t1=$EPOCHREALTIME; $restore -w --noflush <"$file_n1" || exit 1
    t2=$EPOCHREALTIME
    echo "$t0 $t1 $t2"
    # iptables-nft takes minutes at 10,000 Services: repeat only what is quick.
    [ "${t0%.*}" -ge "$((${t2%.*} - 10))" ] || break
  done'

for n in $NS_LIST; do
  "$LB" iptables-rules --services "$n" >"$BENCH_TMP/rules-$n"
  "$LB" iptables-rules --services "$n" --plus-one >"$BENCH_TMP/rules-$n-plus-one"
  for flavor in nft legacy; do
    name=$flavor-$n
    add_setup "$name" "$(cluster_ip "$n"):80"
    echo "iptables-$flavor: loading $n Services (x$REPEAT)" >&2
    in_ns "$BENCH_ID-$name" bash -c "$TIME_RESTORE" _ "iptables-$flavor-restore" \
      "$BENCH_TMP/rules-$n" "$BENCH_TMP/rules-$n-plus-one" "$REPEAT" "$EMPTY_NAT" \
      >"$RES/program-$name.times" || die "iptables-$flavor-restore failed for $n Services"
    rules=$(in_ns "$BENCH_ID-$name" "iptables-$flavor-save" -t nat | grep -c '^-A')
    echo "$rules" >"$RES/program-$name.rules"
  done
done

# ---- latency and connections/s ----------------------------------------------------------------
measure() {  # SETUP lat|tput ROUND
  local s=$1 cg=()
  [ -z "${SETUP_CGROUP[$s]}" ] || cg+=(--cgroup "${SETUP_CGROUP[$s]}")
  if [ "$2" = lat ]; then
    in_ns "${SETUP_NS[$s]}" "$LB" connect --target "${SETUP_TARGET[$s]}" --count "$COUNT" \
      --warmup 50 "${cg[@]}" >>"$RES/lat-$s.json" || die "connect failed: $s round $3"
  else
    in_ns "${SETUP_NS[$s]}" "$LB" connect --target "${SETUP_TARGET[$s]}" \
      --seconds "$SECONDS_TPUT" --threads 2 --warmup 10 "${cg[@]}" >>"$RES/tput-$s.json" ||
      die "connect failed: $s round $3 (throughput)"
  fi
}

# Each round runs every setup once, the order rotated by one from the round before.
run_rounds() {  # lat|tput ROUNDS
  local r i n=${#SETUPS[@]}
  for ((r = 0; r < $2; r++)); do
    for ((i = 0; i < n; i++)); do measure "${SETUPS[$(((i + r) % n))]}" "$1" "$r"; done
  done
}
echo "latency: ${#SETUPS[@]} setups x $ROUNDS rounds of $COUNT connections" >&2
run_rounds lat "$ROUNDS"
echo "connections/s: ${#SETUPS[@]} setups x $TPUT_ROUNDS rounds of ${SECONDS_TPUT}s, 2 threads" >&2
run_rounds tput "$TPUT_ROUNDS"
# The socket LB programs' own run time, in a pass of its own: BPF stats slow every program.
for s in "${SETUPS[@]}"; do
  [ -n "${SETUP_PIN[$s]}" ] || continue
  in_ns "${SETUP_NS[$s]}" "$LB" connect --target "${SETUP_TARGET[$s]}" --count "$COUNT" \
    --warmup 50 --cgroup "${SETUP_CGROUP[$s]}" --hook-stats "${SETUP_PIN[$s]}" \
    >"$RES/stats-$s.json" || die "connect failed: $s (BPF stats)"
done

# ---- report -----------------------------------------------------------------------------------
# med_json FILE FIELD: median over the rounds' JSON lines.
med_json() { jq -r ".$2" "$1" | percentile 50; }
fmt1() { awk -v v="$1" 'BEGIN { printf "%.1f", v }'; }
fmt2() { awk -v v="$1" 'BEGIN { printf "%.2f", v }'; }
fmt3() { awk -v v="$1" 'BEGIN { printf "%.3f", v }'; }
# hits SETUP: answers per backend over the latency rounds, and errors over all runs if any.
hits() {
  local h e
  h=$(jq -s -c '[.[].backends | to_entries[]] | group_by(.key)
    | map({(.[0].key): (map(.value) | add)}) | add' "$RES/lat-$1.json")
  e=$(jq -s 'map(.errors) | add' "$RES/lat-$1.json" "$RES/tput-$1.json")
  if [ "$e" = 0 ]; then echo "$h"; else echo "$h, $e errors"; fi
}
# ipt_ms SETUP COLUMN: median over the repeats of restore time (1: all N, 2: add one), in ms.
ipt_ms() {
  awk -v c="$2" '{ print ($(c + 1) - $c) * 1000 }' "$RES/program-$1.times" | percentile 50
}

echo
echo "Service LB, $(date -u +%F) on $(nproc) CPUs, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "program: median of $REPEAT (iptables: 1 when a pass takes > 10 s); latency: medians over $ROUNDS rounds of $COUNT connections; conn/s: median of $TPUT_ROUNDS rounds, 2 client threads, ${SECONDS_TPUT}s"
echo
echo "## Time to program (ms)"
echo
echo "| N | Petrel all | Petrel +1 | nft all | nft +1 | legacy all | legacy +1 | rules in nat | nft/Petrel all | nft/Petrel +1 |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for n in $NS_LIST $PETREL_ONLY; do
  pa=$(jq -r .apply_all_ms "$RES/program-petrel-$n.json")
  p1=$(jq -r .add_one_ms "$RES/program-petrel-$n.json")
  if [ -f "$RES/program-nft-$n.times" ]; then
    na=$(ipt_ms "nft-$n" 1) n1=$(ipt_ms "nft-$n" 2)
    la=$(ipt_ms "legacy-$n" 1) l1=$(ipt_ms "legacy-$n" 2)
    echo "| $n | $(fmt3 "$pa") | $(fmt3 "$p1") | $(fmt1 "$na") | $(fmt1 "$n1") | $(fmt1 "$la") | $(fmt1 "$l1") | $(cat "$RES/program-nft-$n.rules") | $(ratio "$na" "$pa") | $(ratio "$n1" "$p1") |"
  else
    echo "| $n | $(fmt3 "$pa") | $(fmt3 "$p1") | - | - | - | - | - | - | - |"
  fi
done
echo
echo "## Petrel: one Service added, the agent's whole sync (ms)"
echo
echo "apply +1: the writer alone (frontends written / map writes); sync +1: the agent's sync after"
echo "the add (the Service and its slice fetched, its frontends recomputed alone, apply). The full"
echo "sync (start, repair pass): lists, copying the Service and EndpointSlice lists as the informers"
echo "hand them out; serviceFrontends, the desired state from all N + 1 Services; full: lists +"
echo "serviceFrontends + apply."
echo
echo "| N | apply +1 | written / map writes | sync +1 | lists | serviceFrontends | full sync |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for n in $NS_LIST $PETREL_ONLY; do
  f=$RES/program-petrel-$n.json
  echo "| $n | $(fmt3 "$(jq -r .add_one_ms "$f")") | $(jq -r '"\(.add_one_written) / \(.add_one_map_writes)"' "$f") | $(fmt3 "$(jq -r .agent_add_one_ms "$f")") | $(fmt3 "$(jq -r .lists_copy_ms "$f")") | $(fmt3 "$(jq -r .frontends_ms "$f")") | $(fmt3 "$(jq -r .full_sync_ms "$f")") |"
done
echo
echo "## New connection + request + close, to the last Service"
echo
echo "Medians over rounds. \"paired\": the median over rounds of this setup's mean / direct's mean in"
echo "the same round. connect4 / release: the socket LB programs' own run time per connection (BPF"
echo "stats, in a pass after the rounds: the stats slow every program, so the rounds run without)."
echo
# paired SETUP: median over rounds of (SETUP mean / direct mean), rounds matched by line.
paired() {
  paste <(jq -r .mean_us "$RES/lat-$1.json") <(jq -r .mean_us "$RES/lat-direct.json") |
    awk '{ print $1 / $2 }' | percentile 50
}
d_mean=$(med_json "$RES/lat-direct.json" mean_us)
d_p50=$(med_json "$RES/lat-direct.json" p50_us)
d_p99=$(med_json "$RES/lat-direct.json" p99_us)
d_cps=$(med_json "$RES/tput-direct.json" conn_per_s)
row() {  # LABEL SETUP [NFT_SETUP]
  local s=$2 m p50 p99 c hook="-" vs_nft="-"
  m=$(med_json "$RES/lat-$s.json" mean_us)
  p50=$(med_json "$RES/lat-$s.json" p50_us)
  p99=$(med_json "$RES/lat-$s.json" p99_us)
  c=$(med_json "$RES/tput-$s.json" conn_per_s)
  [ -z "${SETUP_PIN[$s]}" ] ||
    hook="$(jq -r '"\(.connect4_ns) / \(.release_ns // "-")"' "$RES/stats-$s.json") ns"
  [ -z "${3:-}" ] || vs_nft=$(ratio "$m" "$(med_json "$RES/lat-$3.json" mean_us)")
  echo "| $1 | $(fmt1 "$m") | $(fmt1 "$p50") | $(fmt1 "$p99") | $(fmt1 "$c") | $(ratio "$m" "$d_mean") | $(fmt2 "$(paired "$s")") | $(ratio "$p50" "$d_p50") | $(ratio "$p99" "$d_p99") | $(ratio "$c" "$d_cps") | $vs_nft | $hook | $(hits "$s") |"
}
echo "| setup | mean (µs) | p50 (µs) | p99 (µs) | conn/s | mean / direct | paired | p50 / direct | p99 / direct | conn/s / direct | mean / nft same N | connect4 / release | backends hit |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
row "direct to pod IP" direct
row "direct to pod IP, in Petrel's cgroup (N=${NS_LIST%% *})" direct-cgroup
for n in $NS_LIST; do
  row "Petrel N=$n" "petrel-$n" "nft-$n"
  row "iptables-nft N=$n" "nft-$n" "nft-$n"
  row "iptables-legacy N=$n" "legacy-$n" "nft-$n"
done
echo
first=${NS_LIST%% *} last=${NS_LIST##* }
echo "Petrel N=$last / N=$first: mean $(ratio "$(med_json "$RES/lat-petrel-$last.json" mean_us)" "$(med_json "$RES/lat-petrel-$first.json" mean_us)"), p50 $(ratio "$(med_json "$RES/lat-petrel-$last.json" p50_us)" "$(med_json "$RES/lat-petrel-$first.json" p50_us)"), connect4 run time $(ratio "$(jq -r .connect4_ns "$RES/stats-petrel-$last.json")" "$(jq -r .connect4_ns "$RES/stats-petrel-$first.json")")"
echo
echo "Per-round values (mean_us/p99_us | conn/s):"
for s in "${SETUPS[@]}"; do
  printf '  %-14s %s | %s\n' "$s" \
    "$(jq -r '"\(.mean_us|floor)/\(.p99_us|floor)"' "$RES/lat-$s.json" | tr '\n' ' ')" \
    "$(jq -r '.conn_per_s|floor' "$RES/tput-$s.json" | tr '\n' ' ')"
done
echo "Petrel programming runs (ms):"
for n in $NS_LIST $PETREL_ONLY; do
  echo "  N=$n $(jq -c .runs "$RES/program-petrel-$n.json")"
done
echo "iptables restore runs (ms, all / +1):"
for n in $NS_LIST; do
  for flavor in nft legacy; do
    echo "  $flavor N=$n $(awk '{ printf "%.1f/%.1f ", ($2 - $1) * 1000, ($3 - $2) * 1000 }' "$RES/program-$flavor-$n.times")"
  done
done

#!/usr/bin/env bash
# gpu-cluster.sh: an emulated multi-node GPU cluster on one multi-GPU machine, and the engine's
# measurement on it (docs/gpu.md, "Emulated multi-node GPU cluster"). Root only; nothing is
# installed into /: iproute2 and its libraries come as .debs unpacked into a prefix.
#
# Two network namespaces are the two nodes, joined by one veth pair (10.77.0.1/30, 10.77.0.2/30,
# no other route), optionally shaped on both ends with `tc ... tbf` (each direction RATE). Ranks
# are plain processes started here inside a namespace (`ip netns exec`), grace's NCCL id goes
# through a rendezvous folder (`grace run --rendezvous`), and NCCL runs its socket transport over
# the veth between the nodes: NCCL_IB_DISABLE=1, NCCL_SHM_DISABLE=1, NCCL_SOCKET_IFNAME=gv,
# NCCL_HOSTID distinct per namespace. Setups:
#   2x1: one rank (GPU) per node, NCCL_P2P_DISABLE=1;
#   2x2: ranks 0-1 in node 0 on GPUs 0-1, ranks 2-3 in node 1 on GPUs 0-1; P2P (NVLink) inside a
#        node, NET/Socket between nodes. Each GPU serves one rank of each node (compute shared).
#
# Usage (root, on the GPU machine, from the repository root):
#   scripts/gpu-cluster.sh measure BUILD_DIR DATA_DIR OUT_DIR
#       the whole measurement: for each setup (2x1, 2x2) and rate (10gbit, unshaped) the link
#       sweep (grace_nccl_sweep), then `grace run --backend cuda` for every case and tokens/GPU;
#       writes OUT_DIR/cluster.tsv (one row per run), sweep_*.txt and the runs' logs (tar).
#   scripts/gpu-cluster.sh layout SETUP   prints each rank's namespace and device index (no root)
#   scripts/gpu-cluster.sh run SETUP RATE -- CMD...   one command per rank on the cluster (CMD
#       gets GRACE_RANK/GRACE_SIZE/GRACE_LOCAL_RANK and a fresh folder in $GRACE_RDV)
# DATA_DIR: trace/ (DeepSeek-V2-Lite ESFT traces, as in ../shared/data) and pl/<setup>-<planner>.json
# (grace plan on the same traces). Knobs: NET_DEBS (default .debs/net), TOKENS ("1024 8192"),
# LAYERS (3), CASES, RATES ("10gbit none"), SETUPS ("2x1 2x2"), TBF_BURST (4mb), TBF_LATENCY
# (50ms), GATE_CASES, BATCHING (grace run --batching: trace, the default, or balanced), NS_MTU (the veth's MTU; default 1500), NS_SYSCTL (written under /proc/sys
# inside both namespaces; default "net/ipv4/tcp_congestion_control=reno", see below), SWEEP (0: no
# link sweep before the runs), ONE_NS=1 (every rank in namespace 0: NCCL's sockets then go over
# the namespace's local route, not the veth; a probe, bench/cuda/nccl-fixed-cost.sh).
# TCPSTAT=1: the kernel's TCP counters of both namespaces (iproute2's nstat) around every launch,
# a row per launch in OUT_DIR/tcpstat.tsv (see tcp_row): do slow launches lose packets at the tbf?
# SSINFO=MS: every MS milliseconds during each launch, `ss -tin` of both namespaces (each TCP
# connection's cwnd, rtt, Send-Q, delivery rate and the time it spent limited by the receiver's
# window or its send buffer) to OUT_DIR/ss/<run>.txt, then bench/cuda/ss-summary.py sums each
# launch in OUT_DIR/ss-summary.tsv: is a slow launch's sender starved, blocked or queued?
# LINKSTAT=MS: during each launch, bench/cuda/link-sampler.py inside both namespaces reads the
# veth's byte and drop counters, its qdisc's backlog and drops, the host's softnet drops and the
# TCP sockets' queues every MS ms (or as fast as tc and ss answer) to
# OUT_DIR/link/<run>.<namespace>.txt; bench/cuda/link-summary.py then gives, per launch and node,
# the rate while the shaper had a queue, the time it ran empty and who held up the idle link
# (OUT_DIR/link-summary.tsv). Sampling the sockets this often slows the launches (run 15d).
# BATCHES: timed batches per launch (grace run --max-batches; default 8, and from 4,096 tokens/GPU
# up 32,768 tokens' worth: 2 batches of 2x1 at 8,192). The trace must hold them
# (gpu-cluster-data.sh REPEAT): with few timed layer calls one stall weighs on the whole launch.
# RANK_CPUS: CPU lists, one per rank in rank order (e.g. "0-7 8-15"): each rank runs under
# `taskset -c` on its own (default: unpinned, where the kernel puts it).
# MPS (auto): an MPS daemon while a setup has more ranks than GPUs (see mps_for); 1: always, 0:
# never. GPUS: the GPU count to assume (default: nvidia-smi's). WARMUP (2): warm-up calls of the first batch
# before the timed ones. The dispatch sizes each message from the units of the call before
# (src/cuda/a2a_stage.h): a layer's first call overflows and sizes its buffers differently, so the
# second warm-up is the first steady call. REPEAT (1): launches of every case, in interleaved rounds
# (all cases once, then all again), each a row of cluster.tsv with its round in column `launch`;
# OUT_DIR/cluster-summary.tsv then gives every case's least, median and largest layer time
# (bench/cuda/cluster-summary.py). Consecutive launches of one case at 10 Gbit/s vary by up to
# 1.5x (2026-11-30, 8,192 tokens: 2x1 contiguous 61.4 and 78.3 ms in one call; 2x2 up to 2.4x), so one launch per
# case can put a slow launch against a fast one; the least of 3 is the least disturbed. A slow
# launch moves the same bytes at the link's rate and stalls in between (docs/gpu.md, "Run 15");
# with only 2 timed batches one stall weighs on the whole launch (BATCHES=8: spread <= 1.07x).
set -uo pipefail
cd "$(dirname "$0")/.."

NET_PREFIX=/tmp/grace-net
BASE_LD=${LD_LIBRARY_PATH:-}
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1

die() { echo "gpu-cluster: $*" >&2; exit 1; }
bad() { echo "gpu-cluster: $*" >&2; exit 2; }  # bad input: one line, exit 2
# check_setup WHAT SETUP: SETUP must read 2xG (G GPUs per node, 1..9).
check_setup() { [[ "$2" =~ ^2x[1-9]$ ]] || bad "$1: want a setup 2xG (G = 1..9), got '$2'"; }

net_tools() {  # ip and tc from the carried .debs, run with their own libraries only
  if [ -n "${FORCE_NET_DEBS:-}" ] || ! command -v ip >/dev/null || ! command -v tc >/dev/null; then
    local debs=${NET_DEBS:-.debs/net}
    [ -d "$debs" ] || die "no ip/tc here and no $debs (scripts/device-debs.sh download)"
    mkdir -p "$NET_PREFIX"
    for f in "$debs"/*.deb; do dpkg -x "$f" "$NET_PREFIX"; done
    local lib="$NET_PREFIX/lib/x86_64-linux-gnu:$NET_PREFIX/usr/lib/x86_64-linux-gnu"
    IP="env LD_LIBRARY_PATH=$lib $(ls "$NET_PREFIX"/{bin,sbin,usr/bin,usr/sbin}/ip 2>/dev/null | head -1)"
    TC="env LD_LIBRARY_PATH=$lib $(ls "$NET_PREFIX"/{bin,sbin,usr/bin,usr/sbin}/tc 2>/dev/null | head -1)"
    NSTAT="env LD_LIBRARY_PATH=$lib $(ls "$NET_PREFIX"/{bin,sbin,usr/bin,usr/sbin}/nstat 2>/dev/null | head -1)"
    SS="env LD_LIBRARY_PATH=$lib $(ls "$NET_PREFIX"/{bin,sbin,usr/bin,usr/sbin}/ss 2>/dev/null | head -1)"
  else
    IP=ip
    TC=tc
    NSTAT=nstat
    SS=ss
  fi
  $IP -V >/dev/null || die "ip does not run"
}

# TCP inside the namespaces: Reno. The GPU machine's default is BBR, whose pacing and bandwidth
# probes behind the tbf made the 10 Gbit/s rows erratic (2026-11-30: 2x1 contiguous at 1,024
# tokens 19.2 ms in run 7a and 29.5 in run 7b, both BBR; a phase twice as slow as its bytes); with
# Reno (run 7c: 7.0 ms) the rows sit at 0.83-1.13x of bytes / bandwidth. Cubic cannot be chosen inside a namespace there
# (not in tcp_allowed_congestion_control). NS_SYSCTL= (empty) keeps the machine's default.
NS_SYSCTL_DEFAULT=net/ipv4/tcp_congestion_control=reno
NS0=gracegpu0
NS1=gracegpu1
# MPS: an MPS control daemon (its pipe and log folders under /tmp/grace-mps), so that the
# processes sharing a GPU (2x2 on two GPUs: each GPU serves one rank of each node) run their
# kernels side by side instead of in time slices: an NCCL kernel spinning for its peer's data on the
# same GPU otherwise holds the GPU for its slice (~2 ms), the stall that cost 2x1 ~2.5 ms per
# exchange until its ranks got their own GPUs. 2026-11-30 (Reno, 2x2, 10 Gbit/s, one call each way):
# the sweep's 256 KB exchange 0.43 ms with MPS, 2.58 ms without; grace/tar/hierarchical 99.7 ms
# with, 106.2 without (bench/cuda/results/gpu_cluster_run8b_*.tsv). Default auto: on exactly while
# a setup's ranks share GPUs, so 2x1 (a GPU per rank) runs as before. No GPU setting is changed.
gpu_count() {
  if [ -n "${GPUS:-}" ]; then echo "$GPUS"; else nvidia-smi -L 2>/dev/null | grep -c '^GPU'; fi
}
# mps_wanted RANKS GPUS: "on" or "off" (MPS: auto, 1 or 0).
mps_wanted() {
  case "${MPS:-auto}" in
    1) echo on ;;
    0) echo off ;;
    auto) if [ "$2" -gt 0 ] && [ "$1" -gt "$2" ]; then echo on; else echo off; fi ;;
    *) bad "MPS: want auto, 1 or 0, got '${MPS}'" ;;
  esac
}
# MPS=1 insists (no daemon: stop); auto warns and runs time-sliced, as before run 8.
mps_start() {
  [ "${MPS_STARTED:-0}" = 1 ] && return 0
  local why=""
  if ! command -v nvidia-cuda-mps-control >/dev/null; then
    why="no nvidia-cuda-mps-control"
  else
    export CUDA_MPS_PIPE_DIRECTORY=/tmp/grace-mps/pipe CUDA_MPS_LOG_DIRECTORY=/tmp/grace-mps/log
    mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
    nvidia-cuda-mps-control -d && { MPS_STARTED=1; return 0; }
    unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
    why="the MPS control daemon did not start"
  fi
  [ "${MPS:-auto}" = 1 ] && die "MPS=1 but $why"
  echo "gpu-cluster: warning: $why: ranks that share a GPU run time-sliced (~2.6 ms per exchange)" >&2
}
mps_stop() {
  [ "${MPS_STARTED:-0}" = 1 ] || return 0
  echo quit | nvidia-cuda-mps-control >/dev/null 2>&1
  unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
  MPS_STARTED=0
}
# mps_for RANKS: starts or stops the daemon for a setup of RANKS processes.
mps_for() {
  local want gpus
  gpus=$(gpu_count)
  want=$(mps_wanted "$1" "$gpus") || exit 2
  echo "== MPS $want ($1 ranks, $gpus GPUs)"
  if [ "$want" = on ]; then mps_start; else mps_stop; fi
}

teardown() {
  $IP netns del $NS0 2>/dev/null
  $IP netns del $NS1 2>/dev/null
  true
}

# setup RATE: the two namespaces and the veth, shaped to RATE ("none": unshaped).
setup() {
  teardown
  $IP netns add $NS0 && $IP netns add $NS1 || die "cannot create network namespaces"
  $IP link add gv0 type veth peer name gv1 || die "cannot create the veth pair"
  $IP link set gv0 netns $NS0
  $IP link set gv1 netns $NS1
  $IP -n $NS0 addr add 10.77.0.1/30 dev gv0
  $IP -n $NS1 addr add 10.77.0.2/30 dev gv1
  for i in 0 1; do
    local ns=gracegpu$i
    $IP -n $ns link set lo up
    [ -n "${NS_MTU:-}" ] && { $IP -n $ns link set gv$i mtu "$NS_MTU" || die "cannot set MTU $NS_MTU"; }
    $IP -n $ns link set gv$i up
    if [ "$1" != none ]; then
      $IP netns exec $ns $TC qdisc add dev gv$i root tbf rate "$1" burst "${TBF_BURST:-4mb}" \
        latency "${TBF_LATENCY:-50ms}" || die "tc tbf failed"
    fi
    for kv in ${NS_SYSCTL-$NS_SYSCTL_DEFAULT}; do
      $IP netns exec $ns sh -c "echo ${kv#*=} > /proc/sys/${kv%%=*}" || die "cannot set ${kv} in $ns"
    done
  done
}

# rank_layout GPUS_PER_NODE RANK: prints "<node> <device index>" of a rank. The device index goes
# to GRACE_LOCAL_RANK, which grace and the sweep take modulo the visible GPUs: the global rank, so
# 2x1 puts each node's rank on its own GPU and 2x2 (4 ranks, 2 GPUs) has each GPU serve one rank
# of each node. (Until 2026-11-30 the node-local rank was passed, which put both 2x1 ranks on GPU
# 0: two processes on one GPU are time-sliced, ~2 ms a turn.) ONE_NS=1: every rank in node 0.
rank_layout() {
  local node=$(($2 / $1))
  [ "${ONE_NS:-0}" = 1 ] && node=0
  echo "$node $2"
}

# launch SETUP LOGPREFIX CMD...: one process per rank, in its node's namespace; waits for all.
launch() {
  local setup=$1 logp=$2
  shift 2
  local gpn=${setup#2x} n=$((2 * ${setup#2x})) rdv pids=() rc=0
  rdv=$(mktemp -d /tmp/grace-rdv.XXXXXX)
  local args=() cpus=(${RANK_CPUS:-})
  for a in "$@"; do
    [ "$a" = @RDV@ ] && a=$rdv
    args+=("$a")
  done
  for ((r = 0; r < n; ++r)); do
    local node dev
    read -r node dev <<< "$(rank_layout "$gpn" "$r")"
    local p2p=1 pin=()
    [ "$gpn" -gt 1 ] && p2p=0
    [ ${#cpus[@]} -gt 0 ] && pin=(taskset -c "${cpus[$r]}")
    $IP netns exec gracegpu$node "${pin[@]}" env LD_LIBRARY_PATH="$BASE_LD" GRACE_RANK=$r GRACE_SIZE=$n GRACE_LOCAL_RANK=$dev \
      GRACE_RDV="$rdv" NCCL_HOSTID=grace-node$node NCCL_SOCKET_IFNAME=gv NCCL_IB_DISABLE=1 NCCL_SHM_DISABLE=1 \
      NCCL_P2P_DISABLE=$p2p NCCL_NVLS_ENABLE=0 NCCL_SOCKET_NTHREADS=${NCCL_SOCKET_NTHREADS:-4} \
      NCCL_NSOCKS_PERTHREAD=${NCCL_NSOCKS_PERTHREAD:-4} NCCL_DEBUG=${NCCL_DEBUG:-WARN} GRACE_CUDA_WIRE_STATS=1 \
      timeout -k 5 "${RUN_TIMEOUT:-90}" "${args[@]}" > "$logp.rank$r.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  rm -rf "$rdv"
  return $rc
}

# TCPSTAT=1: TCP counters per launch. tcp_mark zeroes nstat's history in both namespaces (the
# counters are the namespace's own) and notes the time; tcp_row FIELDS... prints FIELDS, the
# launch's start and end (seconds since the epoch, to line launches up with other logs) and each
# counter's change since, summed over the two nodes: segments sent, retransmitted, retransmission
# timeouts (each at least 200 ms of silence on its connection), tail loss probes, fast retransmits,
# retransmissions the receiver reported as duplicates (DSACK: the segment was not lost but
# reordered or late), retransmissions lost again, segments that arrived out of order, and segments
# the receiver dropped (receive queue full, socket backlog full).
TCP_COUNTERS="TcpOutSegs TcpRetransSegs TcpExtTCPTimeouts TcpExtTCPLossProbes TcpExtTCPFastRetrans"
TCP_COUNTERS+=" TcpExtTCPDSACKRecv TcpExtTCPLostRetransmit TcpExtTCPOFOQueue TcpExtTCPRcvQDrop TcpExtTCPBacklogDrop"
tcp_mark() {
  local i
  for i in 0 1; do $IP netns exec gracegpu$i env NSTAT_HISTORY=/tmp/grace-nstat.$i $NSTAT -n > /dev/null; done
  TCP_START=$(date +%s.%N)
}
tcp_row() {
  local i c name value rest line
  line=$(printf '%s\t' "$@" "$TCP_START" "$(date +%s.%N)")
  declare -A sum=()
  for i in 0 1; do
    while read -r name value rest; do
      [[ "$value" =~ ^[0-9]+$ ]] && sum[$name]=$((${sum[$name]:-0} + value))
    done < <($IP netns exec gracegpu$i env NSTAT_HISTORY=/tmp/grace-nstat.$i $NSTAT -z $TCP_COUNTERS 2> /dev/null)
  done
  for c in $TCP_COUNTERS; do line+="${sum[$c]:-0}"$'\t'; done
  echo "${line%$'\t'}"
}

# SSINFO=MS: ss_start FILE samples both namespaces' established TCP connections every MS ms into
# FILE, one line per connection: "<seconds since the epoch> <namespace> <ss -tinHO's line>"
# (Recv-Q, Send-Q, local, peer, then tcp_info's fields); ss_stop ends it.
ss_start() {
  local file=$1 period
  period=$(awk -v ms="$SSINFO" 'BEGIN { printf "%.3f", ms / 1000 }')
  (
    while :; do
      for i in 0 1; do
        $IP netns exec gracegpu$i $SS -tinHO state established 2> /dev/null | sed "s/^/$(date +%s.%N) gracegpu$i /"
      done
      sleep "$period"
    done
  ) >> "$file" &
  SS_PID=$!
}
ss_stop() {
  [ -n "${SS_PID:-}" ] || return 0
  kill "$SS_PID" 2> /dev/null
  wait "$SS_PID" 2> /dev/null
  SS_PID=
}
# LINKSTAT=MS: link_start PREFIX runs link-sampler.py on each node's end of the veth into
# PREFIX.gracegpu<i>.txt; link_stop ends them.
link_start() {
  local i
  LINK_PIDS=()
  for i in 0 1; do
    $IP netns exec gracegpu$i env LD_LIBRARY_PATH="$BASE_LD" python3 bench/cuda/link-sampler.py gv$i "$LINKSTAT" "$TC" "$SS" \
      > "$1.gracegpu$i.txt" &
    LINK_PIDS+=($!)
  done
}
link_stop() {
  local p
  for p in "${LINK_PIDS[@]}"; do kill "$p" 2> /dev/null; wait "$p" 2> /dev/null; done
  LINK_PIDS=()
}

measure() {
  local build=$1 data=$2 out=$3
  mkdir -p "$out/logs"
  local grace=$build/grace sweep=$build/grace_nccl_sweep
  [ -x "$grace" ] || die "no $grace"
  local trace_args=()
  for t in intent law summary translation; do trace_args+=(--trace "$data/trace/${t}_topk_ids.npy.gz"); done
  local tsv=$out/cluster.tsv runs=0 fails=0
  python3 bench/cuda/cluster-row.py --header > "$tsv"
  if [ "${TCPSTAT:-0}" = 1 ]; then
    $NSTAT -V > /dev/null 2>&1 || die "TCPSTAT=1 but no nstat (iproute2) here or in the carried .debs"
    printf 'setup\trate\ttokens_per_gpu\trouting\tcase\tlaunch\tstart_s\tend_s\t%s\n' "${TCP_COUNTERS// /$'\t'}" > "$out/tcpstat.tsv"
  fi
  if [ "${SSINFO:-0}" != 0 ]; then
    $SS -V > /dev/null 2>&1 || die "SSINFO=$SSINFO but no ss (iproute2) here or in the carried .debs"
    mkdir -p "$out/ss"
  fi
  [ "${LINKSTAT:-0}" != 0 ] && mkdir -p "$out/link"
  for setup in ${SETUPS:-2x1 2x2}; do
    local gpn=${setup#2x} n=$((2 * ${setup#2x}))
    mps_for "$n"
    for rate in ${RATES:-10gbit none}; do
      setup "$rate"
      if [ "${SWEEP:-1}" != 0 ]; then
        echo "== $setup, link ${rate}: NCCL send/recv sweep (both directions at once)"
        launch "$setup" "$out/logs/sweep_${setup}_${rate}" "$sweep" --rendezvous @RDV@ --gpus-per-node "$gpn" \
          --max-mb "${SWEEP_MAX_MB:-128}" 2>/dev/null || echo "sweep failed (see logs)"
        cp "$out/logs/sweep_${setup}_${rate}.rank0.log" "$out/sweep_${setup}_${rate}.txt" 2>/dev/null
        cat "$out/sweep_${setup}_${rate}.txt" 2>/dev/null
      fi
      if [ "${SWEEP1:-0}" != 0 ]; then  # NCCL's default socket threads (1 x 1) for comparison
        NCCL_SOCKET_NTHREADS=1 NCCL_NSOCKS_PERTHREAD=1 launch "$setup" "$out/logs/sweep1_${setup}_${rate}" "$sweep" \
          --rendezvous @RDV@ --gpus-per-node "$gpn" --max-mb 16 2>/dev/null
        echo "-- the same with NCCL_SOCKET_NTHREADS=1 NCCL_NSOCKS_PERTHREAD=1:"
        grep -v NCCL "$out/logs/sweep1_${setup}_${rate}.rank0.log" 2>/dev/null | tail -n +2
      fi
      for T in ${TOKENS:-1024 8192}; do
        local B=$((T * n)) nb=8
        [ "$T" -ge 4096 ] && nb=$(( 32768 / B > 1 ? 32768 / B : 1 ))
        nb=${BATCHES:-$nb}
        local rep
        for ((rep = 1; rep <= ${REPEAT:-1}; ++rep)); do
        for c in ${CASES:-contiguous/primary/flat eplb/tar/flat uniform-affinity/primary/hierarchical grace/tar/flat grace/tar/hierarchical} \
                 ${GATE_CASES:-}; do
          local routing=trace cc=$c
          case "$c" in gate:*) routing=gate; cc=${c#gate:} ;; esac
          if [ $routing = gate ] && [[ " ${GATE_WHERE:-2x1_10gbit_8192 2x2_10gbit_8192} " != *" ${setup}_${rate}_${T} "* ]]; then
            continue
          fi
          IFS=/ read -r planner router comm <<< "$cc"
          local tag="${setup}_${rate}_${T}_${routing}_${planner}_${router}_${comm}"
          [ "${REPEAT:-1}" -gt 1 ] && tag+="_r$rep"
          [ "${TCPSTAT:-0}" = 1 ] && tcp_mark
          [ "${SSINFO:-0}" != 0 ] && ss_start "$out/ss/$tag.txt"
          [ "${LINKSTAT:-0}" != 0 ] && link_start "$out/link/$tag"
          launch "$setup" "$out/logs/$tag" "$grace" run --backend cuda --rendezvous @RDV@ --routing "$routing" \
            --model deepseek-v2-lite --topology "$setup" --placement "$data/pl/$setup-$planner.json" \
            "${trace_args[@]}" --router "$router" --comm "$comm" --batch-tokens "$B" --batching "${BATCHING:-trace}" \
            --max-batches "$nb" \
            --layers "${LAYERS:-3}" --warmup "${WARMUP:-2}" --check "${CHECK:-4}" --seed 1 --json
          local rc=$?
          ss_stop
          link_stop
          [ "${TCPSTAT:-0}" = 1 ] && tcp_row "$setup" "$rate" "$T" "$routing" "$cc" "$rep" >> "$out/tcpstat.tsv"
          if [ $rc -ne 0 ]; then
            fails=$((fails + 1))
            grep -h "error\|NCCL WARN" "$out/logs/$tag".rank*.log | head -5
            [ $fails -ge 3 ] && [ $runs -lt 3 ] && die "the first runs failed: stopping"
          fi
          runs=$((runs + 1))
          python3 bench/cuda/cluster-row.py "$out/logs/$tag.rank0.log" "$setup" "$rate" "$T" "$routing" "$cc" "$rc" \
            "$rep" >> "$tsv"
          tail -1 "$tsv"
        done
        done
      done
      teardown
    done
  done
  python3 bench/cuda/cluster-summary.py "$tsv" > "$out/cluster-summary.tsv" &&
    { echo "== per case over its launches: $out/cluster-summary.tsv"; cat "$out/cluster-summary.tsv"; }
  if [ "${SSINFO:-0}" != 0 ]; then
    python3 bench/cuda/ss-summary.py "$out"/ss/*.txt > "$out/ss-summary.tsv" &&
      { echo "== TCP connections per launch: $out/ss-summary.tsv"; cat "$out/ss-summary.tsv"; }
  fi
  if [ "${LINKSTAT:-0}" != 0 ]; then
    python3 bench/cuda/link-summary.py "$out"/link/*.txt > "$out/link-summary.tsv" &&
      { echo "== the link per launch and node: $out/link-summary.tsv"; cat "$out/link-summary.tsv"; }
  fi
}

MODE=${1:-}
if [ "$MODE" = layout ]; then  # layout SETUP: where each rank runs (no root, nothing set up)
  check_setup layout "${2:-}"
  gpn=${2#2x}
  want=$(mps_wanted $((2 * gpn)) "$(gpu_count)") || exit 2
  for ((r = 0; r < 2 * gpn; ++r)); do
    read -r node dev <<< "$(rank_layout "$gpn" "$r")"
    echo "rank $r namespace gracegpu$node GRACE_LOCAL_RANK $dev"
  done
  echo "mps $want"
  exit 0
fi
# The knobs a run reads, checked before anything is set up.
check_knobs() {
  local x
  for x in ${SETUPS:-2x1 2x2}; do check_setup SETUPS "$x"; done
  for x in ${RATES:-10gbit none}; do
    [[ "$x" = none || "$x" =~ ^[0-9]+(\.[0-9]+)?[kmgt]?(bit|bps)$ ]] || bad "RATES: want 'none' or a tc rate such as 10gbit, got '$x'"
  done
  for x in ${TOKENS:-1024 8192}; do [[ "$x" =~ ^[1-9][0-9]*$ ]] || bad "TOKENS: want positive integers, got '$x'"; done
  [[ "${REPEAT:-1}" =~ ^[1-9][0-9]*$ ]] || bad "REPEAT: want a positive integer (launches per case), got '${REPEAT}'"
  [[ "${BATCHES:-1}" =~ ^[1-9][0-9]*$ ]] || bad "BATCHES: want a positive integer (timed batches per launch), got '${BATCHES}'"
  [[ "${TCPSTAT:-0}" =~ ^[01]$ ]] || bad "TCPSTAT: want 0 or 1, got '${TCPSTAT}'"
  [[ "${SSINFO:-0}" =~ ^(0|[1-9][0-9]*)$ ]] || bad "SSINFO: want a sampling period in ms (0: off), got '${SSINFO}'"
  [[ "${LINKSTAT:-0}" =~ ^(0|[1-9][0-9]*)$ ]] || bad "LINKSTAT: want a sampling period in ms (0: off), got '${LINKSTAT}'"
  local cpus=(${RANK_CPUS:-}) need
  for x in ${SETUPS:-2x1 2x2}; do
    need=$((2 * ${x#2x}))
    [ ${#cpus[@]} = 0 ] || [ ${#cpus[@]} = "$need" ] ||
      bad "RANK_CPUS: want one CPU list per rank ($need for $x), got ${#cpus[@]}: '${RANK_CPUS}'"
  done
  for x in "${cpus[@]}"; do
    [[ "$x" =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] || bad "RANK_CPUS: want CPU lists such as 0-7 or 0,2,4, got '$x'"
  done
  mps_wanted 2 2 > /dev/null || exit 2
}
case "$MODE" in
  measure) [ $# -ge 4 ] || bad "usage: $0 measure BUILD_DIR DATA_DIR OUT_DIR"; check_knobs ;;
  run)
    [ $# -ge 4 ] && [ "$4" = -- ] || bad "usage: $0 run SETUP RATE -- CMD..."
    check_setup run "$2"
    SETUPS=$2 RATES=$3 check_knobs
    ;;
  *) bad "want a mode: measure, run or layout, got '$MODE' (usage: the header of $0)" ;;
esac
[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
net_tools
LINK_PIDS=()
trap 'ss_stop; link_stop; teardown; mps_stop' EXIT
case "$MODE" in
  measure)
    measure "$2" "$3" "$4"
    ;;
  run)
    s=$2 r=$3
    shift 4
    mps_for $((2 * ${s#2x}))
    setup "$r"
    launch "$s" "${LOG_PREFIX:-/tmp/gpu-cluster}" "$@"
    rc=$?
    cat "${LOG_PREFIX:-/tmp/gpu-cluster}".rank0.log
    exit $rc
    ;;
esac

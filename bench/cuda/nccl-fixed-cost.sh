#!/usr/bin/env bash
# nccl-fixed-cost.sh BUILD_DIR OUT_DIR: where the fixed cost of one NCCL exchange between the
# emulated nodes comes from (docs/gpu.md, "The fixed cost of an exchange"). Root, on the GPU
# machine, from the repository root; runs grace_nccl_sweep (4 KB .. 4 MB, --detail: lined-up,
# host and back-to-back times) on scripts/gpu-cluster.sh's 2x1 cluster under one NCCL / TCP
# setting at a time, plain TCP between the namespaces (bench/cuda/tcp_pingpong.py), and NCCL's
# socket transport between two processes in one namespace over loopback (no veth). Each probe's
# rank-0 output goes to OUT_DIR/<probe>.txt and to stdout. PROBES picks a subset by name.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:?usage: $0 BUILD_DIR OUT_DIR}
out=${2:?usage: $0 BUILD_DIR OUT_DIR}
mkdir -p "$out"
sweep=$build/grace_nccl_sweep
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
sargs=(--min-kb 4 --max-mb 4 --reps "${REPS:-11}" --detail 1)
want() { [ -z "${PROBES:-}" ] || [[ " $PROBES " == *" $1 "* ]]; }

# probe NAME RATE [VAR=VALUE...]: the sweep on the 2x1 cluster with those variables set.
probe() {
  local name=$1 rate=$2
  shift 2
  want "$name" || return 0
  echo "== $name (2x1, $rate) $*"
  env "$@" LOG_PREFIX="$out/logs_$name" timeout 60 scripts/gpu-cluster.sh run 2x1 "$rate" -- \
    "$sweep" --rendezvous @RDV@ --gpus-per-node 1 "${sargs[@]}" > "$out/$name.txt" 2>&1
  echo "rc=$?" >> "$out/$name.txt"
  grep -v "NCCL INFO" "$out/$name.txt"
}

probe base none
probe base_10gbit 10gbit
probe threads1x1 none NCCL_SOCKET_NTHREADS=1 NCCL_NSOCKS_PERTHREAD=1
probe proto_simple none NCCL_PROTO=Simple
probe proto_ll none NCCL_PROTO=LL
probe channels1 none NCCL_MIN_NCHANNELS=1 NCCL_MAX_NCHANNELS=1 NCCL_NCHANNELS_PER_NET_PEER=1
probe buffsize_512k none NCCL_BUFFSIZE=524288
probe chunk_32k none NCCL_P2P_NET_CHUNKSIZE=32768
probe no_shared_buffers none NCCL_NET_SHARED_BUFFERS=0
probe no_cumem none NCCL_CUMEM_ENABLE=0 NCCL_CUMEM_HOST_ENABLE=0
probe tcp_sysctl none "NS_SYSCTL=net/ipv4/tcp_slow_start_after_idle=0 net/ipv4/tcp_autocorking=0"
probe one_ns none ONE_NS=1
probe mtu9000 none NS_MTU=9000
probe mtu9000_10gbit 10gbit NS_MTU=9000
probe mtu64k none NS_MTU=65000
probe no_affinity none NCCL_IGNORE_CPU_AFFINITY=1
probe debug none NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=INIT,NET,ENV,P2P,PROXY

if want tcp; then
  echo "== tcp (2x1, none): plain TCP between the namespaces"
  LOG_PREFIX="$out/logs_tcp" timeout 60 scripts/gpu-cluster.sh run 2x1 none -- python3 bench/cuda/tcp_pingpong.py \
    > "$out/tcp.txt" 2>&1
  cat "$out/tcp.txt"
fi

if want loopback; then  # no namespaces, no veth: NCCL sockets over lo between two processes
  echo "== loopback (one namespace, NCCL socket transport over lo)"
  rdv=$(mktemp -d /tmp/grace-rdv.XXXXXX)
  pids=()
  for r in 0 1; do
    GRACE_RANK=$r GRACE_SIZE=2 GRACE_LOCAL_RANK=$r NCCL_HOSTID=grace-lo$r NCCL_SOCKET_IFNAME=lo NCCL_IB_DISABLE=1 \
      NCCL_SHM_DISABLE=1 NCCL_P2P_DISABLE=1 NCCL_SOCKET_NTHREADS=4 NCCL_NSOCKS_PERTHREAD=4 \
      timeout 60 "$sweep" --rendezvous "$rdv" --gpus-per-node 1 "${sargs[@]}" > "$out/logs_loopback.rank$r.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  rm -rf "$rdv"
  cp "$out/logs_loopback.rank0.log" "$out/loopback.txt"
  grep -v "NCCL INFO" "$out/loopback.txt"
fi
echo "== machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), kernel $(uname -r)"
grep -h "NCCL version\|NET/Socket\|Using network\|NET/Plugin\|Channel 00" "$out"/logs_debug.rank0.log 2>/dev/null | head -12

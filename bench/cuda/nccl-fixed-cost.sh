#!/usr/bin/env bash
# nccl-fixed-cost.sh BUILD_DIR OUT_DIR: where the fixed cost of one NCCL exchange between the
# emulated nodes comes from (docs/gpu.md, "The fixed cost of an exchange"). Root, on the GPU
# machine, from the repository root; runs grace_nccl_sweep (4 KB .. 4 MB, --detail: lined-up,
# host and back-to-back times) on scripts/gpu-cluster.sh's 2x1 cluster under one NCCL / TCP
# setting at a time, plain TCP between the namespaces (bench/cuda/tcp_pingpong.py), and NCCL's
# socket transport between two processes in one namespace over loopback (no veth). Each probe's
# rank-0 output goes to OUT_DIR/<probe>.txt and to stdout. PROBES picks a subset by name.
# Also: plain TCP in NCCL's connection pattern (streams, bench/cuda/tcp_streams.py), the kernel's
# TCP counters and socket state around a sweep (tcpstat), NCCL's socket calls under strace
# (strace; .debs/probe holds strace and its libraries), and per-socket send / receive / first-poll
# stamps of every NCCL thread (spy, bench/cuda/sockspy.c). The cost was found with the last one
# (2026-11-30): both 2x1 ranks ran on GPU 0, time-sliced (docs/gpu.md, "The fixed cost").
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
probe tcp_sysctl none "NS_SYSCTL=net/ipv4/tcp_slow_start_after_idle=0 net/ipv4/tcp_autocorking=0 net/ipv4/tcp_congestion_control=reno"
probe one_ns none ONE_NS=1
probe mtu9000 none NS_MTU=9000
probe mtu9000_10gbit 10gbit NS_MTU=9000
probe mtu64k none NS_MTU=65000
probe no_affinity none NCCL_IGNORE_CPU_AFFINITY=1
probe bbr none "NS_SYSCTL="          # the machine's own TCP (BBR there) instead of the script's Reno
probe bbr_10gbit 10gbit "NS_SYSCTL="
probe debug none NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=INIT,NET,ENV,P2P,PROXY

if want tcp; then
  echo "== tcp (2x1, none): plain TCP between the namespaces"
  LOG_PREFIX="$out/logs_tcp" timeout 60 scripts/gpu-cluster.sh run 2x1 none -- python3 bench/cuda/tcp_pingpong.py \
    > "$out/tcp.txt" 2>&1
  cat "$out/tcp.txt"
fi

# wrapped_sweep NAME RATE REPS: the sweep (4 KB-1 MB, --detail) on the 2x1 cluster with every rank
# started through $out/NAME-rank.sh (a wrapper the probe wrote); rank 0's output to $out/NAME.txt.
wrapped_sweep() {
  chmod +x "$out/$1-rank.sh"
  LOG_PREFIX="$out/logs_$1" timeout 120 scripts/gpu-cluster.sh run 2x1 "$2" -- "$out/$1-rank.sh" \
    "$sweep" --rendezvous @RDV@ --gpus-per-node 1 --min-kb 4 --max-mb 1 --reps "$3" --detail 1 > "$out/$1.txt" 2>&1
  grep -v "NCCL INFO" "$out/$1.txt"
}

if want streams; then  # plain TCP in NCCL's pattern: one-way connections, control + data, both ways at once
  echo "== streams (2x1, none): plain TCP, NCCL's connection pattern"
  LOG_PREFIX="$out/logs_streams" timeout 90 scripts/gpu-cluster.sh run 2x1 none -- python3 bench/cuda/tcp_streams.py \
    > "$out/streams.txt" 2>&1
  cat "$out/streams.txt"
fi

# Kernel TCP counters and socket state around one NCCL sweep between the namespaces (iproute2's
# nstat and ss from the carried prefix): delayed ACKs, retransmits, rtt/ato of NCCL's sockets.
if want tcpstat; then
  echo "== tcpstat (2x1, none): nstat deltas per namespace, ss -tin mid-sweep"
  netlib=/tmp/grace-net/lib/x86_64-linux-gnu:/tmp/grace-net/usr/lib/x86_64-linux-gnu
  nstat_bin=$(ls /tmp/grace-net/{bin,sbin,usr/bin,usr/sbin}/nstat 2>/dev/null | head -1)
  ss_bin=$(ls /tmp/grace-net/{bin,sbin,usr/bin,usr/sbin}/ss 2>/dev/null | head -1)
  cat > "$out/tcpstat-rank.sh" <<EOS
#!/bin/sh
export NSTAT_HISTORY=/tmp/nstat.\$GRACE_RANK
env LD_LIBRARY_PATH=$netlib $nstat_bin -n
( for t in 3 2 2 2; do sleep \$t; date +%T.%N; env LD_LIBRARY_PATH=$netlib $ss_bin -tinm; done > $out/ss.rank\$GRACE_RANK.txt 2>&1 ) &
"\$@"
rc=\$?
env LD_LIBRARY_PATH=$netlib $nstat_bin > $out/nstat.rank\$GRACE_RANK.txt 2>&1
exit \$rc
EOS
  wrapped_sweep tcpstat none 41
  for r in 0 1; do
    echo "-- nstat rank $r (TCP counters that moved)"
    grep -E "Tcp|Ip" "$out/nstat.rank$r.txt" 2>/dev/null | head -60
    echo "-- ss rank $r"
    cat "$out/ss.rank$r.txt" 2>/dev/null
  done
fi

# Where the time goes inside NCCL: successful socket calls of every thread, with wall-clock stamps
# (strace from STRACE_DEBS, unpacked into a prefix; both ranks, 4 KB-1 MB, lined up and back to back).
if want strace; then
  echo "== strace (2x1, none): NCCL's socket calls, 4 KB exchanges"
  sprefix=/tmp/grace-strace
  mkdir -p "$sprefix"
  for f in "${STRACE_DEBS:-.debs/probe}"/*.deb; do dpkg -x "$f" "$sprefix"; done
  slib=$sprefix/lib/x86_64-linux-gnu:$sprefix/usr/lib/x86_64-linux-gnu
  cat > "$out/strace-rank.sh" <<EOS
#!/bin/sh
exec env LD_LIBRARY_PATH=$slib:\$LD_LIBRARY_PATH $sprefix/usr/bin/strace -f -tt -T -yy --seccomp-bpf \\
  -e trace=sendto,recvfrom,sendmsg,recvmsg,read,write -e status=successful -o $out/strace.rank\$GRACE_RANK.txt "\$@"
EOS
  wrapped_sweep strace none 11
  for r in 0 1; do
    echo "-- strace rank $r: $(wc -l < "$out/strace.rank$r.txt" 2>/dev/null) lines; the last 60 on sockets"
    grep -E "TCP" "$out/strace.rank$r.txt" 2>/dev/null | tail -60
  done
fi

# When each socket message is sent, read, and first polled for (bench/cuda/sockspy.c, an
# LD_PRELOAD probe; both ranks, 4 KB-1 MB): is a late message polled for and delivered late (the
# kernel), or not asked for until it is read (NCCL)? Records in OUT_DIR/spy.<pid>.
if want spy; then
  echo "== spy (2x1, none): socket send/receive/poll stamps of every NCCL thread"
  cc -O2 -shared -fPIC -o "$out/sockspy.so" bench/cuda/sockspy.c -ldl -lpthread || exit 1
  printf '#!/bin/sh\nexec env LD_PRELOAD=%s SOCKSPY_OUT=%s "$@"\n' "$out/sockspy.so" "$out/spy" > "$out/spy-rank.sh"
  wrapped_sweep spy "${SPY_RATE:-none}" 21
  wc -l "$out"/spy.[0-9]* 2>/dev/null
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
echo "   TCP congestion control $(cat /proc/sys/net/ipv4/tcp_congestion_control) (available: $(cat /proc/sys/net/ipv4/tcp_available_congestion_control)), default qdisc $(cat /proc/sys/net/core/default_qdisc)"
grep -h "NCCL version\|NET/Socket\|Using network\|NET/Plugin\|Channel 00" "$out"/logs_debug.rank0.log 2>/dev/null | head -12

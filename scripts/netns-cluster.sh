#!/bin/bash
# netns-cluster.sh: an emulated two-node cluster on one machine, for the MPI engine.
#
# Two network namespaces ("nodes") joined by one veth pair with addresses that exist only inside
# them (198.18.0.1/30 and 198.18.0.2/30, no routes elsewhere), the link shaped on both ends with
# `tc ... tbf` (no netem in this kernel). mpirun runs in node 0 and starts node 1's ranks through
# a plm_rsh_agent wrapper that runs `ip netns exec <ns>` (no ssh). Each node also gets its own
# UTS namespace (hostname) so Open MPI sees two hosts. Cross-node MPI traffic uses TCP over the
# veth (btl_tcp_if_include / oob_tcp_if_include = the /30); ranks of one node use vader (shared
# memory). Namespaces are deleted on exit, on failure and on interrupt (trap).
#
# Usage (root):
#   netns-cluster.sh run [--gpus-per-node G] [--rate 1gbit] [--latency-ms 0] -- CMD ARGS...
#       runs `mpirun -np 2G CMD ARGS...` on the cluster (ranks 0..G-1 on node 0, G..2G-1 on node 1)
#   netns-cluster.sh --test GRACE FIXTURE_DIR
#       ctest entry: a 2x2 `grace run` on the cluster; exit 77 (skip) when not root or when
#       network namespaces cannot be created here.
set -u

GPN=2
RATE=1gbit
DELAY_MS=0
MODE=""
die() { echo "netns-cluster: $*" >&2; exit 1; }

case "${1:-}" in
  run) MODE=run; shift ;;
  --test) MODE=test; shift; GRACE_BIN=${1:?grace binary}; FIX=${2:?fixture dir}; shift 2 ;;
  *) sed -n '2,20p' "$0"; exit 2 ;;
esac
if [ "$MODE" = run ]; then
  while [ $# -gt 0 ]; do
    case "$1" in
      --gpus-per-node) GPN=$2; shift 2 ;;
      --rate) RATE=$2; shift 2 ;;
      --latency-ms) DELAY_MS=$2; shift 2 ;;
      --) shift; break ;;
      *) die "unknown option $1" ;;
    esac
  done
  [ $# -gt 0 ] || die "no command after --"
fi

skip() { echo "netns-cluster: SKIP: $*"; exit 77; }
if [ "$(id -u)" != 0 ]; then
  [ "$MODE" = test ] && skip "needs root"; die "needs root"
fi
command -v ip >/dev/null && command -v tc >/dev/null && command -v unshare >/dev/null \
  || { [ "$MODE" = test ] && skip "ip/tc/unshare missing"; die "ip/tc/unshare missing"; }

TAG=g$$
NS0=${TAG}n0
NS1=${TAG}n1
WORK=$(mktemp -d /tmp/grace-netns.XXXXXX)
cleanup() {
  ip netns del "$NS0" 2>/dev/null
  ip netns del "$NS1" 2>/dev/null
  ip link del "${TAG}a" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! ip netns add "$NS0" 2>"$WORK/err" || ! ip netns add "$NS1" 2>>"$WORK/err"; then
  [ "$MODE" = test ] && skip "cannot create network namespaces: $(cat "$WORK/err")"
  die "cannot create network namespaces: $(cat "$WORK/err")"
fi
set -e
ip link add "${TAG}a" type veth peer name "${TAG}b"
ip link set "${TAG}a" netns "$NS0"
ip link set "${TAG}b" netns "$NS1"
# Same interface name in both nodes.
ip -n "$NS0" link set "${TAG}a" name gracev
ip -n "$NS1" link set "${TAG}b" name gracev
ip -n "$NS0" addr add 198.18.0.1/30 dev gracev
ip -n "$NS1" addr add 198.18.0.2/30 dev gracev
for ns in "$NS0" "$NS1"; do
  ip -n "$ns" link set lo up
  ip -n "$ns" link set gracev up
  # Token bucket: RATE, burst TBF_BURST, queueing up to TBF_QUEUE_MS (+ fixed delay if asked).
  ip netns exec "$ns" tc qdisc add dev gracev root tbf rate "$RATE" burst "${TBF_BURST:-128kb}" \
    latency $((${TBF_QUEUE_MS:-20} + DELAY_MS))ms
done
set +e

# The rsh agent: Open MPI calls `agent [opts] HOST CMD...`; run CMD in that host's namespace.
cat > "$WORK/agent" <<AGENT
#!/bin/sh
while [ \$# -gt 0 ]; do case "\$1" in -*) shift ;; *) break ;; esac; done
host=\$1; shift
case "\$host" in
  198.18.0.1) ns=$NS0; name=gracenode0 ;;
  198.18.0.2) ns=$NS1; name=gracenode1 ;;
  *) echo "netns agent: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec \$ns unshare --uts /bin/sh -c "hostname \$name; \$*"
AGENT
chmod +x "$WORK/agent"
printf '198.18.0.1 slots=%d\n198.18.0.2 slots=%d\n' "$GPN" "$GPN" > "$WORK/hosts"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_plm_rsh_agent="$WORK/agent"
export OMPI_MCA_btl=self,vader,tcp
export OMPI_MCA_btl_tcp_if_include=198.18.0.0/30
export OMPI_MCA_oob_tcp_if_include=198.18.0.0/30
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_mpi_yield_when_idle=1
export OMPI_MCA_rmaps_base_oversubscribe=1

TMO=0  # timeout of the whole mpirun (0: none)
launch() {  # mpirun in node 0 (its own hostname), ranks by slot: node 0 first
  timeout -k 5 "$TMO" ip netns exec "$NS0" unshare --uts /bin/sh -c 'hostname gracenode0; exec "$@"' sh \
    mpirun --hostfile "$WORK/hosts" -np $((2 * GPN)) --map-by slot "$@"
}

if [ "$MODE" = run ]; then
  launch "$@"
  exit $?
fi

# --test: a small 2x2 engine run on the cluster must succeed and move bytes across the veth.
before=$(ip netns exec "$NS0" cat /sys/class/net/gracev/statistics/tx_bytes)
TMO=90
out=$(launch "$GRACE_BIN" run --model deepseek-v2-lite --topology 2x2 --placement "$FIX/placement-2x2.json" \
      --trace "$FIX/trace" --hidden 32 --intermediate 16 --layers 2 --batch-tokens 128 --json 2>&1)
rc=$?
after=$(ip netns exec "$NS0" cat /sys/class/net/gracev/statistics/tx_bytes)
echo "$out" | tail -5
echo "netns-cluster: grace run exit $rc, node0 veth tx $((after - before)) bytes"
[ $rc -eq 0 ] || exit 1
echo "$out" | grep -q '"inter_bytes":[1-9]' || { echo "netns-cluster: no inter-node bytes reported"; exit 1; }
[ $((after - before)) -gt 0 ] || { echo "netns-cluster: nothing crossed the veth"; exit 1; }
echo "netns-cluster: ok"

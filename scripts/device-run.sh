#!/usr/bin/env bash
# Everything the GPU device machine runs for grace, in one command (see docs/gpu.md):
# unpack the carried Debian packages (.debs, from scripts/device-debs.sh download), build the
# CUDA targets, run the GPU tests, the GPU benchmark and the PyTorch reference.
#
#   scripts/device-run.sh [tests] [bench] [torch] [engine] [cluster] [probe]
#                                        (default: tests bench torch engine)
# probe: bench/cuda/nccl-fixed-cost.sh (where an NCCL exchange's fixed cost comes from).
# TARGETS overrides what is built; GTEST_FILTER (gtest's own) narrows the tests.
# engine: `grace run --backend cuda` (and --backend cpu over NCCL) on the machine's GPUs, one
# process per GPU started here (--rendezvous, no MPI), outputs checked against the reference;
# ENGINE_BATCHING (default "trace"; e.g. "trace balanced") lists the --batching values it runs,
# ENGINE_ROUTERS (default "tar cover") the routers (tar routes on the GPU, cover on the host).
# On a machine with one GPU both ranks share it as two emulated hosts (a distinct NCCL_HOSTID
# each, NCCL's socket transport over loopback): NCCL refuses two ranks of one host on one GPU.
# cluster: scripts/gpu-cluster.sh measure (emulated 2-node cluster; needs .debs/net and the data
# folder GRACE_DATA, default out/gpu-data: trace/ + pl/).
#
# Logs and JSON results go to $OUT (the device tool's output folder; /tmp/grace-out elsewhere).
# The real-trace routing slice is read from .gpu-data/ when carried (never committed).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/grace-out}
mkdir -p "$OUT"
stages=${*:-tests bench torch engine}
# NVLink multicast stays off on shared hosts.
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1

nvidia-smi -L
nvcc --version | tail -1
scripts/device-debs.sh unpack /tmp/grace-deps >/dev/null && source /tmp/grace-deps/env.sh
# NCCL: next to the toolkit, else the PyTorch wheel's copy.
if [ ! -e /usr/local/cuda/include/nccl.h ]; then
  NCCL_HOME=$(python3 -c 'import nvidia.nccl, os; print(os.path.dirname(nvidia.nccl.__file__))' 2>/dev/null || true)
  if [ -n "$NCCL_HOME" ]; then
    export NCCL_HOME
    [ -e "$NCCL_HOME/lib/libnccl.so" ] || ln -sf libnccl.so.2 "$NCCL_HOME/lib/libnccl.so" 2>/dev/null || true
    export LD_LIBRARY_PATH="$NCCL_HOME/lib:$LD_LIBRARY_PATH"
  fi
fi
echo "NCCL_HOME=${NCCL_HOME:-/usr/local/cuda}"

t0=$(date +%s)
cmake -S . -B build-dev -G Ninja -DCMAKE_BUILD_TYPE=Release -DGRACE_CUDA=ON -DGRACE_MPI=OFF \
  -DCMAKE_CUDA_COMPILER="$(command -v nvcc)" > "$OUT/configure.log" 2>&1 || { tail -40 "$OUT/configure.log"; exit 1; }
for target in ${TARGETS:-cuda_test grace grace_nccl_sweep grace_cuda_bench}; do  # separately: a broken bench still lets tests run
  cmake --build build-dev --target $target -j "$(nproc)" >> "$OUT/build.log" 2>&1 \
    || { echo "BUILD FAILED: $target"; grep -E "error|FAILED" -A5 "$OUT/build.log" | head -60; }
done
echo "build: $(( $(date +%s) - t0 )) s"

rc=0
if [[ " $stages " == *" tests "* ]]; then
  # Bounded: a hung two-GPU case must not eat the call (the log keeps what ran).
  timeout ${GRACE_TEST_TIMEOUT:-300} build-dev/tests/cuda/cuda_test --gtest_output="json:$OUT/cuda_test.json" \
    > "$OUT/cuda_test.log" 2>&1 || { rc=1; echo "cuda_test: exit $? (124 = cut by the timeout)"; }
  grep -E "^\[ +(OK|FAILED|SKIPPED|PASSED) +\]|Failure|error|Expected|Which is|actual" "$OUT/cuda_test.log" | head -60
  # Every router through `grace run --backend cuda` (tests/cuda/engine_cli_routers.sh).
  (cd build-dev && ctest -R cuda_engine_cli_routers --output-on-failure -V) > "$OUT/cuda_cli_routers.log" 2>&1 || rc=1
  grep -E "^[0-9]+: (ok|FAIL) |tests passed|Failed|Skipped" "$OUT/cuda_cli_routers.log"
fi
mkdir -p /tmp/grace-bench
if [[ " $stages " == *" bench "* ]]; then
  build-dev/grace_cuda_bench --out /tmp/grace-bench --data .gpu-data --reps 20 2>&1 | tee "$OUT/bench.log" || rc=1
  cp /tmp/grace-bench/moe_bench.json "$OUT/" 2>/dev/null
fi
if [[ " $stages " == *" torch "* ]]; then
  PYTHONUNBUFFERED=1 python3 bench/cuda/torch_ref.py --dir /tmp/grace-bench --reps 10 2>&1 | tee "$OUT/torch.log" || rc=1
  cp /tmp/grace-bench/torch_ref.json "$OUT/" 2>/dev/null
fi
if [[ " $stages " == *" engine "* ]]; then
  # Both backends, same command line, 2 GPUs on one host (topology 2x1), real routing when the
  # data folder is there, else a synthetic trace.
  data=${GRACE_DATA:-out/gpu-data}
  ngpu=$(nvidia-smi -L | wc -l)
  targs=()
  pl=(--placement "$data/pl/2x1-grace.json")
  if [ -d "$data/trace" ] && [ -f "$data/pl/2x1-grace.json" ]; then
    for t in intent law summary translation; do targs+=(--trace "$data/trace/${t}_topk_ids.npy.gz"); done
  else  # no data carried: a synthetic trace (grace run's default) and a placement planned on it
    build-dev/grace plan --model deepseek-v2-lite --topology 2x1 --policy grace -o /tmp/grace-pl-2x1.json >/dev/null
    pl=(--placement /tmp/grace-pl-2x1.json)
  fi
  one_gpu=()
  [ "$ngpu" -lt 2 ] && one_gpu=(NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1 NCCL_IB_DISABLE=1 NCCL_SOCKET_IFNAME=lo)
  for batching in ${ENGINE_BATCHING:-trace}; do
  for router in ${ENGINE_ROUTERS:-tar cover}; do
  for backend in cuda cpu; do
    for routing in trace gate; do
      rdv=$(mktemp -d /tmp/grace-rdv.XXXXXX)
      pids=()
      log="$OUT/engine_${batching}_${router}_${backend}_${routing}"
      for ((r = 0; r < 2; ++r)); do
        env "${one_gpu[@]}" $([ "$ngpu" -lt 2 ] && echo NCCL_HOSTID=grace-host$r) \
          GRACE_RANK=$r GRACE_SIZE=2 GRACE_LOCAL_RANK=$((r % ngpu)) timeout 300 build-dev/grace run --backend $backend \
          --rendezvous "$rdv" --routing $routing --model deepseek-v2-lite --topology 2x1 "${pl[@]}" "${targs[@]}" \
          --router $router --comm hierarchical --batch-tokens 4096 --max-batches 2 --layers $([ $routing = gate ] && echo 1 || echo 2) \
          --batching $batching --warmup 1 --check 8 > "$log.rank$r.log" 2>&1 &
        pids+=($!)
      done
      for p in "${pids[@]}"; do wait "$p" || rc=1; done
      echo "== grace run --backend $backend --routing $routing --router $router --batching $batching"
      cat "$log.rank0.log"
      grep -h "error" "$log.rank1.log"
    done
  done
  done
  done
fi
if [[ " $stages " == *" probe "* ]]; then
  bench/cuda/nccl-fixed-cost.sh build-dev "$OUT/probe" 2>&1 | tee "$OUT/probe.log"
fi
if [[ " $stages " == *" cluster "* ]]; then
  scripts/gpu-cluster.sh measure build-dev "${GRACE_DATA:-out/gpu-data}" "$OUT/cluster" || rc=1
  cp "$OUT/cluster/cluster.tsv" "$OUT/cluster/cluster-summary.tsv" "$OUT/" 2>/dev/null
fi
# The device tool returns at most 8 files: keep the result tables, pack the rest.
(cd "$OUT" && find . -type f ! -name '*.tsv' ! -name 'logs.tgz' > /tmp/grace-out-files && \
  tar czf logs.tgz -T /tmp/grace-out-files && xargs rm -f < /tmp/grace-out-files && find . -mindepth 1 -type d -empty -delete)
exit $rc

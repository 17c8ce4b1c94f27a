#!/usr/bin/env bash
# Everything the GPU device machine runs for grace, in one command (see docs/gpu.md):
# unpack the carried Debian packages (.debs, from scripts/device-debs.sh download), build the
# CUDA targets, run the GPU tests, the GPU benchmark and the PyTorch reference.
#
#   scripts/device-run.sh [tests] [bench] [torch] [engine] [gpuengine]
#                                        (default: tests bench torch engine)
# gpuengine: the GPU-resident engine (grace_gpu_engine_run), one process per GPU under mpirun
# when the machine has one (else two processes started here with the same OMPI_* variables).
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
for target in cuda_test grace_cuda_bench grace_cuda_engine_check grace_gpu_engine_run; do  # separately: a broken bench still lets tests run
  cmake --build build-dev --target $target -j "$(nproc)" >> "$OUT/build.log" 2>&1 \
    || { echo "BUILD FAILED: $target"; grep -E "error|FAILED" -A5 "$OUT/build.log" | head -60; }
done
echo "build: $(( $(date +%s) - t0 )) s"

rc=0
if [[ " $stages " == *" tests "* ]]; then
  build-dev/tests/cuda/cuda_test --gtest_output="json:$OUT/cuda_test.json" > "$OUT/cuda_test.log" 2>&1 || rc=1
  grep -E "^\[ +(OK|FAILED|SKIPPED|PASSED) +\]|Failure|error|Expected|Which is|actual" "$OUT/cuda_test.log" | head -60
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
  build-dev/grace_cuda_engine_check --data .gpu-data 2>&1 | tee "$OUT/engine.log" || rc=1
fi
if [[ " $stages " == *" gpuengine "* ]]; then
  rdv=$(mktemp -d /tmp/grace-rdv.XXXXXX)
  ngpu=$(nvidia-smi -L | wc -l)
  args=(--rendezvous "$rdv" --data .gpu-data --reps "${GRACE_REPS:-20}" --out "$OUT/gpu_engine.tsv" --topology "${GRACE_TOPO:-2x1}")
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  if command -v mpirun >/dev/null && mpirun --version 2>&1 | grep -qi "open mpi"; then
    echo "launcher: $(mpirun --version 2>&1 | head -1), $ngpu ranks"
    timeout 400 mpirun -np "$ngpu" --bind-to none -x NCCL_NVLS_ENABLE -x LD_LIBRARY_PATH \
      build-dev/grace_gpu_engine_run "${args[@]}" 2>&1 | tee "$OUT/gpu_engine.log" || rc=1
  elif command -v mpirun >/dev/null; then
    echo "launcher: $(mpirun --version 2>&1 | head -1), $ngpu ranks"
    timeout 400 mpirun -np "$ngpu" build-dev/grace_gpu_engine_run "${args[@]}" 2>&1 | tee "$OUT/gpu_engine.log" || rc=1
  else
    echo "launcher: no mpirun on this machine: $ngpu processes started by this script (OMPI_COMM_WORLD_* set)"
    pids=()
    for ((r = 0; r < ngpu; ++r)); do
      OMPI_COMM_WORLD_RANK=$r OMPI_COMM_WORLD_SIZE=$ngpu OMPI_COMM_WORLD_LOCAL_RANK=$r \
        timeout 400 build-dev/grace_gpu_engine_run "${args[@]}" > "$OUT/gpu_engine.rank$r.log" 2>&1 &
      pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    cat "$OUT/gpu_engine.rank0.log"; grep -h "ERROR\|failures" "$OUT"/gpu_engine.rank[1-9]*.log
  fi
fi
exit $rc

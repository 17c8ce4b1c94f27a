#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, -DGRACE_FUZZ=ON) into ./build-fuzz, writes the seed
# corpora with grace's own writers (make_seeds), and runs each target for SECONDS (default 30).
# Prints, per target, the executions reached, the coverage and any crash; exits 1 if any target
# crashed (the reproducer is kept under build-fuzz/artifacts/<target>/).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      targets: npy trace placement_json placement_import
#                                              topology model safetensors (default: all)
# Environment: GRACE_FUZZ_JOBS (parallel targets, default 1), CC/CXX (default clang-14).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-30}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(npy trace placement_json placement_import topology model safetensors)
build=build-fuzz
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="${CC:-clang-14}" -DCMAKE_CXX_COMPILER="${CXX:-clang++-14}" \
  -DGRACE_FUZZ=ON -DGRACE_BUILD_TESTS=OFF -DGRACE_BUILD_BENCHMARKS=OFF -DGRACE_MPI=OFF -DGRACE_CUDA=OFF >/dev/null
cmake --build "$build" --target fuzzers -j "$(nproc)"
rm -rf "$build/seeds"
"$build/fuzz/make_seeds" "$build/seeds" >/dev/null

run_one() {
  local t=$1
  mkdir -p "$build/corpus/$t" "$build/artifacts/$t"
  # The corpus dir keeps what earlier runs found; seeds are read-only input.
  "$build/fuzz/${t}_fuzz" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$t/" "$build/corpus/$t" "$build/seeds/$t" >"$build/fuzz-$t.log" 2>&1
}

failed=0
jobs="${GRACE_FUZZ_JOBS:-1}"
pids=()
for t in "${targets[@]}"; do
  run_one "$t" & pids+=($!)
  if [ ${#pids[@]} -ge "$jobs" ]; then wait "${pids[0]}" || true; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p" || true; done

printf '%-18s %10s %8s %8s  %s\n' target execs cov ft result
for t in "${targets[@]}"; do
  log="$build/fuzz-$t.log"
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo "?")
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo "?")
  if grep -qE '^==[0-9]+==ERROR|^SUMMARY: |runtime error|deadly signal|Test unit written' "$log"; then
    result="CRASH: $(grep -m1 -oE 'ERROR: [^(]*|runtime error: .*|deadly signal' "$log" || true) ($log)"
    failed=1
  else
    result=ok
  fi
  printf '%-18s %10s %8s %8s  %s\n' "$t" "$execs" "$cov" "$ft" "$result"
done
if [ $failed = 0 ]; then echo "fuzz: PASS (${secs} s per target)"; else echo "fuzz: FAIL"; fi
exit $failed

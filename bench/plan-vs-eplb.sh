#!/usr/bin/env bash
# Planning time at DeepSeek-V3 scale: `grace plan --policy grace` against DeepSeek's EPLB
# rebalance_experts (../shared/anchors/deepseek-eplb/eplb.py, Debian's python3-torch) on the
# same per-layer expert loads.
#
# Usage: bench/plan-vs-eplb.sh [GRACE_BINARY] [OUT_DIR]
#   GRACE_BINARY default build/grace; OUT_DIR default out/plan-vs-eplb
# Environment: RUNS (default 5), TOKENS (16384), SEED (1), EPLB_GROUPS (expert groups to try,
#   default "8 256": DeepSeek-V3's 8 groups, and every expert its own group as grace's eplb port
#   does), EPLB_DIR (default ../shared/anchors/deepseek-eplb), PY (the Python with torch, default
#   /usr/bin/python3), TIME (GNU time, default /usr/bin/time).
#
# Setting: model preset deepseek-v3 (58 MoE layers x 256 experts, top-8), topology 8x8@h200
# (64 GPUs), 64 redundant slots (EPLB: 320 physical experts), a synthetic trace of TOKENS tokens
# (grace trace synth --seed SEED).
#
# What is timed (wall clock; median and minimum of RUNS):
#   grace process  /usr/bin/time of `grace plan --policy grace --trace T ...` (no -o): start,
#                  read + profile the trace, plan, validate, summarise, print.
#   EPLB call      rebalance_experts(weight[58][256], 320, groups, 8, 64) alone, inside one
#                  python process, time.perf_counter() around each call after a warm-up call.
#   EPLB process   /usr/bin/time of `python3 bench/eplb_rebalance.py ... 0`: interpreter start,
#                  import torch, read the loads JSON, one call.
#   floor          /usr/bin/time of the same `grace plan` with --policy contiguous (start, read +
#                  profile the trace, validate, print: everything but the planning), for context.
# The loads are the planner's own profile of T (`grace plan --dump-loads`, a separate run that
# is not timed). Ratios < 1: grace is faster.
set -euo pipefail
cd "$(dirname "$0")/.."
GRACE=${1:-build/grace}
OUT=${2:-out/plan-vs-eplb}
RUNS=${RUNS:-5}
TOKENS=${TOKENS:-16384}
SEED=${SEED:-1}
GROUPS_LIST=${EPLB_GROUPS:-8 256}
EPLB_DIR=${EPLB_DIR:-../shared/anchors/deepseek-eplb}
PY=${PY:-/usr/bin/python3}
TIME=${TIME:-/usr/bin/time}
MODEL=deepseek-v3
TOPO=8x8@h200
REDUNDANT=64
NODES=8
GPUS=64

fail() { echo "plan-vs-eplb: $*" >&2; exit 2; }
[[ -x "$GRACE" ]] || fail "$GRACE is not an executable (build it: cmake --build build --target grace)"
[[ -f "$EPLB_DIR/eplb.py" ]] || fail "$EPLB_DIR/eplb.py not found (DeepSeek's EPLB; set EPLB_DIR)"
"$PY" -c "import torch" 2>/dev/null || fail "$PY cannot import torch (apt-get install python3-torch)"
[[ -x "$TIME" ]] || fail "$TIME not found (apt-get install time, or set TIME)"
[[ "$RUNS" -ge 1 ]] || fail "RUNS must be >= 1"

mkdir -p "$OUT"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minimum() { sort -g | head -1; }
# Wall seconds of one run of "$@" (stdout discarded), by GNU time.
wall() {
  "$TIME" -f "%e" -o "$tmp" "$@" > /dev/null
  cat "$tmp"
}

echo "== setting: $MODEL, $TOPO, $REDUNDANT redundant slots, $TOKENS-token synthetic trace (seed $SEED), $RUNS runs"
echo "   machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before; $(date -u +%FT%TZ)"
"$GRACE" trace synth --model "$MODEL" --tokens "$TOKENS" --seed "$SEED" -o "$OUT/trace" > /dev/null
"$GRACE" plan --policy contiguous --model "$MODEL" --topology "$TOPO" --redundant "$REDUNDANT" \
  --trace "$OUT/trace" --dump-loads "$OUT/loads.json" > /dev/null

plan_cmd=("$GRACE" plan --policy grace --model "$MODEL" --topology "$TOPO" --redundant "$REDUNDANT"
          --trace "$OUT/trace" --seed "$SEED")
groups_arr=($GROUPS_LIST)
eplb_args() { echo "$EPLB_DIR" "$OUT/loads.json" "$REDUNDANT" "$1" "$NODES" "$GPUS"; }
echo "== grace process: ${plan_cmd[*]}"
for groups in "${groups_arr[@]}"; do
  echo "== EPLB process, $groups expert groups: $PY bench/eplb_rebalance.py $(eplb_args "$groups") 0"
done
# Warm the page cache, then interleave the process runs so that a busy machine weighs on both alike.
wall "${plan_cmd[@]}" > /dev/null
wall "$PY" bench/eplb_rebalance.py $(eplb_args "${groups_arr[0]}") 0 > /dev/null
grace_runs=()
floor_runs=()
declare -A proc_runs
floor_cmd=("${plan_cmd[@]}")
floor_cmd[3]=contiguous
for ((i = 0; i < RUNS; ++i)); do
  grace_runs+=("$(wall "${plan_cmd[@]}")")
  floor_runs+=("$(wall "${floor_cmd[@]}")")
  for groups in "${groups_arr[@]}"; do
    proc_runs[$groups]+="$(wall "$PY" bench/eplb_rebalance.py $(eplb_args "$groups") 0) "
  done
done
grace_s=$(printf '%s\n' "${grace_runs[@]}" | median)
grace_min=$(printf '%s\n' "${grace_runs[@]}" | minimum)
echo "   grace process runs (s): ${grace_runs[*]} -> median $grace_s, min $grace_min"
floor_min=$(printf '%s\n' "${floor_runs[@]}" | minimum)
echo "   floor (${floor_cmd[*]}) runs (s): ${floor_runs[*]} -> min $floor_min"

summary=()
for groups in "${groups_arr[@]}"; do
  proc_s=$(printf '%s\n' ${proc_runs[$groups]} | median)
  proc_min=$(printf '%s\n' ${proc_runs[$groups]} | minimum)
  echo "   EPLB process runs, $groups groups (s): ${proc_runs[$groups]}-> median $proc_s, min $proc_min"
  echo "== EPLB call alone, $groups expert groups: $PY bench/eplb_rebalance.py $(eplb_args "$groups") $RUNS"
  call_json=$("$PY" bench/eplb_rebalance.py $(eplb_args "$groups") "$RUNS")
  call_s=$(echo "$call_json" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["median_s"])')
  call_min=$(echo "$call_json" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["min_s"])')
  echo "   $call_json"
  summary+=("$(awk -v g="$groups" -v a="$grace_s" -v c="$call_s" -v p="$proc_s" 'BEGIN {
    printf "%-14s %-7s %12.3f %14.3f %15.3f %16.2f %18.2f", g, "median", a, c, p, a / c, a / p }')")
  summary+=("$(awk -v g="$groups" -v a="$grace_min" -v c="$call_min" -v p="$proc_min" 'BEGIN {
    printf "%-14s %-7s %12.3f %14.3f %15.3f %16.2f %18.2f", g, "min", a, c, p, a / c, a / p }')")
done

echo
echo "== result (seconds; ratio = grace process / EPLB; < 1: grace is faster; min = least disturbed run)"
printf '%-14s %-7s %12s %14s %15s %16s %18s\n' "EPLB groups" "stat" "grace proc" "EPLB call" "EPLB process" \
  "grace/EPLB call" "grace/EPLB process"
printf '%s\n' "${summary[@]}"
echo "   floor: the same process without planning (--policy contiguous) takes $floor_min s (min)"
echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

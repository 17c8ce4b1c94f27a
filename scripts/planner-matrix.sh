#!/usr/bin/env bash
# The planner's results table (README "Planner at equal memory", docs/planners.md): for every
# case, plans on one part of the traffic and evaluates on another, then prints per case
#   grace vs the best baseline (the lower cross-node traffic of uniform-affinity/primary/hier and
#   eplb/tar/hier), grace vs uniform-affinity+replicas (same memory, same router and comm),
#   grace at zero redundancy vs uniform-affinity (same memory), grace's load max/mean vs
#   eplb/wrr/flat's, and the simulated MoE-layer time of grace vs the best baseline with
#   hierarchical communication.
# Cases: DeepSeek-V2-Lite ESFT (even/odd sequences, and plan on three tasks / evaluate on the
# fourth, all four rotations) and GPT-OSS-20B MMLU (even/odd, and plan on three of MMLU's subject
# domains / evaluate on the fourth, all four rotations; the domain traces are written by
# scripts/gpt-oss-domains.py next to OUT_TSV, skipped with a message where numpy is missing)
# at 2x4, 4x4, 4x2 (paper constants); DeepSeek-V3 synthetic (32k tokens, even/odd) at 8x8@h200.
# With PM_CEILING=1 every case is also planned with foresight (planner_matrix --foresight: on the
# very traffic it is evaluated on, which no real planner sees), grace as it is and grace at zero
# redundancy with no node load limit, and OUT_TSV.ceiling compares them with the same baselines
# as the table (planned on the planning traffic): how far any split of this search could get.
# With PM_SGLANG=1 every case also runs the rows an unpatched SGLang serves (its static dispatch,
# router sglang-static): eplb, uniform-affinity+replicas, grace as planned for cover, and grace
# planned for SGLang's rule (grace@sglang-static: `grace plan --target sglang-static`), and
# OUT_TSV.sglang compares them.
# PM_BATCHING=balanced evaluates with balanced batches (every GPU gives each batch its share of
# its own sequences' tokens, grace/evaluate.h Batching) instead of trace-order ones.
# PM_SPLIT=halves cuts each trace of the 7 split cases (named "halves" instead of "even/odd") into
# its earlier half of sequences, which plans, and its later half, which is evaluated (`grace
# compare --split halves`: a plan made on earlier traffic serves later traffic); the 24 rotations
# cut no trace and are left out of that run.
# PM_HOLDOUT=H (1, 2 or 3; default 1) holds out H of the four tasks (domains) per rotation: plan on
# the other 4 - H, evaluate on the H, every such set (4, 6 or 4 rotations): with 2 or 3 the
# planning traffic is further from the evaluated traffic, and with 3 there is less of it.
# Usage: [PM_CEILING=1] [PM_SGLANG=1] [PM_BATCHING=trace|balanced] [PM_SPLIT=even-odd|halves] [PM_HOLDOUT=1|2|3]
#        scripts/planner-matrix.sh [BUILD_DIR] [OUT_TSV]
#        (needs ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
OUT=${2:-out/planner-matrix.tsv}
BIN=${PM_BIN:-$BUILD/bench/planner_matrix}
DATA=${GRACE_SHARED_DATA:-../shared/data}
[[ -x $BIN ]] || { echo "planner-matrix: $BIN missing (cmake --build $BUILD --target planner_matrix)" >&2; exit 2; }
[[ -d $DATA/traces ]] || { echo "planner-matrix: $DATA/traces not found (real traces needed)" >&2; exit 2; }
DS=$DATA/traces/deepseek-v2-lite-esft
GO=$DATA/traces/gpt-oss-20b-mmlu
ROWS=(eplb/wrr/flat uniform-affinity/primary/hierarchical eplb/tar/hierarchical
      uniform-affinity+replicas/cover/hierarchical grace/cover/hierarchical grace/cover/hierarchical/0)
[[ ${PM_SGLANG:-0} == 1 ]] && ROWS+=(eplb/sglang-static/hierarchical uniform-affinity+replicas/sglang-static/hierarchical
                                     grace/sglang-static/hierarchical grace@sglang-static/sglang-static/hierarchical)
BATCHING=(--batching "${PM_BATCHING:-trace}")
HOLDOUT=${PM_HOLDOUT:-1}
[[ $HOLDOUT =~ ^[123]$ ]] || { echo "planner-matrix: PM_HOLDOUT must be 1, 2 or 3, not '$HOLDOUT'" >&2; exit 2; }
held_sets() {  # every HOLDOUT of the items, in the items' order, joined by '+'
  combos() {  # prefix, how many more to take, then the items left
    local pre=$1 k=$2; shift 2
    if ((k == 0)); then echo "$pre"; return; fi
    while (($# >= k)); do combos "${pre:+$pre+}$1" $((k - 1)) "${@:2}"; shift; done
  }
  combos "" "$HOLDOUT" "$@"
}
case ${PM_SPLIT:-even-odd} in
  even-odd) SPLIT=even/odd ;;
  halves) SPLIT=halves ;;
  *) echo "planner-matrix: PM_SPLIT must be even-odd or halves, not '$PM_SPLIT'" >&2; exit 2 ;;
esac
mkdir -p "$(dirname "$OUT")"
: > "$OUT.raw"
run() {  # name, then planner_matrix arguments
  local name=$1; shift
  set -- "$@" "${BATCHING[@]}"
  echo "== $name" >&2
  "$BIN" "$@" "${ROWS[@]}" | tail -n +2 | sed "s|^|$name\t|" >> "$OUT.raw"
  if [[ ${PM_CEILING:-0} == 1 ]]; then
    "$BIN" "$@" --foresight grace/cover/hierarchical | tail -n +2 | sed "s|^|$name\tforesight:|" >> "$OUT.raw"
    "$BIN" "$@" --foresight --node-load-limit 1e9 grace/cover/hierarchical/0 | tail -n +2 |
      sed "s|^|$name\tforesight-unlimited:|" >> "$OUT.raw"
  fi
}
TASKS=(intent law summary translation)
DOMAINS=(stem humanities social other)
ROTATE=("${TASKS[@]}")  # the held-out task of each DeepSeek rotation (none under PM_SPLIT=halves)
[[ $SPLIT == halves ]] && ROTATE=()
DOM=$(dirname "$OUT")/gpt-oss-domains
PY=${GRACE_PYTHON:-/usr/bin/python3}
if [[ $SPLIT == halves ]]; then
  DOMAINS=()
elif ! "$PY" "$(dirname "$0")/gpt-oss-domains.py" "$GO" "$DOM" 2>/dev/null; then
  echo "planner-matrix: GPT-OSS-20B domain rotations skipped ($PY with numpy could not split $GO)" >&2
  DOMAINS=()
fi
for topo in 2x4 4x4 4x2; do
  args=()
  for t in "${TASKS[@]}"; do args+=(--trace "$DS/${t}_topk_ids.npy.gz"); done
  run "deepseek-v2-lite $topo $SPLIT" --model deepseek-v2-lite --topology $topo --split "${PM_SPLIT:-even-odd}" "${args[@]}"
  for held in $(held_sets "${ROTATE[@]}"); do
    args=()
    for t in "${TASKS[@]}"; do
      if [[ "+$held+" == *"+$t+"* ]]; then args+=(--trace "$DS/${t}_topk_ids.npy.gz")
      else args+=(--plan-trace "$DS/${t}_topk_ids.npy.gz"); fi
    done
    run "deepseek-v2-lite $topo plan-$((4 - HOLDOUT))-tasks/eval-$held" --model deepseek-v2-lite --topology $topo "${args[@]}"
  done
  run "gpt-oss-20b $topo $SPLIT" --model gpt-oss-20b --topology $topo --split "${PM_SPLIT:-even-odd}" --trace "$GO/topk_ids.npy.gz"
  for held in $(held_sets "${DOMAINS[@]}"); do
    args=()
    for d in "${DOMAINS[@]}"; do
      if [[ "+$held+" == *"+$d+"* ]]; then args+=(--trace "$DOM/${d}_topk_ids.npy.gz")
      else args+=(--plan-trace "$DOM/${d}_topk_ids.npy.gz"); fi
    done
    run "gpt-oss-20b $topo plan-$((4 - HOLDOUT))-domains/eval-$held" --model gpt-oss-20b --topology $topo "${args[@]}"
  done
done
run "deepseek-v3 8x8@h200 synthetic $SPLIT" --model deepseek-v3 --topology 8x8@h200 --split "${PM_SPLIT:-even-odd}" \
  --trace synthetic:deepseek-v3:32768:1
# One line per case: the ratios the planner issue asks for; with PM_CEILING=1 also the ceilings
# (grace planned with foresight of the evaluated traffic, against the same baselines) in
# $OUT.ceiling.
[[ ${PM_CEILING:-0} == 1 ]] && CEIL="$OUT.ceiling" || CEIL=""
[[ ${PM_SGLANG:-0} == 1 ]] && SGL="$OUT.sglang" || SGL=""
awk -F'\t' -v ceil="$CEIL" -v sgl="$SGL" '
  { c=$1; r=$2; mb[c,r]=$3; ld[c,r]=$4; us[c,r]=$5; if (!(c in seen)) { seen[c]=1; order[n++]=c } }
  END {
    printf "case\tgrace MB\tvs best baseline\tvs UA+replicas (same memory)\tgrace/0 vs UA (same memory)\tload vs eplb/wrr/flat\ttime speedup vs best hier baseline\n";
    if (sgl != "")
      printf "case\tgrace for SGLang MB\tvs grace (for cover)\tvs eplb\tload\tvs eplb\ttime speedup vs grace (for cover)\tvs eplb\tvs best baseline\n" > sgl;
    if (ceil != "")
      printf "case\tgrace/0 vs UA\twith foresight, no node limit\tload vs eplb/wrr/flat\twith foresight\ttime speedup\twith foresight\n" > ceil;
    g = "grace/cover/hierarchical"; ua = "uniform-affinity/primary/hierarchical"; et = "eplb/tar/hierarchical"
    uar = "uniform-affinity+replicas/cover/hierarchical"; ew = "eplb/wrr/flat"
    for (i = 0; i < n; i++) {
      c = order[i]
      best = mb[c,ua] < mb[c,et] ? mb[c,ua] : mb[c,et]
      bt = us[c,ua]; if (us[c,et] < bt) bt = us[c,et]; if (us[c,uar] < bt) bt = us[c,uar]
      printf "%s\t%.1f\t%.3f\t%.3f\t%.3f\t%.3f (%.2f vs %.2f)\t%.3f\n", c, mb[c,g], mb[c,g]/best, mb[c,g]/mb[c,uar],
        mb[c,g "/0"]/mb[c,ua], ld[c,g]/ld[c,ew], ld[c,g], ld[c,ew], bt/us[c,g]
      if (sgl != "") {  # every row under SGLang static dispatch; uniform-affinity has no replicas to dispatch
        sg = "grace@sglang-static/sglang-static/hierarchical"; sc = "grace/sglang-static/hierarchical"
        se = "eplb/sglang-static/hierarchical"; su = "uniform-affinity+replicas/sglang-static/hierarchical"
        sb = us[c,se]; if (us[c,su] < sb) sb = us[c,su]; if (us[c,ua] < sb) sb = us[c,ua]
        printf "%s\t%.1f\t%.3f\t%.3f\t%.2f\t%.3f\t%.3f\t%.3f\t%.3f\n", c, mb[c,sg], mb[c,sg]/mb[c,sc], mb[c,sg]/mb[c,se],
          ld[c,sg], ld[c,sg]/ld[c,se], us[c,sc]/us[c,sg], us[c,se]/us[c,sg], sb/us[c,sg] > sgl
      }
      if (ceil != "")
        printf "%s\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\n", c, mb[c,g "/0"]/mb[c,ua],
          mb[c,"foresight-unlimited:" g "/0"]/mb[c,ua], ld[c,g]/ld[c,ew], ld[c,"foresight:" g]/ld[c,ew],
          bt/us[c,g], bt/us[c,"foresight:" g] > ceil
    }
  }' "$OUT.raw" | tee "$OUT"
echo "rows: $OUT.raw; summary: $OUT${CEIL:+; ceilings: $CEIL}${SGL:+; under SGLang static dispatch: $SGL}" >&2

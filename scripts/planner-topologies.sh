#!/usr/bin/env bash
# The planner at topologies the planner matrix (scripts/planner-matrix.sh) does not cover: a
# held-out check of choices made on that matrix. DeepSeek-V2-Lite planned on the even and
# evaluated on the odd sequences of the four ESFT traces, GPT-OSS-20B likewise on its MMLU trace,
# at 2x2, 2x8, 8x2, 8x1, 4x1, 3x4, 4x8 and 8x4 (paper constants): 16 cases.
#
# Usage: scripts/planner-topologies.sh [BUILD_DIR] [OUT]   (defaults: build, out/planner-topologies.tsv)
# Environment: GRACE_SHARED_DATA (default ../shared/data), PT_TOPOLOGIES (space-separated list).
# Writes OUT.raw (every row of every case) and OUT (per case: grace/cover/hierarchical's cross-node
# MB, its load max/mean over eplb/wrr/flat's, its simulated layer time, and the fastest
# hierarchical baseline's time over grace's).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
OUT=${2:-out/planner-topologies.tsv}
BIN=$BUILD/bench/planner_matrix
DATA=${GRACE_SHARED_DATA:-../shared/data}
[[ -x $BIN ]] || { echo "planner-topologies: $BIN missing (cmake --build $BUILD --target planner_matrix)" >&2; exit 2; }
[[ -d $DATA/traces ]] || { echo "planner-topologies: $DATA/traces not found (real traces needed)" >&2; exit 2; }
mkdir -p "$(dirname "$OUT")"
DS=$DATA/traces/deepseek-v2-lite-esft
GO=$DATA/traces/gpt-oss-20b-mmlu
ROWS=(eplb/wrr/flat uniform-affinity/primary/hierarchical eplb/tar/hierarchical
      uniform-affinity+replicas/cover/hierarchical grace/cover/hierarchical grace/cover/hierarchical/0)
: > "$OUT.raw"
for topo in ${PT_TOPOLOGIES:-2x2 2x8 8x2 8x1 4x1 3x4 4x8 8x4}; do
  ds=(--model deepseek-v2-lite)
  for t in intent law summary translation; do ds+=(--trace "$DS/${t}_topk_ids.npy.gz"); done
  echo "== deepseek-v2-lite $topo" >&2
  "$BIN" "${ds[@]}" --topology "$topo" "${ROWS[@]}" | tail -n +2 | sed "s|^|deepseek-v2-lite $topo\t|" >> "$OUT.raw"
  echo "== gpt-oss-20b $topo" >&2
  "$BIN" --model gpt-oss-20b --trace "$GO/topk_ids.npy.gz" --topology "$topo" "${ROWS[@]}" | tail -n +2 |
    sed "s|^|gpt-oss-20b $topo\t|" >> "$OUT.raw"
done
awk -F'\t' '
  { c=$1; r=$2; mb[c,r]=$3; ld[c,r]=$4; us[c,r]=$5; if (!(c in seen)) { seen[c]=1; order[n++]=c } }
  END {
    printf "case\tgrace MB\tload vs eplb/wrr/flat\tgrace layer us\ttime speedup vs best hier baseline\n"
    g = "grace/cover/hierarchical"
    for (i = 0; i < n; i++) {
      c = order[i]
      bt = us[c,"uniform-affinity/primary/hierarchical"]
      if (us[c,"eplb/tar/hierarchical"] < bt) bt = us[c,"eplb/tar/hierarchical"]
      if (us[c,"uniform-affinity+replicas/cover/hierarchical"] < bt) bt = us[c,"uniform-affinity+replicas/cover/hierarchical"]
      printf "%s\t%.1f\t%.3f (%.2f vs %.2f)\t%.1f\t%.3f\n", c, mb[c,g], ld[c,g]/ld[c,"eplb/wrr/flat"], ld[c,g],
        ld[c,"eplb/wrr/flat"], us[c,g], bt/us[c,g]
    }
  }' "$OUT.raw" | tee "$OUT"
echo "rows: $OUT.raw; summary: $OUT" >&2

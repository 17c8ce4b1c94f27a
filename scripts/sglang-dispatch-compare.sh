#!/usr/bin/env bash
# The same placements under grace's tar router and under SGLang's own dispatch rules
# (sglang-static, sglang-dynamic: what the exported --init-expert-location does inside SGLang).
# Usage: scripts/sglang-dispatch-compare.sh [build/grace] [DATA=../shared/data]
# Plans grace and eplb at 2x4 on each real trace (in sample) and prints cross-node MB per batch
# of 4096 tokens over all MoE layers, for hierarchical and flat communication.
set -euo pipefail
G=${1:-build/grace}
DATA=${DATA:-$(dirname "$0")/../../shared/data}
DS=$DATA/traces/deepseek-v2-lite-esft
GPT=$DATA/traces/gpt-oss-20b-mmlu
[ -d "$DS" ] && [ -d "$GPT" ] || { echo "real traces not found under $DATA (skipped)"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
declare -A TRACE=([deepseek-v2-lite]="$DS/intent_topk_ids.npy.gz $DS/law_topk_ids.npy.gz $DS/summary_topk_ids.npy.gz $DS/translation_topk_ids.npy.gz"
                  [gpt-oss-20b]="$GPT/topk_ids.npy.gz")
echo "| model | planner | comm | tar MB | sglang-static MB | sglang-dynamic MB | static vs tar |"
echo "|---|---|---|---:|---:|---:|---:|"
for model in deepseek-v2-lite gpt-oss-20b; do
  for policy in grace eplb; do
    # shellcheck disable=SC2086
    "$G" plan --trace ${TRACE[$model]} --model "$model" --topology 2x4 --policy "$policy" -o "$tmp/p.json" >/dev/null
    for comm in hierarchical flat; do
      row="| $model | $policy | $comm"
      declare -A mb=()
      for router in tar sglang-static sglang-dynamic; do
        # shellcheck disable=SC2086
        "$G" evaluate --trace ${TRACE[$model]} --placement "$tmp/p.json" --router "$router" --comm "$comm" \
          --batch-tokens 4096 --json >"$tmp/e.json"
        mb[$router]=$(grep -o '"inter_bytes_per_token": *[0-9.e+-]*' "$tmp/e.json" | tail -1 |
                      awk -F: '{printf "%.1f", $2 * 4096 / 1e6}')
        row="$row | ${mb[$router]}"
      done
      echo "$row | $(awk -v a="${mb[sglang-static]}" -v b="${mb[tar]}" 'BEGIN{printf "%+.0f%%", (a / b - 1) * 100}') |"
    done
  done
done

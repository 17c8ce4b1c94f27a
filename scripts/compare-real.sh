#!/usr/bin/env bash
# Runs `grace compare` on the real routing traces of ../shared/data (DeepSeek-V2-Lite ESFT, all
# four tasks; GPT-OSS-20B MMLU) on 2x4 with the paper's constants, and prints the tables that
# docs/simulator.md records. Usage: scripts/compare-real.sh [GRACE_BINARY] [OUT_DIR]
#   GRACE_BINARY  default: build/grace       OUT_DIR  default: out/compare-real
# Extra settings through the environment: BATCH_TOKENS (default 4096), SEED (default 0),
# TOPOLOGY (default 2x4).
set -euo pipefail
cd "$(dirname "$0")/.."
GRACE=${1:-build/grace}
OUT=${2:-out/compare-real}
DATA=${GRACE_SHARED_DATA:-../shared/data}
BATCH=${BATCH_TOKENS:-4096}
SEED=${SEED:-0}
TOPO=${TOPOLOGY:-2x4}
if [[ ! -x "$GRACE" ]]; then
  echo "compare-real: $GRACE is not an executable (build it: cmake --build build --target grace)" >&2
  exit 2
fi
if [[ ! -d "$DATA/traces" ]]; then
  echo "compare-real: $DATA/traces not found; the real traces are needed (see ../shared/data/README.md)" >&2
  exit 2
fi
DS=$DATA/traces/deepseek-v2-lite-esft
GO=$DATA/traces/gpt-oss-20b-mmlu

run() {
  local name=$1
  shift
  echo "== $name: $GRACE compare $* --topology $TOPO --batch-tokens $BATCH --seed $SEED -o $OUT/$name"
  /usr/bin/time -f "   (%e s wall, %M KB max RSS)" \
    "$GRACE" compare "$@" --topology "$TOPO" --batch-tokens "$BATCH" --seed "$SEED" -o "$OUT/$name"
  echo
}

run deepseek-v2-lite-esft --model deepseek-v2-lite \
  --trace "$DS/intent_topk_ids.npy.gz" --trace "$DS/law_topk_ids.npy.gz" \
  --trace "$DS/summary_topk_ids.npy.gz" --trace "$DS/translation_topk_ids.npy.gz"
run gpt-oss-20b-mmlu --model gpt-oss-20b --trace "$GO/topk_ids.npy.gz"
echo "reports: $OUT/*/report.html, report.md, results.json"

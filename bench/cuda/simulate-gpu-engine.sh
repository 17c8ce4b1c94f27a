#!/usr/bin/env bash
# The simulator's prediction for the cases of bench/cuda/gpu_engine_run.cpp (docs/gpu.md), and
# the table that sets it beside the measured run. Runs on the host (no GPU needed):
#
#   bench/cuda/simulate-gpu-engine.sh GRACE_BIN GPU_ENGINE_RUN_BIN [MEASURED_TSV]
#
# GPU_ENGINE_RUN_BIN --plan-only writes the same placements (same planners, same profile) and
# routing traces the device run used; `grace simulate` replays them on
# bench/cuda/h200-2x1-nvlink.json (2x1@h200 with both tiers at the measured NVLink NCCL constants)
# with one-layer model files from bench/cuda/models/. Batch = 2 x tokens per GPU.
set -euo pipefail
cd "$(dirname "$0")/../.."
grace=$1 run=$2 measured=${3:-}
plans=$(mktemp -d /tmp/grace-gpu-plans.XXXXXX)
"$run" --plan-only "$plans" --data .gpu-data >&2
printf "model\ttokens_per_gpu\tcase\tsim_dispatch_ms\tsim_compute_ms\tsim_combine_ms\tsim_layer_ms\n" > "$plans/sim.tsv"
for model in deepseek-v2-lite qwen3-30b-a3b; do
  for tok in 1024 8192; do
    for c in contiguous+primary+flat eplb+tar+flat grace+tar+flat grace+tar+hierarchical; do
      IFS=+ read -r planner router comm <<< "$c"
      "$grace" simulate --model "bench/cuda/models/$model-1layer.json" --trace "$plans/$model/trace" \
        --placement "$plans/$model/$planner.json" --topology bench/cuda/h200-2x1-nvlink.json --router "$router" \
        --comm "$comm" --batch-tokens $((2 * tok)) --json |
        python3 -c "import json,sys; m=json.load(sys.stdin)['mean_layer']; print('$model\t$tok\t$c\t%.3f\t%.3f\t%.3f\t%.3f' % (m['dispatch_us']/1e3, m['compute_us']/1e3, m['combine_us']/1e3, m['total_us']/1e3))" >> "$plans/sim.tsv"
    done
  done
done
if [ -n "$measured" ]; then
  python3 - "$measured" "$plans/sim.tsv" <<'PY'
import csv, sys
meas = {(r['model'], r['tokens_per_gpu'], r['case']): r for r in csv.DictReader(open(sys.argv[1]), delimiter='\t')}
print('| model | tokens/GPU | case | dispatch ms | compute ms | combine ms | **layer ms** | x-node rows | x-node MB | sim dispatch | sim compute | sim combine | **sim layer** | rel. err vs ref / CPU |')
print('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
for s in csv.DictReader(open(sys.argv[2]), delimiter='\t'):
    m = meas.get((s['model'], s['tokens_per_gpu'], s['case']))
    if not m: continue
    cpu = f"{float(m['err_vs_cpu']):.1e}" if m['tokens_per_gpu'] == '1024' else '-'
    print(f"| {s['model']} | {s['tokens_per_gpu']} | {s['case']} | {float(m['dispatch_ms']):.3f} | {float(m['compute_ms']):.3f} | "
          f"{float(m['combine_ms']):.3f} | **{float(m['layer_ms']):.3f}** | {m['rows_inter']} | {float(m['bytes_inter'])/1e6:.1f} | "
          f"{float(s['sim_dispatch_ms']):.3f} | {float(s['sim_compute_ms']):.3f} | {float(s['sim_combine_ms']):.3f} | "
          f"**{float(s['sim_layer_ms']):.3f}** | {float(m['err_vs_gpu_ref']):.1e} / {cpu} |")
PY
else
  cat "$plans/sim.tsv"
fi
rm -rf "$plans"

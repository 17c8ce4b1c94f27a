#!/usr/bin/env bash
# The online re-planning experiment of docs/replan.md on the real DeepSeek-V2-Lite ESFT traces
# (../shared/data): the four tasks concatenated in turn (intent -> law -> summary -> translation),
# 2x4 GPUs with the paper's constants, the cover router with hierarchical communication.
#
#   1. Task switches: from the placement in force (grace plan of intent, then each step's
#      result), `grace replan` with 25% of the moves of the full re-plan (a grace plan of the new
#      task aligned to the placement in force) vs that full re-plan, both replayed with
#      `grace evaluate` on the new task: share of the full re-plan's cross-node traffic gain
#      recovered (in sample: planned and judged on the task's tokens).
#   2. Stream: `grace drift --strategies` over the concatenation in windows, each window replayed
#      with the placement in force before it (out of sample): static (grace plan of intent),
#      periodic full EPLB and grace re-plans every K windows, and drift-triggered budgeted replan.
#
# Usage: scripts/drift-experiment.sh [GRACE_BINARY] [OUT_DIR]   (defaults build/grace, out/drift)
# Environment: WINDOW (tokens, default 2048), BUDGET (replan moves per trigger, default 330:
# about 25% of a full re-plan's), PERIODS (default "1 4"), HORIZON (batches, default 100),
# TOPOLOGY (default 2x4).
set -euo pipefail
cd "$(dirname "$0")/.."
GRACE=${1:-build/grace}
OUT=${2:-out/drift}
DATA=${GRACE_SHARED_DATA:-../shared/data}
WINDOW=${WINDOW:-2048}
BUDGET=${BUDGET:-330}
PERIODS=${PERIODS:-"1 4"}
HORIZON=${HORIZON:-100}
TOPO=${TOPOLOGY:-2x4}
PY=/usr/bin/python3
if [[ ! -x "$GRACE" ]]; then
  echo "drift-experiment: $GRACE is not an executable (build it: cmake --build build --target grace)" >&2
  exit 2
fi
DS=$DATA/traces/deepseek-v2-lite-esft
if [[ ! -f "$DS/intent_topk_ids.npy.gz" ]]; then
  echo "drift-experiment: $DS not found; the real traces are needed" >&2
  exit 2
fi
mkdir -p "$OUT"
TASKS=(intent law summary translation)
trace() { echo "$DS/$1_topk_ids.npy.gz"; }
inter() {  # cross-node dispatch bytes per token (cover router) of placement $1 on task $2
  "$GRACE" evaluate --placement "$1" --trace "$(trace "$2")" --router cover --json |
    $PY -c 'import json,sys; print(json.load(sys.stdin)["inter_bytes_per_token"])'
}

echo "== static placement: $GRACE plan --trace $(trace intent) --topology $TOPO -o $OUT/intent.json"
"$GRACE" plan --trace "$(trace intent)" --topology "$TOPO" -o "$OUT/intent.json" >/dev/null

echo
echo "== 1. task switches: replan with 25% of a full re-plan's moves (cross-node KB/token, cover router, on the new task)"
printf '%-22s %9s %9s %9s %11s %10s %10s %10s\n' switch before replan full "full moves" "replan mv" recovered "(pred.)"
cur="$OUT/intent.json"
prev=intent
for t in law summary translation; do
  "$GRACE" plan --trace "$(trace "$t")" --topology "$TOPO" -o "$OUT/full-$t.json" >/dev/null
  full_moves=$("$GRACE" replan --placement "$cur" --trace "$(trace "$t")" --max-moves 0 --json |
    $PY -c 'import json,sys; print(json.load(sys.stdin)["full_plan_moves"])')
  budget=$((full_moves / 4))
  "$GRACE" replan --placement "$cur" --trace "$(trace "$t")" --max-moves "$budget" --json -o "$OUT/replan-$t.json" >"$OUT/replan-$t.out.json"
  read -r moved pred < <($PY -c 'import json,sys; j=json.load(open(sys.argv[1])); v=j["node_visits_per_token"]
print(j["moves"], (v["before"]-v["after"])/(v["before"]-v["full_plan"]))' "$OUT/replan-$t.out.json")
  b=$(inter "$cur" "$t"); r=$(inter "$OUT/replan-$t.json" "$t"); f=$(inter "$OUT/full-$t.json" "$t")
  $PY -c 'import sys; b,r,f=map(float,sys.argv[1:4]); print("%-22s %9.2f %9.2f %9.2f %11s %10s %9.1f%% %9.1f%%" % (sys.argv[4], b/1e3, r/1e3, f/1e3, sys.argv[5], sys.argv[6], 100*(b-r)/(b-f), 100*float(sys.argv[7])))' \
    "$b" "$r" "$f" "$prev -> $t" "$full_moves" "$moved" "$pred"
  echo "   $GRACE replan --placement $cur --trace $(trace "$t") --max-moves $budget -o $OUT/replan-$t.json"
  cur="$OUT/replan-$t.json"
  prev=$t
done
echo "recovered: (before - replan) / (before - full); (pred.): the same on the planner's objective (node visits)"

STRATS=static
for k in $PERIODS; do STRATS="$STRATS,eplb:$k,grace:$k"; done
STRATS="$STRATS,replan"
echo
echo "== 2. stream: $GRACE drift --placement $OUT/intent.json --trace <intent> --trace <law> --trace <summary> --trace <translation> --window $WINDOW --max-moves $BUDGET --horizon $HORIZON --strategies $STRATS --json --html $OUT/drift.html"
"$GRACE" drift --placement "$OUT/intent.json" --trace "$(trace intent)" --trace "$(trace law)" --trace "$(trace summary)" \
  --trace "$(trace translation)" --window "$WINDOW" --max-moves "$BUDGET" --horizon "$HORIZON" --strategies "$STRATS" \
  --json --html "$OUT/drift.html" >"$OUT/drift.json"
$PY - "$OUT/drift.json" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
eb = j["expert_bytes"]
print("windows of %d tokens, each replayed with the placement in force before it (cover router, hierarchical)" % j["options"]["window"])
print("%-10s %15s %14s %9s %9s %16s" % ("strategy", "cross-node GB", "load max/mean", "re-plans", "moves", "expert GB moved"))
rows = {s["name"]: s for s in j["strategies"]}
for s in j["strategies"]:
    print("%-10s %15.4f %14.3f %9d %9d %16.2f" % (s["name"], s["inter_bytes"] / 1e9, s["load_max_mean"], s["replans"], s["moves"], s["moved_bytes"] / 1e9))
r = rows.get("replan")
if r:
    print()
    for name, s in rows.items():
        if name in ("static", "replan") or s["moved_bytes"] == 0:
            continue
        print("replan vs %-8s expert bytes moved %5.1f%% (<= 25%%: %s), cross-node traffic %+.1f%% (within 5%%: %s)" % (
            name, 100 * r["moved_bytes"] / s["moved_bytes"], "yes" if r["moved_bytes"] <= 0.25 * s["moved_bytes"] else "NO",
            100 * (r["inter_bytes"] / s["inter_bytes"] - 1), "yes" if r["inter_bytes"] <= 1.05 * s["inter_bytes"] else "NO"))
print("cross-node GB: dispatch bytes per direction over the stream; moves: expert instances placed anew (%.1f MB each)" % (eb / 1e6))
PYEOF
echo "written $OUT/drift.json, $OUT/drift.html"

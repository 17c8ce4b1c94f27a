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
#      with the placement in force before it (out of sample): static (grace plan of the first
#      task), periodic full EPLB and grace re-plans every K windows, and drift-triggered replan.
#      Every replan move must pay for its bytes within the horizon (--move-break-even auto: the
#      cross-node bytes it saves over HORIZON x 4096 tokens >= the expert bytes it ships); no
#      move budget unless BUDGET is set.
#   3. The same on two more streams, to check the result is not fitted to one: the ESFT tasks in
#      reverse order (translation -> summary -> law -> intent), and GPT-OSS-20B on MMLU (57
#      subjects in turn; the static placement is planned on its first window, cut out with numpy
#      into OUT).
#
# Usage: scripts/drift-experiment.sh [GRACE_BINARY] [OUT_DIR]   (defaults build/grace, out/drift)
# Environment: WINDOW (tokens, default 2048), BUDGET (replan moves per trigger, default: none),
# BREAK_EVEN (--move-break-even: auto (default), off or a number), PERIODS (default "1 4"),
# HORIZON (batches, default 100), TOPOLOGY (default 2x4), STREAMS (default "esft esft-reverse
# gpt-oss"), GPTOSS_WINDOW (tokens, default 4096).
set -euo pipefail
cd "$(dirname "$0")/.."
GRACE=${1:-build/grace}
OUT=${2:-out/drift}
DATA=${GRACE_SHARED_DATA:-../shared/data}
WINDOW=${WINDOW:-2048}
BUDGET=${BUDGET:-}
BREAK_EVEN=${BREAK_EVEN:-auto}
STREAMS=${STREAMS:-"esft esft-reverse gpt-oss"}
GPTOSS_WINDOW=${GPTOSS_WINDOW:-4096}
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
BUDGET_ARG=""
if [[ -n "$BUDGET" ]]; then BUDGET_ARG="--max-moves $BUDGET"; fi

stream() {  # stream NAME PLACEMENT WINDOW TRACE-ARGS...: grace drift --strategies, and its summary
  local name=$1 placement=$2 window=$3
  shift 3
  echo
  echo "== stream $name: $GRACE drift --placement $placement $* --window $window $BUDGET_ARG --horizon $HORIZON --move-break-even $BREAK_EVEN --strategies $STRATS --json --html $OUT/drift-$name.html"
  # shellcheck disable=SC2086
  "$GRACE" drift --placement "$placement" "$@" --window "$window" $BUDGET_ARG --horizon "$HORIZON" \
    --move-break-even "$BREAK_EVEN" --strategies "$STRATS" --json --html "$OUT/drift-$name.html" >"$OUT/drift-$name.json"
  $PY - "$OUT/drift-$name.json" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
eb = j["expert_bytes"]
o = j["options"]
print("windows of %d tokens, each replayed with the placement in force before it (cover router, hierarchical);"
      " replan break-even %.5f node visits/token per move" % (o["window"], o["min_visits_per_move"]))
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
  echo "written $OUT/drift-$name.json, $OUT/drift-$name.html"
}

for s in $STREAMS; do
  case $s in
    esft)
      stream esft "$OUT/intent.json" "$WINDOW" --trace "$(trace intent)" --trace "$(trace law)" --trace "$(trace summary)" \
        --trace "$(trace translation)" ;;
    esft-reverse)
      echo
      echo "== static placement: $GRACE plan --trace $(trace translation) --topology $TOPO -o $OUT/translation.json"
      "$GRACE" plan --trace "$(trace translation)" --topology "$TOPO" -o "$OUT/translation.json" >/dev/null
      stream esft-reverse "$OUT/translation.json" "$WINDOW" --trace "$(trace translation)" --trace "$(trace summary)" \
        --trace "$(trace law)" --trace "$(trace intent)" ;;
    gpt-oss)
      GO=$DATA/traces/gpt-oss-20b-mmlu
      if [[ ! -f "$GO/topk_ids.npy.gz" ]]; then
        echo "drift-experiment: $GO not found; stream gpt-oss skipped" >&2
        continue
      fi
      mkdir -p "$OUT/gpt-oss-first"
      $PY - "$GO" "$OUT/gpt-oss-first" "$GPTOSS_WINDOW" <<'PYEOF'
import gzip, sys
import numpy as np
src, dst, w = sys.argv[1], sys.argv[2], int(sys.argv[3])
ids = np.load(gzip.open(src + "/topk_ids.npy.gz"))
off = np.load(src + "/seq_offsets.npy")
np.save(dst + "/topk_ids.npy", ids[:w])
np.save(dst + "/seq_offsets.npy", np.concatenate([off[off < w], [w]]).astype(off.dtype))
PYEOF
      echo
      echo "== static placement: $GRACE plan --trace $OUT/gpt-oss-first (the first $GPTOSS_WINDOW tokens of $GO) --model gpt-oss-20b --topology $TOPO -o $OUT/gpt-oss.json"
      "$GRACE" plan --trace "$OUT/gpt-oss-first" --model gpt-oss-20b --topology "$TOPO" -o "$OUT/gpt-oss.json" >/dev/null
      stream gpt-oss "$OUT/gpt-oss.json" "$GPTOSS_WINDOW" --trace "$GO" ;;
    *)
      echo "drift-experiment: unknown stream '$s' (esft, esft-reverse, gpt-oss)" >&2
      exit 2 ;;
  esac
done

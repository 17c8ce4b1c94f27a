#!/usr/bin/env bash
# grace against its baselines on synthetic traces of every model preset with top-k routing
# (no real trace needed): `grace compare --json` (plan on even sequences, evaluate on odd ones)
# per model x topology, then one line per case:
#   grace/cover/hierarchical's cross-node bytes over the best baseline (the lower of
#   uniform-affinity/primary and eplb/tar, hierarchical) and over uniform-affinity+replicas/cover
#   (same memory), grace at zero redundancy over uniform-affinity, grace's load max/mean over
#   eplb/wrr/flat's, the simulated time of the fastest of those three hierarchical baselines over
#   grace's, and grace's busiest node NIC over the mean; averages at the end (the same ratios as
#   scripts/planner-matrix.sh). Mixtral (8 experts) is left out: at these memories nothing
#   needs to cross nodes for every planner.
# Usage: [MODELS="..."] [TOPOLOGIES="..."] [JOBS=2] scripts/synthetic-sweep.sh [GRACE] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
GRACE=${1:-build/grace}
OUT=${2:-out/synthetic-sweep}
MODELS=${MODELS:-deepseek-v2-lite gpt-oss-20b olmoe-1b-7b qwen3-30b-a3b}
TOPOLOGIES=${TOPOLOGIES:-2x4 3x2 2x8 4x4 8x4 4x2 3x4 8x2}
JOBS=${JOBS:-2}
PY=${GRACE_PYTHON:-/usr/bin/python3}
[[ -x $GRACE ]] || { echo "synthetic-sweep: $GRACE is not an executable" >&2; exit 2; }
mkdir -p "$OUT"
run_case() {  # model topology
  local f="$OUT/$1-$2.json"
  [[ -s $f ]] && return 0
  echo "== $1 $2" >&2
  if "$GRACE" compare --model "$1" --topology "$2" -o "$OUT/$1-$2" --json > "$f.tmp" 2> "$OUT/$1-$2.log"; then
    mv "$f.tmp" "$f"
  else
    rm -f "$f.tmp"
    echo "synthetic-sweep: $1 $2 failed, see $OUT/$1-$2.log" >&2
  fi
}
for m in $MODELS; do
  for t in $TOPOLOGIES; do
    while (( $(jobs -rp | wc -l) >= JOBS )); do wait -n; done
    run_case "$m" "$t" &
  done
done
wait
"$PY" - "$OUT" $MODELS -- $TOPOLOGIES <<'PYEOF'
import json, os, sys
out = sys.argv[1]; rest = sys.argv[2:]; cut = rest.index('--')
models, topos = rest[:cut], rest[cut + 1:]
print("%-30s %7s %7s %7s %7s %7s %6s" % ("case", "vsBest", "vsUAR", "R0/UA", "load/e", "time", "nic"))
sums, n = [0.0] * 5, 0
for m in models:
    for t in topos:
        f = os.path.join(out, "%s-%s.json" % (m, t))
        if not os.path.exists(f):
            print("%-30s missing (grace compare failed)" % (m + " " + t)); continue
        R = {r["label"]: r for r in json.load(open(f))["rows"]}
        g, ua = R["grace/cover/hierarchical"], R["uniform-affinity/primary/hierarchical"]
        uar, et, ew = R["uniform-affinity+replicas/cover/hierarchical"], R["eplb/tar/hierarchical"], R["eplb/wrr/flat"]
        g0 = R["grace/cover/hierarchical (redundant 0)"]
        mb = lambda r: r["inter_mb_per_batch"]
        best = min(mb(ua), mb(et))
        if best <= 0 or mb(uar) <= 0 or mb(ua) <= 0:
            print("%-30s nothing crosses nodes for a baseline: skipped" % (m + " " + t)); continue
        hb = min(r["time"]["total_us"] for r in (ua, et, uar))
        v = [mb(g) / best, mb(g) / mb(uar), mb(g0) / mb(ua), g["load_max_mean"] / ew["load_max_mean"], hb / g["time"]["total_us"]]
        print("%-30s %7.3f %7.3f %7.3f %7.3f %7.3f %6.3f" % ((m + " " + t,) + tuple(v) + (g["nic_max_mean"],)))
        sums = [a + b for a, b in zip(sums, v)]; n += 1
if n:
    print("%-30s %7.4f %7.4f %7.4f %7.4f %7.4f" % (("average of %d" % n,) + tuple(s / n for s in sums)))
PYEOF

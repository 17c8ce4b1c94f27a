#!/bin/bash
# bench-engine-repeat.sh: runs scripts/bench-engine.sh RUNS times (default 5) and reports, per
# configuration, the median and range (min-max) of the measured communication time and of its
# ratio to contiguous+flat, with the machine's load average before each run. One run of the
# emulated cluster varies by tens of percent on a shared machine; report these figures.
#
# Usage (root): scripts/bench-engine-repeat.sh [BUILD_DIR] [RUNS]   (env as bench-engine.sh)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build-engine}
RUNS=${2:-5}
OUT=$(mktemp -d /tmp/grace-bench-repeat.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
for ((i = 1; i <= RUNS; i++)); do
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  echo "bench-engine-repeat: run $i/$RUNS, load average $load" >&2
  echo "$load" > "$OUT/load.$i"
  "$ROOT/scripts/bench-engine.sh" "$BUILD" > "$OUT/run.$i" || { cat "$OUT/run.$i" >&2; exit 1; }
done
python3 - "$OUT" "$RUNS" "$(nproc)" <<'PY'
import statistics, sys
out, runs, cores = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows, loads, workload = {}, [], ''
for i in range(1, runs + 1):
    loads.append(open(f'{out}/load.{i}').read().split()[0])
    for line in open(f'{out}/run.{i}'):
        if line.startswith('workload:'):
            workload = line.strip()
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) == 8 and cells[1].replace('.', '', 1).isdigit():
            rows.setdefault(cells[0], []).append([float(c) for c in cells[1:]])
base = list(rows)[0]
def mr(v, f):
    return f'{statistics.median(v):{f}} ({min(v):{f}}-{max(v):{f}})'
print(workload)
print(f'{runs} runs; load average (1 min) before each run: {", ".join(loads)} on {cores} cores')
print('| placement / comm / router | comm ms/layer, median (range) | vs contiguous+flat, median (range) | '
      'simulated ms/layer | inter MB/layer (dispatch) |')
print('|---|---:|---:|---:|---:|')
for name, rs in rows.items():
    comm = [r[0] for r in rs]
    ratio = [r[0] / b[0] for r, b in zip(rs, rows[base])]
    print(f'| {name} | {mr(comm, ".1f")} | {mr(ratio, ".2f")} | {rs[0][2]:.1f} | {rs[0][4]:.2f} |')
PY

#!/usr/bin/env bash
# Make the data folder scripts/gpu-cluster.sh reads (trace/ + pl/), planned on one half of the
# DeepSeek-V2-Lite ESFT traffic and run on the other half (out of sample).
#
#   scripts/gpu-cluster-data.sh GRACE_BIN OUT_DIR [TRACE_DIR]
#
# TRACE_DIR: the four ESFT tasks (default ../shared/data/traces/deepseek-v2-lite-esft).
# OUT_DIR/plan/<task>_*   the even-indexed sequences of each task (planning traffic)
# OUT_DIR/trace/<task>_*  the odd-indexed sequences of each task, written REPEAT times (default 2)
#                         so that 8,192 tokens/GPU on 2x2 (one batch of 32,768) has enough tokens;
#                         the repeat changes no routing statistic, only how long the run is
# OUT_DIR/pl/<setup>-<name>.json  for SETUPS (default "2x1 2x2"): contiguous, eplb, uniform-affinity,
#                         grace (their default memory) and, per extra-memory level in MEM_PCT
#                         (default "25 50", % of one copy per expert), grace-m<pct> and
#                         uniform-affinity+replicas-m<pct> at that memory
set -euo pipefail
die() { echo "gpu-cluster-data.sh: error: $*" >&2; exit 2; }
[ $# -ge 2 ] || die "usage: $0 GRACE_BIN OUT_DIR [TRACE_DIR]"
grace=$1 out=$2 src=${3:-$(dirname "$0")/../../shared/data/traces/deepseek-v2-lite-esft}
[ -x "$grace" ] || die "$grace: not an executable"
[ -d "$src" ] || die "$src: no such folder (the DeepSeek-V2-Lite ESFT traces)"
py=/usr/bin/python3
[ -x $py ] || py=python3
tasks="intent law summary translation"
for t in $tasks; do
  [ -f "$src/${t}_topk_ids.npy.gz" ] && [ -f "$src/${t}_seq_offsets.npy" ] || die "$src: no ${t}_topk_ids.npy.gz / ${t}_seq_offsets.npy"
done
mkdir -p "$(dirname "${out%/}")"
tmp=$(mktemp -d "${out%/}.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/plan" "$tmp/trace" "$tmp/pl"
"$py" - "$src" "$tmp" "${REPEAT:-2}" $tasks <<'PY'
import gzip, sys
import numpy as np
src, out, repeat, tasks = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
for t in tasks:
    with gzip.open(f"{src}/{t}_topk_ids.npy.gz") as f:
        ids = np.load(f)
    off = np.load(f"{src}/{t}_seq_offsets.npy")
    for half, parity, reps in (("plan", 0, 1), ("trace", 1, repeat)):
        seqs = [ids[off[s]:off[s + 1]] for s in range(parity, len(off) - 1, 2)] * reps
        o = np.concatenate([[0], np.cumsum([len(s) for s in seqs])]).astype(off.dtype)
        with gzip.open(f"{out}/{half}/{t}_topk_ids.npy.gz", "wb", compresslevel=6) as f:
            np.save(f, np.concatenate(seqs))
        np.save(f"{out}/{half}/{t}_seq_offsets.npy", o)
        print(f"{t}: {half} {len(seqs)} sequences, {o[-1]} tokens")
PY
plan_args=()
for t in $tasks; do plan_args+=(--trace "$tmp/plan/${t}_topk_ids.npy.gz"); done
for setup in ${SETUPS:-2x1 2x2}; do
  for p in contiguous eplb uniform-affinity grace; do
    "$grace" plan --model deepseek-v2-lite --topology "$setup" --policy "$p" "${plan_args[@]}" \
      -o "$tmp/pl/$setup-$p.json" > /dev/null
  done
  for pct in ${MEM_PCT:-25 50}; do
    r=$((64 * pct / 100))
    for p in grace uniform-affinity+replicas; do
      "$grace" plan --model deepseek-v2-lite --topology "$setup" --policy "$p" --redundant "$r" "${plan_args[@]}" \
        -o "$tmp/pl/$setup-$p-m$pct.json" > /dev/null
    done
  done
  echo "$setup: planned $(ls "$tmp/pl" | grep -c "^$setup-") placements"
done
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "wrote $out (plan/: planning half, trace/: evaluation half, pl/: placements)"

#!/usr/bin/env bash
# Memory limits: writes a synthetic trace of TOKENS tokens (default 10,000,000) to disk with
# `grace trace synth`, then runs `grace plan` and `grace evaluate` on it under /usr/bin/time -v
# and prints each one's max RSS next to the trace's in-memory size (tokens x layers x k x 2
# bytes as uint16 ids). Both must stream: their RSS must stay far below that size.
#
#   scripts/memory-bench.sh [TOKENS] [MODEL]      (default 10000000 deepseek-v2-lite)
# Environment: GRACE (the grace binary, default build/grace), GRACE_BENCH_DIR (scratch folder,
# default /tmp/grace-memory-bench; removed at the end unless GRACE_BENCH_KEEP=1).
set -euo pipefail
cd "$(dirname "$0")/.."
tokens="${1:-10000000}"
model="${2:-deepseek-v2-lite}"
grace="${GRACE:-build/grace}"
dir="${GRACE_BENCH_DIR:-/tmp/grace-memory-bench}"
[ -x "$grace" ] || { echo "memory-bench: no grace binary at $grace (build it or set GRACE)" >&2; exit 2; }
rm -rf "$dir"
mkdir -p "$dir"
[ "${GRACE_BENCH_KEEP:-0}" = 1 ] || trap 'rm -rf "$dir"' EXIT

measure() {  # label, command...: prints "label: max RSS N MB, wall W s"
  local label=$1; shift
  /usr/bin/time -v "$@" >"$dir/$label.out" 2>"$dir/$label.time" || {
    echo "memory-bench: $label failed:"; tail -5 "$dir/$label.time"; exit 1; }
  local rss wall
  rss=$(grep 'Maximum resident set size' "$dir/$label.time" | grep -oE '[0-9]+$')
  wall=$(grep 'Elapsed (wall clock)' "$dir/$label.time" | grep -oE '[0-9:.]+$')
  printf '%-10s max RSS %7.1f MB   wall %s\n' "$label" "$(echo "$rss / 1024" | bc -l)" "$wall"
}

measure synth "$grace" trace synth --model "$model" --tokens "$tokens" --no-weights --plain -o "$dir/trace"
ids="$dir/trace/topk_ids.npy"
shape=$(head -c 200 "$ids" | tr -d '\0' | grep -aoE "'shape': \([0-9, ]+\)" | grep -oE '[0-9]+' | tr '\n' ' ')
read -r t l k <<<"$shape"
printf 'trace      %d tokens x %d layers x top-%d: %.1f MB on disk, %.1f MB in memory as uint16 ids\n' \
  "$t" "$l" "$k" "$(echo "$(stat -c %s "$ids") / 1048576" | bc -l)" "$(echo "$t * $l * $k * 2 / 1048576" | bc -l)"
measure plan "$grace" plan --model "$model" --trace "$dir/trace" --topology 2x4 --policy grace -o "$dir/plan.json"
measure evaluate "$grace" evaluate --model "$model" --trace "$dir/trace" --placement "$dir/plan.json"

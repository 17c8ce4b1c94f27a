#!/bin/bash
# bench-engine.sh: measured MoE communication time of the MPI engine on the emulated 2x2 cluster
# (scripts/netns-cluster.sh: two network namespaces, 1 Gbit/s tbf-shaped veth between them, 2
# ranks per "node" on shared memory) against `grace simulate` for the same setup.
#
# Workload: the first TOKENS tokens of the DeepSeek-V2-Lite ESFT "intent" trace (../shared/data;
# a synthetic trace of the model when absent), DeepSeek-V2-Lite's hidden size 2048, activations
# F32 on the wire (dtype_bytes 4 in the model JSON so the simulator counts the same bytes), the
# expert intermediate size reduced to INTER for CPU time, LAYERS MoE layers, BATCH tokens a batch.
# Configurations: contiguous + flat (primary router), eplb + flat (wrr router), grace + tar +
# hierarchical. Communication time = dispatch + combine (engine: wall, max over ranks, ranks
# synchronised before each phase); the simulator uses a topology JSON describing the emulated
# cluster (inter 0.125 GB/s shared per node).
#
# Usage (root): scripts/bench-engine.sh [BUILD_DIR]   env: TOKENS LAYERS BATCH INTER INTRA_GBPS
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build-engine}
GRACE=$BUILD/grace
TOKENS=${TOKENS:-2048}
LAYERS=${LAYERS:-3}
BATCH=${BATCH:-1024}
INTER=${INTER:-128}
INTRA_GBPS=${INTRA_GBPS:-4}      # shared-memory (vader) bandwidth per rank, for the simulator
INTER_LAT_US=${INTER_LAT_US:-150} # one TCP exchange stage across the veth
INTRA_LAT_US=${INTRA_LAT_US:-30}
[ -x "$GRACE" ] || { echo "bench-engine: build grace first ($GRACE)"; exit 1; }
OUT=$(mktemp -d /tmp/grace-bench-engine.XXXXXX)
# KEEP=DIR keeps the model, topology, trace slice, placements and run/sim JSONs (bench/cuda/fit-sim.py).
trap '[ -n "${KEEP:-}" ] && mkdir -p "$KEEP" && cp -r "$OUT"/. "$KEEP"/; rm -rf "$OUT"' EXIT
DATA=$ROOT/../shared/data/traces/deepseek-v2-lite-esft

cat > "$OUT/model.json" <<JSON
{"name": "deepseek-v2-lite-f32", "moe_layers": 26, "dense_layers": 1, "experts": 64, "shared_experts": 2,
 "top_k": 6, "hidden": 2048, "moe_intermediate": $INTER, "vocab": 102400, "dtype_bytes": 4}
JSON
cat > "$OUT/emu-2x2.json" <<JSON
{"name": "netns-2x2-1gbit", "preset": "paper", "nodes": 2, "gpus_per_node": 2,
 "intra": {"bandwidth_GBps": $INTRA_GBPS, "latency_us": $INTRA_LAT_US},
 "inter": {"bandwidth_GBps": 0.125, "latency_us": $INTER_LAT_US}, "node_nic_GBps": 0.125}
JSON

# The trace: the first TOKENS tokens of the real one (npy prefix, pure Python), else synthetic.
if [ -f "$DATA/intent_topk_ids.npy.gz" ]; then
  SRC="real DeepSeek-V2-Lite ESFT intent trace, first $TOKENS tokens"
  python3 - "$DATA" "$OUT/trace" "$TOKENS" <<'PY'
import gzip, struct, sys, os, ast
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(dst, exist_ok=True)
def read(path):
    raw = (gzip.open if path.endswith('.gz') else open)(path, 'rb').read()
    hl = struct.unpack('<H', raw[8:10])[0]
    hdr = ast.literal_eval(raw[10:10 + hl].decode())
    return hdr, raw[10 + hl:]
def write(path, hdr, data):
    h = repr(hdr).encode()
    pad = 64 - (10 + len(h) + 1) % 64
    h = h + b' ' * pad + b'\n'
    with open(path, 'wb') as f:
        f.write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h + data)
for name, item in (('intent_topk_ids.npy.gz', 1), ('intent_topk_weights_x1e4.npy.gz', 2)):
    hdr, data = read(os.path.join(src, name))
    shape = hdr['shape']; row = shape[1] * shape[2] * item
    n = min(n, shape[0])
    hdr['shape'] = (n,) + tuple(shape[1:])
    write(os.path.join(dst, name[:-3]), hdr, data[:n * row])
hdr, data = read(os.path.join(src, 'intent_seq_offsets.npy'))
offs = [o for o in struct.unpack('<%dq' % hdr['shape'][0], data) if o < n] + [n]
hdr['shape'] = (len(offs),)
write(os.path.join(dst, 'intent_seq_offsets.npy'), hdr, struct.pack('<%dq' % len(offs), *offs))
PY
  TRACE=$OUT/trace/intent_topk_ids.npy
else
  SRC="synthetic DeepSeek-V2-Lite trace ($TOKENS tokens; ../shared/data absent)"
  "$GRACE" trace synth --model "$OUT/model.json" --tokens "$TOKENS" -o "$OUT/trace" >/dev/null
  TRACE=$OUT/trace
fi

for policy in contiguous eplb grace; do
  "$GRACE" plan --trace "$TRACE" --model "$OUT/model.json" --topology 2x2 --policy $policy \
    -o "$OUT/$policy.json" >/dev/null
done

CONFIGS=("contiguous flat primary" "eplb flat wrr" "grace hierarchical tar")
for c in "${CONFIGS[@]}"; do
  set -- $c
  tag=$1-$2-$3
  echo "bench-engine: running $tag on the emulated cluster" >&2
  "$ROOT/scripts/netns-cluster.sh" run --rate "${RATE:-1gbit}" -- "$GRACE" run --model "$OUT/model.json" --topology 2x2 \
    --placement "$OUT/$1.json" --trace "$TRACE" --router $3 --comm $2 --hidden 2048 \
    --intermediate "$INTER" --layers "$LAYERS" --batch-tokens "$BATCH" --json \
    > "$OUT/$tag.run.out" 2> "$OUT/$tag.run.err" || { cat "$OUT/$tag.run.err" >&2; exit 1; }
  grep '^{' "$OUT/$tag.run.out" | tail -1 > "$OUT/$tag.run.json"
  "$GRACE" simulate --trace "$TRACE" --placement "$OUT/$1.json" --topology "$OUT/emu-2x2.json" \
    --model "$OUT/model.json" --router $3 --comm $2 --batch-tokens "$BATCH" --json > "$OUT/$tag.sim.json"
done

python3 - "$OUT" "$LAYERS" "$SRC" "$BATCH" "$INTER" "${CONFIGS[@]}" <<'PY'
import json, sys
out, L, src, batch, inter = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
rows = []
for c in sys.argv[6:]:
    tag = c.replace(' ', '-')
    r = json.load(open(f'{out}/{tag}.run.json'))
    s = json.load(open(f'{out}/{tag}.sim.json'))
    nb = r['num_batches']
    eng = sum(l['dispatch_s'] + l['combine_s'] for l in r['per_layer'][:L]) / (L * nb) * 1e3
    cmp_ = sum(l['compute_s'] for l in r['per_layer'][:L]) / (L * nb) * 1e3
    sim = sum(l['dispatch_us'] + l['combine_us'] for l in s['per_layer'][:L]) / L / 1e3
    inter_mb = sum(l['dispatch']['inter_bytes'] for l in r['per_layer'][:L]) / (L * nb) / 1e6
    intra_mb = sum(l['dispatch']['intra_bytes'] for l in r['per_layer'][:L]) / (L * nb) / 1e6
    rows.append((c, eng, sim, inter_mb, intra_mb, cmp_))
base = rows[0][1]
print(f'workload: {src}; hidden 2048 F32, intermediate {inter}, {L} MoE layers, batches of {batch} tokens; '
      f'2x2 ranks, 1 Gbit/s between the two netns nodes')
print('| placement / comm / router | engine comm ms/layer | vs contiguous+flat | simulated ms/layer | sim/engine | '
      'inter MB/layer (dispatch) | intra MB/layer (dispatch) | engine compute ms/layer |')
print('|---|---|---|---|---|---|---|---|')
for c, eng, sim, imb, amb, cm in rows:
    print(f'| {c} | {eng:.1f} | {eng / base:.2f} | {sim:.1f} | {sim / eng:.2f} | {imb:.2f} | {amb:.2f} | {cm:.1f} |')
PY

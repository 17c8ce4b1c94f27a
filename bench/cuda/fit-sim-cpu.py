#!/usr/bin/env python3
"""The same fit as fit-sim.py for the emulated CPU cluster (scripts/bench-engine.sh, 2x2 ranks,
1 Gbit/s veth, MPI over TCP; F32 rows): per-phase fixed cost L and effective node bandwidth W
from the flat rows (dispatch and combine per (batch, layer)), the intra stage's fixed cost from
the hierarchical row, written as a topology preset; then `grace simulate` with that preset
predicts every run.

  KEEP=/tmp/b1024 BATCH=1024 scripts/bench-engine.sh build; KEEP=/tmp/b512 BATCH=512 ...
  bench/cuda/fit-sim-cpu.py GRACE PRESET_OUT /tmp/b1024 /tmp/b512 > table.md
"""
import json
import os
import subprocess
import sys

CONFIGS = ["contiguous-flat-primary", "eplb-flat-wrr", "grace-hierarchical-tar"]
LAYERS = 3


def lsq(s):
    n = len(s)
    sx = sum(x for x, _ in s); sy = sum(y for _, y in s)
    sxx = sum(x * x for x, _ in s); sxy = sum(x * y for x, y in s)
    b = (n * sxy - sx * sy) / (n * sxx - sx * sx)
    return (sy - b * sx) / n, b


def main():
    grace, preset, dirs = sys.argv[1], sys.argv[2], sys.argv[3:]
    runs = []
    for d in dirs:
        for c in CONFIGS:
            r = json.load(open(os.path.join(d, f"{c}.run.json")))
            runs.append((d, c, r))
    samples, hier = [], []
    for d, c, r in runs:
        nb = r["num_batches"]
        for l in r["per_layer"][:LAYERS]:
            for ph in ("dispatch", "combine"):
                x = l[ph]["inter_bytes"] / nb / 2  # per node and direction, per batch
                y = l[f"{ph}_s"] / nb * 1e3
                (hier if "hierarchical" in c else samples).append((x, y))
    L, b = lsq(samples)
    W = 1 / b / 1e6
    Li = max(0.0, sum(y - (L + x * b) for x, y in hier) / len(hier))
    topo = {"name": "emulated-cpu-2x2-1gbit", "preset": "paper", "nodes": 2, "gpus_per_node": 2,
            "inter": {"bandwidth_GBps": round(W, 5), "latency_us": round(L * 1e3, 1)},
            "intra": {"bandwidth_GBps": 4.0, "latency_us": round(Li * 1e3, 1)}, "node_nic_GBps": round(W, 5)}
    json.dump(topo, open(preset, "w"), indent=1)
    # How the preset was made goes beside it (topology files take no free-text key).
    with open(preset[:-len(".json")] + ".fit.txt" if preset.endswith(".json") else preset + ".fit.txt", "w") as f:
        f.write(f"bench/cuda/fit-sim-cpu.py on scripts/bench-engine.sh (BATCH 1024 and 512): per-phase fixed cost "
                f"{L:.1f} ms, effective node bandwidth {W * 1e3:.1f} MB/s per direction, intra stage {Li:.1f} ms\n")
    print(f"Fit: per-phase fixed cost {L:.1f} ms, effective bandwidth {W * 1e3:.1f} MB/s per node and direction "
          f"({W * 8e3:.0f} Mbit/s of the 1 Gbit/s veth), intra-stage fixed cost {Li:.1f} ms.\n")
    print("| batch | placement / comm / router | measured comm ms/layer | simulated (fitted preset) | error | simulated (bench-engine.sh constants) |")
    print("|---|---|---|---|---|---|")
    miss = 0
    for d, c, r in runs:
        planner, comm, router = c.split("-")
        nb = r["num_batches"]
        meas = sum(l["dispatch_s"] + l["combine_s"] for l in r["per_layer"][:LAYERS]) / (LAYERS * nb) * 1e3
        out = subprocess.run([grace, "simulate", "--trace", os.path.join(d, "trace", "intent_topk_ids.npy"),
                              "--placement", os.path.join(d, f"{planner}.json"), "--topology", preset,
                              "--model", os.path.join(d, "model.json"), "--router", router, "--comm", comm,
                              "--batch-tokens", str(r["batch_tokens"]), "--max-chunks", "1", "--json"],
                             capture_output=True, text=True, check=True).stdout
        s = json.loads(out)["per_layer"][:LAYERS]
        sim = sum(l["dispatch_us"] + l["combine_us"] for l in s) / LAYERS / 1e3
        old = json.load(open(os.path.join(d, f"{c}.sim.json")))["per_layer"][:LAYERS]
        sim_old = sum(l["dispatch_us"] + l["combine_us"] for l in old) / LAYERS / 1e3
        e = sim / meas - 1
        miss += abs(e) > 0.25
        print(f"| {r['batch_tokens']} | {planner} / {comm} / {router} | {meas:.1f} | {sim:.1f} | {e * 100:+.0f}% | {sim_old:.1f} |")
    print(f"\n{miss} of {len(runs)} runs miss by more than 25%.")


if __name__ == "__main__":
    main()

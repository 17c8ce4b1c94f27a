#!/usr/bin/python3
"""Runs DeepSeek's EPLB rebalance_experts on the per-layer expert loads that
`grace plan --dump-loads` wrote, for bench/plan-vs-eplb.sh.

Usage: eplb_rebalance.py EPLB_DIR LOADS_JSON REDUNDANT NUM_GROUPS NUM_NODES NUM_GPUS CALLS

  EPLB_DIR    folder holding DeepSeek's eplb.py (../shared/anchors/deepseek-eplb)
  LOADS_JSON  {"load": [layer][expert], ...} from grace plan --dump-loads
  REDUNDANT   extra physical experts over the cluster (num_replicas = experts + REDUNDANT)
  CALLS = 0   one call, nothing timed inside: the caller times the whole process
              (interpreter start, import torch, reading the loads, one call)
  CALLS > 0   one untimed warm-up call, then CALLS calls each timed with
              time.perf_counter(); prints {"median_s", "min_s", "calls", ...} as JSON
Needs Debian's python3-torch (apt-get install python3-torch).
"""
import json
import sys
import time


def main():
    if len(sys.argv) != 8:
        sys.exit(__doc__)
    eplb_dir, loads_path = sys.argv[1], sys.argv[2]
    redundant, groups, nodes, gpus, calls = (int(x) for x in sys.argv[3:8])
    sys.path.insert(0, eplb_dir)
    import torch  # noqa: E402
    import eplb  # noqa: E402

    with open(loads_path) as f:
        loads = json.load(f)["load"]
    weight = torch.tensor(loads, dtype=torch.int64)
    replicas = weight.shape[1] + redundant

    def call():
        return eplb.rebalance_experts(weight, replicas, groups, nodes, gpus)

    if calls == 0:
        phy2log, _, _ = call()
        assert phy2log.shape == (weight.shape[0], replicas)
        return
    call()  # warm-up: lazy initialisation inside torch
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    times.sort()
    mid = len(times) // 2
    median = times[mid] if len(times) % 2 else (times[mid - 1] + times[mid]) / 2
    print(json.dumps({"median_s": median, "min_s": times[0], "calls": calls, "layers": weight.shape[0],
                      "experts": weight.shape[1], "replicas": replicas, "groups": groups, "nodes": nodes,
                      "gpus": gpus, "torch": torch.__version__, "torch_threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()

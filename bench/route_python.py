"""Routing throughput from Python: 1M tokens x top-8 through grace.Router (one call, C++ inside).

    PYTHONPATH=build/python taskset -c 0 /usr/bin/python3 bench/route_python.py [--reps N] [--json]

Plans DeepSeek-V3-shaped routing (256 experts, 8x8 GPUs, 64 redundant slots) on a synthetic
profile, then times Router.route on 1,048,576 tokens x 8 int32 ids (physical ids out, one
source GPU per token) for each router, N times. Reports for each router the CPU time of the
calling thread (time.thread_time: user + system, so the page faults of the fresh 32 MB output
count; it is what "on one core" means, since route() starts no threads) and the wall time, each
as min and median over the runs, and the machine's state: CPUs this process may run on, and
the 1-minute load average before and after (on a shared machine wall time grows with the load,
CPU time much less).
"""
import argparse
import json
import os
import statistics
import time

import numpy as np

import grace

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--reps", type=int, default=15, help="timed calls per router (default 15)")
ap.add_argument("--routers", default="tar,sglang-static,sglang-dynamic,wrr,primary")
ap.add_argument("--json", action="store_true", help="one JSON object instead of the table")
args = ap.parse_args()

E, K, N = 256, 8, 1 << 20
rng = np.random.default_rng(0)
loads = rng.lognormal(size=(1, E)) * 1000
p = grace.plan(loads=loads, topology="8x8", policy="eplb", redundant=64)
ids = np.argsort(rng.random((N // 64, E)), axis=1)[:, :K]
ids = np.tile(ids, (64, 1)).astype(np.int32)
ids = ids[rng.permutation(N)]
src = (np.arange(N) % 64).astype(np.int64)

machine = {"cpus_allowed": len(os.sched_getaffinity(0)), "cpus_online": os.cpu_count(),
           "load1_before": round(os.getloadavg()[0], 2)}
rows = []
for name in args.routers.split(","):
    r = grace.Router(p, name=name)
    out = r.route(ids, src_gpu=src, layer=0)  # warm-up (first-touch of the tables)
    cpu, wall = [], []
    for _ in range(args.reps):
        c0, t0 = time.thread_time(), time.perf_counter()
        out = r.route(ids, src_gpu=src, layer=0)
        c1, t1 = time.thread_time(), time.perf_counter()
        cpu.append((c1 - c0) * 1e3)
        wall.append((t1 - t0) * 1e3)
    assert out.shape == ids.shape and out.dtype == np.int32
    rows.append({"router": name, "cpu_ms_min": round(min(cpu), 1), "cpu_ms_median": round(statistics.median(cpu), 1),
                 "wall_ms_min": round(min(wall), 1), "wall_ms_median": round(statistics.median(wall), 1),
                 "decisions_per_s_M": round(N * K / (min(cpu) / 1e3) / 1e6)})
machine["load1_after"] = round(os.getloadavg()[0], 2)

if args.json:
    print(json.dumps({"tokens": N, "top_k": K, "reps": args.reps, "machine": machine, "rows": rows}))
else:
    print(f"{N} tokens x top-{K}, {args.reps} runs per router; CPUs allowed {machine['cpus_allowed']} of "
          f"{machine['cpus_online']}; load average (1 min) {machine['load1_before']} before, "
          f"{machine['load1_after']} after")
    print(f"{'router':15s} {'CPU ms min':>10s} {'median':>7s} {'wall ms min':>11s} {'median':>7s} {'M decisions/s (CPU)':>20s}")
    for r in rows:
        print(f"{r['router']:15s} {r['cpu_ms_min']:10.1f} {r['cpu_ms_median']:7.1f} {r['wall_ms_min']:11.1f} "
              f"{r['wall_ms_median']:7.1f} {r['decisions_per_s_M']:20d}")

"""Routing throughput from Python: 1M tokens x top-8 through grace.Router (one call, C++ inside).

    PYTHONPATH=build/python taskset -c 0 /usr/bin/python3 bench/route_python.py

Plans DeepSeek-V3-shaped routing (256 experts, 8x8 GPUs, 64 redundant slots) on a synthetic
profile, then times Router.route on 1,048,576 tokens x 8 int32 ids for each router (best of 5).
"""
import time

import numpy as np

import grace

E, K, N = 256, 8, 1 << 20
rng = np.random.default_rng(0)
loads = rng.lognormal(size=(1, E)) * 1000
p = grace.plan(loads=loads, topology="8x8", policy="eplb", redundant=64)
ids = np.argsort(rng.random((N // 64, E)), axis=1)[:, :K]
ids = np.tile(ids, (64, 1)).astype(np.int32)
ids = ids[rng.permutation(N)]
src = (np.arange(N) % 64).astype(np.int64)
for name in ("tar", "sglang-static", "sglang-dynamic", "wrr", "primary"):
    r = grace.Router(p, name=name)
    best = 1e9
    for _ in range(5):
        t0 = time.perf_counter()
        out = r.route(ids, src_gpu=src, layer=0)
        best = min(best, time.perf_counter() - t0)
    assert out.shape == ids.shape
    print(f"{name:15s} {best * 1e3:7.1f} ms for {N} tokens x top-{K} ({N * K / best / 1e6:.0f} M decisions/s)")

#!/usr/bin/env python3
"""PyTorch reference of the MoE layer that bench/cuda/moe_bench.cpp times (same shapes, same
routing: it reads the routing_<model>_<tokens>.bin files the bench writes).

Two versions of the same layer, BF16, timed with CUDA events (median after warm-up):
  loop     the usual eager loop over experts: argsort, bincount (host sync), per expert
           index_select, x @ W13^T, silu(gate) * up, @ W2^T, index_add_ with the gate weight
  grouped  torch._grouped_mm over all experts (when this torch has it), same gather/combine
It also checks that both versions agree (relative error) so the timings compare like with like.

usage: torch_ref.py --dir DIR [--reps N]   (DIR holds the .bin files; writes DIR/torch_ref.json)
"""
import argparse
import json
import os

import torch
import torch.nn.functional as F

SHAPES = [("deepseek-v2-lite", 2048, 1408, 64, 6), ("qwen3-30b-a3b", 2048, 768, 128, 8)]
BATCHES = [256, 1024, 4096, 16384]


def median_ms(fn, reps):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2]


def moe_loop(x, ids, w, w13, w2, E, I):
    T, k = ids.shape
    out = torch.zeros(T, x.shape[1], dtype=torch.float32, device=x.device)
    flat = ids.reshape(-1)
    order = torch.argsort(flat, stable=True)
    counts = torch.bincount(flat, minlength=E).tolist()
    tok = order // k
    wsorted = w.reshape(-1)[order]
    start = 0
    for e in range(E):
        n = counts[e]
        if n == 0:
            continue
        idx = tok[start:start + n]
        h = x.index_select(0, idx) @ w13[e].t()
        a = F.silu(h[:, :I]) * h[:, I:]
        y = a @ w2[e].t()
        out.index_add_(0, idx, y.float() * wsorted[start:start + n, None])
        start += n
    return out.to(torch.bfloat16)


def moe_grouped(x, ids, w, w13, w2, E, I):
    T, k = ids.shape
    flat = ids.reshape(-1)
    order = torch.argsort(flat, stable=True)
    offs = torch.cumsum(torch.bincount(flat, minlength=E), 0).to(torch.int32)
    tok = order // k
    xs = x.index_select(0, tok)
    h = torch._grouped_mm(xs, w13.transpose(1, 2), offs=offs)
    a = F.silu(h[:, :I]) * h[:, I:]
    y = torch._grouped_mm(a, w2.transpose(1, 2), offs=offs)
    out = torch.zeros(T, x.shape[1], dtype=torch.float32, device=x.device)
    out.index_add_(0, tok, y.float() * w.reshape(-1)[order, None])
    return out.to(torch.bfloat16)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--reps", type=int, default=10)
    args = ap.parse_args()
    dev = torch.device("cuda")
    torch.manual_seed(0)
    have_grouped = hasattr(torch, "_grouped_mm")
    rows = []
    print(f"torch {torch.__version__}, _grouped_mm: {have_grouped}")
    print(f"{'model':18s} {'tokens':>6s} | {'loop ms':>9s} {'grouped ms':>10s} {'rel err':>8s}")
    for name, H, I, E, k in SHAPES:
        w13 = (torch.rand(E, 2 * I, H, device=dev) * 2 - 1).mul_(H ** -0.5).to(torch.bfloat16)
        w2 = (torch.rand(E, H, I, device=dev) * 2 - 1).mul_(I ** -0.5).to(torch.bfloat16)
        for T in BATCHES:
            path = os.path.join(args.dir, f"routing_{name}_{T}.bin")
            if not os.path.exists(path):
                print(f"{name} {T}: {path} missing, skipped")
                continue
            raw = torch.from_numpy(__import__("numpy").fromfile(path, dtype="<i4"))
            ids = raw[: T * k].view(T, k).to(dev).long()
            w = raw[T * k:].view(torch.float32).view(T, k).to(dev)
            x = (torch.rand(T, H, device=dev) * 2 - 1).to(torch.bfloat16)
            loop_ms = median_ms(lambda: moe_loop(x, ids, w, w13, w2, E, I), args.reps)
            grouped_ms, err = None, None
            if have_grouped:
                try:
                    ref = moe_loop(x, ids, w, w13, w2, E, I).float()
                    got = moe_grouped(x, ids, w, w13, w2, E, I).float()
                    err = ((got - ref).norm() / ref.norm()).item()
                    grouped_ms = median_ms(lambda: moe_grouped(x, ids, w, w13, w2, E, I), args.reps)
                except Exception as ex:  # noqa: BLE001 - report and go on
                    print(f"_grouped_mm failed: {ex}")
            rows.append({"model": name, "tokens": T, "loop_ms": loop_ms, "grouped_ms": grouped_ms,
                         "grouped_vs_loop_rel_err": err})
            g = f"{grouped_ms:10.3f}" if grouped_ms is not None else f"{'-':>10s}"
            e = f"{err:8.1e}" if err is not None else f"{'-':>8s}"
            print(f"{name:18s} {T:6d} | {loop_ms:9.3f} {g} {e}")
    with open(os.path.join(args.dir, "torch_ref.json"), "w") as f:
        json.dump({"torch": torch.__version__, "rows": rows}, f)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Fits the simulator's link constants to the emulated-cluster measurements and predicts every
measured row with `grace simulate` (docs/simulator.md, "Fit to the emulated clusters").

  bench/cuda/fit-sim.py GRACE DATA_DIR RESULTS_TSV TOPO_DIR > table.md
  bench/cuda/fit-sim.py --predict GRACE DATA_DIR RESULTS_TSV TOPO_DIR
      no fit: predicts every row with the presets already in TOPO_DIR (out of sample).

RESULTS_TSV: scripts/gpu-cluster.sh's cluster.tsv (rows with routing=trace are used).
DATA_DIR: the same trace/ and pl/ the measurement used. TOPO_DIR: where the fitted topology
presets are written (emulated-<setup>-<rate>.json).

Fit, per (setup, rate): every run gives two samples, dispatch and combine, each modelled as
    t = L + P * peers + B / W,   B = the engine's cross-node bytes of that phase per node and
                                     direction (the TSV's sum over ranks / 2 nodes)
    peers = the remote GPUs each GPU exchanges with: flat 2xG: G, hierarchical: 1
by least squares (L = the per-phase fixed cost, P = the fixed cost per remote peer, W = the
effective node bandwidth). Where every run has the same peer count (2x1: one peer either way)
P is not separable from L: P = 0, L and W from the flat runs, and the hierarchical runs' mean
residual is the fixed cost of their intra stage L_intra (on 2x1 a device copy and a host round
trip; on 2x2, where the hierarchical runs move intra-node bytes, the residual is fitted as
L_intra + per-GPU intra bytes / W_intra instead, W_intra -> intra.bandwidth_GBps, 100 GB/s
otherwise). Where flat and hierarchical runs differ in peers (2x2), L, P and W are fitted on all runs
and L_intra = 0 (the intra stage is NVLink P2P inside one namespace, ~0.1 ms per exchange);
if that gives P < 0 (the hierarchical runs cost more than one peer less explains), P = 0 and the
one-peer-count fit above is used. Every fit is relative least squares (weight 1 / t^2), and
wherever it gives a negative fixed cost (the 1,024-token phases of a shaped link pass partly in
the shaper's burst, faster than W) that cost is set to 0 and the rest refitted through the origin.
Compute: measured compute = c0 + s x the H200 grouped roofline of the same run (2nd pass).
The fitted W, L, P become inter.bandwidth_GBps, node_nic_GBps, inter.latency_us and
inter.peer_latency_us of the preset; L_intra its intra.latency_us.

Prediction: `grace simulate --max-chunks 1` on a slice of the trace with exactly the measured
tokens (max-batches x batch tokens), layers 0..LAYERS-1 averaged, same placement, router, comm,
seed and batch size as the engine run, and the batching of $BATCHING (trace, the default, or
balanced: set it as for `BATCHING=... scripts/gpu-cluster.sh measure`; with balanced batches the
engine's first batches draw on every rank's queue, so the slice is an approximation there).
"""
import ast
import csv
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

LAYERS = int(os.environ.get("LAYERS", "3"))
SLICES = None  # per run (made in main): the slices depend on DATA_DIR
TASKS = ["intent", "law", "summary", "translation"]


def read_npy(path):
    raw = (gzip.open if path.endswith(".gz") else open)(path, "rb").read()
    hl = struct.unpack("<H", raw[8:10])[0]
    return ast.literal_eval(raw[10:10 + hl].decode()), raw[10 + hl:]


def write_npy(path, hdr, data):
    h = repr(hdr).encode()
    h += b" " * (64 - (10 + len(h) + 1) % 64) + b"\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + data)


def make_slice(data, n, dst):
    """The first n tokens of the four tasks concatenated, as one trace (cached in dst)."""
    if os.path.exists(os.path.join(dst, "topk_ids.npy")):
        return dst
    os.makedirs(dst, exist_ok=True)
    ids, offs, total, hdr0 = b"", [0], 0, None
    for t in TASKS:
        hdr, d = read_npy(os.path.join(data, "trace", f"{t}_topk_ids.npy.gz"))
        T, L, K = hdr["shape"]
        ohdr, od = read_npy(os.path.join(data, "trace", f"{t}_seq_offsets.npy"))
        o = struct.unpack("<%dq" % ohdr["shape"][0], od)
        hdr0 = hdr
        ids += d
        offs += [total + x for x in o[1:]]
        total += T
    n = min(n, total)
    row = hdr0["shape"][1] * hdr0["shape"][2]
    write_npy(os.path.join(dst, "topk_ids.npy"), dict(hdr0, shape=(n,) + tuple(hdr0["shape"][1:])), ids[: n * row])
    o = [x for x in offs if x < n] + [n]
    write_npy(os.path.join(dst, "seq_offsets.npy"), {"descr": "<i8", "fortran_order": False, "shape": (len(o),)},
              struct.pack("<%dq" % len(o), *o))
    return dst


def wls(cols, ts, scale=None):
    """Least squares of t ~ sum_i c_i * col_i in relative terms (each sample weighted 1 / s^2, s =
    its `scale`, by default t itself: a 25% miss counts the same on a 5 ms and a 200 ms phase, as
    the fidelity target does). cols: per sample, its regressors; returns the coefficients."""
    n = len(cols[0])
    w = [1.0 / (t * t) if t > 0 else 1.0 for t in (scale or ts)]
    A = [[sum(wk * c[i] * c[j] for wk, c in zip(w, cols)) for j in range(n)] for i in range(n)]
    y = [sum(wk * c[i] * t for wk, c, t in zip(w, cols, ts)) for i in range(n)]
    for i in range(n):  # Gauss-Jordan with partial pivoting
        k = max(range(i, n), key=lambda q: abs(A[q][i]))
        A[i], A[k], y[i], y[k] = A[k], A[i], y[k], y[i]
        for q in range(n):
            if q != i:
                f = A[q][i] / A[i][i]
                A[q] = [a - f * b for a, b in zip(A[q], A[i])]
                y[q] -= f * y[i]
    return tuple(y[i] / A[i][i] for i in range(n))


def fit_fixed_cost(cols, ts, scale=None):
    """t = L + sum_i c_i * col_i with L >= 0: least squares (wls), and where that gives a negative
    fixed cost (small phases that ride a shaper's burst, faster than the link's rate) L = 0 and the
    rest through the origin. Returns (L, c_1, ...)."""
    L, *c = wls([(1.0,) + tuple(col) for col in cols], ts, scale)
    if L < 0:
        L, c = 0.0, list(wls(cols, ts, scale))
    return (L, *c)


def lsq(samples):
    """t = a + b * x over (x, t); returns (a, b)."""
    return wls([(1.0, x) for x, _ in samples], [t for _, t in samples])


def fit_latency_bandwidth(samples):
    """t = L + b * x over (x, t), L >= 0. Returns (L, b)."""
    return fit_fixed_cost([(x,) for x, _ in samples], [t for _, t in samples])


def fit_latency_peer_bandwidth(samples):
    """t = L + P * p + b * x over (p, x, t), L >= 0. Returns (L, P, b)."""
    return fit_fixed_cost([(p, x) for p, x, _ in samples], [t for _, _, t in samples])


def fit_intra_stage(residuals, intra_bytes, phase_ms, default):
    """The hierarchical runs' intra stage as fixed cost + per-GPU bytes / bandwidth: residual (ms) =
    Li + bytes * bi, each sample weighted by its whole phase time, Li >= 0. Returns (Li ms, Wi
    GB/s), or `default` where the bytes do not vary or the slope is not positive."""
    if len(set(intra_bytes)) < 2:
        return default
    a, bi = fit_fixed_cost([(x,) for x in intra_bytes], residuals, phase_ms)
    return (a, 1 / bi / 1e6) if bi > 0 else default


H200_GROUPED_TFLOPS = 559.8  # src/core/topology.cpp h200 preset
H200_HBM_GBPS = 2867.0


def simulate(grace, data, topo_dir, r):
    """`grace simulate` of one measured row: ms per layer (comm, compute, whole layer)."""
    setup, rate, T = r["setup"], r["rate"], int(r["tokens_per_gpu"])
    n = 2 * int(setup.split("x")[1])
    B = T * n
    nb = 8 if T < 4096 else max(1, 32768 // B)
    sl = make_slice(data, nb * B, os.path.join(SLICES, f"slice-{nb * B}"))
    planner, router, comm = r["case"].split("/")
    out = subprocess.run([grace, "simulate", "--trace", sl, "--placement", os.path.join(data, "pl", f"{setup}-{planner}.json"),
                          "--topology", os.path.join(topo_dir, f"emulated-{setup}-{rate}.json"), "--router", router,
                          "--comm", comm, "--batch-tokens", str(B), "--batching", os.environ.get("BATCHING", "trace"),
                          "--seed", "1", "--max-chunks", "1", "--json"],
                         capture_output=True, text=True, check=True).stdout
    pl = json.loads(out)["per_layer"][:LAYERS]
    k = len(pl)
    return {"comm": sum(l["dispatch_us"] + l["combine_us"] for l in pl) / k / 1e3,
            "compute": sum(l["compute_us"] for l in pl) / k / 1e3,
            "layer": sum(l["total_us"] for l in pl) / k / 1e3}


def predict(grace, data, topo_dir, rows):
    print("| setup | link | tokens/GPU | case | measured comm (dispatch+combine) | simulated comm | error | measured layer | simulated layer | error |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    misses = [0, 0]
    for r in rows:
        setup, rate, T = r["setup"], r["rate"], int(r["tokens_per_gpu"])
        sm = simulate(grace, data, topo_dir, r)
        sim_comm, sim_layer = sm["comm"], sm["layer"]
        m_comm = float(r["dispatch_ms"]) + float(r["combine_ms"])
        m_layer = float(r["layer_ms"])
        e1 = sim_comm / m_comm - 1
        e2 = sim_layer / m_layer - 1
        misses[0] += abs(e1) > 0.25
        misses[1] += abs(e2) > 0.25
        print(f"| {setup} | {rate} | {T} | {r['case']} | {m_comm:.1f} | {sim_comm:.1f} | {e1 * 100:+.0f}% | "
              f"{m_layer:.1f} | {sim_layer:.1f} | {e2 * 100:+.0f}% |")
    print(f"\n{misses[0]} of {len(rows)} rows miss by more than 25% on communication, {misses[1]} on the layer time.")


def main():
    global SLICES
    SLICES = tempfile.mkdtemp(prefix="grace-fit-slices-")
    args = sys.argv[1:]
    only_predict = bool(args) and args[0] == "--predict"
    if only_predict:
        args = args[1:]
    if len(args) != 4:
        sys.exit("usage: fit-sim.py [--predict] GRACE DATA_DIR RESULTS_TSV TOPO_DIR")
    grace, data, tsv, topo_dir = args
    rows = [r for r in csv.DictReader(open(tsv), delimiter="\t") if r["routing"] == "trace" and "ERROR" not in r["dispatch_ms"]]
    if only_predict:
        print("Predictions (`grace simulate` with the presets in " + topo_dir + ", no fit), ms per MoE layer:\n")
        predict(grace, data, topo_dir, rows)
        return
    os.makedirs(topo_dir, exist_ok=True)
    fits, notes = {}, {}
    for key in sorted({(r["setup"], r["rate"]) for r in rows}):
        rs = [r for r in rows if (r["setup"], r["rate"]) == key]
        gpn = int(key[0].split("x")[1])
        peers = lambda r: gpn if r["case"].endswith("/flat") else 1
        phases = lambda r: [(peers(r), float(r[mb]) * 1e6 / 2, float(r[ph]))
                            for ph, mb in (("dispatch_ms", "inter_mb_dispatch"), ("combine_ms", "inter_mb_combine"))]
        flat = [r for r in rs if r["case"].endswith("/flat")]
        hier = [r for r in rs if r["case"].endswith("/hierarchical")]
        P = -1.0
        Wi = 100.0  # GB/s: NVLink; fitted below where the data says more
        if gpn > 1 and flat and hier:
            samples = [s_ for r in rs for s_ in phases(r)]
            L, P, b = fit_latency_peer_bandwidth(samples)
            Li = 0.0
        if P < 0:  # one peer count, or the hierarchical runs cost more than a peer less explains
            samples = [(x, t) for r in flat for _, x, t in phases(r)]
            L, b = fit_latency_bandwidth(samples)
            P = 0.0
            res = [t - (L + x * b) for r in hier for _, x, t in phases(r)]
            Li = max(0.0, sum(res) / len(res)) if res else 0.0
            # Where the hierarchical runs move intra-node bytes (2x2: NVLink inside a node), their
            # residual is fitted as Li + per-GPU intra bytes / Wi, each weighted by its phase time.
            xi = [float(r[mb]) * 1e6 / (2 * gpn) for r in hier for mb in ("intra_mb_dispatch", "intra_mb_combine")]
            ti = [t for r in hier for _, _, t in phases(r)]
            if gpn > 1:
                Li, Wi = fit_intra_stage(res, xi, ti, (Li, Wi))
        W = 1 / b / 1e6  # bytes per ms -> GB/s
        fits[key] = (L, W, Li, P)
        topo = {"name": f"emulated-{key[0]}-{key[1]}", "preset": f"{key[0]}@h200",
                "inter": {"bandwidth_GBps": round(W, 4), "latency_us": round(L * 1e3, 1),
                          "peer_latency_us": round(P * 1e3, 1)},
                "intra": {"bandwidth_GBps": round(Wi, 3), "latency_us": round(Li * 1e3, 1)},
                "node_nic_GBps": round(W, 4)}
        # How the preset was made goes beside it (topology files take no free-text key).
        notes[key] = (f"bench/cuda/fit-sim.py on bench/cuda/results/{os.path.basename(tsv)}: per-phase fixed cost "
                      f"{L:.2f} ms, per remote peer {P:.2f} ms, effective node bandwidth {W * 8:.2f} Gbit/s per "
                      f"direction ({len(samples)} phase samples); intra-stage fixed cost {Li:.2f} ms at {Wi:.1f} GB/s per GPU")
        json.dump(topo, open(os.path.join(topo_dir, f"emulated-{key[0]}-{key[1]}.json"), "w"), indent=1)
    # Pass 1: the link-fitted presets with the default H200 compute -> the simulator's compute per
    # row; then fit measured compute = overhead + slowdown * simulated compute per (setup, rate)
    # and put kernel_overhead_us and the slowed grouped_tflops / hbm_GBps into the preset.
    sims = [simulate(grace, data, topo_dir, r) for r in rows]
    cfit = {}
    for key in fits:
        smp = [(s_["compute"], float(r["compute_ms"])) for r, s_ in zip(rows, sims) if (r["setup"], r["rate"]) == key]
        c0, slow = lsq(smp)
        if slow <= 0:
            slow, c0 = 1.0, sum(y - x for x, y in smp) / len(smp)
        c0 = max(0.0, c0)
        cfit[key] = (c0, slow)
        path = os.path.join(topo_dir, f"emulated-{key[0]}-{key[1]}.json")
        topo = json.load(open(path))
        base = json.load(open(path))  # H200 defaults come from the preset; scale them
        topo["kernel_overhead_us"] = round(c0 * 1e3, 1)
        topo["grouped_tflops"] = round(H200_GROUPED_TFLOPS / slow, 2)
        topo["hbm_GBps"] = round(H200_HBM_GBPS / slow, 1)
        notes[key] += (f"; compute = {c0:.2f} ms + {slow:.2f} x the H200 grouped roofline (fitted on the measured "
                       f"compute phase, which includes GPU sharing and host synchronisation)")
        json.dump(topo, open(path, "w"), indent=1)
        with open(os.path.join(topo_dir, f"emulated-{key[0]}-{key[1]}.fit.txt"), "w") as f:
            f.write(notes[key] + "\n")
    print("Fitted constants (per setup and link):\n")
    print("| setup | link | per-phase fixed cost L (ms) | per remote peer P (ms) | effective bandwidth W (Gbit/s per node and direction) | intra-stage fixed cost (ms) | compute overhead (ms) | compute slowdown vs H200 roofline |")
    print("|---|---|---|---|---|---|---|---|")
    for (s_, r), (L, W, Li, P) in sorted(fits.items()):
        c0, slow = cfit[(s_, r)]
        print(f"| {s_} | {r} | {L:.2f} | {P:.2f} | {W * 8:.2f} | {Li:.2f} | {c0:.2f} | {slow:.2f} |")
    print("\nPredictions (`grace simulate` with the fitted preset) against each measured row, ms per MoE layer:\n")
    predict(grace, data, topo_dir, rows)


if __name__ == "__main__":
    try:
        main()
    finally:
        if SLICES:
            shutil.rmtree(SLICES, ignore_errors=True)

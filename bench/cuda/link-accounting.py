#!/usr/bin/env python3
"""Link accounting of the emulated-cluster runs: each row's dispatch + combine time against its
cross-node bytes / the bandwidth the link gave NCCL (the sweep's largest message), and against
that bound plus a fixed cost per NCCL exchange (the sweep's smallest message).

  bench/cuda/link-accounting.py RESULTS_DIR [TSV [SWEEP_SUFFIX]]
      (RESULTS_DIR holds sweep_<setup>_<rate><SWEEP_SUFFIX>.txt)

NCCL exchanges over the inter-node link per layer: 3 for TSVs without the wire columns (the
engine before 2026-11-30: dispatch = counts + rows, combine = rows); otherwise 2 (dispatch rows,
combine rows) plus the overflow exchanges of the timed calls (the TSV's overflow count minus the
warm-up's, which always overflows once per layer, rank and NCCL stage), per call.
"""
import csv
import os
import sys


def sweep(path):
    rows = [l.split() for l in open(path) if l.strip() and l.split()[0].isdigit()]
    bw = float(rows[-1][3])    # Gbit/s per node and direction, largest message
    lat = float(rows[0][1])    # ms for the smallest exchange (256 KB)
    return bw, lat


def main():
    d = sys.argv[1]
    tsv = sys.argv[2] if len(sys.argv) > 2 else os.path.join(d, "gpu_cluster_run2.tsv")
    suffix = sys.argv[3] if len(sys.argv) > 3 else ""
    print("| setup | link | tokens/GPU | case | x-node MB per node and direction (disp + comb) | link Gbit/s (sweep) | "
          "bound ms | measured dispatch+combine ms | measured / bound | exchanges x fixed ms | measured / (bound + fixed) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in csv.DictReader(open(tsv), delimiter="\t"):
        if r["routing"] != "trace":
            continue
        bw, lat = sweep(os.path.join(d, f"sweep_{r['setup']}_{r['rate']}{suffix}.txt"))
        mb = (float(r["inter_mb_dispatch"]) + float(r["inter_mb_combine"])) / 2
        bound = mb * 8 / bw
        meas = float(r["dispatch_ms"]) + float(r["combine_ms"])
        hier = r["case"].endswith("hierarchical")
        # NCCL exchanges on the inter-node path: dispatch = counts + rows, combine = rows; the
        # hierarchical intra stage (a device copy on 2x1, NVLink on 2x2) adds its own round trip.
        n = 3.0
        if r.get("overflow_exchanges", "-") not in ("-", "", None):
            ranks = 2 * int(r["setup"][2:])
            stages = 2 if hier and r["setup"] != "2x1" else 1
            layers = 3
            samples = int(r["samples"])  # timed (batch, layer) calls per rank
            timed_ovf = max(0, int(r["overflow_exchanges"]) - ranks * layers * stages)
            n = 2 + timed_ovf / (samples * ranks * stages)
        fixed = n * lat
        print(f"| {r['setup']} | {r['rate']} | {r['tokens_per_gpu']} | {r['case']} | {mb:.1f} | {bw:.2f} | {bound:.1f} | "
              f"{meas:.1f} | {meas / bound:.2f} | {n:.2f} x {lat:.2f} | {meas / (bound + fixed):.2f}{' (hier.)' if hier else ''} |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Per case of an emulated-cluster run (scripts/gpu-cluster.sh's cluster.tsv), over its launches
(REPEAT): the least, median and largest MoE-layer time, and the phases of the least launch.

  bench/cuda/cluster-summary.py CLUSTER_TSV > cluster-summary.tsv
  bench/cuda/cluster-summary.py --least CLUSTER_TSV > least.tsv
      the least launch of every case as rows of cluster.tsv (same columns), for
      bench/cuda/fit-sim.py and bench/cuda/link-accounting.py

Consecutive launches of one case over the 10 Gbit/s tbf vary by up to 1.5x at 2x1 and 2.4x
at 2x2 (docs/gpu.md, "Run 9"), so ratios between cases are taken from the least launch of each
(the least disturbed) and the spread is printed beside it. Launches that failed (ERROR rows) are counted apart and left out.
Cases keep the order of their first launch. Bad input: one line on stderr, exit code 2.
"""
import csv
import statistics
import sys

KEY = ("setup", "rate", "tokens_per_gpu", "routing", "case")
OUT = ["setup", "rate", "tokens_per_gpu", "routing", "case", "launches", "failed", "layer_ms_min",
       "layer_ms_median", "layer_ms_max", "spread", "dispatch_ms", "compute_ms", "combine_ms",
       "inter_mb_dispatch", "check_ok"]


def cases(rows):
    """rows: dicts of cluster.tsv. {case key: (its launches with a result, its failed launches)}, in
    the order of each case's first launch."""
    groups = {}
    for r in rows:
        ok, failed = groups.setdefault(tuple(r[k] for k in KEY), ([], []))
        (failed if r["dispatch_ms"].startswith("ERROR") else ok).append(r)
    return groups


def fastest(launches):
    return min(launches, key=lambda r: float(r["layer_ms"]))


def summarise(rows):
    """Returns the summary rows (dicts with the keys of OUT)."""
    out = []
    for key, (ok, failed) in cases(rows).items():
        s = dict(zip(KEY, key), launches=len(ok) + len(failed), failed=len(failed))
        if ok:
            times = [float(r["layer_ms"]) for r in ok]
            best = fastest(ok)
            s.update(layer_ms_min=f"{min(times):.3f}", layer_ms_median=f"{statistics.median(times):.3f}",
                     layer_ms_max=f"{max(times):.3f}", spread=f"{max(times) / min(times):.3f}",
                     dispatch_ms=best["dispatch_ms"], compute_ms=best["compute_ms"],
                     combine_ms=best["combine_ms"], inter_mb_dispatch=best["inter_mb_dispatch"],
                     check_ok="True" if all(r["check_ok"] == "True" for r in ok) else "False")
        else:
            s.update({k: "-" for k in OUT if k not in s})
        out.append(s)
    return out


def least(rows):
    """The least launch of every case (failed launches left out), in the order of first launch."""
    return [fastest(ok) for ok, _ in cases(rows).values() if ok]


def main():
    args = sys.argv[1:]
    pick = len(args) == 2 and args[0] == "--least"
    if len(args) != 1 + pick:
        print("cluster-summary: usage: cluster-summary.py [--least] CLUSTER_TSV", file=sys.stderr)
        return 2
    path = args[-1]
    try:
        with open(path) as f:
            reader = csv.DictReader(f, delimiter="\t")
            rows = list(reader)
            columns = reader.fieldnames or []
        missing = [k for k in KEY + ("dispatch_ms", "layer_ms", "check_ok") if k not in columns]
        if not rows or missing:
            raise ValueError(f"no rows, or columns missing: {', '.join(missing) or '-'}")
        out, fields = (least(rows), columns) if pick else (summarise(rows), OUT)
    except (OSError, ValueError, KeyError) as e:
        print(f"cluster-summary: {path}: {e}", file=sys.stderr)
        return 2
    w = csv.DictWriter(sys.stdout, fields, delimiter="\t", lineterminator="\n")
    w.writeheader()
    w.writerows(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""One row of scripts/gpu-cluster.sh's cluster.tsv, from one launch's logs.

  bench/cuda/cluster-row.py --header
  bench/cuda/cluster-row.py RANK0_LOG SETUP RATE TOKENS_PER_GPU ROUTING CASE RC LAUNCH

RANK0_LOG is `<tag>.rank0.log`: its last line starting with "{" is `grace run --json`'s result
(times per MoE layer = totals / (batches x layers)). The wire columns sum the
GRACE_CUDA_WIRE_STATS lines of every rank's log (`<tag>.rank*.log`, warm-up calls included): wire
over payload bytes between nodes, NCCL exchanges per layer call, overflow exchanges in all.
call_ms_median / call_ms_max: the median and the largest timed layer call (`calls` of the result;
"-" from a grace that does not report them): a largest far above the median is a stall. A
launch without a result (RC != 0, a crash) gives a row with "ERROR rc=RC" in dispatch_ms and the
other measured columns empty, so that every row has every column.
"""
import glob
import json
import re
import sys

COLUMNS = ["setup", "rate", "tokens_per_gpu", "routing", "case", "dispatch_ms", "compute_ms", "combine_ms",
           "layer_ms", "inter_mb_dispatch", "inter_mb_combine", "intra_mb_dispatch", "intra_mb_combine",
           "samples", "check_rel_err", "check_ok", "wire_over_payload_inter", "exchanges_per_call",
           "overflow_exchanges", "call_ms_median", "call_ms_max", "launch"]
WIRE = re.compile(r"cuda wire rank \d+: (\d+) layer calls, (\d+) NCCL exchanges \((\d+) for overflow\), "
                  r"payload inter ([\d.]+) MB intra [\d.]+ MB, on the wire inter ([\d.]+) MB")


def lines(path):
    try:
        with open(path, errors="replace") as f:
            return f.read().splitlines()
    except OSError:
        return []


def row(path, setup, rate, tokens, routing, case, rc, launch):
    calls = exch = ovf = 0
    pay = wire = 0.0
    for log in sorted(glob.glob(glob.escape(path).replace(".rank0.log", ".rank*.log"))):
        for line in lines(log):
            m = WIRE.search(line)
            if m:
                calls += int(m[1]); exch += int(m[2]); ovf += int(m[3]); pay += float(m[4]); wire += float(m[5])
    wire_cols = [f"{wire / pay:.4f}" if pay > 0 else "-", f"{exch / calls:.2f}" if calls else "-",
                 str(ovf) if calls else "-"]
    j = None
    for line in lines(path):
        if line.startswith("{"):
            try:
                j = json.loads(line)
            except ValueError:
                pass
    key = [setup, rate, tokens, routing, case]
    if j is None:
        return key + [f"ERROR rc={rc}"] + [""] * (len(COLUMNS) - len(key) - 2) + [launch]
    t = j["total"]
    s = max(1, j["num_batches"] * j["num_layers"])
    ms = lambda k: 1e3 * t[k] / s
    mb = lambda d, k: t[d][k] / s / 1e6
    c = j.get("check", {})
    calls = j.get("calls", {})
    call_cols = [f"{1e3 * calls[k]:.3f}" if k in calls else "-" for k in ("median_s", "max_s")]
    return key + [f"{ms('dispatch_s'):.3f}", f"{ms('compute_s'):.3f}", f"{ms('combine_s'):.3f}",
                  f"{ms('dispatch_s') + ms('compute_s') + ms('combine_s'):.3f}",
                  f"{mb('dispatch', 'inter_bytes'):.2f}", f"{mb('combine', 'inter_bytes'):.2f}",
                  f"{mb('dispatch', 'intra_bytes'):.2f}", f"{mb('combine', 'intra_bytes'):.2f}", str(s),
                  f"{c.get('rel_err', float('nan')):.2e}", str(c.get("ok", "-"))] + wire_cols + call_cols + [launch]


def main():
    if sys.argv[1:] == ["--header"]:
        print("\t".join(COLUMNS))
        return 0
    if len(sys.argv) != 9:
        print("cluster-row: usage: cluster-row.py --header | RANK0_LOG SETUP RATE TOKENS ROUTING CASE RC LAUNCH",
              file=sys.stderr)
        return 2
    print("\t".join(row(*sys.argv[1:])))
    return 0


if __name__ == "__main__":
    sys.exit(main())

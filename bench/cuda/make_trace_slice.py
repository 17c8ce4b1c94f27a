#!/usr/bin/env python3
"""Cuts the routing slice bench/cuda/moe_bench.cpp reads from the real DeepSeek-V2-Lite trace:
layer 10, the first 16,384 tokens of the intent, law and summary tasks, as raw files
  .gpu-data/dsv2lite_l10_ids_u8.bin   uint8  [16384][6]
  .gpu-data/dsv2lite_l10_w_u16.bin    uint16 [16384][6]  (gate probability x 1e4)
.gpu-data/ must stay out of git (add '/.gpu-data/' to .git/info/exclude); carry it to the device.
No numpy needed.   usage: bench/cuda/make_trace_slice.py [../shared/data]"""
import ast
import gzip
import os
import struct
import sys


def load(path):
    b = gzip.open(path).read()
    if b[:6] != b"\x93NUMPY":
        sys.exit(f"{path}: not a .npy file")
    hl = struct.unpack("<H", b[8:10])[0]
    return ast.literal_eval(b[10:10 + hl].decode()), b[10 + hl:]


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../../shared/data")
    base = os.path.join(data, "traces/deepseek-v2-lite-esft")
    ids, w, layer, need = bytearray(), bytearray(), 10, 16384
    for task in ["intent", "law", "summary"]:
        hi, di = load(os.path.join(base, f"{task}_topk_ids.npy.gz"))
        _, dw = load(os.path.join(base, f"{task}_topk_weights_x1e4.npy.gz"))
        T, L, K = hi["shape"]
        for t in range(T):
            if len(ids) // K >= need:
                break
            off = (t * L + layer) * K
            ids += bytes(di[off:off + K])
            w += dw[2 * off:2 * off + 2 * K]
    os.makedirs(".gpu-data", exist_ok=True)
    open(".gpu-data/dsv2lite_l10_ids_u8.bin", "wb").write(ids)
    open(".gpu-data/dsv2lite_l10_w_u16.bin", "wb").write(w)
    print(f"{len(ids) // 6} tokens written to .gpu-data/")


if __name__ == "__main__":
    main()

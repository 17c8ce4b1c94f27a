#!/usr/bin/env python3
"""Plain TCP between the two emulated nodes, no NCCL (bench/cuda/nccl-fixed-cost.sh).

Started like a rank by `scripts/gpu-cluster.sh run 2x1 RATE -- python3 bench/cuda/tcp_pingpong.py`:
GRACE_RANK 1 (node 1, 10.77.0.2) serves, GRACE_RANK 0 (node 0) connects. TCP_NODELAY as NCCL
sets it. Prints, for 8 B and 4 KB-4 MB, the median round trip of `size` bytes there and 8 B back
(ms) and the rate (Gbit/s), so the kernel's TCP over the veth can be compared with an NCCL
exchange of the same size.
"""
import os
import socket
import statistics
import sys
import time

PORT = 29517
SIZES = [8] + [4096 << i for i in range(11)]  # 8 B, 4 KB .. 4 MB
REPS = 21


def recv_exact(s, n, buf):
    view = memoryview(buf)[:n]
    got = 0
    while got < n:
        r = s.recv_into(view[got:], n - got)
        if r == 0:
            raise ConnectionError("peer closed")
        got += r


def main():
    rank = int(os.environ.get("GRACE_RANK", "0"))
    buf = bytearray(max(SIZES))
    if rank == 1:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("10.77.0.2", PORT))
        ls.listen(1)
        s, _ = ls.accept()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for size in SIZES:
            for _ in range(REPS):
                recv_exact(s, size, buf)
                s.sendall(b"12345678")
        return 0
    s = None
    for _ in range(200):  # the server may not listen yet
        try:
            s = socket.create_connection(("10.77.0.2", PORT), timeout=10)
            break
        except OSError:
            time.sleep(0.05)
    if s is None:
        print("tcp_pingpong: cannot connect to 10.77.0.2", file=sys.stderr)
        return 1
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    data = bytes(max(SIZES))
    print(f"{'bytes':>10} {'rtt_ms':>10} {'Gbit/s':>10}")
    for size in SIZES:
        t = []
        for _ in range(REPS):
            t0 = time.perf_counter()
            s.sendall(data[:size])
            recv_exact(s, 8, buf)
            t.append(time.perf_counter() - t0)
        med = statistics.median(t[1:])
        print(f"{size:>10} {med * 1e3:>10.3f} {size * 8 / med / 1e9:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

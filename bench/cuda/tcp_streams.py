#!/usr/bin/env python3
"""Plain TCP exchanges between the two emulated nodes in NCCL's pattern (bench/cuda/nccl-fixed-cost.sh).

tcp_pingpong.py answers every message on the same connection. NCCL's socket transport does not:
each direction of a peer pair is its own connection (a control socket that carries the size and
data sockets that carry the bytes), every socket non-blocking and polled by a proxy thread, and an
exchange is both ranks sending at once. This probe does the same without NCCL, so a fixed cost
that appears here is the kernel's path between the namespaces, and one that does not is NCCL's.

Started like a rank by `scripts/gpu-cluster.sh run 2x1 RATE -- python3 bench/cuda/tcp_streams.py`
(GRACE_RANK 0 on 10.77.0.1, 1 on 10.77.0.2). Each rank listens, connects to the other and gets one
outgoing and one incoming connection per stream (control + data). Modes, per size:
  oneway      send SIZE on the outgoing data socket, receive SIZE on the incoming one (blocking)
  ctrl        send 8 B on the outgoing control socket, then SIZE on data; the receiver reads the
              8 B on the incoming control socket before the data (NCCL's socket plugin order)
  ctrl-poll   ctrl with non-blocking sockets, every send and receive polled in a busy loop
Rank 0 prints the median time per exchange (ms) of each mode and size.
"""
import os
import socket
import statistics
import sys
import threading
import time

PORT = 29531
SIZES = [4096, 65536, 262144, 4 << 20]
REPS = 41
ADDR = {0: os.environ.get("TCP_STREAMS_ADDR0", "10.77.0.1"), 1: os.environ.get("TCP_STREAMS_ADDR1", "10.77.0.2")}


def recv_exact(s, view):
    got = 0
    while got < len(view):
        r = s.recv_into(view[got:], len(view) - got)
        if r == 0:
            raise ConnectionError("peer closed")
        got += r


def poll_send(s, data):
    view = memoryview(data)
    sent = 0
    while sent < len(view):
        try:
            sent += s.send(view[sent:])
        except BlockingIOError:
            pass


def poll_recv(s, view):
    got = 0
    while got < len(view):
        try:
            r = s.recv_into(view[got:], len(view) - got)
        except BlockingIOError:
            continue
        if r == 0:
            raise ConnectionError("peer closed")
        got += r


def exchange_polled(out, inc, data, view, hdr):
    """Size on control, then data, both ways at once, one busy loop over non-blocking sockets."""
    header = memoryview(len(data).to_bytes(8, "little"))
    sends = [(out["ctrl"], header, [0]), (out["data"], memoryview(data), [0])]
    recvs = [(inc["ctrl"], memoryview(hdr), [0]), (inc["data"], view, [0])]
    si = ri = 0
    while si < 2 or ri < 2:
        if si < 2:
            s, v, n = sends[si]
            try:
                n[0] += s.send(v[n[0]:])
            except BlockingIOError:
                pass
            if n[0] == len(v):
                si += 1
        if ri < 2:
            s, v, n = recvs[ri]
            try:
                r = s.recv_into(v[n[0]:], len(v) - n[0])
                if r == 0:
                    raise ConnectionError("peer closed")
                n[0] += r
            except BlockingIOError:
                pass
            if n[0] == len(v):
                ri += 1


def connect(host):
    for _ in range(400):  # the peer may not listen yet
        try:
            s = socket.create_connection((host, PORT), timeout=20)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return s
        except OSError:
            time.sleep(0.05)
    raise ConnectionError(f"cannot connect to {host}:{PORT}")


def main():
    rank = int(os.environ.get("GRACE_RANK", "0"))
    peer = 1 - rank
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((ADDR[rank], PORT))
    ls.listen(4)
    # Rank 0 connects first (ctrl, data), then accepts; rank 1 the other way round.
    out, inc = {}, {}
    order = ["ctrl", "data"]
    if rank == 0:
        for name in order:
            out[name] = connect(ADDR[peer])
        for name in order:
            inc[name], _ = ls.accept()
    else:
        for name in order:
            inc[name], _ = ls.accept()
        for name in order:
            out[name] = connect(ADDR[peer])
    for s in list(inc.values()):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    data = bytes(max(SIZES))
    buf = bytearray(max(SIZES))
    hdr = bytearray(8)
    if rank == 0:
        print(f"{'mode':>10} {'bytes':>10} {'ms/exchange':>12}")
    for mode in ["oneway", "ctrl", "ctrl-poll"]:
        blocking = mode != "ctrl-poll"
        for s in list(out.values()) + list(inc.values()):
            s.setblocking(blocking)
        for size in SIZES:
            view = memoryview(buf)[:size]
            t = []
            for _ in range(REPS):
                # Line the ranks up (a 1-byte barrier on the control connections).
                if blocking:
                    out["ctrl"].sendall(b"b")
                    recv_exact(inc["ctrl"], memoryview(hdr)[:1])
                else:
                    poll_send(out["ctrl"], b"b")
                    poll_recv(inc["ctrl"], memoryview(hdr)[:1])
                t0 = time.perf_counter()
                if blocking:
                    # The send runs in a thread: both ranks send at once and a message larger
                    # than the socket buffers must not block the receive.
                    def send():
                        if mode == "ctrl":
                            out["ctrl"].sendall(size.to_bytes(8, "little"))
                        out["data"].sendall(data[:size])
                    th = threading.Thread(target=send)
                    th.start()
                    if mode == "ctrl":
                        recv_exact(inc["ctrl"], memoryview(hdr))
                    recv_exact(inc["data"], view)
                    th.join()
                else:
                    exchange_polled(out, inc, data[:size], view, hdr)
                t.append(time.perf_counter() - t0)
            if rank == 0:
                print(f"{mode:>10} {size:>10} {statistics.median(t[1:]) * 1e3:>12.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

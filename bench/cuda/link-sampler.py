#!/usr/bin/env python3
"""Samples one network interface, its root qdisc and its TCP sockets until killed
(scripts/gpu-cluster.sh LINKSTAT=MS).

Usage: link-sampler.py IFACE PERIOD_MS TC SS
  TC, SS: the tc and ss commands, each one string split at spaces (e.g. "tc", "env A=B /x/ss")

Run inside the interface's namespace. Every PERIOD_MS (or as fast as tc and ss answer) one line:
  <epoch seconds> <tx_bytes> <rx_bytes> <qdisc bytes sent> <qdisc backlog bytes> <qdisc drops>
  <qdisc overlimits> <rx_dropped + tx_dropped> <softnet drops>
  <Send-Q bytes> <sockets with Send-Q> <Recv-Q bytes> <sockets with Recv-Q>
tx/rx and their drops from /sys/class/net/IFACE/statistics (what left and reached the interface,
after the qdisc; a veth counts a packet its peer's backlog refused as dropped), the qdisc's from
`tc -s -j qdisc show dev IFACE` (its root qdisc: the tbf when shaped; backlog is what waits in
its queue), softnet drops from /proc/net/softnet_stat (packets the host's per-CPU receive
backlogs, net.core.netdev_max_backlog long, refused: the whole host's, not the namespace's), and
the queues of the namespace's established TCP sockets from `ss -tnH` (Send-Q: bytes written and
not yet acknowledged, held by TCP; Recv-Q: bytes received and not yet read by the application).
bench/cuda/link-summary.py reads these files.
"""
import json
import signal
import subprocess
import sys
import time


def counter(iface, name):
    with open(f"/sys/class/net/{iface}/statistics/{name}") as f:
        return int(f.read())


def softnet_drops():
    """The second column of /proc/net/softnet_stat (hex, one row per CPU), summed; 0 without it."""
    try:
        with open("/proc/net/softnet_stat") as f:
            return sum(int(line.split()[1], 16) for line in f if len(line.split()) > 1)
    except OSError:
        return 0


def qdisc(tc, iface):
    """(bytes, backlog, drops, overlimits) of the root qdisc; zeros where tc gives none."""
    r = subprocess.run(tc + ["-s", "-j", "qdisc", "show", "dev", iface], capture_output=True, text=True)
    try:
        q = next((q for q in json.loads(r.stdout or "[]") if q.get("root")), {})
    except ValueError:
        q = {}
    return tuple(int(q.get(k, 0)) for k in ("bytes", "backlog", "drops", "overlimits"))


def socket_queues(ss):
    """(Send-Q bytes, sockets with Send-Q, Recv-Q bytes, sockets with Recv-Q) of the established
    TCP sockets (`ss -tnH state established`: Recv-Q, Send-Q, local, peer per line)."""
    r = subprocess.run(ss + ["-tnH", "state", "established"], capture_output=True, text=True)
    sq = sn = rq = rn = 0
    for line in r.stdout.splitlines():
        w = line.split()
        if len(w) < 2 or not (w[0].isdigit() and w[1].isdigit()):
            continue
        recv, send = int(w[0]), int(w[1])
        sq, sn, rq, rn = sq + send, sn + (send > 0), rq + recv, rn + (recv > 0)
    return sq, sn, rq, rn


def main(argv):
    if len(argv) != 4:
        print("link-sampler: usage: link-sampler.py IFACE PERIOD_MS TC SS", file=sys.stderr)
        return 2
    iface, period, tc, ss = argv[0], float(argv[1]) / 1000, argv[2].split(), argv[3].split()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    out = sys.stdout
    while True:
        t0 = time.time()
        tx, rx = counter(iface, "tx_bytes"), counter(iface, "rx_bytes")
        dropped = counter(iface, "rx_dropped") + counter(iface, "tx_dropped")
        soft = softnet_drops()
        q = qdisc(tc, iface)
        s = socket_queues(ss)
        out.write(f"{t0:.6f} {tx} {rx} {q[0]} {q[1]} {q[2]} {q[3]} {dropped} {soft} {s[0]} {s[1]} {s[2]} {s[3]}\n")
        out.flush()
        rest = period - (time.time() - t0)
        if rest > 0:
            time.sleep(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

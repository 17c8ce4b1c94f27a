#!/usr/bin/env python3
"""Sums the TCP connections of each launch that scripts/gpu-cluster.sh sampled with SSINFO=MS.

Usage: bench/cuda/ss-summary.py [--all] FILE...   (FILE: OUT_DIR/ss/<run>.txt, one per launch)

Each FILE line is "<epoch seconds> <namespace> <ss -tinHO line>": Recv-Q, Send-Q, local and peer
address, then tcp_info's fields. Only connections over the emulated link (addresses 10.77.0.x)
count, unless --all. One TSV row per launch and namespace (node):
  run, ns              the launch (FILE's name) and the namespace
  senders              connections that sent (bytes_acked > 0 at their last sample)
  sent_mb              bytes acked over those connections, MB (10^6)
  active_s             time between samples in which the node's acked bytes grew by >= 1 MB/s
  gbit_s               the node's send rate over those active intervals
  sendq_mb             median over active samples of the node's summed Send-Q (in flight + not
                       yet sent): how much the senders had queued in the kernel
  notsent_mb           the same for data not yet sent (written by the application, waiting for
                       the congestion or receive window)
  rtt_ms               median over active samples of the senders' mean smoothed RTT
  cwnd                 median over active samples of the senders' summed congestion window
                       (segments)
  rwnd_pct, sndbuf_pct the senders' time limited by the receiver's window / by their send buffer,
                       as % of their busy time (tcp_info's chrono counters, over each
                       connection's life)
  retrans              segments retransmitted (summed over the senders' last samples)
A sender that is starved (little queued, no limit) waits on its application; one limited by the
receive window waits on the peer's reader; a deep Send-Q with a large RTT waits in the link's
queue. Exit 2 with one line on a file that cannot be read or parsed.
"""
import os
import re
import statistics
import sys

from sample_io import fail as _fail, print_tsv, split_lines

FIELDS = ("run", "ns", "senders", "sent_mb", "active_s", "gbit_s", "sendq_mb", "notsent_mb",
          "rtt_ms", "cwnd", "rwnd_pct", "sndbuf_pct", "retrans")
LINK_PREFIX = "10.77.0."
MIN_RATE = 1e6  # bytes per second: an interval below it counts as idle


def fail(msg):
    _fail("ss-summary", msg)


def parse_info(words):
    """tcp_info's fields of one ss line: key:value pairs, 'send X', 'pacing_rate X', flags."""
    info = {}
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("send", "pacing_rate", "delivery_rate") and i + 1 < len(words):
            info[w] = words[i + 1]
            i += 2
            continue
        if ":" in w and not w.startswith("("):
            k, v = w.split(":", 1)
            info[k] = v
        else:
            info[w] = True
        i += 1
    return info


def number(v, default=0.0):
    """The leading number of a field value: '288ms(25.4%)' -> 288, '1.205/0.029' -> 1.205."""
    if v is None or v is True:
        return default
    m = re.match(r"[0-9]+(?:\.[0-9]+)?", v)
    return float(m.group(0)) if m else default


def read(path, all_conns):
    """[(t, ns, key, sendq, info)] of one file."""
    rows = []
    for lineno, w in split_lines("ss-summary", path):
        if len(w) < 6:
            fail(f"{path}:{lineno}: want '<time> <namespace> <Recv-Q> <Send-Q> <local> <peer> ...', "
                 f"got {len(w)} fields")
        try:
            t = float(w[0])
            sendq = int(w[3])
        except ValueError:
            fail(f"{path}:{lineno}: the time and Send-Q must be numbers, got '{w[0]}' and '{w[3]}'")
        local, peer = w[4], w[5]
        if not all_conns and not (local.startswith(LINK_PREFIX) or peer.startswith(LINK_PREFIX)):
            continue
        rows.append((t, w[1], (local, peer), sendq, parse_info(w[6:])))
    return rows


def summarise(run, rows):
    out = []
    for ns in sorted({r[1] for r in rows}):
        mine = [r for r in rows if r[1] == ns]
        last = {}
        for t, _, key, sendq, info in mine:
            last[key] = info
        senders = {k for k, info in last.items() if number(info.get("bytes_acked")) > 0}
        # One sample round = one ss call: the lines of one timestamp.
        rounds = {}
        for t, _, key, sendq, info in mine:
            if key not in senders:
                continue
            r = rounds.setdefault(t, {"acked": 0.0, "sendq": 0.0, "notsent": 0.0, "rtt": [], "cwnd": 0.0})
            r["acked"] += number(info.get("bytes_acked"))
            r["sendq"] += sendq
            r["notsent"] += number(info.get("notsent"))
            r["rtt"].append(number(info.get("rtt")))
            r["cwnd"] += number(info.get("cwnd"))
        times = sorted(rounds)
        active_s = active_bytes = 0.0
        active = []
        for a, b in zip(times, times[1:]):
            dt, db = b - a, rounds[b]["acked"] - rounds[a]["acked"]
            if dt > 0 and db / dt >= MIN_RATE:
                active_s += dt
                active_bytes += db
                active.append(rounds[b])
        busy = sum(number(last[k].get("busy")) for k in senders)
        rwnd = sum(number(last[k].get("rwnd_limited")) for k in senders)
        sndbuf = sum(number(last[k].get("sndbuf_limited")) for k in senders)
        retrans = sum(number((last[k].get("retrans") or "0/0").split("/")[-1]) for k in senders)

        def med(f):
            return statistics.median(f(r) for r in active) if active else 0.0

        out.append((run, ns, len(senders), sum(number(last[k].get("bytes_acked")) for k in senders) / 1e6,
                    active_s, active_bytes * 8 / active_s / 1e9 if active_s else 0.0,
                    med(lambda r: r["sendq"] / 1e6), med(lambda r: r["notsent"] / 1e6),
                    med(lambda r: statistics.mean(r["rtt"])), med(lambda r: r["cwnd"]),
                    100 * rwnd / busy if busy else 0.0, 100 * sndbuf / busy if busy else 0.0, retrans))
    return out


def main(argv):
    all_conns = "--all" in argv
    files = [a for a in argv if a != "--all"]
    if not files or any(a.startswith("-") for a in files):
        fail("usage: ss-summary.py [--all] FILE... (OUT_DIR/ss/<run>.txt from gpu-cluster.sh SSINFO=MS)")
    rows = []  # every file read before anything is printed
    for path in files:
        run = os.path.basename(path)
        run = run[:-4] if run.endswith(".txt") else run
        rows += summarise(run, read(path, all_conns))
    print_tsv(FIELDS, rows)


if __name__ == "__main__":
    main(sys.argv[1:])

#!/usr/bin/env python3
"""Sums what the emulated link did in each launch (scripts/gpu-cluster.sh LINKSTAT=MS).

Usage: bench/cuda/link-summary.py FILE...   (FILE: OUT_DIR/link/<run>.<namespace>.txt)

FILE holds bench/cuda/link-sampler.py's lines: time, the interface's tx and rx bytes, its root
qdisc's bytes sent, backlog, drops and overlimits, the interface's dropped packets, the host's
softnet drops, and the namespace's TCP sockets' Send-Q and Recv-Q (bytes, sockets). One TSV row per file (a launch and a node's
sending end of the link), over the intervals between consecutive samples:
  run, ns          the launch and the namespace (FILE's name: <run>.<ns>.txt)
  samples          lines read; period_ms: their median spacing
  sent_mb          bytes the interface sent over the launch, MB (10^6)
  busy_s           time in intervals that sent at >= 1 Gbit/s
  busy_gbit_s      the rate over those intervals
  queued_s         busy time with packets waiting in the qdisc at both ends of the interval: the
                   senders gave the shaper more than it passes, so it should run at its rate
  queued_gbit_s    the rate over those intervals (a shaper that keeps its rate reads it here)
  starved_s        busy time with an empty qdisc at an end: the senders did not keep it full
  backlog_max_mb   the deepest queue seen
  drops, overlimits the qdisc's counts over the launch
  veth_drops       packets the interface dropped (for a veth: refused by its peer's side)
  softnet_drops    packets the host's per-CPU receive backlogs refused (all of the host's)
  span_s           from the first busy interval's start to the last one's end
  idle_s           time in that span that was not busy
  held_idle_s      idle time with bytes in the sockets' Send-Q at both ends of the interval: the
                   application had handed TCP data that TCP did not send (it waited for an
                   acknowledgement, a window or a retransmission)
  unread_idle_s    idle time with bytes in the sockets' Recv-Q at both ends: data had arrived
                   that the application had not read
  starved_idle_s   idle time with both queues empty at both ends: TCP had nothing to send and
                   nothing waited to be read (the application on either side had not got there)
                   (an idle interval counts in the first of the three that fits; one whose two
                   ends differ counts in none)
Exit 2 with one line on a file that cannot be read or parsed.
"""
import os
import statistics
import sys

from sample_io import fail as _fail, print_tsv, split_lines

FIELDS = ("run", "ns", "samples", "period_ms", "sent_mb", "busy_s", "busy_gbit_s", "queued_s", "queued_gbit_s",
          "starved_s", "backlog_max_mb", "drops", "overlimits", "veth_drops", "softnet_drops", "span_s", "idle_s",
          "held_idle_s", "unread_idle_s", "starved_idle_s")
BUSY_BITS = 1e9  # bits per second: an interval below it is idle


def fail(msg):
    _fail("link-summary", msg)


def read(path):
    rows = []
    for lineno, w in split_lines("link-summary", path):
        if len(w) != 13:
            fail(f"{path}:{lineno}: want 13 fields (time, tx, rx, qdisc bytes, backlog, drops, "
                 f"overlimits, veth drops, softnet drops, Send-Q, its sockets, Recv-Q, its sockets), got {len(w)}")
        try:
            rows.append((float(w[0]),) + tuple(int(x) for x in w[1:]))
        except ValueError:
            fail(f"{path}:{lineno}: want numbers, got '{' '.join(w)}'")
    return rows


def summarise(rows):
    busy_s = busy_b = queued_s = queued_b = 0.0
    busy = [dt > 0 and db * 8 / dt >= BUSY_BITS for dt, db in ((b[0] - a[0], b[1] - a[1]) for a, b in zip(rows, rows[1:]))]
    span = [i for i, x in enumerate(busy) if x]
    span_s = rows[span[-1] + 1][0] - rows[span[0]][0] if span else 0.0
    held = unread = starved = 0.0
    for i, (a, b) in enumerate(zip(rows, rows[1:])):
        dt, db = b[0] - a[0], b[1] - a[1]
        if busy[i]:
            busy_s += dt
            busy_b += db
            if a[4] > 0 and b[4] > 0:
                queued_s += dt
                queued_b += db
        elif span and span[0] < i < span[-1]:  # idle inside the span
            if a[9] > 0 and b[9] > 0:
                held += dt
            elif a[11] > 0 and b[11] > 0:
                unread += dt
            elif a[9] == b[9] == a[11] == b[11] == 0:
                starved += dt
    gaps = [b[0] - a[0] for a, b in zip(rows, rows[1:])]
    first, last = rows[0], rows[-1]
    return (len(rows), 1000 * statistics.median(gaps) if gaps else 0.0, (last[1] - first[1]) / 1e6, busy_s,
            busy_b * 8 / busy_s / 1e9 if busy_s else 0.0, queued_s, queued_b * 8 / queued_s / 1e9 if queued_s else 0.0,
            busy_s - queued_s, max(r[4] for r in rows) / 1e6, last[5] - first[5], last[6] - first[6],
            last[7] - first[7], last[8] - first[8], span_s, span_s - busy_s, held, unread, starved)


def main(argv):
    if not argv or any(a.startswith("-") for a in argv):
        fail("usage: link-summary.py FILE... (OUT_DIR/link/<run>.<ns>.txt from gpu-cluster.sh LINKSTAT=MS)")
    out = []  # every file read before anything is printed
    for path in argv:
        name = os.path.basename(path)
        name = name[:-4] if name.endswith(".txt") else name
        run, _, ns = name.rpartition(".")
        rows = read(path)
        if len(rows) < 2:
            fail(f"{path}: want at least 2 samples, got {len(rows)}")
        out.append((run or name, ns if run else "") + summarise(rows))
    print_tsv(FIELDS, out)


if __name__ == "__main__":
    main(sys.argv[1:])

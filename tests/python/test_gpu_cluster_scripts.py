"""The emulated GPU cluster's scripts (docs/gpu.md, run 7): where each rank runs, and the link fit."""
import importlib.util
import json
import os
import subprocess

import pytest

from conftest import SOURCE

CLUSTER = os.path.join(SOURCE, "scripts", "gpu-cluster.sh")


def layout(setup, **env):
    r = subprocess.run([CLUSTER, "layout", setup], capture_output=True, text=True,
                       env=dict(os.environ, **env))
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines() if line.startswith("rank ")]
    return [(int(f[1]), f[3], int(f[5])) for f in rows]  # rank, namespace, GRACE_LOCAL_RANK


def mps(setup, **env):
    r = subprocess.run([CLUSTER, "layout", setup], capture_output=True, text=True,
                       env=dict(os.environ, **env))
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()[-1]


def test_2x1_puts_each_rank_on_its_own_gpu():
    # Both ranks on GPU 0 (the node-local rank, 0 on each node) time-sliced every exchange by ~2 ms.
    rows = layout("2x1")
    assert [(r, ns) for r, ns, _ in rows] == [(0, "gracegpu0"), (1, "gracegpu1")]
    ndev = 2
    assert len({dev % ndev for _, _, dev in rows}) == 2


def test_2x2_has_each_gpu_serve_one_rank_of_each_node():
    rows = layout("2x2")
    assert [ns for _, ns, _ in rows] == ["gracegpu0", "gracegpu0", "gracegpu1", "gracegpu1"]
    ndev = 2
    node0 = sorted(dev % ndev for _, ns, dev in rows if ns == "gracegpu0")
    node1 = sorted(dev % ndev for _, ns, dev in rows if ns == "gracegpu1")
    assert node0 == node1 == [0, 1]


def test_one_namespace_probe_keeps_distinct_gpus():
    rows = layout("2x1", ONE_NS="1")
    assert [ns for _, ns, _ in rows] == ["gracegpu0", "gracegpu0"]
    assert [dev for _, _, dev in rows] == [0, 1]


@pytest.mark.parametrize("bad", ["3x1", "2x0", "2x", ""])
def test_layout_rejects_a_bad_setup(bad):
    r = subprocess.run([CLUSTER, "layout", bad], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "2xG" in r.stderr


def test_mps_runs_exactly_where_ranks_share_a_gpu():
    # 2x2 on two GPUs: each GPU serves two processes, time-sliced without MPS (~2 ms a turn).
    assert mps("2x2", GPUS="2") == "mps on"
    assert mps("2x1", GPUS="2") == "mps off"
    assert mps("2x2", GPUS="4") == "mps off"
    assert mps("2x1", GPUS="2", MPS="1") == "mps on"
    assert mps("2x2", GPUS="2", MPS="0") == "mps off"


def test_a_bad_mps_knob_is_one_error_line():
    r = subprocess.run([CLUSTER, "layout", "2x2"], capture_output=True, text=True,
                       env=dict(os.environ, MPS="yes", GPUS="2"))
    assert r.returncode == 2
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "MPS" in r.stderr


def fit_sim():
    spec = importlib.util.spec_from_file_location("fit_sim", os.path.join(SOURCE, "bench", "cuda", "fit-sim.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_link_fit_recovers_latency_and_bandwidth():
    f = fit_sim()
    L, b = f.fit_latency_bandwidth([(x, 2.0 + 0.5 * x) for x in (1.0, 4.0, 9.0, 20.0)])
    assert L == pytest.approx(2.0) and b == pytest.approx(0.5)


def test_link_fit_clamps_a_negative_fixed_cost():
    # Small phases that pass in a shaper's burst make the intercept negative; the simulator
    # rejects negative latencies, so the fit puts L = 0 and fits the slope through the origin.
    f = fit_sim()
    samples = [(1.0, 0.2), (2.0, 0.6), (10.0, 4.8), (20.0, 9.8)]
    L, b = f.fit_latency_bandwidth(samples)
    assert L == 0.0
    # Relative least squares (each sample weighted 1 / t^2): b = sum(x / t) / sum((x / t)^2).
    assert b == pytest.approx(sum(x / t for x, t in samples) / sum((x / t) ** 2 for x, t in samples))


def test_fits_weigh_relative_errors():
    # One small and several large phases off the same line by the same relative amount: an
    # absolute fit would sacrifice the small one; the relative fit keeps it within the same margin.
    f = fit_sim()
    samples = [(1.0, 1.0 * 1.2), (100.0, 100.0 * 0.95), (110.0, 110.0 * 0.95), (120.0, 120.0 * 0.95)]
    L, b = f.fit_latency_bandwidth(samples)
    worst = max(abs(L + b * x - t) / t for x, t in samples)
    assert worst < 0.15


def test_peer_fit_recovers_its_constants_and_clamps_a_negative_fixed_cost():
    f = fit_sim()
    pts = [(p, x) for p in (1, 2) for x in (1.0, 5.0, 12.0)]
    L, P, b = f.fit_latency_peer_bandwidth([(p, x, 1.5 + 0.7 * p + 0.25 * x) for p, x in pts])
    assert (L, P, b) == (pytest.approx(1.5), pytest.approx(0.7), pytest.approx(0.25))
    # Small phases faster than a fixed cost allows (a shaper's burst): L would come out negative.
    L, P, b = f.fit_latency_peer_bandwidth([(p, x, -1.0 + 2.0 * p + 0.3 * x) for p, x in pts])
    assert L == 0.0 and P > 0 and b > 0


def test_intra_stage_fit_recovers_bandwidth_and_keeps_the_default_without_bytes():
    f = fit_sim()
    xi = [1e6, 5e6, 2e7, 5e7]  # per-GPU bytes
    res = [0.3 + x / (40.0 * 1e6) for x in xi]  # 0.3 ms + bytes at 40 GB/s (bytes / (GB/s * 1e6) ms)
    Li, Wi = f.fit_intra_stage(res, xi, [2.0 * r for r in res], (9.0, 100.0))
    assert Li == pytest.approx(0.3) and Wi == pytest.approx(40.0)
    assert f.fit_intra_stage([0.5, 0.7], [0.0, 0.0], [3.0, 4.0], (0.6, 100.0)) == (0.6, 100.0)


@pytest.mark.parametrize("knob,value,word", [("SETUPS", "3x1", "SETUPS"), ("SETUPS", "2x1 2y2", "SETUPS"),
                                             ("RATES", "fast", "RATES"), ("TOKENS", "0", "TOKENS"),
                                             ("TOKENS", "1k", "TOKENS"), ("MPS", "yes", "MPS"),
                                             ("REPEAT", "0", "REPEAT"), ("REPEAT", "three", "REPEAT"),
                                             ("TCPSTAT", "yes", "TCPSTAT"), ("RANK_CPUS", "0-7", "RANK_CPUS"),
                                             ("SSINFO", "-5", "SSINFO"), ("SSINFO", "0.1", "SSINFO"),
                                             ("LINKSTAT", "fast", "LINKSTAT"), ("BATCHES", "0", "BATCHES")])
def test_measure_rejects_a_bad_knob_before_setting_anything_up(tmp_path, knob, value, word):
    out = tmp_path / "out"
    # A missing build folder as well: should the check ever pass, the run stops before the network.
    r = subprocess.run([CLUSTER, "measure", str(tmp_path / "no-build"), str(tmp_path), str(out)],
                       capture_output=True, text=True, env=dict(os.environ, **{knob: value}))
    assert r.returncode == 2
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and word in r.stderr
    assert not out.exists()


@pytest.mark.parametrize("cpus", ["0-7", "0-7 8-15 16-23", "0-7 eight", "0-7 8-"])
def test_rank_cpus_want_one_cpu_list_per_rank(tmp_path, cpus):
    out = tmp_path / "out"
    r = subprocess.run([CLUSTER, "measure", str(tmp_path / "no-build"), str(tmp_path), str(out)],
                       capture_output=True, text=True, env=dict(os.environ, SETUPS="2x1", RANK_CPUS=cpus))
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "RANK_CPUS" in r.stderr
    assert not out.exists()
    r = subprocess.run([CLUSTER, "run", "2x2", "none", "--", "true"], capture_output=True, text=True,
                       env=dict(os.environ, RANK_CPUS="0-3 4-7"))
    assert r.returncode == 2 and "RANK_CPUS" in r.stderr and "4 for 2x2" in r.stderr


def test_run_rejects_a_bad_setup_or_usage():
    for args in (["run", "3x3", "none", "--", "true"], ["run", "2x1", "10gbit"], ["bogus"]):
        r = subprocess.run([CLUSTER] + args, capture_output=True, text=True)
        assert r.returncode == 2, args
        assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1, args


def cluster_summary():
    spec = importlib.util.spec_from_file_location(
        "cluster_summary", os.path.join(SOURCE, "bench", "cuda", "cluster-summary.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def tsv_row(case, layer_ms, launch, setup="2x1", ok="True"):
    if layer_ms is None:  # a failed launch, as gpu-cluster.sh writes it
        vals = ["ERROR rc=1"] + [""] * 15
    else:
        vals = [f"{layer_ms / 2:.3f}", "1.000", f"{layer_ms / 2 - 1:.3f}", f"{layer_ms:.3f}", "67.63", "66.46",
                "0.00", "0.00", "6", "9.82e-03", ok, "1.0132", "2.25", "6", f"{layer_ms:.3f}", f"{layer_ms:.3f}"]
    return "\t".join([setup, "10gbit", "8192", "trace", case] + vals + [str(launch)])


HEADER = ("setup\trate\ttokens_per_gpu\trouting\tcase\tdispatch_ms\tcompute_ms\tcombine_ms\tlayer_ms\t"
          "inter_mb_dispatch\tinter_mb_combine\tintra_mb_dispatch\tintra_mb_combine\tsamples\tcheck_rel_err\t"
          "check_ok\twire_over_payload_inter\texchanges_per_call\toverflow_exchanges\tcall_ms_median\tcall_ms_max\t"
          "launch")


def test_cluster_summary_takes_each_cases_least_launch_and_its_spread(tmp_path):
    # Interleaved rounds, as gpu-cluster.sh runs them with REPEAT=3: a slow launch of one case
    # (75.2 ms) must not stand against a fast launch of another.
    rows = [tsv_row("contiguous/primary/flat", 61.3, 1), tsv_row("eplb/tar/flat", 73.6, 1),
            tsv_row("contiguous/primary/flat", 75.2, 2), tsv_row("eplb/tar/flat", 60.5, 2),
            tsv_row("contiguous/primary/flat", 62.0, 3), tsv_row("eplb/tar/flat", None, 3),
            tsv_row("contiguous/primary/flat", 90.0, 1, setup="2x2")]
    path = tmp_path / "cluster.tsv"
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    r = subprocess.run([os.path.join(SOURCE, "bench", "cuda", "cluster-summary.py"), str(path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = [line.split("\t") for line in r.stdout.splitlines()]
    head, body = lines[0], [dict(zip(lines[0], line)) for line in lines[1:]]
    assert head[:5] == ["setup", "rate", "tokens_per_gpu", "routing", "case"]
    assert [(b["setup"], b["case"]) for b in body] == [("2x1", "contiguous/primary/flat"), ("2x1", "eplb/tar/flat"),
                                                       ("2x2", "contiguous/primary/flat")]
    c, e, c2 = body
    assert (c["launches"], c["failed"], c["layer_ms_min"], c["layer_ms_median"], c["layer_ms_max"]) == (
        "3", "0", "61.300", "62.000", "75.200")
    assert float(c["spread"]) == pytest.approx(75.2 / 61.3, abs=1e-3)
    assert c["dispatch_ms"] == "30.650"  # the phases of the least launch
    assert (e["launches"], e["failed"], e["layer_ms_min"], e["layer_ms_max"]) == ("3", "1", "60.500", "73.600")
    assert c2["launches"] == "1" and c2["layer_ms_min"] == c2["layer_ms_max"] == "90.000"
    # --least: the least launch of each case as cluster.tsv rows, for fit-sim.py and link-accounting.py.
    r = subprocess.run([os.path.join(SOURCE, "bench", "cuda", "cluster-summary.py"), "--least", str(path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == HEADER
    picked = [line.split("\t") for line in lines[1:]]
    assert [(p[0], p[4], p[8], p[-1]) for p in picked] == [("2x1", "contiguous/primary/flat", "61.300", "1"),
                                                           ("2x1", "eplb/tar/flat", "60.500", "2"),
                                                           ("2x2", "contiguous/primary/flat", "90.000", "1")]


def test_cluster_summary_rejects_a_file_without_the_columns(tmp_path):
    path = tmp_path / "cluster.tsv"
    path.write_text("setup\trate\n2x1\t10gbit\n")
    r = subprocess.run([os.path.join(SOURCE, "bench", "cuda", "cluster-summary.py"), str(path)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "columns missing" in r.stderr


ROW = os.path.join(SOURCE, "bench", "cuda", "cluster-row.py")


def test_cluster_row_header_is_the_tables_header():
    r = subprocess.run([ROW, "--header"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == HEADER + "\n"


def test_cluster_row_reads_a_launchs_result_and_every_ranks_wire_stats(tmp_path):
    # grace run --json: totals over 2 batches x 3 layers; one wire line per rank.
    result = {"num_batches": 2, "num_layers": 3,
              "check": {"ok": True, "rel_err": 0.0098},
              "calls": {"count": 6, "min_s": 0.058, "median_s": 0.0605, "max_s": 0.0712},
              "total": {"dispatch_s": 0.18, "compute_s": 0.012, "combine_s": 0.174,
                        "dispatch": {"inter_bytes": 405e6, "intra_bytes": 0},
                        "combine": {"inter_bytes": 399e6, "intra_bytes": 6e6}}}
    tag = tmp_path / "2x1_10gbit_8192_trace_contiguous_primary_flat_r2"
    (tmp_path / (tag.name + ".rank0.log")).write_text(
        "NCCL version 2.28.3\n" + json.dumps(result) + "\n"
        "grace: cuda wire rank 0: 12 layer calls, 27 NCCL exchanges (3 for overflow), payload inter 800.000 MB "
        "intra 0.000 MB, on the wire inter 810.000 MB intra 0.000 MB\n")
    (tmp_path / (tag.name + ".rank1.log")).write_text(
        "grace: cuda wire rank 1: 12 layer calls, 27 NCCL exchanges (3 for overflow), payload inter 800.000 MB "
        "intra 0.000 MB, on the wire inter 810.000 MB intra 0.000 MB\n")
    r = subprocess.run([ROW, str(tag) + ".rank0.log", "2x1", "10gbit", "8192", "trace", "contiguous/primary/flat",
                        "0", "2"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    row = dict(zip(HEADER.split("\t"), r.stdout.rstrip("\n").split("\t")))
    assert len(r.stdout.rstrip("\n").split("\t")) == len(HEADER.split("\t"))
    assert (row["dispatch_ms"], row["compute_ms"], row["combine_ms"], row["layer_ms"]) == (
        "30.000", "2.000", "29.000", "61.000")  # per MoE layer: totals / 6
    assert (row["inter_mb_dispatch"], row["inter_mb_combine"], row["intra_mb_combine"]) == ("67.50", "66.50", "1.00")
    assert (row["samples"], row["check_rel_err"], row["check_ok"]) == ("6", "9.80e-03", "True")
    assert (row["wire_over_payload_inter"], row["exchanges_per_call"], row["overflow_exchanges"]) == (
        "1.0125", "2.25", "6")
    assert (row["call_ms_median"], row["call_ms_max"]) == ("60.500", "71.200")  # one call stalled
    assert row["launch"] == "2"
    # A result without per-call times (a grace before them) keeps the columns, as "-".
    del result["calls"]
    (tmp_path / (tag.name + ".rank0.log")).write_text(json.dumps(result) + "\n")
    r = subprocess.run([ROW, str(tag) + ".rank0.log", "2x1", "10gbit", "8192", "trace", "contiguous/primary/flat",
                        "0", "2"], capture_output=True, text=True)
    row = dict(zip(HEADER.split("\t"), r.stdout.rstrip("\n").split("\t")))
    assert (row["call_ms_median"], row["call_ms_max"], row["launch"]) == ("-", "-", "2")


def test_cluster_row_of_a_failed_launch_keeps_every_column(tmp_path):
    # No result line (the ranks failed): an ERROR row with the launch number in its own column,
    # which cluster-summary.py counts as failed.
    log = tmp_path / "x.rank0.log"
    log.write_text("grace: error: rank 1: NCCL failure\n")
    for path in (str(log), str(tmp_path / "missing.rank0.log")):
        r = subprocess.run([ROW, path, "2x1", "10gbit", "8192", "trace", "eplb/tar/flat", "1", "3"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        f = r.stdout.rstrip("\n").split("\t")
        assert len(f) == len(HEADER.split("\t"))
        assert f[5] == "ERROR rc=1" and f[-1] == "3" and all(x == "" for x in f[6:-1])
    table = tmp_path / "cluster.tsv"
    table.write_text(HEADER + "\n" + r.stdout + tsv_row("eplb/tar/flat", 60.5, 1) + "\n")
    s = subprocess.run([os.path.join(SOURCE, "bench", "cuda", "cluster-summary.py"), str(table)],
                       capture_output=True, text=True)
    body = dict(zip(s.stdout.splitlines()[0].split("\t"), s.stdout.splitlines()[1].split("\t")))
    assert (body["launches"], body["failed"], body["layer_ms_min"]) == ("2", "1", "60.500")


def test_cluster_row_rejects_a_wrong_argument_count():
    r = subprocess.run([ROW, "only-a-log"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stdout == "" and len(r.stderr.strip().splitlines()) == 1


SS_SUMMARY = os.path.join(SOURCE, "bench", "cuda", "ss-summary.py")


def ss_line(t, ns, local, peer, sendq, **info):
    fields = " ".join(f"{k}:{v}" for k, v in info.items())
    return f"{t} {ns} 0 {sendq} {local} {peer} reno wscale:7,7 rto:204 {fields} delivery_rate 8000000000bps app_limited"


def test_ss_summary_sums_each_nodes_senders_over_its_active_samples(tmp_path):
    a, b = "10.77.0.1:40001", "10.77.0.2:50001"
    lines = [
        # Node 0 sends on one connection: 10 MB in the first 0.1 s, nothing in the next, 5 MB after.
        ss_line(100.0, "gracegpu0", a, b, 2000000, rtt="4.0/1.0", cwnd=100, bytes_acked=0, notsent=1000000),
        ss_line(100.1, "gracegpu0", a, b, 3000000, rtt="6.0/1.0", cwnd=300, bytes_acked=10000000, notsent=2000000,
                busy="200ms", rwnd_limited="50ms(25.0%)", retrans="0/7"),
        ss_line(100.2, "gracegpu0", a, b, 0, rtt="6.0/1.0", cwnd=300, bytes_acked=10000000, notsent=0),
        ss_line(100.3, "gracegpu0", a, b, 1000000, rtt="8.0/1.0", cwnd=200, bytes_acked=15000000, notsent=0,
                busy="400ms", rwnd_limited="100ms(25.0%)", sndbuf_limited="40ms(10.0%)", retrans="0/9"),
        # Its peer's end receives only (bytes_received, no bytes_acked): not a sender.
        ss_line(100.3, "gracegpu1", b, a, 0, rtt="0.1/0.1", cwnd=10, bytes_received=15000000),
        # Loopback inside a namespace is not the emulated link.
        ss_line(100.3, "gracegpu1", "127.0.0.1:1", "127.0.0.1:2", 0, rtt="0.1/0.1", cwnd=10, bytes_acked=99000000),
    ]
    path = tmp_path / "2x1_10gbit_8192_trace_contiguous_primary_flat_r2.txt"
    path.write_text("\n".join(lines) + "\n")
    r = subprocess.run([SS_SUMMARY, str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = [line.split("\t") for line in r.stdout.splitlines()]
    rows = [dict(zip(out[0], line)) for line in out[1:]]
    assert [(x["run"], x["ns"], x["senders"]) for x in rows] == [
        ("2x1_10gbit_8192_trace_contiguous_primary_flat_r2", "gracegpu0", "1"),
        ("2x1_10gbit_8192_trace_contiguous_primary_flat_r2", "gracegpu1", "0")]
    n0 = rows[0]
    assert float(n0["sent_mb"]) == pytest.approx(15.0)
    assert float(n0["active_s"]) == pytest.approx(0.2, abs=1e-6)  # the idle 0.1 s left out
    assert float(n0["gbit_s"]) == pytest.approx(15e6 * 8 / 0.2 / 1e9, rel=1e-6)
    assert float(n0["sendq_mb"]) == pytest.approx(2.0)  # median of 3.0 and 1.0 (the active samples)
    assert float(n0["notsent_mb"]) == pytest.approx(1.0)
    assert float(n0["rtt_ms"]) == pytest.approx(7.0)
    assert float(n0["cwnd"]) == pytest.approx(250.0)
    assert float(n0["rwnd_pct"]) == pytest.approx(25.0) and float(n0["sndbuf_pct"]) == pytest.approx(10.0)
    assert float(n0["retrans"]) == pytest.approx(9.0)
    # --all counts the loopback connection as well.
    r = subprocess.run([SS_SUMMARY, "--all", str(path)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.splitlines()[2].split("\t")[2] == "1"


@pytest.mark.parametrize("text,word", [("100.0 gracegpu0 0 0\n", "fields"),
                                       ("t gracegpu0 0 0 10.77.0.1:1 10.77.0.2:2 cwnd:1\n", "numbers")])
def test_ss_summary_rejects_a_malformed_line_without_output(tmp_path, text, word):
    good = tmp_path / "a.txt"
    good.write_text(ss_line(1.0, "gracegpu0", "10.77.0.1:1", "10.77.0.2:2", 0, bytes_acked=5) + "\n")
    bad = tmp_path / "b.txt"
    bad.write_text(text)
    r = subprocess.run([SS_SUMMARY, str(good), str(bad)], capture_output=True, text=True)
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and word in r.stderr and "b.txt:1" in r.stderr
    r = subprocess.run([SS_SUMMARY, str(tmp_path / "missing.txt")], capture_output=True, text=True)
    assert r.returncode == 2 and r.stdout == "" and "cannot read" in r.stderr


LINK_SUMMARY = os.path.join(SOURCE, "bench", "cuda", "link-summary.py")


def test_link_summary_splits_busy_time_into_queued_and_starved(tmp_path):
    # time, tx bytes, rx bytes, qdisc bytes, backlog, drops, overlimits, veth drops, softnet drops,
    # Send-Q bytes, its sockets, Recv-Q bytes, its sockets; 10 ms apart.
    M = 1_000_000
    samples = [(0.00, 0, 0, 0, 0, 3, 10, 7, 100, 0, 0, 0, 0),
               (0.01, 12.5 * M, 0, 0, 4 * M, 3, 20, 7, 100, 0, 0, 0, 0),  # 10 Gbit/s, queue empty at its start
               (0.02, 25 * M, 0, 0, 2 * M, 3, 30, 9, 150, 0, 0, 0, 0),    # 10 Gbit/s, a queue at both ends
               (0.03, 35 * M, 0, 0, 1 * M, 4, 40, 9, 150, 9000, 2, 0, 0),  # 8 Gbit/s, a queue: the shaper lags
               (0.04, 35 * M + 100, 0, 0, 0, 4, 40, 9, 150, 500, 1, 0, 0),  # idle, TCP holds data: held
               (0.05, 40 * M + 100, 0, 0, 0, 5, 45, 10, 160, 0, 0, 5, 1),  # 4 Gbit/s, queue empty: starved
               (0.06, 40 * M + 100, 0, 0, 0, 5, 45, 10, 160, 0, 0, 5, 1),  # idle, data waits unread
               (0.07, 40 * M + 100, 0, 0, 0, 5, 45, 10, 160, 0, 0, 0, 0),  # idle, mixed ends: none of the three
               (0.08, 40 * M + 100, 0, 0, 0, 5, 45, 10, 160, 0, 0, 0, 0),  # idle, all empty: starved idle
               (0.09, 52.5 * M + 100, 0, 0, 0, 5, 45, 10, 160, 0, 0, 0, 0)]  # 10 Gbit/s, queue empty
    path = tmp_path / "2x1_10gbit_8192_trace_contiguous_primary_flat_r3.gracegpu1.txt"
    path.write_text("".join(" ".join(str(int(v)) if i else str(v) for i, v in enumerate(s)) + "\n" for s in samples))
    r = subprocess.run([LINK_SUMMARY, str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    head, row = [line.split("\t") for line in r.stdout.splitlines()]
    x = dict(zip(head, row))
    assert (x["run"], x["ns"], x["samples"]) == ("2x1_10gbit_8192_trace_contiguous_primary_flat_r3", "gracegpu1", "10")
    assert float(x["period_ms"]) == pytest.approx(10.0)
    assert float(x["sent_mb"]) == pytest.approx(52.5, abs=1e-3)
    assert float(x["busy_s"]) == pytest.approx(0.05)
    assert float(x["busy_gbit_s"]) == pytest.approx(52.5e6 * 8 / 0.05 / 1e9, rel=1e-3)
    assert float(x["queued_s"]) == pytest.approx(0.02)
    assert float(x["queued_gbit_s"]) == pytest.approx(22.5e6 * 8 / 0.02 / 1e9, rel=1e-3)
    assert float(x["starved_s"]) == pytest.approx(0.03)
    assert float(x["backlog_max_mb"]) == pytest.approx(4.0)
    assert (x["drops"], x["overlimits"], x["veth_drops"], x["softnet_drops"]) == ("2", "35", "3", "60")
    assert float(x["span_s"]) == pytest.approx(0.09) and float(x["idle_s"]) == pytest.approx(0.04)
    assert float(x["held_idle_s"]) == pytest.approx(0.01)
    assert float(x["unread_idle_s"]) == pytest.approx(0.01)
    assert float(x["starved_idle_s"]) == pytest.approx(0.01)


@pytest.mark.parametrize("text,word", [("0.0 1 2 3\n0.1 1 2 3\n", "13 fields"),
                                       ("0.0 a 0 0 0 0 0 0 0 0 0 0 0\n", "numbers"),
                                       ("0.0 1 0 0 0 0 0 0 0 0 0 0 0\n", "at least 2 samples")])
def test_link_summary_rejects_a_bad_file_without_output(tmp_path, text, word):
    good = tmp_path / "a.gracegpu0.txt"
    good.write_text("0.0 0 0 0 0 0 0 0 0 0 0 0 0\n0.1 100 0 0 0 0 0 0 0 0 0 0 0\n")
    bad = tmp_path / "b.gracegpu0.txt"
    bad.write_text(text)
    r = subprocess.run([LINK_SUMMARY, str(good), str(bad)], capture_output=True, text=True)
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and word in r.stderr and "b.gracegpu0.txt" in r.stderr


@pytest.mark.skipif(not os.path.exists("/sys/class/net/lo/statistics/tx_bytes"), reason="no /sys/class/net/lo")
def test_link_sampler_writes_the_interfaces_counters_its_root_qdisc_and_socket_queues(tmp_path):
    # Stand-ins for tc and ss that print what `tc -s -j qdisc show dev lo` and `ss -tnH state
    # established` print (Recv-Q, Send-Q, local, peer), ignoring their arguments.
    tc = tmp_path / "tc"
    tc.write_text("#!/bin/sh\necho '[{\"kind\":\"tbf\",\"root\":true,\"bytes\":5,\"backlog\":7,\"drops\":1,"
                  "\"overlimits\":2},{\"kind\":\"fq\",\"bytes\":9,\"backlog\":9,\"drops\":9,\"overlimits\":9}]'\n")
    ss = tmp_path / "ss"
    ss.write_text("#!/bin/sh\necho 0 4096 10.77.0.1:1 10.77.0.2:2\necho 77 0 10.77.0.1:3 10.77.0.2:4\n"
                  "echo 0 0 10.77.0.1:5 10.77.0.2:6\n")
    tc.chmod(0o755)
    ss.chmod(0o755)
    p = subprocess.Popen([os.path.join(SOURCE, "bench", "cuda", "link-sampler.py"), "lo", "5", str(tc), str(ss)],
                         stdout=subprocess.PIPE, text=True)
    lines = [p.stdout.readline() for _ in range(3)]
    p.terminate()
    p.wait(timeout=10)
    assert p.returncode == 0  # SIGTERM ends it quietly
    rows = [line.split() for line in lines]
    assert all(len(w) == 13 for w in rows)
    assert all(w[3:7] == ["5", "7", "1", "2"] for w in rows)  # the root qdisc's, not the other one's
    assert all(w[9:] == ["4096", "1", "77", "1"] for w in rows)
    assert float(rows[0][0]) < float(rows[1][0]) < float(rows[2][0])
    assert int(rows[0][1]) <= int(rows[2][1])

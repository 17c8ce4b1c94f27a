"""scripts/gpt-oss-domains.py: the GPT-OSS-20B MMLU trace split into MMLU's four subject domains
for the planner matrix's held-out-domain cases (scripts/planner-matrix.sh)."""
import gzip
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import CLI, SHARED, SOURCE

SCRIPT = os.path.join(SOURCE, "scripts", "gpt-oss-domains.py")
DOMAINS = ["stem", "humanities", "social", "other"]


def write_trace(d, subjects, lengths, layers=3, k=2, experts=8):
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(0)
    ids = rng.integers(0, experts, size=(sum(lengths), layers, k), dtype=np.uint8)
    with gzip.open(os.path.join(d, "topk_ids.npy.gz"), "wb") as f:
        np.save(f, ids)
    np.save(os.path.join(d, "seq_offsets.npy"), np.cumsum([0] + lengths).astype(np.int64))
    with open(os.path.join(d, "seqs.json"), "w") as f:
        json.dump([{"category": s, "num_tokens": n} for s, n in zip(subjects, lengths)], f)
    return ids


def load(d, name):
    with gzip.open(os.path.join(d, f"{name}_topk_ids.npy.gz")) as f:
        return np.load(f), np.load(os.path.join(d, f"{name}_seq_offsets.npy"))


def run(*args):
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], capture_output=True, text=True)


def test_each_domain_gets_its_sequences_whole_and_in_order(tmp_path):
    subjects = ["anatomy", "philosophy", "sociology", "virology", "machine_learning", "marketing"]
    lengths = [3, 5, 2, 4, 6, 1]
    ids = write_trace(tmp_path / "in", subjects, lengths)
    r = run(tmp_path / "in", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    starts = np.cumsum([0] + lengths)
    seq = lambda i: ids[starts[i]:starts[i + 1]]
    want = {"stem": [0, 4], "humanities": [1], "social": [2], "other": [3, 5]}
    for d, members in want.items():
        got, off = load(tmp_path / "out", d)
        assert off.tolist() == np.cumsum([0] + [lengths[i] for i in members]).tolist()
        assert np.array_equal(got, np.concatenate([seq(i) for i in members]))
    assert sorted(os.listdir(tmp_path / "out")) == sorted(
        f"{d}_{s}" for d in DOMAINS for s in ("topk_ids.npy.gz", "seq_offsets.npy"))


def test_a_subject_outside_mmlu_is_one_error_line_and_no_output(tmp_path):
    write_trace(tmp_path / "in", ["anatomy", "cooking", "sociology", "virology"], [2, 2, 2, 2])
    r = run(tmp_path / "in", tmp_path / "out")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "'cooking'" in r.stderr and "sequence 1" in r.stderr
    assert not os.path.exists(tmp_path / "out")


def test_missing_files_and_disagreeing_offsets_are_errors(tmp_path):
    r = run(tmp_path / "nowhere", tmp_path / "out")
    assert r.returncode == 2 and "no such file" in r.stderr
    write_trace(tmp_path / "in", ["anatomy", "philosophy", "sociology", "virology"], [2, 2, 2, 2])
    np.save(tmp_path / "in" / "seq_offsets.npy", np.array([0, 2, 4, 9], dtype=np.int64))
    r = run(tmp_path / "in", tmp_path / "out")
    assert r.returncode == 2 and "do not agree" in r.stderr
    r = run(tmp_path / "in")
    assert r.returncode == 2 and "Usage" in r.stderr


def test_real_trace_splits_into_four_domains_that_a_plan_reads(tmp_path):
    real = os.path.join(SHARED, "traces", "gpt-oss-20b-mmlu")
    if not os.path.isdir(real):
        pytest.skip(f"{real} not found (the real traces are needed)")
    r = run(real, tmp_path)
    assert r.returncode == 0, r.stderr
    with gzip.open(os.path.join(real, "topk_ids.npy.gz")) as f:
        total = np.load(f).shape[0]
    sizes = [load(tmp_path, d)[0].shape[0] for d in DOMAINS]
    assert sum(sizes) == total and min(sizes) > 0
    if not CLI or not os.path.exists(CLI):
        pytest.skip("GRACE_CLI (the grace binary) not set")
    p = subprocess.run([CLI, "plan", "--model", "gpt-oss-20b", "--topology", "2x4", "--policy", "uniform-affinity",
                        "--trace", str(tmp_path / "social_topk_ids.npy.gz"), "-o", str(tmp_path / "p.json")],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr

"""scripts/gpu-cluster-data.sh: the GPU cluster's placements are planned on one half of the ESFT
traffic and the engine runs the other (docs/gpu.md, run 6)."""
import gzip
import json
import os
import subprocess

import numpy as np
import pytest

from conftest import CLI, SHARED, SOURCE

SCRIPT = os.path.join(SOURCE, "scripts", "gpu-cluster-data.sh")
ESFT = os.path.join(SHARED, "traces", "deepseek-v2-lite-esft")
TASKS = ["intent", "law", "summary", "translation"]


def load(d, task):
    with gzip.open(os.path.join(d, f"{task}_topk_ids.npy.gz")) as f:
        ids = np.load(f)
    return ids, np.load(os.path.join(d, f"{task}_seq_offsets.npy"))


def seqs(ids, off, parity):
    return [ids[off[s]:off[s + 1]] for s in range(parity, len(off) - 1, 2)]


def test_plans_on_even_sequences_and_runs_the_odd_ones(tmp_path):
    if not CLI or not os.path.exists(CLI):
        pytest.skip("GRACE_CLI (the grace binary) not set")
    if not os.path.isdir(ESFT):
        pytest.skip(f"{ESFT} not found (the real traces are needed)")
    out = tmp_path / "data"
    env = dict(os.environ, SETUPS="2x1", MEM_PCT="25", REPEAT="2")
    r = subprocess.run([SCRIPT, CLI, str(out), ESFT], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    for task in TASKS:
        ids, off = load(ESFT, task)
        p_ids, p_off = load(out / "plan", task)
        t_ids, t_off = load(out / "trace", task)
        even, odd = seqs(ids, off, 0), seqs(ids, off, 1)
        assert np.array_equal(p_ids, np.concatenate(even))
        assert np.array_equal(t_ids, np.concatenate(odd * 2))
        assert list(np.diff(p_off)) == [len(s) for s in even]
        assert list(np.diff(t_off)) == [len(s) for s in odd * 2]
        assert p_ids.shape[0] + t_ids.shape[0] // 2 == ids.shape[0]  # the halves cover the task
    names = sorted(os.listdir(out / "pl"))
    assert names == sorted(f"2x1-{p}.json" for p in ["contiguous", "eplb", "uniform-affinity", "grace", "grace-m25",
                                                      "uniform-affinity+replicas-m25"])
    for name, instances in [("grace", 66), ("grace-m25", 80), ("uniform-affinity+replicas-m25", 80)]:
        layers = json.load(open(out / "pl" / f"2x1-{name}.json"))["layers"]
        assert {sum(len(e["instances"]) for e in l["experts"]) for l in layers} == {instances}


def test_a_missing_trace_folder_is_one_error_and_no_output(tmp_path):
    out = tmp_path / "data"
    r = subprocess.run([SCRIPT, CLI or "/bin/true", str(out), str(tmp_path / "nope")], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "gpu-cluster-data.sh: error:" in r.stderr
    assert not out.exists()

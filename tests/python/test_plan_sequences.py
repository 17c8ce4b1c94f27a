"""grace.plan(topk_ids, seq_offsets=, batching=, batch_tokens=): the same judge as `grace plan`
on a trace folder (its candidates replayed in the batches the plan will serve, sequences pinned to
GPUs), and clear errors for offsets that do not describe the ids."""
import gzip
import os
import re
import subprocess

import numpy as np
import pytest

import grace

DS = "deepseek-v2-lite"


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    exe = os.environ.get("GRACE_CLI", "")
    if not exe or not os.path.exists(exe):
        pytest.skip("GRACE_CLI (the grace binary) not set")
    d = tmp_path_factory.mktemp("syn") / "t"
    r = subprocess.run([exe, "trace", "synth", "--model", DS, "--tokens", "8192", "--seed", "3", "-o", str(d)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with gzip.open(d / "topk_ids.npy.gz") as f:
        ids = np.load(f)
    return d, ids, np.load(d / "seq_offsets.npy")


@pytest.mark.parametrize("batching", ["trace", "balanced"])
def test_plan_with_sequences_is_the_cli_plan_of_the_same_trace(cli, synth, tmp_path, batching):
    d, ids, offs = synth
    assert len(offs) > 10  # many sequences: where they sit changes the judge's batches
    out = tmp_path / "p.json"
    r = cli("plan", "--trace", str(d), "--model", DS, "--topology", "2x4", "--policy", "grace", "--seed", "1",
            "--batching", batching, "-o", str(out))
    assert r.returncode == 0, r.stderr
    want = grace.Placement.load(str(out)).hash()
    got = grace.plan(ids, model=DS, topology="2x4", seed=1, seq_offsets=offs, batching=batching)
    assert got.hash() == want
    # Without the offsets the sample is one sequence, spread evenly: another judge, another plan.
    assert grace.plan(ids, model=DS, topology="2x4", seed=1, batching=batching).hash() != want


def test_batching_and_batch_tokens_reach_the_planner(synth):
    _, ids, offs = synth
    plans = {grace.plan(ids, model=DS, seed=1, seq_offsets=offs, batching=b, batch_tokens=n).hash()
             for b in ("trace", "balanced") for n in (1024, 4096)}
    assert len(plans) >= 3
    # torch tensors and lists work as offsets too
    torch = pytest.importorskip("torch")
    assert grace.plan(ids, model=DS, seed=1, seq_offsets=torch.from_numpy(offs)).hash() == \
        grace.plan(ids, model=DS, seed=1, seq_offsets=offs.tolist()).hash()


@pytest.mark.parametrize("offs, msg", [
    ([1, 8192], "must start at 0"),
    ([0, 100, 100, 8192], "not strictly increasing at index 2"),
    ([0, 4000, 8000], "end at 8000, but topk_ids has 8192 tokens"),
    ([[0, 8192]], "must be [sequences + 1]"),
    ([0], "must be [sequences + 1]"),
])
def test_bad_seq_offsets_say_what_is_wrong(synth, offs, msg):
    _, ids, _ = synth
    with pytest.raises(ValueError, match="plan: seq_offsets.*" + re.escape(msg)):
        grace.plan(ids, model=DS, seq_offsets=np.array(offs, dtype=np.int64))


def test_bad_batching_arguments(synth):
    _, ids, offs = synth
    with pytest.raises(TypeError, match="plan: seq_offsets must hold integer offsets"):
        grace.plan(ids, model=DS, seq_offsets=offs.astype(np.float64))
    with pytest.raises(ValueError, match="batching 'even'"):
        grace.plan(ids, model=DS, batching="even")
    with pytest.raises(ValueError, match="plan: batch_tokens 0 must be > 0"):
        grace.plan(ids, model=DS, batch_tokens=0)
    with pytest.raises(ValueError, match="go with topk_ids"):
        grace.plan(loads=np.ones((26, 64)), model=DS, seq_offsets=[0, 1])


def test_target_router_is_the_cli_plan_for_that_router(cli, synth, tmp_path):
    d, ids, offs = synth
    out = tmp_path / "p.json"
    r = cli("plan", "--trace", str(d), "--model", DS, "--topology", "2x4", "--seed", "1",
            "--target", "sglang-static", "-o", str(out))
    assert r.returncode == 0, r.stderr
    want = grace.Placement.load(str(out)).hash()
    got = grace.plan(ids, model=DS, topology="2x4", seed=1, seq_offsets=offs, target="sglang-static")
    assert got.hash() == want
    assert grace.plan(ids, model=DS, topology="2x4", seed=1, seq_offsets=offs).hash() != want
    with pytest.raises(ValueError, match="plan: target: unknown router 'nope'"):
        grace.plan(ids, model=DS, target="nope")
    with pytest.raises(ValueError, match="target goes with topk_ids"):
        grace.plan(loads=np.ones((26, 64)), model=DS, target="sglang-static")


def test_replan_with_sequences_is_the_cli_replan_of_the_same_trace(cli, synth, tmp_path):
    # `grace replan --trace DIR` reads the folder's seq_offsets; Placement.replan(seq_offsets=)
    # gives the same sequences, so the same re-plan (the sample keeps whole sequences).
    d, _, _ = synth
    recent = tmp_path / "recent"
    r = cli("trace", "synth", "--model", DS, "--tokens", "6144", "--seed", "4", "--topics", "2", "-o", str(recent))
    assert r.returncode == 0, r.stderr
    with gzip.open(recent / "topk_ids.npy.gz") as f:
        ids = np.load(f)
    offs = np.load(recent / "seq_offsets.npy")
    assert len(offs) > 10
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    assert cli("plan", "--trace", str(d), "--model", DS, "--topology", "2x4", "-o", str(old)).returncode == 0
    r = cli("replan", "--placement", str(old), "--trace", str(recent), "--max-moves", "40", "--json", "-o", str(new))
    assert r.returncode == 0, r.stderr
    placement, report = grace.Placement.load(str(old)).replan(ids, max_moves=40, seq_offsets=offs)
    assert placement.hash() == grace.Placement.load(str(new)).hash()
    assert f'"moves":{report["moves"]}' in r.stdout.replace(" ", "")
    with pytest.raises(ValueError, match="seq_offsets"):
        grace.Placement.load(str(old)).replan(ids, max_moves=40, seq_offsets=[0, 5])

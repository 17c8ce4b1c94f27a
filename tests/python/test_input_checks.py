"""Bad arguments to the Python API and to `python -m grace.sglang plan` give one grace line
(TypeError / ValueError naming the argument), never a silent truncation, a pybind11 cast error or
an overwritten input."""
import os
import pathlib

import numpy as np
import pytest

import grace
from grace.eplb import rebalance_experts

from conftest import run_module

DS = "deepseek-v2-lite"  # 26 MoE layers x 64 experts, top-6


def random_topk(tokens, layers, experts, k, seed=0):
    rng = np.random.default_rng(seed)
    return np.argsort(rng.random((tokens, layers, experts)), axis=2)[:, :, :k].astype(np.int64)


@pytest.fixture(scope="module")
def ids():
    return random_topk(300, 26, 64, 6)


@pytest.fixture(scope="module")
def placement(ids):
    return grace.plan(ids, model=DS, topology="2x4", policy="grace")


def raises(exc, match, fn, *args, **kwargs):
    """fn(*args) raises exc with a one-line message matching `match` and no pybind11 internals."""
    with pytest.raises(exc, match=match) as e:
        fn(*args, **kwargs)
    msg = str(e.value)
    assert "\n" not in msg, msg
    for leak in ("Unable to cast", "incompatible", "PYBIND11", "_core", "Invoked with"):
        assert leak not in msg, msg
    return msg


def test_floats_bools_and_nan_are_not_expert_ids(ids, placement):
    r = grace.Router(placement)
    raises(TypeError, r"plan: topk_ids must hold integer ids .*float64", grace.plan, ids + 0.7, model=DS)
    raises(TypeError, r"route: topk_ids must hold integer expert ids .*float64", r.route, ids[:, 0, :] + 0.9, 0)
    raises(TypeError, r"replan: topk_ids must hold integer ids .*float64", placement.replan, ids + 0.5)
    raises(TypeError, r"route: src_gpu must hold integer GPU ids .*float64", r.route, ids[:, 0, :],
           np.full(len(ids), 1.7))
    raises(TypeError, r"route: topk_ids .* got dtype bool", r.route, np.ones((4, 6), bool), 0)
    raises(TypeError, r"route: topk_ids .* got dtype float64", r.route, np.full((4, 6), np.nan), 0)
    raises(TypeError, r"route: src_gpu must be an int, got float", r.route, ids[:, 0, :], 1.5)
    raises(TypeError, r"route: layer must be an int, got float", r.route, ids[:, 0, :], 0, 1.5)
    big = np.full((4, 26, 6), 2**63 + 5, dtype=np.uint64)
    raises(ValueError, r"plan: topk_ids has id 9223372036854775813 at flat index 0, out of range", grace.plan, big)
    raises(ValueError, r"route: topk_ids has expert id 9223372036854775813 .* out of range", r.route, big[:, 0], 0)
    raises(ValueError, r"route: topk_ids has expert id \d+ at flat index 0, out of range", r.route,
           [[2**70, 1, 2, 3, 4, 5]], 0)
    # Integer ids of any width, Python int lists and 0-d integer GPU ids still route.
    want = r.route(ids[:, 0, :], 3)
    assert (r.route(ids[:, 0, :].astype(np.uint16), 3) == want).all()
    assert (r.route(ids[:, 0, :].tolist(), np.int64(3)) == want).all()
    assert (r.route(ids[:, 0, :], np.array(3)) == want).all()


def test_no_pybind_cast_errors(tmp_path, ids, placement):
    p, r = placement, grace.Router(placement)
    raises(ValueError, r"route: src_gpu 1099511627776 outside \[0, 8\)", r.route, ids[:, 0, :], 2**40)
    raises(ValueError, r"route: layer 1099511627776 outside \[0, 26\)", r.route, ids[:, 0, :], 0, 2**40)
    raises(ValueError, r"replan: max_moves \d+ must be >= 0", p.replan, ids, max_moves=2**70)
    raises(TypeError, r"replan: max_moves must be an int, got float 1.5", p.replan, ids, max_moves=1.5)
    raises(TypeError, r"replan: max_moves must be an int, got str '3'", p.replan, ids, max_moves="3")
    raises(TypeError, r"replan: horizon_tokens must be a number or None, got str", p.replan, ids,
           horizon_tokens="x")
    raises(ValueError, r"replan: seed -1 must be in \[0, 2\*\*64\)", p.replan, ids, seed=-1)
    raises(ValueError, r"plan: seed -1 must be in \[0, 2\*\*64\)", grace.plan, ids, seed=-1)
    raises(ValueError, r"plan: seed \d+ must be in", grace.plan, ids, seed=2**64)
    raises(ValueError, r"plan: redundant 1099511627776 must be >= 0", grace.plan, ids, redundant=2**40)
    raises(ValueError, r"plan: redundant -2 must be >= 0 \(or -1 for one per GPU\)", grace.plan, ids, redundant=-2)
    raises(TypeError, r"plan: redundant must be an int, got bool", grace.plan, ids, redundant=True)
    raises(TypeError, r"plan: model must be a str or path, got int 5", grace.plan, ids, model=5)
    raises(TypeError, r"plan: topology must be a str or path, got NoneType", grace.plan, ids, topology=None)
    raises(TypeError, r"plan: policy must be a str, got int", grace.plan, ids, policy=3)
    raises(ValueError, r"Router: seed -1 must be in", grace.Router, p, seed=-1)
    raises(TypeError, r"Router: placement must be a grace.Placement .* got NoneType", grace.Router, None)
    raises(TypeError, r"Router: placement must be a grace.Placement .* got dict", grace.Router, {"a": 1})
    raises(TypeError, r"Router: name must be a str", grace.Router, p, name=None)
    raises(ValueError, r"instances: layer 0 / expert 1099511627776 out of range", p.instances, 0, 2**40)
    raises(TypeError, r"instances: layer must be an int, got float", p.instances, 0.5, 1)
    assert p.instances(np.int64(0), 1) == p.instances(0, 1)
    raises(TypeError, r"to_vllm: path must be a str or path, got int", p.to_vllm, 5)
    raises(TypeError, r"physical_to_logical_map: sglang must be a bool", p.physical_to_logical_map, "yes")
    w = np.ones((2, 64))
    raises(TypeError, r"rebalance_experts: num_replicas must be an int, got float 68.0", rebalance_experts,
           w, 68.0, 1, 2.0, 4.0)
    raises(TypeError, r"rebalance_experts: num_nodes must be an int, got float 2.0", rebalance_experts,
           w, 68, 1, 2.0, 4)
    # Paths may be os.PathLike, as open() takes them.
    p.to_vllm(tmp_path / "v.json")
    assert (tmp_path / "v.json").exists()
    p.save(tmp_path / "g.json")
    assert grace.Placement.load(pathlib.Path(tmp_path / "g.json")).hash() == p.hash()
    assert p.to_sglang(tmp_path / "s.json")["rows"] == 27
    p.to_sglang_dispatch(tmp_path / "d.json", model=DS)
    p.validate(model=DS, topology="2x4")


def test_sglang_map_checks_the_model(placement):
    want = r"export: placement has 26 MoE layers x 64 experts but model 'qwen3-30b-a3b' has 48 x 128"
    raises(ValueError, want, placement.physical_to_logical_map, sglang=True, model="qwen3-30b-a3b")
    raises(ValueError, want, placement.to_sglang, "/nonexistent/p.json", model="qwen3-30b-a3b")
    raises(ValueError, r"model 'gpt-oss-20b' has 24 x 32", placement.physical_to_logical_map, sglang=True,
           model="gpt-oss-20b")
    assert placement.physical_to_logical_map(sglang=True, model=DS).shape == (27, 72)


def test_route_rejects_repeated_experts_and_rows_wider_than_top_k(ids, placement):
    r = grace.Router(placement)
    raises(ValueError, r"route: token 0, layer 0: expert 0 appears twice in the top-6", r.route,
           np.zeros((4, 6), int), 0)
    row = ids[:, 3, :].copy()
    row[200, 4] = row[200, 1]
    raises(ValueError, rf"route: token 200, layer 3: expert {row[200, 1]} appears twice in the top-6", r.route_gpus,
           row, 0, layer=3)
    full = ids.copy()
    full[7, 11, 5] = full[7, 11, 0]
    raises(ValueError, rf"route: token 7, layer 11: expert {full[7, 11, 0]} appears twice", r.route, full, 0)
    raises(ValueError, r"route: topk_ids rows hold 8 experts, model 'deepseek-v2-lite' routes top-6", r.route,
           np.tile(np.arange(8), (4, 1)), 0)
    # An id out of range is still reported as such (before a repeat of it).
    raises(ValueError, r"expert id 64 outside", r.route, np.full((2, 6), 64), 0)
    assert r.route(ids[:, 3, :4], 0, layer=3).shape == (300, 4)  # fewer than top-k is fine


def test_rebalance_experts_checks_counts_before_dividing():
    w = np.ones((2, 64))
    raises(ValueError, r"rebalance_experts: num_gpus 0 must be in \[1, ", rebalance_experts, w, 68, 1, 2, 0)
    raises(ValueError, r"rebalance_experts: num_nodes 0 must be in \[1, ", rebalance_experts, w, 68, 1, 0, 4)
    raises(ValueError, r"rebalance_experts: num_groups 0 must be in \[1, ", rebalance_experts, w, 68, 0, 1, 4)
    raises(TypeError, r"rebalance_experts: weight must be a numeric array", rebalance_experts, "abc", 68, 1, 1, 4)


def test_plan_argument_values(ids):
    raises(ValueError, r"plan: slots_per_gpu -1 must be in \[0, 65536\]", grace.plan, ids, model=DS,
           slots_per_gpu=-1)
    raises(TypeError, r"plan: topk_ids must hold integer ids .* got str", grace.plan, "abc")
    raises(TypeError, r"plan: loads must be a numeric array \[layers, experts\], got str", grace.plan,
           loads="abc")
    raises(TypeError, r"plan: loads must be a numeric array .* got dtype bool", grace.plan,
           loads=np.ones((26, 64), bool))
    msg = raises(ValueError, r"plan: 125008 expert slots per GPU \(redundant=1000000 over 8 GPUs\)", grace.plan,
                 ids, model=DS, redundant=1000000)
    assert "--redundant" not in msg
    assert grace.plan(ids, model=DS, slots_per_gpu=0).slots_per_gpu == 9  # 0: the topology's


def test_arrays_numpy_cannot_hold_faithfully_are_refused(ids, placement):
    torch = pytest.importorskip("torch", reason="needs torch (apt install python3-torch)")
    masked = np.ma.masked_array(ids, mask=np.zeros_like(ids, bool))
    masked.mask[0, 0, 0] = True
    raises(ValueError, r"plan: topk_ids is a masked array with masked entries", grace.plan, masked, model=DS)
    assert grace.plan(np.ma.masked_array(ids), model=DS).hash() == grace.plan(ids, model=DS).hash()  # no mask: fine
    raises(TypeError, r"plan: loads has dtype torch.bfloat16, which NumPy cannot hold; convert it first",
           grace.plan, loads=torch.ones((26, 64), dtype=torch.bfloat16))
    raises(ValueError, r"plan: topk_ids is not a rectangular integer \[tokens, layers, k\] array", grace.plan,
           [[[0, 1]], [[2]]], model=DS)


def test_replan_limits_are_numbers_in_range(ids, placement):
    raises(ValueError, r"replan: max_move_bytes -1.0 must be >= 0", placement.replan, ids, max_move_bytes=-1.0)
    raises(ValueError, r"replan: max_move_bytes nan must be >= 0", placement.replan, ids, max_move_bytes=float("nan"))
    raises(ValueError, r"replan: horizon_tokens 0 must be > 0", placement.replan, ids, horizon_tokens=0)
    raises(TypeError, r"replan: horizon_tokens must be a number or None, got str", placement.replan, ids,
           horizon_tokens="1e6")
    raises(TypeError, r"replan: max_move_bytes must be a number or None, got bool", placement.replan, ids,
           max_move_bytes=True)
    raises(TypeError, r"replan: full_plan must be a bool, got int", placement.replan, ids, full_plan=1)
    same, report = placement.replan(ids, max_move_bytes=0, horizon_tokens=1e6, full_plan=False)
    assert report["moves"] == 0 and same.hash() == placement.hash()


def test_replan_of_a_placement_planned_without_a_model(ids):
    with pytest.warns(UserWarning, match="load only"):
        q = grace.plan(loads=np.ones((26, 64)))
    assert q.model == "generic"
    raises(ValueError, r"replan: this placement was planned without a model .*model=", q.replan, ids)


def write_loads(d):
    d.mkdir()
    np.save(d / "loads.npy", np.random.default_rng(0).integers(1, 100, (26, 64)))
    return (d / "loads.npy").read_bytes()


def test_sglang_plan_refuses_to_overwrite_its_input(tmp_path):
    d = tmp_path / "prof"
    before = write_loads(d)
    os.link(d / "loads.npy", tmp_path / "hard.npy")
    os.symlink(d / "loads.npy", tmp_path / "soft.npy")
    for out in (d / "loads.npy", tmp_path / "hard.npy", tmp_path / "soft.npy", tmp_path / "prof" / ".." / "hard.npy"):
        r = run_module("plan", str(d), "--model", DS, "--topology", "2x2", "-o", str(out))
        assert r.returncode == 2, (out, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"grace: error: '{out}': is the same file as the input "), lines
        assert (d / "loads.npy").read_bytes() == before
        assert r.stdout == ""
    assert sorted(os.listdir(d)) == ["loads.npy"]  # nothing written
    r = run_module("plan", str(d), "--model", DS, "--topology", "2x2", "-o", str(d / "p.json"))
    assert r.returncode == 0, r.stderr


def test_sglang_plan_names_a_loads_file_numpy_cannot_read(tmp_path):
    d = tmp_path / "prof"
    d.mkdir()
    for content, expect in ((b'{"not": "numpy"}\n', "not in .npy format"),
                            (None, "not in .npy format, or it holds pickled Python objects"),
                            ("strings", "holds dtype <U1, expected numeric per-expert loads")):
        if content is None:
            np.save(d / "loads.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
        elif content == "strings":
            np.save(d / "loads.npy", np.array(["a", "b"]))
        else:
            (d / "loads.npy").write_bytes(content)
        r = run_module("plan", str(d), "--model", DS, "-o", str(tmp_path / "p.json"))
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"grace: error: '{d / 'loads.npy'}': "), lines
        assert expect in lines[0] and "allow_pickle" not in lines[0], lines[0]
        assert not (tmp_path / "p.json").exists()


def test_sglang_import_refuses_to_overwrite_a_dump(tmp_path):
    torch = pytest.importorskip("torch", reason="needs torch (apt install python3-torch)")
    d = tmp_path / "prof"
    d.mkdir()
    lc = torch.randint(1, 100, (2, 3, 8), dtype=torch.int32)
    torch.save({"rank": 0, "logical_count": lc}, d / "loads.npy")  # a dump that happens to have that name
    before = (d / "loads.npy").read_bytes()
    r = run_module("import", str(d / "loads.npy"), "-o", str(d))
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    want = f"grace: error: '{d / 'loads.npy'}': is the same file as the input"
    assert len(lines) == 1 and lines[0].startswith(want), lines
    assert (d / "loads.npy").read_bytes() == before and sorted(os.listdir(d)) == ["loads.npy"]
    r = run_module("import", str(d / "loads.npy"), "-o", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr

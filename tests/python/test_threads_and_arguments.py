"""Red-team pass 4 of the Python package: one Router shared by threads, co-activation given as
frequencies, NUL bytes in paths, rows wider than the model's top-k, and the EPLB drop-in's
inputs (bf16 statistics, GPUs that do not split into nodes, more slots than experts, messages
in the caller's terms). Each test failed on the package before the fix."""
import threading

import numpy as np
import pytest
import torch

import grace
from grace.eplb import rebalance_experts


def _ids(tokens, layers=26, experts=64, k=6, seed=0):
    rng = np.random.default_rng(seed)
    return np.argsort(rng.random((tokens, layers, experts)), axis=2)[:, :, :k]


@pytest.mark.parametrize("name", ["tar", "cover", "sglang-static", "load-aware"])
def test_one_router_shared_by_threads_routes_as_one_thread_does(name):
    # The GIL is released while routing: two threads on one Router used to race on its scratch
    # buffers (segfault with tar on spare slots and the SGLang routers; wrong ids with cover).
    ids = _ids(6000)
    p = grace.plan(ids[:1500], model="deepseek-v2-lite", topology="2x4", slots_per_gpu=20)
    src = np.random.default_rng(1).integers(0, 8, len(ids))
    phy2log = p.physical_to_logical_map()
    r = grace.Router(p, name=name)
    results, errors = [], []

    def work():
        try:
            for _ in range(3):
                results.append(r.route(ids, src))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 12
    for out in results:
        assert out.min() >= 0
        for layer in (0, 13, 25):
            assert (phy2log[layer][out[:, layer, :]] == ids[:, layer, :]).all()


def test_coactivation_given_as_frequencies_is_not_rounded_away():
    ids = _ids(3000, layers=4)
    loads = np.zeros((4, 64))
    co = np.zeros((4, 64, 64))
    for layer in range(4):
        for row in ids[:, layer]:
            loads[layer, row] += 1
            co[layer][np.ix_(row, row)] += 1
        co[layer][np.diag_indices(64)] = 0
        for e in range(0, 64, 2):  # strong pairs the plan must see
            co[layer, e, e + 1] += 5000
            co[layer, e + 1, e] += 5000
    counts = grace.plan(loads=loads, coactivation=co, topology="2x4").hash()
    assert grace.plan(loads=loads, coactivation=co / co.sum(), topology="2x4").hash() == counts
    assert grace.plan(loads=loads, coactivation=co * 1e300, topology="2x4").hash() == counts
    with pytest.warns(UserWarning):
        none = grace.plan(loads=loads, topology="2x4").hash()
    assert counts != none


def test_a_nul_byte_in_a_path_is_refused(tmp_path):
    p = grace.plan(_ids(300), model="deepseek-v2-lite")
    for call in (lambda: p.save(str(tmp_path / "a\x00b.json")),
                 lambda: p.to_sglang(str(tmp_path / "p\x00.json")),
                 lambda: p.to_vllm(str(tmp_path / "v\x00.json")),
                 lambda: grace.Placement.load(str(tmp_path / "a\x00b.json")),
                 lambda: grace.plan(_ids(300), model="deepseek-v2-lite\x00")):
        with pytest.raises(ValueError, match="contains a NUL byte"):
            call()
    assert list(tmp_path.iterdir()) == []


def test_plan_refuses_rows_wider_than_the_models_top_k():
    with pytest.raises(ValueError, match="rows hold 8 experts, model 'deepseek-v2-lite' routes top-6"):
        grace.plan(_ids(300, k=8), model="deepseek-v2-lite")


def test_plan_from_loads_names_the_input_not_an_internal_model():
    with pytest.raises(ValueError, match=r"plan: the input is empty"):
        grace.plan(loads=np.ones((0, 64)), policy="eplb")
    with pytest.raises(ValueError, match=r"plan: the input has 5000 layers"):
        grace.plan(loads=np.ones((5000, 8)), policy="eplb")


def test_eplb_takes_statistics_as_the_reference_does():
    w = torch.rand(3, 64)
    # bf16 and fp16 statistics are read as weight.float() (the reference's own conversion).
    a = rebalance_experts(w.bfloat16(), 72, 8, 2, 8)
    b = rebalance_experts(w.bfloat16().float(), 72, 8, 2, 8)
    assert all((x == y).all() for x, y in zip(a, b))
    rebalance_experts(w.half(), 72, 8, 2, 8)
    # GPUs that do not split into nodes: where the groups do not either, the reference takes its
    # global policy (one node), and so does grace; where they do, the reference asserts.
    phy2log, _, logcnt = rebalance_experts(w, 72, 4, 3, 8)
    assert tuple(phy2log.shape) == (3, 72)
    assert (logcnt.sum(dim=1) == 72).all()
    with pytest.raises(ValueError, match="num_gpus 6 is not a multiple of num_nodes 4"):
        rebalance_experts(torch.rand(2, 16), 24, 4, 4, 6)


@pytest.mark.parametrize("args, message", [
    ((torch.rand(2, 16), 20, 4, 1, 1), r"20 slots per GPU, more than the 16 logical experts"),
    ((torch.rand(2, 64), 2048 * 1, 1, 1, 2048), r"2048 GPUs per node, more than the 1024"),
    ((np.array([[1.0, np.nan] * 32]), 72, 8, 2, 8), r"rebalance_experts: weight\[0\]\[1\] = nan"),
    ((np.ones((5000, 8)), 8, 1, 1, 8), r"rebalance_experts: weight is 5000 layers x 8 experts"),
    ((np.float64(3), 72, 8, 2, 8), r"got shape \(\)"),
])
def test_eplb_refuses_in_its_own_terms(args, message):
    with pytest.raises(ValueError, match=message):
        rebalance_experts(*args)


def test_masked_and_bf16_inputs_are_refused_by_name():
    p = grace.plan(_ids(300), model="deepseek-v2-lite")
    ids = np.ma.masked_array(_ids(10)[:, 0, :], mask=np.zeros((10, 6), dtype=bool))
    ids.mask[0, 0] = True  # routed with its hidden value before
    with pytest.raises(ValueError, match="masked array with masked entries"):
        grace.Router(p).route(ids, 0)
    with pytest.raises(TypeError, match="dtype torch.bfloat16"):
        grace.Router(p).route(torch.from_numpy(_ids(10)[:, 0, :]).bfloat16(), 0)
    # An unmasked masked array is just an array.
    ok = np.ma.masked_array(_ids(10)[:, 0, :])
    assert grace.Router(p).route(ok, 0).shape == (10, 6)


def test_plan_threads_give_the_same_placement_and_are_checked():
    # threads= as `grace plan --threads`: the profile and the planner's tasks on that many threads;
    # the placement does not depend on the count, from topk_ids or from loads.
    ids = _ids(3000)
    base = grace.plan(ids, model="deepseek-v2-lite", topology="4x2")
    for t in (1, 3):
        assert grace.plan(ids, model="deepseek-v2-lite", topology="4x2", threads=t).hash() == base.hash()
    loads = np.stack([np.bincount(ids[:, layer].ravel(), minlength=64) for layer in range(26)])
    by_loads = grace.plan(loads=loads, model="deepseek-v2-lite", topology="4x2", policy="eplb")
    assert grace.plan(loads=loads, model="deepseek-v2-lite", topology="4x2", policy="eplb",
                      threads=1).hash() == by_loads.hash()
    for bad in (-1, 257):
        with pytest.raises(ValueError, match=rf"plan: threads {bad} must be in \[0, 256\]"):
            grace.plan(ids, model="deepseek-v2-lite", threads=bad)
    with pytest.raises(TypeError, match="plan: threads must be an int"):
        grace.plan(ids, model="deepseek-v2-lite", threads=2.0)

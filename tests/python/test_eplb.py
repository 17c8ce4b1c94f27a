"""grace.eplb.rebalance_experts against DeepSeek's reference EPLB (../shared/anchors/deepseek-eplb)."""
import importlib.util
import os

import numpy as np
import pytest
torch = pytest.importorskip("torch", reason="needs torch (apt install python3-torch)")

from conftest import SOURCE

from grace.eplb import rebalance_experts

REF = os.path.join(SOURCE, "..", "shared", "anchors", "deepseek-eplb", "eplb.py")


@pytest.fixture(scope="module")
def reference():
    if not os.path.exists(REF):
        pytest.skip(f"reference EPLB not found at {REF}")
    spec = importlib.util.spec_from_file_location("eplb_reference", REF)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def gpu_balance(weight, phy2log, logcnt, num_gpus):
    """Mean over layers of max / mean GPU load, a replica carrying weight / logcnt of its expert."""
    w = weight.double()
    per_replica = torch.gather(w / logcnt.double(), 1, phy2log)
    gpu = per_replica.view(w.shape[0], num_gpus, -1).sum(-1)
    return (gpu.max(-1).values / gpu.mean(-1)).mean().item()


def check_outputs(out, ref, weight, num_replicas):
    phy2log, log2phy, logcnt = out
    for a, b in zip(out, ref):
        assert isinstance(a, torch.Tensor) and a.dtype == b.dtype == torch.int64
    assert phy2log.shape == ref[0].shape and logcnt.shape == ref[2].shape
    assert log2phy.shape[:2] == ref[1].shape[:2]  # the last dim is the largest replica count
    layers, experts = weight.shape
    assert (logcnt >= 1).all()  # every logical expert placed
    assert (logcnt.sum(-1) == num_replicas).all()
    for layer in range(layers):
        assert torch.equal(torch.bincount(phy2log[layer], minlength=experts), logcnt[layer])
        for e in range(experts):
            slots = log2phy[layer, e][: logcnt[layer, e]]
            assert (phy2log[layer][slots] == e).all() and (log2phy[layer, e][logcnt[layer, e]:] == -1).all()


@pytest.mark.parametrize("shape", [(6, 64, 72, 8, 2, 8), (4, 32, 40, 4, 2, 8), (3, 256, 320, 8, 4, 32)])
def test_drop_in_matches_reference(reference, shape):
    layers, experts, num_replicas, groups, nodes, gpus = shape
    g = torch.Generator().manual_seed(experts)
    # Skewed loads, like real routing: lognormal expert popularity.
    weight = (torch.exp(torch.randn(layers, experts, generator=g) * 1.0) * 1000).round().to(torch.int64)
    ref = reference.rebalance_experts(weight, num_replicas, groups, nodes, gpus)
    out = rebalance_experts(weight, num_replicas, groups, nodes, gpus)
    check_outputs(out, ref, weight, num_replicas)
    ours = gpu_balance(weight, out[0], out[2], gpus)
    theirs = gpu_balance(weight, ref[0], ref[2], gpus)
    print(f"{shape}: max/mean GPU load grace {ours:.4f} reference {theirs:.4f}")
    assert ours <= theirs * 1.02


def test_coactivation_aware_variant(reference):
    layers, experts, num_replicas = 4, 64, 72
    g = torch.Generator().manual_seed(5)
    weight = (torch.exp(torch.randn(layers, experts, generator=g)) * 1000).round()
    co = torch.rand(layers, experts, experts, generator=g)
    co = (co + co.transpose(1, 2)) * 10
    ref = reference.rebalance_experts(weight, num_replicas, 8, 2, 8)
    out = rebalance_experts(weight, num_replicas, 8, 2, 8, coactivation=co)
    check_outputs(out, ref, weight, num_replicas)
    with pytest.raises(ValueError, match="multiple of num_gpus"):
        rebalance_experts(weight, 70, 8, 2, 8)

"""Drop-in for DeepSeek EPLB's entry point (deepseek-ai/EPLB eplb.py):

    from grace.eplb import rebalance_experts
    phy2log, log2phy, logcnt = rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus)

Same arguments, shapes and dtypes as the reference: phy2log int64 [layers, num_replicas],
log2phy int64 [layers, num_logical, max replicas] padded with -1, logcnt int64
[layers, num_logical]; torch tensors when torch is importable (as the reference returns),
else numpy. Physical expert p lives on GPU p // (num_replicas // num_gpus).

Without coactivation it plans with grace's load-only `eplb` planner (hierarchical packing with
replicas; num_groups is accepted for compatibility, grace packs experts individually). With
coactivation [layers, num_logical, num_logical] (how often two experts are chosen by the same
token) it plans with the affinity-aware `grace` planner, which keeps co-activated experts on a
node and balances load within it.
"""
import numpy as _np

from . import _INT_MAX, _core, _float_array, _int_arg

__all__ = ["rebalance_experts"]

_FN = "rebalance_experts"


def _statistics(x, exact=False):
    """A torch tensor as the reference takes its weight (weight.float().cpu(): bf16 / fp16, on any
    device); exact: .double() instead (co-activation, grace's own argument, keeps its precision)."""
    if hasattr(x, "detach") and hasattr(x, "float") and hasattr(x, "cpu"):
        x = x.detach()
        return (x.double() if exact else x.float()).cpu()
    return x


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus, coactivation=None):
    shape = getattr(weight, "shape", None)
    w = _float_array(_FN, "weight", _statistics(weight), "[layers, num_logical_experts]")
    if w.ndim != 2:
        given = tuple(shape) if shape is not None else w.shape
        raise ValueError(f"rebalance_experts: weight must be [layers, num_logical_experts], got shape {given}")
    num_layers, num_logical = w.shape
    if num_layers == 0 or num_logical == 0:
        raise ValueError(f"rebalance_experts: weight is empty (shape {w.shape})")
    if num_layers > 4096 or num_logical > 65535:
        raise ValueError(f"rebalance_experts: weight is {num_layers} layers x {num_logical} experts; grace plans at "
                         "most 4096 layers of at most 65535 experts")
    bad = ~_np.isfinite(w) | (w < 0)
    if bad.any():
        layer, expert = (int(i) for i in _np.argwhere(bad)[0])
        raise ValueError(f"rebalance_experts: weight[{layer}][{expert}] = {w[layer, expert]} "
                         "(must be finite and >= 0)")
    num_replicas = _int_arg(_FN, "num_replicas", num_replicas, 1, _INT_MAX)
    num_groups = _int_arg(_FN, "num_groups", num_groups, 1, _INT_MAX)
    num_nodes = _int_arg(_FN, "num_nodes", num_nodes, 1, _INT_MAX)
    num_gpus = _int_arg(_FN, "num_gpus", num_gpus, 1, _INT_MAX)
    nodes = num_nodes  # the caller's num_nodes stays in the messages
    if num_gpus % num_nodes != 0:
        # The reference plans hierarchically when num_groups splits into nodes (and then asserts
        # that the GPUs do), else with its global policy, as one node.
        if num_groups % num_nodes == 0:
            raise ValueError(f"rebalance_experts: num_gpus {num_gpus} is not a multiple of num_nodes {num_nodes}")
        nodes = 1
    if num_replicas % num_gpus != 0 or num_replicas < num_logical:
        raise ValueError(f"rebalance_experts: num_replicas {num_replicas} must be a multiple of num_gpus {num_gpus} "
                         f"and >= num_logical_experts {num_logical}")
    if num_replicas // num_gpus > num_logical:
        # The reference would put two copies of an expert on one GPU; grace never does (a copy
        # there serves nothing the first does not).
        raise ValueError(f"rebalance_experts: num_replicas {num_replicas} / num_gpus {num_gpus} = "
                         f"{num_replicas // num_gpus} slots per GPU, more than the {num_logical} logical experts "
                         "(grace keeps the copies of an expert on distinct GPUs)")
    if num_gpus // nodes > 1024:
        raise ValueError(f"rebalance_experts: num_gpus {num_gpus} / num_nodes {nodes} = {num_gpus // nodes} "
                         "GPUs per node, more than the 1024 grace plans for")
    c = None if coactivation is None else _float_array(_FN, "coactivation", _statistics(coactivation, exact=True),
                                                       "[layers, num_logical, num_logical]")
    policy = "eplb" if c is None else "grace"
    topology = f"{nodes}x{num_gpus // nodes}"
    p = _core.plan_loads(w, c, "", topology, policy, num_replicas - num_logical, 0, num_replicas // num_gpus)
    phy2log = p.physical_to_logical_map()  # int64 [layers, num_replicas]
    logcnt = _np.zeros((num_layers, num_logical), dtype=_np.int64)
    for layer in range(num_layers):
        logcnt[layer] = _np.bincount(phy2log[layer], minlength=num_logical)
    maxcnt = int(logcnt.max())
    log2phy = _np.full((num_layers, num_logical, maxcnt), -1, dtype=_np.int64)
    for layer in range(num_layers):
        order = _np.argsort(phy2log[layer], kind="stable")  # physical ids grouped by logical id
        starts = _np.concatenate(([0], _np.cumsum(logcnt[layer])[:-1]))
        rank = _np.arange(num_replicas) - _np.repeat(starts, logcnt[layer])
        log2phy[layer, phy2log[layer][order], rank] = order
    try:
        import torch
    except ImportError:
        return phy2log, log2phy, logcnt
    return torch.from_numpy(phy2log), torch.from_numpy(log2phy), torch.from_numpy(logcnt)

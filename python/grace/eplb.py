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


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus, coactivation=None):
    w = _float_array(_FN, "weight", weight, "[layers, num_logical_experts]")
    if w.ndim != 2:
        raise ValueError(f"rebalance_experts: weight must be [layers, num_logical_experts], got shape {w.shape}")
    num_layers, num_logical = w.shape
    if num_layers == 0 or num_logical == 0:
        raise ValueError(f"rebalance_experts: weight is empty (shape {w.shape})")
    num_replicas = _int_arg(_FN, "num_replicas", num_replicas, 1, _INT_MAX)
    num_groups = _int_arg(_FN, "num_groups", num_groups, 1, _INT_MAX)
    num_nodes = _int_arg(_FN, "num_nodes", num_nodes, 1, _INT_MAX)
    num_gpus = _int_arg(_FN, "num_gpus", num_gpus, 1, _INT_MAX)
    if num_gpus % num_nodes != 0:
        raise ValueError(f"rebalance_experts: num_gpus {num_gpus} is not a multiple of num_nodes {num_nodes}")
    if num_replicas % num_gpus != 0 or num_replicas < num_logical:
        raise ValueError(f"rebalance_experts: num_replicas {num_replicas} must be a multiple of num_gpus {num_gpus} "
                         f"and >= num_logical_experts {num_logical}")
    if num_replicas // num_gpus > 65536:
        raise ValueError(f"rebalance_experts: num_replicas {num_replicas} over num_gpus {num_gpus} is "
                         f"{num_replicas // num_gpus} expert slots per GPU, over the 65536 a placement can hold")
    c = None if coactivation is None else _float_array(_FN, "coactivation", coactivation,
                                                       "[layers, num_logical, num_logical]")
    policy = "eplb" if c is None else "grace"
    topology = f"{num_nodes}x{num_gpus // num_nodes}"
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

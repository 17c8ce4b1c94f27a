"""grace: expert placement and routing for distributed MoE inference, from Python.

    import grace
    p = grace.plan(topk_ids, model="deepseek-v2-lite", topology="2x4", policy="grace")
    p.to_sglang("placement.json")            # --init-expert-location file; returns the flags
    phy = grace.Router(p, name="tar").route(topk_ids[:, 0, :], src_gpu=0, layer=0)

Modules: grace.eplb (drop-in rebalance_experts), grace.sglang (import SGLang recorder dumps).
Bad input raises ValueError with grace's one-line message.
"""
import numbers
import warnings

import numpy as _np

from . import _core
from ._core import Placement, model_preset_names, planner_names, router_names

__all__ = ["plan", "Placement", "Router", "planner_names", "router_names", "model_preset_names"]

_AFFINITY_POLICIES = ("grace", "grace-paper", "uniform-affinity")


def _as_numpy(x):
    """numpy view of a numpy array or a CPU torch tensor (no copy when possible)."""
    if hasattr(x, "detach") and hasattr(x, "numpy"):  # torch.Tensor
        if getattr(x, "device", None) is not None and str(x.device) != "cpu":
            raise ValueError(f"expected a CPU tensor, got one on {x.device}")
        return x.detach().numpy()
    return _np.asarray(x)


def plan(topk_ids=None, loads=None, *, model=None, topology="2x4", policy="grace", redundant=-1, seed=0,
         coactivation=None, slots_per_gpu=0):
    """Plans a placement.

    topk_ids: int [tokens, moe_layers, k] routing (logical expert ids), or
    loads: [moe_layers, experts] per-expert token counts (stat dumps, EPLB weights), optionally with
        coactivation: [moe_layers, experts, experts] pair counts.
    model: preset name or model JSON path (default: a generic model of the input's shape).
    topology: "NxG", "NxG@h200", a preset or a topology JSON. redundant: extra slots over the
    cluster (-1: one per GPU). Returns a grace.Placement.
    """
    if (topk_ids is None) == (loads is None):
        raise ValueError("plan: give exactly one of topk_ids and loads")
    model = model or ""
    if topk_ids is not None:
        ids = _as_numpy(topk_ids).astype(_np.int64, copy=False)
        return _core.plan_topk(ids, model, topology, policy, int(redundant), int(seed), int(slots_per_gpu))
    w = _as_numpy(loads).astype(_np.float64, copy=False)
    c = None if coactivation is None else _as_numpy(coactivation).astype(_np.float64, copy=False)
    if c is None and policy in _AFFINITY_POLICIES:
        warnings.warn(f"plan: policy '{policy}' got loads without co-activation: it plans for load only "
                      "(no affinity grouping)", stacklevel=2)
    return _core.plan_loads(w, c, model, topology, policy, int(redundant), int(seed), int(slots_per_gpu))


class Router:
    """Routes top-k ids through a placement: grace.Router(placement, name="tar").route(ids, src_gpu).

    name: any of grace.router_names() (tar, wrr, primary, local-first, round-robin, load-aware,
    sglang-static, sglang-dynamic). route() takes int32/int64 numpy arrays or CPU torch tensors,
    [tokens, k] with layer=, or [tokens, layers, k]; src_gpu is an int or int [tokens]. It returns
    int32 physical expert ids (the columns of Placement.physical_to_logical_map()); route_gpus()
    returns the serving GPU instead. All the work is in C++ (no per-token Python).
    """

    def __init__(self, placement, name="tar", topology="", seed=0):
        self._r = _core.Router(placement, name, topology, int(seed))
        self.name = self._r.name

    def _run(self, topk_ids, src_gpu, layer, physical):
        ids = _as_numpy(topk_ids)
        if ids.dtype == _np.int32:
            fn = self._r.route_i32
        else:
            if ids.dtype != _np.int64:
                ids = ids.astype(_np.int64)
            fn = self._r.route_i64
        ids = _np.ascontiguousarray(ids)
        if isinstance(src_gpu, numbers.Integral):
            src_gpu = int(src_gpu)
        else:
            src_gpu = _np.ascontiguousarray(_as_numpy(src_gpu), dtype=_np.int64)
        return fn(ids, src_gpu, int(layer), physical)

    def route(self, topk_ids, src_gpu, layer=0):
        return self._run(topk_ids, src_gpu, layer, True)

    def route_gpus(self, topk_ids, src_gpu, layer=0):
        return self._run(topk_ids, src_gpu, layer, False)

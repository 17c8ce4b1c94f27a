"""grace: expert placement and routing for distributed MoE inference, from Python.

    import grace
    p = grace.plan(topk_ids, model="deepseek-v2-lite", topology="2x4", policy="grace")
    p.to_sglang("placement.json")            # --init-expert-location file; returns the flags
    phy = grace.Router(p, name="tar").route(topk_ids[:, 0, :], src_gpu=0, layer=0)

Modules: grace.eplb (drop-in rebalance_experts), grace.sglang (import SGLang recorder dumps).
Bad input raises ValueError with grace's one-line message (TypeError for an argument of the
wrong type: expert ids and GPU indices must be integers, never floats or bools).
"""
import math
import numbers
import operator
import os
import re
import warnings

import numpy as _np

from . import _core
from ._core import Placement, model_preset_names, planner_names, router_names

__all__ = ["plan", "Placement", "Router", "planner_names", "router_names", "model_preset_names"]

_AFFINITY_POLICIES = ("grace", "grace-paper", "uniform-affinity")
_INT_MAX = 2**31 - 1  # C++ int
_I64_MAX = 2**63 - 1
_SEED_END = 2**64  # seeds are uint64


def _as_numpy(x):
    """numpy view of a numpy array or a CPU torch tensor (no copy when possible)."""
    if hasattr(x, "detach") and hasattr(x, "numpy"):  # torch.Tensor
        if getattr(x, "device", None) is not None and str(x.device) != "cpu":
            raise ValueError(f"expected a CPU tensor, got one on {x.device}")
        return x.detach().numpy()
    return _np.asarray(x)


def _short(v):
    r = " ".join(repr(v).split())
    return r if len(r) <= 40 else r[:37] + "..."


def _int_arg(fn, name, v, lo=None, hi=None, want=None):
    """v as a Python int (ints and numpy / torch integer scalars; no bools, floats or strings), in [lo, hi]."""
    if isinstance(v, (bool, _np.bool_)):
        raise TypeError(f"{fn}: {name} must be an int, got bool {v}")
    try:
        i = operator.index(v)
    except TypeError:
        raise TypeError(f"{fn}: {name} must be an int, got {type(v).__name__} {_short(v)}") from None
    if (lo is not None and i < lo) or (hi is not None and i > hi):
        if want is None:
            want = f"must be >= {lo}" if hi is None else f"must be in [{lo}, {hi}]" if lo is not None else \
                f"must be <= {hi}"
        raise ValueError(f"{fn}: {name} {i} {want}")
    return i


def _seed_arg(fn, v):
    return _int_arg(fn, "seed", v, 0, _SEED_END - 1, "must be in [0, 2**64)")


def _str_arg(fn, name, v, path=False, none=None):
    """v as a str; path: also os.PathLike (a file name); none: what None stands for (None: refused)."""
    if v is None and none is not None:
        return none
    if path and isinstance(v, os.PathLike):
        v = os.fspath(v)
    if not isinstance(v, str):
        kind = "a str or path" if path else "a str"
        raise TypeError(f"{fn}: {name} must be {kind}, got {type(v).__name__} {_short(v)}")
    if "\x00" in v:  # C++ would stop at it and open another file (Python's open() refuses it too)
        raise ValueError(f"{fn}: {name} contains a NUL byte: {_short(v)}")
    return v


def _array(fn, name, x, shape_hint):
    if isinstance(x, _np.ma.MaskedArray) and _np.ma.getmaskarray(x).any():  # np.asarray drops the mask
        raise ValueError(f"{fn}: {name} is a masked array with masked entries; fill or drop them first")
    if str(getattr(x, "dtype", "")) == "torch.bfloat16":  # numpy has no bf16: say so, not "not rectangular"
        raise TypeError(f"{fn}: {name} has dtype torch.bfloat16, which NumPy cannot hold; convert it first "
                        "(.float() for loads, .long() for ids)")
    try:
        return _as_numpy(x)
    except (ValueError, TypeError) as e:
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise ValueError(f"{fn}: {name} is not a rectangular {shape_hint} array ({first})") from None


def _int_array(fn, name, x, shape_hint="[tokens, layers, k]", what="id", keep_int32=False):
    """x (numpy, CPU torch or nested lists) as an int64 array (int32 kept when keep_int32), refusing
    floats, bools, strings and values outside int64: truncating them would route the wrong experts."""
    a = _array(fn, name, x, f"integer {shape_hint}")
    kind = a.dtype.kind
    if kind == "O":  # Python ints beyond int64, or mixed objects
        flat = a.ravel()
        for i, v in enumerate(flat):
            if isinstance(v, (bool, _np.bool_)) or not isinstance(v, numbers.Integral):
                raise TypeError(f"{fn}: {name} must hold integer {what}s, got {type(v).__name__} {_short(v)} "
                                f"at flat index {i}")
            if not -_I64_MAX - 1 <= int(v) <= _I64_MAX:
                raise ValueError(f"{fn}: {name} has {what} {int(v)} at flat index {i}, out of range")
        return a.astype(_np.int64)
    if kind not in "iu":
        if a.size == 0 and kind == "f":  # [] and np.zeros((0, ...)): nothing to truncate
            return a.astype(_np.int64)
        got = "str" if kind in "US" else f"dtype {a.dtype}"
        raise TypeError(f"{fn}: {name} must hold integer {what}s {shape_hint}, got {got}")
    if kind == "u" and a.dtype.itemsize == 8 and a.size and int(a.max()) > _I64_MAX:
        i = int(_np.argmax(a > _I64_MAX))
        raise ValueError(f"{fn}: {name} has {what} {int(a.ravel()[i])} at flat index {i}, out of range")
    if a.ndim == 0:  # np.ascontiguousarray would make it 1-d
        return a.astype(_np.int64)
    if keep_int32 and a.dtype == _np.int32:
        return _np.ascontiguousarray(a)
    return _np.ascontiguousarray(a, dtype=_np.int64)


def _float_array(fn, name, x, shape_hint):
    a = _array(fn, name, x, f"numeric {shape_hint}")
    if a.dtype.kind not in "iuf" and not (a.dtype.kind == "O" and all(
            isinstance(v, numbers.Real) and not isinstance(v, (bool, _np.bool_)) for v in a.ravel())):
        got = "str" if a.dtype.kind in "US" else f"dtype {a.dtype}"
        raise TypeError(f"{fn}: {name} must be a numeric array {shape_hint}, got {got}")
    return _np.ascontiguousarray(a, dtype=_np.float64)


def _python_names(e):
    """A planner message that names the CLI flag (--redundant N) names plan()'s argument instead."""
    msg = re.sub(r"--redundant(?:-slots)? (-?\d+)", r"redundant=\1", str(e))
    msg = msg.replace("--redundant-slots", "redundant")
    return ValueError(msg) if msg != str(e) else e


def plan(topk_ids=None, loads=None, *, model=None, topology="2x4", policy="grace", redundant=-1, seed=1,
         coactivation=None, slots_per_gpu=0, seq_offsets=None, batching="trace", batch_tokens=4096,
         target="cover", threads=0):
    """Plans a placement.

    topk_ids: int [tokens, moe_layers, k] routing (logical expert ids; integer dtypes only), or
    loads: [moe_layers, experts] per-expert token counts (stat dumps, EPLB weights), optionally with
        coactivation: [moe_layers, experts, experts] pair counts.
    model: preset name or model JSON path (default: a generic model of the input's shape).
    topology: "NxG", "NxG@h200", a preset or a topology JSON. redundant: extra slots over the
    cluster (-1: one per GPU). seed: int in [0, 2**64), default 1 as `grace plan --seed`.
    slots_per_gpu: expert slots per GPU
    (0: the topology's). Returns a grace.Placement.
    With topk_ids, as `grace plan --batching B --batch-tokens N` on a trace folder:
    seq_offsets: int [sequences + 1] (0 first, tokens last, strictly increasing; a trace's
    seq_offsets.npy): where each request's tokens start. grace judges its candidate plans on its
    token sample cut into the batches it will serve, each sequence pinned to a GPU; without
    seq_offsets (None) the sampled tokens are spread evenly over the GPUs instead.
    batching: "trace" (consecutive tokens form a batch) or "balanced" (every GPU gives its share
    of each batch); batch_tokens: tokens per batch (> 0).
    target: the router the placement will be served with (`grace plan --target`), one of
    grace.router_names(); grace judges its candidate plans through it ("sglang-static" for an
    unpatched SGLang). Goes with topk_ids.
    threads: threads for profiling and planning, 0 (default) one per core up to 16, as
    `grace plan --threads`; the placement is the same for any count.
    """
    if (topk_ids is None) == (loads is None):
        raise ValueError("plan: give exactly one of topk_ids and loads")
    model = _str_arg("plan", "model", model, path=True, none="")
    topology = _str_arg("plan", "topology", topology, path=True)
    policy = _str_arg("plan", "policy", policy)
    redundant = _int_arg("plan", "redundant", redundant, -1, _INT_MAX,
                         f"must be >= 0 (or -1 for one per GPU) and <= {_INT_MAX}")
    seed = _seed_arg("plan", seed)
    slots_per_gpu = _int_arg("plan", "slots_per_gpu", slots_per_gpu, 0, 65536,
                             "must be in [0, 65536] (0: the topology's slots per GPU)")
    batching = _str_arg("plan", "batching", batching)
    batch_tokens = _int_arg("plan", "batch_tokens", batch_tokens, 1, _I64_MAX, "must be > 0")
    target = _str_arg("plan", "target", target)
    threads = _threads_arg("plan", threads)
    if topk_ids is None and (seq_offsets is not None or batching != "trace" or batch_tokens != 4096):
        raise ValueError("plan: seq_offsets, batching and batch_tokens go with topk_ids (loads carry no sequences)")
    if topk_ids is None and target != "cover":
        raise ValueError("plan: target goes with topk_ids (loads carry no token sample to judge plans on)")
    try:
        if topk_ids is not None:
            ids = _int_array("plan", "topk_ids", topk_ids)
            offs = None if seq_offsets is None else _int_array("plan", "seq_offsets", seq_offsets, "[sequences + 1]",
                                                              "offset")
            return _core.plan_topk(ids, model, topology, policy, redundant, seed, slots_per_gpu, offs, batching,
                                   batch_tokens, target, threads)
        w = _float_array("plan", "loads", loads, "[layers, experts]")
        c = None if coactivation is None else _float_array("plan", "coactivation", coactivation,
                                                           "[layers, experts, experts]")
        if c is None and policy in _AFFINITY_POLICIES:
            warnings.warn(f"plan: policy '{policy}' got loads without co-activation: it plans for load only "
                          "(no affinity grouping)", stacklevel=2)
        return _core.plan_loads(w, c, model, topology, policy, redundant, seed, slots_per_gpu, threads)
    except ValueError as e:
        err = _python_names(e)
        if err is e:
            raise
        raise err from None


class Router:
    """Routes top-k ids through a placement: grace.Router(placement, name="tar").route(ids, src_gpu).

    name: any of grace.router_names() (tar, wrr, primary, local-first, round-robin, load-aware,
    sglang-static, sglang-dynamic). route() takes integer numpy arrays or CPU torch tensors (int32
    and int64 without a copy), [tokens, k] with layer=, or [tokens, layers, k]: each token's k
    distinct expert ids, k at most the model's top-k; src_gpu is an int or int [tokens]. It returns
    int32 physical expert ids (the columns of Placement.physical_to_logical_map()); route_gpus()
    returns the serving GPU instead. All the work is in C++ (no per-token Python).
    """

    def __init__(self, placement, name="tar", topology="", seed=0):
        if not isinstance(placement, Placement):
            raise TypeError(f"Router: placement must be a grace.Placement (from grace.plan or Placement.load), "
                            f"got {type(placement).__name__}")
        name = _str_arg("Router", "name", name)
        topology = _str_arg("Router", "topology", topology, path=True, none="")
        self._r = _core.Router(placement, name, topology, _seed_arg("Router", seed))
        self.name = self._r.name
        self._layers, self._experts, self._gpus = placement.num_layers, placement.num_experts, placement.num_gpus
        self._top_k, self._model = None, placement.model
        if placement.model and placement.model != "generic":
            try:
                self._top_k = int(_core.model_info(placement.model)["top_k"])
            except ValueError:  # a model JSON that moved: no width check
                pass

    def _run(self, topk_ids, src_gpu, layer, physical):
        ids = _int_array("route", "topk_ids", topk_ids, "[tokens, k] or [tokens, layers, k]", "expert id",
                         keep_int32=True)
        fn = self._r.route_i32 if ids.dtype == _np.int32 else self._r.route_i64
        if isinstance(src_gpu, (numbers.Number, _np.bool_, str, bytes)):
            src_gpu = _int_arg("route", "src_gpu", src_gpu, 0, self._gpus - 1, f"outside [0, {self._gpus})")
        else:
            src_gpu = _int_array("route", "src_gpu", src_gpu, "[tokens]", "GPU id")
            if src_gpu.ndim == 0:  # a 0-d array or tensor: one GPU for every token
                src_gpu = _int_arg("route", "src_gpu", int(src_gpu), 0, self._gpus - 1, f"outside [0, {self._gpus})")
        layer = _int_arg("route", "layer", layer)
        if ids.ndim == 2 and not 0 <= layer < self._layers:
            raise ValueError(f"route: layer {layer} outside [0, {self._layers})")
        if ids.ndim == 3:
            layer = 0  # unused: every layer is routed
        if ids.ndim in (2, 3) and ids.size:
            k = ids.shape[-1]
            if self._top_k is not None and k > self._top_k:
                raise ValueError(f"route: topk_ids rows hold {k} experts, model '{self._model}' routes "
                                 f"top-{self._top_k}")
        # Ids out of range and a token choosing one expert twice are refused in C++ (py_router.cpp),
        # in the pass that narrows the ids.
        return fn(ids, src_gpu, layer, physical)

    def route(self, topk_ids, src_gpu, layer=0):
        return self._run(topk_ids, src_gpu, layer, True)

    def route_gpus(self, topk_ids, src_gpu, layer=0):
        return self._run(topk_ids, src_gpu, layer, False)


# Placement is the C++ class; these thin wrappers check the Python arguments first, so a wrong
# type gives one grace line instead of pybind11's cast errors (which print the whole array).
_CORE = Placement.__dict__.get("_grace_core_methods")
if _CORE is None:
    _CORE = {n: Placement.__dict__[n] for n in ("instances", "physical_to_logical_map", "to_sglang",
                                                  "to_sglang_dispatch", "to_vllm", "save", "validate", "replan")}
    _CORE["load"] = Placement.load
    Placement._grace_core_methods = _CORE


def _model_arg(fn, model):
    return _str_arg(fn, "model", model, path=True, none="")


def _instances(self, layer, expert):
    layer = _int_arg("instances", "layer", layer)
    expert = _int_arg("instances", "expert", expert)
    if not (0 <= layer < self.num_layers and 0 <= expert < self.num_experts):
        raise ValueError(f"instances: layer {layer} / expert {expert} out of range")
    return _CORE["instances"](self, layer, expert)


def _physical_to_logical_map(self, sglang=False, model=""):
    if not isinstance(sglang, (bool, _np.bool_)):
        raise TypeError(f"physical_to_logical_map: sglang must be a bool, got {type(sglang).__name__}")
    model = _model_arg("physical_to_logical_map", model)
    if model:  # as to_sglang does: the model must be the placement's shape
        info = _core.model_info(model)
        if (info["moe_layers"], info["experts"]) != (self.num_layers, self.num_experts):
            raise ValueError(f"export: placement has {self.num_layers} MoE layers x {self.num_experts} experts "
                             f"but model '{info['name']}' has {info['moe_layers']} x {info['experts']}")
    return _CORE["physical_to_logical_map"](self, bool(sglang), model)


def _to_sglang(self, path, model=""):
    return _CORE["to_sglang"](self, _str_arg("to_sglang", "path", path, path=True), _model_arg("to_sglang", model))


def _to_sglang_dispatch(self, path, model=""):
    return _CORE["to_sglang_dispatch"](self, _str_arg("to_sglang_dispatch", "path", path, path=True),
                                       _model_arg("to_sglang_dispatch", model))


def _to_vllm(self, path):
    return _CORE["to_vllm"](self, _str_arg("to_vllm", "path", path, path=True))


def _save(self, path):
    return _CORE["save"](self, _str_arg("save", "path", path, path=True))


def _load(path):
    return _CORE["load"](_str_arg("load", "path", path, path=True))


def _validate(self, model="", topology=""):
    return _CORE["validate"](self, _model_arg("validate", model),
                             _str_arg("validate", "topology", topology, path=True, none=""))


def _real_or_none(fn, name, v):
    if v is None:
        return None
    if isinstance(v, (bool, _np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a number or None, got {type(v).__name__} {_short(v)}")
    if isinstance(v, numbers.Integral):
        return int(v)
    return float(v)


def _threads_arg(fn, v):
    """threads= of plan and replan, as the CLI's --threads (apps/grace/threads_option.h)."""
    return _int_arg(fn, "threads", v, 0, 256, "must be in [0, 256] (0: one per core, up to 16)")


def _replan(self, topk_ids, max_moves=None, max_move_bytes=None, seed=1, full_plan=True, horizon_tokens=None,
            seq_offsets=None, threads=0):
    if max_moves is not None:
        max_moves = _int_arg("replan", "max_moves", max_moves, 0, _I64_MAX,
                             f"must be >= 0 and <= {_I64_MAX} (None for no limit)")
    max_move_bytes = _real_or_none("replan", "max_move_bytes", max_move_bytes)
    if max_move_bytes is not None and not (math.isfinite(max_move_bytes) and max_move_bytes >= 0):
        raise ValueError(f"replan: max_move_bytes {max_move_bytes} must be >= 0 (None for no limit)")
    horizon_tokens = _real_or_none("replan", "horizon_tokens", horizon_tokens)
    if horizon_tokens is not None and not (math.isfinite(horizon_tokens) and horizon_tokens > 0):
        raise ValueError(f"replan: horizon_tokens {horizon_tokens} must be > 0 (None: no rule)")
    seed = _seed_arg("replan", seed)
    if not isinstance(full_plan, (bool, _np.bool_)):
        raise TypeError(f"replan: full_plan must be a bool, got {type(full_plan).__name__}")
    threads = _threads_arg("replan", threads)
    if self.model == "generic":
        raise ValueError("replan: this placement was planned without a model (model 'generic'); replan needs "
                         "the model's expert sizes: plan it with grace.plan(..., model=...)")
    ids = _int_array("replan", "topk_ids", topk_ids)
    offs = None if seq_offsets is None else _int_array("replan", "seq_offsets", seq_offsets, "[sequences + 1]",
                                                       "offset")
    return _CORE["replan"](self, ids, max_moves, max_move_bytes, seed, bool(full_plan), horizon_tokens, offs, threads)


for _f, _name in ((_instances, "instances"), (_physical_to_logical_map, "physical_to_logical_map"),
                  (_to_sglang, "to_sglang"), (_to_sglang_dispatch, "to_sglang_dispatch"), (_to_vllm, "to_vllm"),
                  (_save, "save"), (_validate, "validate"), (_replan, "replan"), (_load, "load")):
    _f.__name__ = _f.__qualname__ = _name
    _f.__doc__ = getattr(_CORE[_name], "__doc__", None)
    setattr(Placement, _name, staticmethod(_f) if _name == "load" else _f)
del _f, _name

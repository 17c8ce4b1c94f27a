"""SGLang expert-distribution recorder dumps -> grace traces and load profiles.

    python -m grace.sglang import DUMP.pt... -o DIR [--model M]
    python -m grace.sglang plan DIR --model M --topology 2x4 [--policy eplb] -o placement.json

SGLang (python/sglang/srt/eplb/expert_distribution.py) writes, with torch.save:
  stat mode:      {"rank", "logical_count": int [buffer, num_hidden_layers, E],
                   "average_utilization_rate_over_window"}
  per_token mode: {"records": [{"topk_ids_of_layer": int32 [num_hidden_layers, tokens, 8],
                   ... }], "last_physical_to_logical_map": int [num_hidden_layers, P]}
                   (physical expert ids, -1 where nothing was recorded: dense layers, top-k < 8)
  per_pass mode:  the same "records", each with "global_physical_count" [num_hidden_layers, P]
                   and no per-token ids.
import writes:
  per_token -> DIR/topk_ids.npy [tokens, moe_layers, k] (logical ids: physical ids mapped back
              with last_physical_to_logical_map, dense-layer rows and -1 padding dropped) and
              DIR/seq_offsets.npy (sequences from extend_seq_lens, else one per forward pass):
              a grace trace for `grace plan --trace DIR`.
  stat / per_pass -> DIR/loads.npy int64 [moe_layers, E] and DIR/profile.json: a load profile
              (no co-activation), for load-only planning: `python -m grace.sglang plan DIR`,
              grace.plan(loads=...) or grace.eplb.rebalance_experts.
Bad input: one line `grace: error: <file>: <problem>` on stderr, exit code 2, nothing written.
"""
import argparse
import json
import os
import sys
import zipfile

import numpy as np

__all__ = ["load_dump", "import_dumps", "main"]


class DumpError(ValueError):
    pass


def _fail(where, problem):
    raise DumpError(f"{where}: {problem}")


def _tensor(obj, where, key, ndims):
    import torch

    if not isinstance(obj, torch.Tensor):
        _fail(where, f"'{key}' is {type(obj).__name__}, expected a tensor")
    if obj.is_floating_point() or obj.is_complex() or obj.dtype == torch.bool:
        _fail(where, f"'{key}' has dtype {obj.dtype}, expected an integer dtype")
    if obj.dim() not in ndims:
        _fail(where, f"'{key}' has shape {list(obj.shape)}, expected {' or '.join(str(n) for n in ndims)} dimensions")
    return obj.cpu().numpy().astype(np.int64)


def load_dump(path):
    """torch.load of one recorder dump, with the file checked first. Returns the dict."""
    if os.path.isdir(path):
        _fail(path, "is a folder, expected one recorder dump file (.pt)")
    if not os.path.isfile(path):
        _fail(path, "no such file")
    if not zipfile.is_zipfile(path):
        _fail(path, "not a torch.save zip archive (SGLang's recorder writes torch.save files)")
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling problem is a bad dump
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        # PyTorch appends a request for bug reports to some messages: not the user's problem.
        first = first.split("(Could this error message be improved?")[0].rstrip()
        _fail(path, f"torch.load failed: {first}")
    if not isinstance(obj, dict):
        _fail(path, f"holds a {type(obj).__name__}, expected the recorder's dict")
    return obj


def _dense_rows(n_rows, model, nonempty_rows, where):
    """Number of leading dense decoder layers: the model's, else the leading rows with no data."""
    if model is not None:
        want = model["dense_layers"] + model["moe_layers"]
        if n_rows != want:
            _fail(where, f"{n_rows} layers, model '{model['name']}' has {want} decoder layers")
        return model["dense_layers"]
    dense = 0
    while dense < n_rows and not nonempty_rows[dense]:
        dense += 1
    if dense == n_rows:
        _fail(where, "no layer holds any routing data")
    return dense


def _from_stat(obj, where, model):
    lc = _tensor(obj["logical_count"], where, "logical_count", (2, 3))
    if lc.ndim == 3:
        lc = lc.sum(axis=0)
    if (lc < 0).any():
        _fail(where, "'logical_count' has negative counts")
    dense = _dense_rows(lc.shape[0], model, lc.sum(axis=1) > 0, where)
    return lc[dense:], dense


def _check_map(obj, where, model):
    m = _tensor(obj["last_physical_to_logical_map"], where, "last_physical_to_logical_map", (2,))
    if m.size == 0 or m.min() < 0:
        _fail(where, "'last_physical_to_logical_map' is empty or has negative ids")
    num_logical = model["experts"] if model is not None else int(m.max()) + 1
    if m.max() >= num_logical:
        _fail(where, f"'last_physical_to_logical_map' has logical id {int(m.max())} >= {num_logical} experts")
    return m, num_logical


def _from_records(obj, where, model):
    """Returns ('trace', ids, seq_lengths, dense) or ('loads', loads, None, dense)."""
    recs = obj["records"]
    if not isinstance(recs, list) or not recs or not all(isinstance(r, dict) for r in recs):
        _fail(where, "'records' must be a non-empty list of dicts")
    m, num_logical = _check_map(obj, where, model)
    n_rows, n_phys = m.shape
    per_token = any("topk_ids_of_layer" in r for r in recs)
    if not per_token:
        loads = np.zeros((n_rows, num_logical), dtype=np.int64)
        for i, r in enumerate(recs):
            if "global_physical_count" not in r:
                _fail(where, f"records[{i}] has neither 'topk_ids_of_layer' nor 'global_physical_count'")
            c = _tensor(r["global_physical_count"], where, f"records[{i}].global_physical_count", (2,))
            if c.shape != (n_rows, n_phys):
                _fail(where, f"records[{i}].global_physical_count has shape {list(c.shape)}, the map is "
                      f"{[n_rows, n_phys]}")
            if (c < 0).any():
                _fail(where, f"records[{i}].global_physical_count has negative counts")
            for layer in range(n_rows):
                np.add.at(loads[layer], m[layer], c[layer])
        dense = _dense_rows(n_rows, model, loads.sum(axis=1) > 0, where)
        return "loads", loads[dense:], None, dense
    blocks, seqs = [], []
    for i, r in enumerate(recs):
        if "topk_ids_of_layer" not in r:
            _fail(where, f"records[{i}] has no 'topk_ids_of_layer' (mixed recorder modes)")
        t = _tensor(r["topk_ids_of_layer"], where, f"records[{i}].topk_ids_of_layer", (3,))
        if t.shape[0] != n_rows:
            _fail(where, f"records[{i}].topk_ids_of_layer has {t.shape[0]} layers, the map {n_rows}")
        if t.size and (t.min() < -1 or t.max() >= n_phys):
            bad = int(t.min()) if t.min() < -1 else int(t.max())
            _fail(where, f"records[{i}].topk_ids_of_layer has physical id {bad} outside [-1, {n_phys})")
        blocks.append(t)
        lens = r.get("extend_seq_lens")
        n = t.shape[1]
        if isinstance(lens, (list, tuple)) and lens and all(isinstance(x, int) and x > 0 for x in lens) \
                and sum(lens) == n:
            seqs.append(list(lens))
        else:
            seqs.append([n] if n else [])
    nonempty = np.zeros(n_rows, dtype=bool)
    for t in blocks:
        nonempty |= (t >= 0).any(axis=(1, 2)) if t.size else False
    dense = _dense_rows(n_rows, model, nonempty, where)
    out_ids, out_lens, k = [], [], None
    for i, t in enumerate(blocks):
        t = t[dense:]  # [moe_layers, tokens, K']
        valid = t >= 0
        cnt = valid.sum(axis=2)  # [moe_layers, tokens]
        keep = cnt.max(axis=0) > 0 if t.shape[1] else np.zeros(0, dtype=bool)  # tokens with any data
        if keep.any():
            kk = int(cnt[:, keep].max())
            if (cnt[:, keep] != kk).any() or (k is not None and kk != k):
                _fail(where, f"records[{i}]: tokens have different numbers of experts per layer "
                      f"({sorted(set(cnt[:, keep].ravel().tolist()))}); expected the same top-k everywhere")
            k = kk
            order = np.argsort(~valid, axis=2, kind="stable")[:, :, :kk]  # valid entries first, in order
            phys = np.take_along_axis(t, order, axis=2)[:, keep, :]  # [moe_layers, kept, k]
            logical = np.empty_like(phys)
            for layer in range(phys.shape[0]):
                logical[layer] = m[dense + layer][phys[layer]]
            ids = logical.transpose(1, 0, 2)  # [kept, moe_layers, k]
            srt = np.sort(ids, axis=2)
            if (srt[:, :, 1:] == srt[:, :, :-1]).any():
                _fail(where, f"records[{i}]: a token maps to the same logical expert twice in one layer")
            out_ids.append(ids)
        # Sequence lengths after dropping tokens with no data.
        start = 0
        for n in seqs[i]:
            kept = int(keep[start:start + n].sum())
            if kept:
                out_lens.append(kept)
            start += n
    if not out_ids:
        _fail(where, "the records hold no routed tokens")
    return "trace", np.concatenate(out_ids), out_lens, dense


def import_dumps(paths, model=None):
    """Reads dumps (all of one kind). Returns dict(kind='trace'|'loads', ...)."""
    kinds, result = set(), {"files": list(paths)}
    ids_all, lens_all, loads_sum, dense_seen, experts = [], [], None, set(), set()
    for path in paths:
        obj = load_dump(path)
        if "logical_count" in obj:
            kind, (data, dense) = "loads", _from_stat(obj, path, model)
            lens = None
        elif "records" in obj and "last_physical_to_logical_map" in obj:
            kind, data, lens, dense = _from_records(obj, path, model)
        else:
            _fail(path, f"keys {sorted(map(str, obj.keys()))}: expected 'logical_count' (stat mode) or 'records' "
                  "and 'last_physical_to_logical_map' (per_pass / per_token mode)")
        kinds.add(kind)
        if len(kinds) > 1:
            _fail(path, "mixes per-token dumps with stat / per-pass dumps; import them separately")
        dense_seen.add(dense)
        if kind == "trace":
            if ids_all and ids_all[0].shape[1:] != data.shape[1:]:
                _fail(path, f"{data.shape[1]} MoE layers x top-{data.shape[2]}, the first dump has "
                      f"{ids_all[0].shape[1]} x top-{ids_all[0].shape[2]}")
            ids_all.append(data)
            lens_all += lens
            experts.add(int(data.max()) + 1)
        else:
            if loads_sum is not None and loads_sum.shape != data.shape:
                _fail(path, f"loads {list(data.shape)}, the first dump has {list(loads_sum.shape)}")
            loads_sum = data if loads_sum is None else loads_sum + data
    result["kind"] = kinds.pop()
    result["dense_layers"] = max(dense_seen)
    if result["kind"] == "trace":
        result["topk_ids"] = np.concatenate(ids_all)
        result["seq_lens"] = lens_all
    else:
        result["loads"] = loads_sum
    return result


def _write_npy(path, arr):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        np.save(f, arr)
    os.replace(tmp, path)


def write_import(result, out_dir, model=None):
    os.makedirs(out_dir, exist_ok=True)
    if result["kind"] == "trace":
        ids = result["topk_ids"]
        dtype = np.uint8 if ids.max() < 256 else np.uint16
        _write_npy(os.path.join(out_dir, "topk_ids.npy"), np.ascontiguousarray(ids.astype(dtype)))
        offsets = np.concatenate(([0], np.cumsum(result["seq_lens"]))).astype(np.int64)
        _write_npy(os.path.join(out_dir, "seq_offsets.npy"), offsets)
        return f"trace: {ids.shape[0]} tokens x {ids.shape[1]} MoE layers x top-{ids.shape[2]}, " \
               f"{len(result['seq_lens'])} sequences ({result['dense_layers']} dense layers dropped) -> " \
               f"{out_dir}/topk_ids.npy; plan with: grace plan --trace {out_dir}"
    loads = result["loads"]
    _write_npy(os.path.join(out_dir, "loads.npy"), loads.astype(np.int64))
    meta = {"format": "grace-load-profile", "version": 1, "moe_layers": int(loads.shape[0]),
            "experts": int(loads.shape[1]), "dense_layers_dropped": result["dense_layers"],
            "model": model["name"] if model else None, "files": result["files"],
            "note": "per-expert token counts only (no co-activation): plan with load-only planners"}
    tmp = os.path.join(out_dir, "profile.json.tmp")
    with open(tmp, "w") as f:
        json.dump(meta, f, indent=1)
    os.replace(tmp, os.path.join(out_dir, "profile.json"))
    return f"load profile: {loads.shape[0]} MoE layers x {loads.shape[1]} experts, {int(loads.sum())} expert " \
           f"choices ({result['dense_layers']} dense layers dropped) -> {out_dir}/loads.npy; plan with: " \
           f"python3 -m grace.sglang plan {out_dir} --model M --topology 2x4 -o placement.json"


def _model_dict(name):
    if not name:
        return None
    from . import _core  # noqa: F401 - model facts come from grace's presets / JSON

    m = _core.model_info(name)
    return m


def _same_file(a, b):
    """True when a and b name one file (the same device and inode: also through a link)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def _refuse_overwrite(outputs, inputs):
    """Fails, before anything is written, when an output would replace one of the inputs."""
    for out in outputs:
        for inp in inputs:
            if inp and _same_file(out, inp):
                _fail(out, f"is the same file as the input {inp}: refusing to overwrite it (choose another output)")


def _cmd_import(a):
    model = _model_dict(a.model)
    result = import_dumps(a.dumps, model)
    if os.path.exists(a.out) and not os.path.isdir(a.out):
        _fail(a.out, "exists and is not a directory")
    names = ["topk_ids.npy", "seq_offsets.npy", "loads.npy", "profile.json"]
    _refuse_overwrite([os.path.join(a.out, n + t) for n in names for t in ("", ".tmp")], list(a.dumps) + [a.model])
    # Nothing is written until every dump has been read and checked; files appear atomically.
    print(write_import(result, a.out, model))


def _cmd_plan(a):
    import warnings

    from . import plan

    path = os.path.join(a.profile, "loads.npy")
    if not os.path.isfile(path):
        _fail(a.profile, "no loads.npy (import a stat or per_pass dump first)")
    _refuse_overwrite([a.output], [path, a.model, a.topology])
    try:
        loads = np.load(path)
    except Exception as e:  # noqa: BLE001 - pickled, truncated or not a .npy at all
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "pickle" in first:  # numpy's text for anything it does not recognise as a .npy header
            first = "not in .npy format, or it holds pickled Python objects"
        _fail(path, f"cannot be read as a numpy .npy array of per-expert loads: {first}")
    if not isinstance(loads, np.ndarray) or loads.dtype.kind not in "iuf":
        what = f"dtype {loads.dtype}" if isinstance(loads, np.ndarray) else type(loads).__name__
        _fail(path, f"holds {what}, expected numeric per-expert loads [moe_layers, experts]")
    if a.policy in ("grace", "grace-paper", "uniform-affinity"):
        print(f"note: a load profile has no co-activation; '{a.policy}' plans for load only", file=sys.stderr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = plan(loads=loads, model=a.model, topology=a.topology, policy=a.policy, redundant=a.redundant,
                 seed=a.seed)
    p.save(a.output)
    print(f"planned {p!r} -> {a.output}")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m grace.sglang",
                                 description="Import SGLang expert-distribution dumps into grace")
    sub = ap.add_subparsers(dest="cmd", required=True)
    imp = sub.add_parser("import", help="recorder dumps (.pt) -> grace trace or load profile")
    imp.add_argument("dumps", nargs="+", help="expert_distribution_recorder_*.pt files")
    imp.add_argument("-o", "--out", required=True, help="output directory")
    imp.add_argument("--model", default="", help="model preset or JSON (checks shapes; gives the dense layers)")
    pl = sub.add_parser("plan", help="plan from an imported load profile")
    pl.add_argument("profile", help="directory written by import (loads.npy)")
    pl.add_argument("--model", default="", help="model preset or JSON")
    pl.add_argument("--topology", default="2x4")
    pl.add_argument("--policy", default="eplb")
    pl.add_argument("--redundant", type=int, default=-1)
    pl.add_argument("--seed", type=int, default=0)
    pl.add_argument("-o", "--output", required=True, help="grace placement JSON")
    a = ap.parse_args(argv)
    try:
        (_cmd_import if a.cmd == "import" else _cmd_plan)(a)
    except ValueError as e:  # DumpError and grace's own InputError (ValueError)
        print(f"grace: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Reading SGLang expert-distribution recorder dumps (the work of `python -m grace.sglang import`).

SGLang (python/sglang/srt/eplb/expert_distribution.py) writes, with torch.save:
  stat mode:      {"rank", "logical_count": int [buffer, num_hidden_layers, E],
                   "average_utilization_rate_over_window"}
  per_token mode: {"records": [{"topk_ids_of_layer": int32 [num_hidden_layers, tokens, 8],
                   "extend_seq_lens": list of ints (forward_batch.extend_seq_lens_cpu, None when
                   decoding), ... }], "last_physical_to_logical_map": int [num_hidden_layers, P]}
                   (physical expert ids, -1 where nothing was recorded: dense layers, top-k < 8)
  per_pass mode:  the same "records", each with "global_physical_count" [num_hidden_layers, P]
                   and no per-token ids.
Every tensor is dense (strided). Bad input raises DumpError (a ValueError) with a message
`<where>: <problem>`, names quoted and escaped as grace does (quote, one_line).
"""
import json
import os
import warnings
import zipfile

import numpy as np

__all__ = ["DumpError", "quote", "one_line", "load_dump", "import_dumps", "write_import", "describe_import",
           "OUTPUT_NAMES", "MARKER_NAMES"]

# Every name import writes into its output folder (a trace or a load profile).
OUTPUT_NAMES = ("topk_ids.npy", "seq_offsets.npy", "import.json", "loads.npy", "profile.json")
# The file that marks a folder as an import's own (a trace's import.json, a load profile's
# profile.json): an existing folder without one is not replaced, since a grace trace folder holds
# topk_ids.npy and seq_offsets.npy too.
MARKER_NAMES = ("import.json", "profile.json")


class DumpError(ValueError):
    pass


def _fail(where, problem):
    raise DumpError(f"{where}: {problem}")


# --- messages: the same escaping and cutting as grace::quote_input / grace::one_line ------------

_NAMED = {0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t"}


def _escape(data, backslash):
    """Bytes -> str: \\n \\r \\t, other control bytes as \\xHH, a backslash doubled if asked; other
    bytes kept (UTF-8 text stays readable; stray bytes round-trip through surrogateescape)."""
    out = bytearray()
    for c in data:
        if c in _NAMED:
            out += _NAMED[c]
        elif c == 0x5C:
            out += b"\\\\" if backslash else b"\\"
        elif c < 0x20 or c == 0x7F:
            out += b"\\x%02x" % c
        else:
            out.append(c)
    return out.decode("utf-8", "surrogateescape")


def _bytes(text):
    if isinstance(text, bytes):
        return text
    return os.fsencode(text if isinstance(text, str) else str(text))


def quote(text, max_bytes=200):
    """'text', escaped, cut at max_bytes bytes with '...(N bytes)' (grace::quote_input)."""
    data = _bytes(text)
    out = "'" + _escape(data[:max_bytes], True) + "'"
    return out + (f"...({len(data)} bytes)" if len(data) > max_bytes else "")


def one_line(message, max_bytes=1000):
    """message escaped onto one line, cut in the middle past max_bytes bytes (grace::one_line)."""
    data = _bytes(message)
    if len(data) <= max_bytes:
        return _escape(data, False)
    head, tail = max_bytes * 3 // 4, max_bytes - max_bytes * 3 // 4
    return _escape(data[:head], False) + f" [... {len(data) - head - tail} bytes cut ...] " + \
        _escape(data[len(data) - tail:], False)


# --- one dump ------------------------------------------------------------------------------------

def _int_dtypes(torch):
    return (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def _tensor(obj, where, key, ndims):
    """A dense integer tensor of one of the ranks in ndims, as an int64 numpy array."""
    import torch

    if not isinstance(obj, torch.Tensor):
        _fail(where, f"'{key}' is {type(obj).__name__}, expected a tensor")
    if obj.layout != torch.strided:
        _fail(where, f"'{key}' is a sparse tensor ({obj.layout}); SGLang's recorder writes dense tensors")
    if obj.dtype not in _int_dtypes(torch):
        _fail(where, f"'{key}' has dtype {obj.dtype}, expected an integer dtype")
    if obj.dim() not in ndims:
        _fail(where, f"'{key}' has shape {list(obj.shape)}, expected {' or '.join(str(n) for n in ndims)} dimensions")
    try:
        return obj.cpu().numpy().astype(np.int64)
    except (RuntimeError, TypeError) as e:
        _fail(where, f"'{key}' cannot be read as an integer array: {_first_line(e)}")


def _first_line(e):
    first = str(e).splitlines()[0] if str(e) else type(e).__name__
    # PyTorch appends a request for bug reports to some messages: not the user's problem.
    return first.split("(Could this error message be improved?")[0].rstrip()


def load_dump(path):
    """torch.load of one recorder dump, with the file checked first. Returns the dict."""
    where = quote(path)
    if os.path.isdir(path):
        _fail(where, "is a folder, expected one recorder dump file (.pt)")
    if not os.path.isfile(path):
        _fail(where, "no such file")
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        _fail(where, f"cannot be read: {e.strerror}")
    if not zipfile.is_zipfile(path):
        _fail(where, "not a torch.save zip archive (SGLang's recorder writes torch.save files)")
    import torch

    try:
        with warnings.catch_warnings():  # e.g. "Sparse CSR tensor support is in beta": not one line
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 - any unpickling problem is a bad dump
        _fail(where, f"torch.load failed: {_first_line(e)}")
    if not isinstance(obj, dict):
        _fail(where, f"holds a {type(obj).__name__}, expected the recorder's dict")
    return obj


def _dense_rows(n_rows, model, nonempty_rows, where):
    """Number of leading dense decoder layers: the model's, else the leading rows with no data."""
    if model is not None:
        want = model["dense_layers"] + model["moe_layers"]
        if n_rows != want:
            _fail(where, f"{n_rows} layers, model {quote(model['name'])} has {want} decoder layers")
        return model["dense_layers"]
    dense = 0
    while dense < n_rows and not nonempty_rows[dense]:
        dense += 1
    if dense == n_rows:
        _fail(where, "no layer holds any routing data")
    return dense


# grace's expert limit (ModelSpec: experts <= 65535); counts past 2**62 could wrap when summed.
_MAX_EXPERTS = 65535
_MAX_COUNT = float(2 ** 62)


def _check_counts(counts, where, what):
    """Per-layer sums of non-negative counts must stay far from int64's end (a wrapped sum read as 0)."""
    if counts.size and (counts.astype(np.float64).sum(axis=-1) >= _MAX_COUNT).any():
        _fail(where, f"{what} sums past 2**62 in a layer (int64 would wrap)")


def _from_stat(obj, where, model):
    lc = _tensor(obj["logical_count"], where, "logical_count", (2, 3))
    if (lc < 0).any():
        _fail(where, "'logical_count' has negative counts")
    _check_counts(lc.sum(axis=0, dtype=np.float64) if lc.ndim == 3 else lc, where, "'logical_count'")
    if lc.ndim == 3:
        lc = lc.sum(axis=0)
    if lc.shape[1] == 0:
        _fail(where, "'logical_count' has 0 experts")
    if lc.shape[1] > _MAX_EXPERTS:
        _fail(where, f"'logical_count' has {lc.shape[1]} experts, more than grace's {_MAX_EXPERTS}")
    if model is not None and lc.shape[1] != model["experts"]:
        _fail(where, f"'logical_count' has {lc.shape[1]} experts, model {quote(model['name'])} has "
              f"{model['experts']}")
    dense = _dense_rows(lc.shape[0], model, lc.sum(axis=1) > 0, where)
    return lc[dense:], dense


def _check_map(obj, where, model):
    m = _tensor(obj["last_physical_to_logical_map"], where, "last_physical_to_logical_map", (2,))
    if m.size == 0 or m.min() < 0:
        _fail(where, "'last_physical_to_logical_map' is empty or has negative ids")
    num_logical = model["experts"] if model is not None else int(m.max()) + 1
    if num_logical > _MAX_EXPERTS:
        _fail(where, f"'last_physical_to_logical_map' has logical id {int(m.max())}: more than grace's "
              f"{_MAX_EXPERTS} experts")
    if m.max() >= num_logical:
        _fail(where, f"'last_physical_to_logical_map' has logical id {int(m.max())} >= {num_logical} experts")
    return m, num_logical


def _per_pass_loads(recs, m, num_logical, where):
    n_rows, n_phys = m.shape
    loads = np.zeros((n_rows, num_logical), dtype=np.int64)
    totals = np.zeros(n_rows)  # per-layer sums in float: an int64 sum could wrap
    for i, r in enumerate(recs):
        if "global_physical_count" not in r:
            _fail(where, f"records[{i}] has neither 'topk_ids_of_layer' nor 'global_physical_count'")
        c = _tensor(r["global_physical_count"], where, f"records[{i}].global_physical_count", (2,))
        if c.shape != (n_rows, n_phys):
            _fail(where, f"records[{i}].global_physical_count has shape {list(c.shape)}, the map is "
                  f"{[n_rows, n_phys]}")
        if (c < 0).any():
            _fail(where, f"records[{i}].global_physical_count has negative counts")
        totals += c.astype(np.float64).sum(axis=1)
        if (totals >= _MAX_COUNT).any():
            _fail(where, f"records[{i}].global_physical_count: the counts sum past 2**62 in a layer (int64 "
                  "would wrap)")
        for layer in range(n_rows):
            np.add.at(loads[layer], m[layer], c[layer])
    return loads


def _record_ids(r, i, m, where):
    """records[i]'s physical ids [rows, tokens, K'], checked against the map."""
    n_rows, n_phys = m.shape
    if "topk_ids_of_layer" not in r:
        _fail(where, f"records[{i}] has no 'topk_ids_of_layer' (mixed recorder modes)")
    t = _tensor(r["topk_ids_of_layer"], where, f"records[{i}].topk_ids_of_layer", (3,))
    if t.shape[0] != n_rows:
        _fail(where, f"records[{i}].topk_ids_of_layer has {t.shape[0]} layers, the map {n_rows}")
    if t.size and (t.min() < -1 or t.max() >= n_phys):
        bad = int(t.min()) if t.min() < -1 else int(t.max())
        _fail(where, f"records[{i}].topk_ids_of_layer has physical id {bad} outside [-1, {n_phys})")
    return t


def _record_seq_lens(r, i, n, where):
    """records[i]'s sequence lengths: its extend_seq_lens (a list of ints adding up to its n tokens),
    else (None, or no such key: a decode pass) one sequence."""
    import torch

    lens = r.get("extend_seq_lens")
    if lens is None:
        return [n] if n else []
    what = f"records[{i}]: 'extend_seq_lens'"
    if isinstance(lens, torch.Tensor):
        _fail(where, f"{what} is a tensor; SGLang's recorder writes a list of ints (extend_seq_lens_cpu)")
    if not isinstance(lens, (list, tuple)):
        _fail(where, f"{what} is {type(lens).__name__}, expected a list of whole numbers")
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in lens):
        _fail(where, f"{what} holds {sorted({type(x).__name__ for x in lens})}, expected a list of whole numbers")
    if any(x < 0 for x in lens):
        _fail(where, f"{what} has a negative length")
    if sum(lens) != n:
        _fail(where, f"{what} adds up to {sum(lens)}, the record has {n} tokens")
    return list(lens)


def _logical_ids(t, i, m, dense, k, where):
    """records[i]'s tokens with data as logical ids [kept, moe_layers, k], the kept-token mask, and k."""
    t = t[dense:]  # [moe_layers, tokens, K']
    valid = t >= 0
    cnt = valid.sum(axis=2)  # [moe_layers, tokens]
    keep = cnt.max(axis=0) > 0 if t.shape[1] else np.zeros(0, dtype=bool)  # tokens with any data
    if not keep.any():
        return None, keep, k
    kk = int(cnt[:, keep].max())
    if (cnt[:, keep] != kk).any() or (k is not None and kk != k):
        _fail(where, f"records[{i}]: tokens have different numbers of experts per layer "
              f"({sorted(set(cnt[:, keep].ravel().tolist()))}); expected the same top-k everywhere")
    order = np.argsort(~valid, axis=2, kind="stable")[:, :, :kk]  # valid entries first, in order
    phys = np.take_along_axis(t, order, axis=2)[:, keep, :]  # [moe_layers, kept, k]
    logical = np.empty_like(phys)
    for layer in range(phys.shape[0]):
        logical[layer] = m[dense + layer][phys[layer]]
    ids = logical.transpose(1, 0, 2)  # [kept, moe_layers, k]
    srt = np.sort(ids, axis=2)
    if (srt[:, :, 1:] == srt[:, :, :-1]).any():
        _fail(where, f"records[{i}]: a token maps to the same logical expert twice in one layer")
    return ids, keep, kk


def _kept_lens(lens, keep):
    """Sequence lengths after dropping tokens with no data (empty sequences dropped)."""
    out, start = [], 0
    for n in lens:
        kept = int(keep[start:start + n].sum())
        if kept:
            out.append(kept)
        start += n
    return out


def _from_records(obj, where, model):
    """Returns ('trace', ids, seq_lengths, dense) or ('loads', loads, None, dense)."""
    recs = obj["records"]
    if not isinstance(recs, list) or not recs or not all(isinstance(r, dict) for r in recs):
        _fail(where, "'records' must be a non-empty list of dicts")
    m, num_logical = _check_map(obj, where, model)
    if not any("topk_ids_of_layer" in r for r in recs):
        loads = _per_pass_loads(recs, m, num_logical, where)
        dense = _dense_rows(m.shape[0], model, loads.sum(axis=1) > 0, where)
        return "loads", loads[dense:], None, dense
    blocks = [_record_ids(r, i, m, where) for i, r in enumerate(recs)]
    seqs = [_record_seq_lens(r, i, t.shape[1], where) for i, (r, t) in enumerate(zip(recs, blocks))]
    nonempty = np.zeros(m.shape[0], dtype=bool)
    for t in blocks:
        nonempty |= (t >= 0).any(axis=(1, 2)) if t.size else False
    dense = _dense_rows(m.shape[0], model, nonempty, where)
    out_ids, out_lens, k = [], [], None
    for i, t in enumerate(blocks):
        ids, keep, k = _logical_ids(t, i, m, dense, k, where)
        if ids is not None:
            out_ids.append(ids)
        out_lens += _kept_lens(seqs[i], keep)
    if not out_ids:
        _fail(where, "the records hold no routed tokens")
    if model is not None and k != model["top_k"]:
        _fail(where, f"tokens route to top-{k}, model {quote(model['name'])} has top-{model['top_k']}")
    return "trace", np.concatenate(out_ids), out_lens, dense


def _read_one(path, model):
    """One dump: (kind, data, seq_lens, dense)."""
    obj, where = load_dump(path), quote(path)
    if "logical_count" in obj:
        data, dense = _from_stat(obj, where, model)
        return "loads", data, None, dense
    if "records" in obj and "last_physical_to_logical_map" in obj:
        return _from_records(obj, where, model)
    keys = sorted(map(str, obj.keys()))
    shown = ", ".join(quote(k, 40) for k in keys[:8]) + (f", ... ({len(keys)} keys)" if len(keys) > 8 else "")
    _fail(where, f"keys [{shown}]: expected 'logical_count' (stat mode) or 'records' and "
          "'last_physical_to_logical_map' (per_pass / per_token mode)")


def import_dumps(paths, model=None):
    """Reads dumps (all of one kind). Returns dict(kind='trace'|'loads', ...)."""
    kinds, result = set(), {"files": list(paths)}
    ids_all, lens_all, loads_sum, dense_seen = [], [], None, set()
    for path in paths:
        kind, data, lens, dense = _read_one(path, model)
        where = quote(path)
        kinds.add(kind)
        if len(kinds) > 1:
            _fail(where, "mixes per-token dumps with stat / per-pass dumps; import them separately")
        dense_seen.add(dense)
        if kind == "trace":
            if ids_all and ids_all[0].shape[1:] != data.shape[1:]:
                _fail(where, f"{data.shape[1]} MoE layers x top-{data.shape[2]}, the first dump has "
                      f"{ids_all[0].shape[1]} x top-{ids_all[0].shape[2]}")
            ids_all.append(data)
            lens_all += lens
        else:
            if loads_sum is not None and loads_sum.shape != data.shape:
                _fail(where, f"loads {list(data.shape)}, the first dump has {list(loads_sum.shape)}")
            loads_sum = data if loads_sum is None else loads_sum + data
            _check_counts(loads_sum, where, "the dumps' counts")
    result["kind"] = kinds.pop()
    result["dense_layers"] = max(dense_seen)
    if result["kind"] == "trace":
        result["topk_ids"] = np.concatenate(ids_all)
        result["seq_lens"] = lens_all
    else:
        result["loads"] = loads_sum
    return result


# --- output --------------------------------------------------------------------------------------

def write_import(result, folder, model=None):
    """Writes the import's files into `folder` (a staging folder: see grace.sglang)."""
    if result["kind"] == "trace":
        ids = result["topk_ids"]
        dtype = np.uint8 if ids.max() < 256 else np.uint16
        np.save(os.path.join(folder, "topk_ids.npy"), np.ascontiguousarray(ids.astype(dtype)))
        offsets = np.concatenate(([0], np.cumsum(result["seq_lens"]))).astype(np.int64)
        np.save(os.path.join(folder, "seq_offsets.npy"), offsets)
        meta = {"format": "grace-sglang-import", "version": 1, "kind": "trace", "tokens": int(ids.shape[0]),
                "moe_layers": int(ids.shape[1]), "top_k": int(ids.shape[2]), "sequences": len(result["seq_lens"]),
                "dense_layers_dropped": result["dense_layers"], "model": model["name"] if model else None,
                "files": result["files"]}
        with open(os.path.join(folder, "import.json"), "w") as f:
            json.dump(meta, f, indent=1)
        return
    loads = result["loads"]
    np.save(os.path.join(folder, "loads.npy"), loads.astype(np.int64))
    meta = {"format": "grace-load-profile", "version": 1, "moe_layers": int(loads.shape[0]),
            "experts": int(loads.shape[1]), "dense_layers_dropped": result["dense_layers"],
            "model": model["name"] if model else None, "files": result["files"],
            "note": "per-expert token counts only (no co-activation): plan with load-only planners"}
    with open(os.path.join(folder, "profile.json"), "w") as f:
        json.dump(meta, f, indent=1)


def describe_import(result, out_dir):
    """The line printed after a successful import."""
    out = one_line(out_dir)
    if result["kind"] == "trace":
        ids = result["topk_ids"]
        return f"trace: {ids.shape[0]} tokens x {ids.shape[1]} MoE layers x top-{ids.shape[2]}, " \
               f"{len(result['seq_lens'])} sequences ({result['dense_layers']} dense layers dropped) -> " \
               f"{out}/topk_ids.npy; plan with: grace plan --trace {out}"
    loads = result["loads"]
    return f"load profile: {loads.shape[0]} MoE layers x {loads.shape[1]} experts, {int(loads.sum())} expert " \
           f"choices ({result['dense_layers']} dense layers dropped) -> {out}/loads.npy; plan with: " \
           f"python3 -m grace.sglang plan {out} --model M --topology 2x4 -o placement.json"

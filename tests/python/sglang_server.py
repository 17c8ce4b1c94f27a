"""SGLang's server side as docs/serving.md's `text` blocks use it, for tests/python/test_docs_serving.py.

SGLang cannot be installed here (no PyPI) and needs GPUs, so those blocks are not run. This file
holds what they rely on, transcribed by hand from SGLang's source (read, not copied), and checks
a block against it: flag names, types and choices; the recorder's environment variable, HTTP
endpoints, dump file names and dump format; the launch against the file grace exported, through
the C++ model of SGLang's loader (tests/placement/sglang_harness.h, run as sglang_load_check).

Sources, github.com/sgl-project/sglang (the versions read):
  python/sglang/srt/server_args.py @ 001067fffe33427bee0ed2f007fb7551a1d76b44
      ServerArgs fields; the flag is --<field with - for _> plus the listed aliases:
      model_path str (alias --model), trust_remote_code bool, tp_size int (--tensor-parallel-size),
      host str = "127.0.0.1", port int = 30000, ep_size int (--expert-parallel-size, --ep),
      ep_num_redundant_experts int = 0, ep_dispatch_algorithm Optional[Literal["static",
      "dynamic", "fake", "lp"]], init_expert_location str = "trivial",
      expert_distribution_recorder_mode Optional[Literal["stat", "stat_approx", "per_pass",
      "per_token"]], expert_distribution_recorder_buffer_size Optional[int].
  python/sglang/srt/environ.py @ 21ff4b08a19649d55c59ed4bd8383ab9a19e6430
      SGLANG_EXPERT_DISTRIBUTION_RECORDER_DIR = EnvStr("/tmp").
  python/sglang/srt/entrypoints/http_server.py @ 9c0549b727fe222444495cea6b369697534d60f0
      /start_expert_distribution_record, /stop_expert_distribution_record,
      /dump_expert_distribution_record, each methods=["GET", "POST"].
  python/sglang/srt/eplb/expert_distribution.py @ dd780ab9de484cf1198ff538a1b8b0da6464ab5a
      _DetailAccumulator.dump (per_pass, per_token): every rank saves
      f"expert_distribution_recorder_{time.time()}_{rank}.pt" = {"records": [{forward_pass_id,
      rank, gatherer_key, **gatherer data}], "last_physical_to_logical_map"}; per_token's
      gatherer (_DetailSinglePassGatherer) gives input_ids, positions, extend_seq_lens,
      forward_mode, topk_ids_of_layer int32 [num_layers, tokens, 8] (reset to -1), misc_objects.
      _StatAccumulator.dump: rank 0 only saves f"expert_distribution_recorder_{time.time()}.pt"
      = {"rank", "logical_count" int32 [buffer, num_layers, num_logical] (all-reduced over
      ranks), "average_utilization_rate_over_window"}. _dump_to_file: save_dir / name.
  python/sglang/srt/models/deepseek_v2.py: get_model_config_for_expert_location:
      num_layers = config.num_hidden_layers, num_logical_experts = config.n_routed_experts.
Model facts: deepseek-ai/DeepSeek-V2-Lite config.json: num_hidden_layers 27,
first_k_dense_replace 1 (layer 0 dense), n_routed_experts 64, num_experts_per_tok 6.
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import time

import numpy as np

SOURCE_NOTE = "SGLang's server_args.py @ 001067ff as transcribed in tests/python/sglang_server.py"

# dest: (flags, type, choices); bool: a store_true flag.
SERVER_ARGS = {
    "model_path": (["--model-path", "--model"], str, None),
    "trust_remote_code": (["--trust-remote-code"], bool, None),
    "tp_size": (["--tp-size", "--tensor-parallel-size"], int, None),
    "host": (["--host"], str, None),
    "port": (["--port"], int, None),
    "ep_size": (["--ep-size", "--expert-parallel-size", "--ep"], int, None),
    "ep_num_redundant_experts": (["--ep-num-redundant-experts"], int, None),
    "ep_dispatch_algorithm": (["--ep-dispatch-algorithm"], str, ["static", "dynamic", "fake", "lp"]),
    "init_expert_location": (["--init-expert-location"], str, None),
    "expert_distribution_recorder_mode": (["--expert-distribution-recorder-mode"], str,
                                          ["stat", "stat_approx", "per_pass", "per_token"]),
    "expert_distribution_recorder_buffer_size": (["--expert-distribution-recorder-buffer-size"], int, None),
}
DEFAULTS = {"host": "127.0.0.1", "port": 30000, "tp_size": 1, "ep_size": 1, "ep_num_redundant_experts": 0,
            "init_expert_location": "trivial", "trust_remote_code": False}
RECORDER_DIR_ENV = "SGLANG_EXPERT_DISTRIBUTION_RECORDER_DIR"
RECORDER_ENDPOINTS = ["/start_expert_distribution_record", "/stop_expert_distribution_record",
                      "/dump_expert_distribution_record"]
DETAIL_TOP_K = 8  # _DetailSinglePassGatherer._TOP_K_NUM
# --model-path -> (grace preset, num_hidden_layers, first MoE layer, n_routed_experts, top-k)
MODELS = {"deepseek-ai/DeepSeek-V2-Lite": ("deepseek-v2-lite", 27, 1, 64, 6)}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # fail the test with the reason instead of exiting
        raise AssertionError(f"SGLang would reject the flags ({SOURCE_NOTE}): {message}")


def parse_server_args(argv):
    p = _Parser(prog="sglang.launch_server", allow_abbrev=False, add_help=False)
    for dest, (flags, typ, choices) in SERVER_ARGS.items():
        if typ is bool:
            p.add_argument(*flags, dest=dest, action="store_true")
        else:
            p.add_argument(*flags, dest=dest, type=typ, choices=choices)
    ns = p.parse_args(argv)
    for k, v in DEFAULTS.items():
        if getattr(ns, k) is None:
            setattr(ns, k, v)
    return ns


def commands(block):
    """The shell commands of a text block: [(env assignments, argv)], comments skipped."""
    out = []
    for line in block.replace("\\\n", " ").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        words = shlex.split(line)
        env = {}
        while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
            k, v = words.pop(0).split("=", 1)
            env[k] = v
        out.append((env, words))
    return out


def launch(block):
    """(env, parsed args) of the block's one `python3 -m sglang.launch_server` command."""
    found = [(env, argv) for env, argv in commands(block) if argv[:3] == ["python3", "-m", "sglang.launch_server"]]
    assert len(found) == 1, f"expected one sglang.launch_server command in:\n{block}"
    env, argv = found[0]
    ns = parse_server_args(argv[3:])
    assert ns.model_path in MODELS, f"--model-path {ns.model_path}: no config facts in tests/python/sglang_server.py"
    assert ns.tp_size % ns.ep_size == 0, f"--ep-size {ns.ep_size} does not divide --tp-size {ns.tp_size}"
    return env, ns


def check_recorder_block(block):
    """Checks a recorder block; returns (dump folder, mode, parsed launch args)."""
    env, ns = launch(block)
    assert ns.expert_distribution_recorder_mode is not None, "recorder block without --expert-distribution-recorder-mode"
    unknown = set(env) - {RECORDER_DIR_ENV}
    assert not unknown, f"environment variables SGLang does not read here: {unknown}"
    folder = env.get(RECORDER_DIR_ENV, "/tmp")
    assert not os.path.isabs(folder), "the test writes the dumps under its own folder: give a relative dump folder"
    urls = [argv for _, argv in commands(block) if argv and argv[0] == "curl"]
    paths = []
    for argv in urls:
        assert argv[1:3] == ["-X", "POST"] or argv[1:3] == ["-X", "GET"], f"curl without -X POST/GET: {argv}"
        m = re.fullmatch(r"http://([^:/]+):(\d+)(/.*)", argv[3])
        assert m, f"not a URL: {argv[3]}"
        assert (m.group(1), int(m.group(2))) == (ns.host, ns.port), f"{argv[3]}: the server listens on {ns.host}:{ns.port}"
        paths.append(m.group(3))
    assert paths == RECORDER_ENDPOINTS, f"recorder endpoints {paths}, SGLang's are {RECORDER_ENDPOINTS} in that order"
    return folder, ns.expert_distribution_recorder_mode, ns


def write_dumps(root, folder, mode, ns, seed=0):
    """Writes what SGLang's recorder leaves in root/folder after the block, for a DeepSeek-V2-Lite
    server of ns.tp_size ranks (attention TP: every rank routes every token). Returns the paths."""
    import torch

    _, layers, first_moe, experts, top_k = MODELS[ns.model_path]
    physical = experts + ns.ep_num_redundant_experts
    d = os.path.join(root, folder)
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(seed)
    phy2log = torch.tensor([[p % experts for p in range(physical)]] * layers, dtype=torch.int64)  # trivial
    stamp = time.time()
    if mode == "per_token":
        copies = [[p for p in range(physical) if p % experts == e] for e in range(experts)]
        records = []
        for pass_id, n in enumerate((1600, 1600)):
            t = np.full((layers, n, DETAIL_TOP_K), -1, dtype=np.int32)
            for layer in range(first_moe, layers):
                logical = np.argsort(rng.random((n, experts)), axis=1)[:, :top_k]
                pick = rng.integers(0, 1 << 30, size=logical.shape)
                t[layer, :, :top_k] = [[copies[e][c % len(copies[e])] for e, c in zip(row, pr)]
                                       for row, pr in zip(logical, pick)]
            records.append({"forward_pass_id": pass_id, "gatherer_key": "primary", "input_ids": [0] * n,
                            "positions": list(range(n)), "extend_seq_lens": [n // 4] * 4, "forward_mode": 1,
                            "topk_ids_of_layer": torch.from_numpy(t), "misc_objects": []})
        paths = []
        for rank in range(ns.tp_size):
            recs = [dict(r, rank=rank) for r in records]
            path = os.path.join(d, f"expert_distribution_recorder_{stamp}_{rank}.pt")
            torch.save({"records": recs, "last_physical_to_logical_map": phy2log}, path)
            paths.append(path)
        return paths
    if mode == "stat":
        buffer = ns.expert_distribution_recorder_buffer_size or 3
        lc = torch.zeros(buffer, layers, experts, dtype=torch.int32)
        lc[:, first_moe:] = torch.from_numpy(rng.integers(1, 1000, size=(buffer, layers - first_moe, experts),
                                                          dtype=np.int32))
        path = os.path.join(d, f"expert_distribution_recorder_{stamp}.pt")
        torch.save({"rank": 0, "logical_count": lc, "average_utilization_rate_over_window": None}, path)
        return [path]
    raise AssertionError(f"recorder mode {mode}: the doc test writes per_token and stat dumps only")


def check_launch_block(block, root, written_by, export_out, load_check):
    """The launch with grace's placement: flags are SGLang's and equal those the export printed,
    the file is the one an earlier (run) block wrote, its shape matches the flags and the model,
    and the loader model accepts it. written_by: {path: index of the block that wrote it}."""
    env, ns = launch(block)
    assert not env, f"unexpected environment for the launch: {env}"
    f = ns.init_expert_location
    assert f != "trivial", "the launch does not pass --init-expert-location"
    assert f.endswith(".json") or f.endswith(".pt"), f"{f}: SGLang parses a name not ending in .json/.pt as JSON text"
    path = os.path.join(root, f)
    assert path in written_by, f"{f} was not written by any earlier block of docs/serving.md"
    printed = [line for line in export_out.splitlines() if line.startswith("flags: ")]
    assert printed, "the export block printed no flags line"
    for line in printed:  # export and validate each print the flags
        want = parse_server_args(shlex.split(line[len("flags: "):]))
        for k in ("init_expert_location", "ep_num_redundant_experts", "ep_size", "ep_dispatch_algorithm"):
            assert getattr(ns, k) == getattr(want, k), \
                f"--{k.replace('_', '-')}: launch {getattr(ns, k)}, the export block printed {getattr(want, k)}"
    preset, layers, first_moe, experts, _ = MODELS[ns.model_path]
    rows = json.load(open(path))["physical_to_logical_map"]
    assert len(rows) == layers, f"{len(rows)} rows, the model has {layers} decoder layers"
    assert len(rows[0]) == experts + ns.ep_num_redundant_experts, \
        f"{len(rows[0])} columns != {experts} experts + --ep-num-redundant-experts {ns.ep_num_redundant_experts}"
    r = subprocess.run([load_check, path, str(layers), str(first_moe), str(experts), str(ns.ep_num_redundant_experts),
                        str(ns.ep_size)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", f"SGLang's loader (model) rejects {f}: {r.stdout}{r.stderr}"
    return ns, preset

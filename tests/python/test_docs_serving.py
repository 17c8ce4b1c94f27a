"""Runs every `sh` and `python` block of docs/serving.md, in order, in a temporary directory, on
synthetic SGLang recorder dumps shaped like DeepSeek-V2-Lite (27 decoder layers, layer 0 dense,
64 experts + 8 redundant = 72 physical, top-6 padded to 8) on 2x4 GPUs."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest
torch = pytest.importorskip("torch", reason="needs torch (apt install python3-torch)")

from conftest import CLI, SOURCE

DOC = os.path.join(SOURCE, "docs", "serving.md")


def write_dumps(d):
    os.makedirs(d / "dumps")
    rng = np.random.default_rng(0)
    phy2log = torch.tensor([[p % 64 for p in range(72)]] * 27, dtype=torch.int64)
    copies = {e: [p for p in range(72) if p % 64 == e] for e in range(64)}
    for rank in range(2):
        n = 1600
        t = np.full((27, n, 8), -1, dtype=np.int32)
        for layer in range(1, 27):
            logical = np.argsort(rng.random((n, 64)), axis=1)[:, :6]
            for i in range(n):
                t[layer, i, :6] = [copies[e][rng.integers(len(copies[e]))] for e in logical[i]]
        rec = {"forward_pass_id": 0, "rank": rank, "gatherer_key": "primary", "extend_seq_lens": [400] * 4,
               "topk_ids_of_layer": torch.from_numpy(t)}
        torch.save({"records": [rec], "last_physical_to_logical_map": phy2log},
                   d / "dumps" / f"per_token_{rank}.pt")
    lc = torch.zeros(3, 27, 64, dtype=torch.int32)
    lc[:, 1:] = torch.randint(1, 1000, (3, 26, 64), dtype=torch.int32)
    torch.save({"rank": 0, "logical_count": lc, "average_utilization_rate_over_window": None},
               d / "dumps" / "stat.pt")


def blocks():
    text = open(DOC).read()
    return [(m.group(1), m.group(2)) for m in re.finditer(r"```(sh|python)\n(.*?)```", text, re.S)]


def test_every_example_in_serving_md_runs(tmp_path):
    if not CLI or not os.path.exists(CLI):
        pytest.skip("GRACE_CLI not set")
    found = blocks()
    assert len(found) >= 8, "docs/serving.md lost its examples"
    write_dumps(tmp_path)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(CLI, bindir / "grace")
    os.symlink(sys.executable, bindir / "python3")  # the interpreter that has numpy / torch
    pypath = ":".join(os.path.abspath(x) for x in os.environ.get("PYTHONPATH", "").split(":") if x)
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}", GRACE_PYTHON=sys.executable, PYTHONPATH=pypath)
    for kind, code in found:
        cmd = ["bash", "-euo", "pipefail", "-c", code] if kind == "sh" else [sys.executable, "-c", code]
        r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert r.returncode == 0, f"{kind} block failed:\n{code}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert (tmp_path / "placement-sglang.json").exists() and (tmp_path / "placement-vllm.json").exists()

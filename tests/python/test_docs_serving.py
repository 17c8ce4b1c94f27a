"""Every block of docs/serving.md, in order, in a temporary directory.

`sh` and `python` blocks run as written. `text` blocks are SGLang server commands: SGLang cannot
be installed here and needs GPUs, so they are checked instead (tests/python/sglang_server.py):
a recorder block's flags, environment variable and endpoints are SGLang's, and the test writes
the dumps SGLang's recorder would leave (names, folder, torch.save format, DeepSeek-V2-Lite on
2x4 GPUs) for the blocks after it to import; the launch block's flags are SGLang's and equal
those the export block printed, the file is the one the export block wrote, its shape fits the
model and the flags, and it loads in the model of SGLang's loader (sglang_load_check)."""
import json
import os
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest
torch = pytest.importorskip("torch", reason="needs torch (apt install python3-torch)")

import sglang_server as sg
from conftest import CLI, SOURCE

DOC = os.path.join(SOURCE, "docs", "serving.md")
LOAD_CHECK = os.environ.get("GRACE_SGLANG_LOAD_CHECK", "")


def blocks():
    text = open(DOC).read()
    return [(m.group(1), m.group(2)) for m in re.finditer(r"```(sh|python|text)\n(.*?)```", text, re.S)]


def snapshot(root):
    return {os.path.join(d, f): os.stat(os.path.join(d, f)).st_mtime_ns
            for d, _, files in os.walk(root) for f in files}


def test_every_example_in_serving_md(tmp_path):
    if not CLI or not os.path.exists(CLI):
        pytest.skip("GRACE_CLI not set")
    if not LOAD_CHECK or not os.path.exists(LOAD_CHECK):
        pytest.skip("GRACE_SGLANG_LOAD_CHECK (tests/placement's sglang_load_check) not set")
    found = blocks()
    assert sum(k != "text" for k, _ in found) >= 8, "docs/serving.md lost its examples"
    root = str(tmp_path)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(CLI, bindir / "grace")
    os.symlink(sys.executable, bindir / "python3")  # the interpreter that has numpy / torch
    pypath = ":".join(os.path.abspath(x) for x in os.environ.get("PYTHONPATH", "").split(":") if x)
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}", GRACE_PYTHON=sys.executable, PYTHONPATH=pypath)
    written_by, outputs, checked = {}, {}, []
    for i, (kind, code) in enumerate(found):
        before = snapshot(root)
        if kind == "text":
            if "--init-expert-location" in code:
                writer = [j for j, (k, c) in enumerate(found[:i]) if k == "sh" and "--format sglang " in c + " "]
                assert writer, "no export block before the launch block"
                ns, preset = sg.check_launch_block(code, root, written_by, outputs[writer[-1]], LOAD_CHECK)
                # the export's --placement is grace's plan: the same GPUs and slots as the flags say
                argv = shlex.split([ln for ln in found[writer[-1]][1].splitlines() if "--format sglang " in ln + " "][0])
                plan = json.load(open(os.path.join(root, argv[argv.index("--placement") + 1])))
                gpus = plan["topology"]["nodes"] * plan["topology"]["gpus_per_node"]
                assert ns.ep_size == gpus, f"--ep-size {ns.ep_size}, the placement has {gpus} GPUs"
                assert plan["model"] == preset, f"the placement is for {plan['model']}, the server runs {preset}"
                assert ns.ep_num_redundant_experts == gpus * plan["topology"]["slots_per_gpu"] - plan["num_experts"]
                checked.append("launch")
            elif "--expert-distribution-recorder-mode" in code:
                folder, mode, ns = sg.check_recorder_block(code)
                sg.write_dumps(root, folder, mode, ns, seed=i)
                checked.append(mode)
            else:
                raise AssertionError(f"a text block the test does not know how to check:\n{code}")
        else:
            cmd = ["bash", "-euo", "pipefail", "-c", code] if kind == "sh" else [sys.executable, "-c", code]
            r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
            assert r.returncode == 0, f"{kind} block failed:\n{code}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
            outputs[i] = r.stdout
        after = snapshot(root)
        for path, mtime in after.items():
            if before.get(path) != mtime:
                written_by[path] = i
    assert checked == ["per_token", "stat", "launch"], f"server blocks checked: {checked}"
    assert os.path.exists(tmp_path / "placement-sglang.json") and os.path.exists(tmp_path / "placement-vllm.json")
    # the import read the recorder's dumps: 3,200 tokens of rank 0, 26 MoE layers, top-6
    assert tuple(np.load(tmp_path / "sglang-trace" / "topk_ids.npy").shape) == (3200, 26, 6)

"""python -m grace.sglang import / grace trace import-sglang on synthetic recorder dumps written
with torch.save in SGLang's formats (python/sglang/srt/eplb/expert_distribution.py)."""
import json
import os

import numpy as np
import pytest
torch = pytest.importorskip("torch", reason="needs torch (apt install python3-torch)")

from conftest import run_module
from sglang_toy import MODEL, phy2log

# The toy model (3 decoder layers, layer 0 dense, 8 experts, top-2) and its 10-slot map.
PHY2LOG = phy2log()


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "toy3.json"
    path.write_text(json.dumps(MODEL))
    return str(path)


def per_token_dump(path, tokens=50, seed=0, pad_tokens=3):
    """records of [3 layers, tokens + pad, 8] physical ids; layer 0 (dense) and columns >= 2 are -1."""
    rng = np.random.default_rng(seed)
    n = tokens + pad_tokens
    t = np.full((3, n, 8), -1, dtype=np.int32)
    logical = np.zeros((tokens, 2, 2), dtype=np.int64)
    for layer in (1, 2):
        for i in range(tokens):
            phys = rng.choice(10, size=2, replace=False)
            while PHY2LOG[layer, phys[0]] == PHY2LOG[layer, phys[1]]:
                phys = rng.choice(10, size=2, replace=False)
            t[layer, i, :2] = phys
            logical[i, layer - 1] = PHY2LOG[layer, phys].numpy()
    rec = {"forward_pass_id": 0, "rank": 0, "gatherer_key": "primary", "input_ids": list(range(n)),
           "positions": list(range(n)), "extend_seq_lens": [20, tokens - 20, pad_tokens], "forward_mode": 1,
           "topk_ids_of_layer": torch.from_numpy(t), "misc_objects": [],
           "global_physical_count": torch.zeros(3, 10, dtype=torch.int32)}
    torch.save({"records": [rec], "last_physical_to_logical_map": PHY2LOG}, path)
    return logical


def test_per_token_dump_becomes_a_trace_that_plans(tmp_path, cli, model_file):
    want = per_token_dump(tmp_path / "a.pt")
    want2 = per_token_dump(tmp_path / "b.pt", tokens=30, seed=1, pad_tokens=0)
    r = cli("trace", "import-sglang", str(tmp_path / "a.pt"), str(tmp_path / "b.pt"), "-o", str(tmp_path / "tr"),
            "--model", model_file)
    assert r.returncode == 0, r.stderr
    assert "80 tokens x 2 MoE layers x top-2" in r.stdout
    ids = np.load(tmp_path / "tr" / "topk_ids.npy")
    assert ids.shape == (80, 2, 2)
    assert (ids == np.concatenate([want, want2])).all()
    # b.pt's extend_seq_lens [20, 10, 0]: two sequences (and an empty one); a.pt's 3 padding tokens
    # (no routing data, a sequence of their own) are dropped.
    assert np.load(tmp_path / "tr" / "seq_offsets.npy").tolist() == [0, 20, 50, 70, 80]
    p = cli("plan", "--trace", str(tmp_path / "tr"), "--model", model_file, "--topology", "1x2", "--policy", "grace",
            "-o", str(tmp_path / "p.json"))
    assert p.returncode == 0, p.stderr
    # Without --model the dense layer is recognised as the row with no data.
    r = run_module("import", str(tmp_path / "a.pt"), "-o", str(tmp_path / "tr2"))
    assert r.returncode == 0, r.stderr
    assert (np.load(tmp_path / "tr2" / "topk_ids.npy") == want).all()


def test_stat_and_per_pass_dumps_become_load_profiles_that_plan(tmp_path, cli, model_file):
    lc = torch.zeros(4, 3, 8, dtype=torch.int32)
    lc[:, 1:, :] = torch.randint(1, 100, (4, 2, 8), dtype=torch.int32)
    torch.save({"rank": 0, "logical_count": lc, "average_utilization_rate_over_window": None}, tmp_path / "s.pt")
    r = cli("trace", "import-sglang", str(tmp_path / "s.pt"), "-o", str(tmp_path / "lp"), "--model", model_file)
    assert r.returncode == 0, r.stderr
    loads = np.load(tmp_path / "lp" / "loads.npy")
    assert loads.dtype == np.int64 and (loads == lc.sum(0)[1:].numpy()).all()
    meta = json.loads((tmp_path / "lp" / "profile.json").read_text())
    assert meta["format"] == "grace-load-profile" and meta["dense_layers_dropped"] == 1
    for policy in ("eplb", "grace"):
        r = run_module("plan", str(tmp_path / "lp"), "--model", model_file, "--topology", "1x2", "--policy", policy,
                       "-o", str(tmp_path / f"{policy}.json"))
        assert r.returncode == 0, r.stderr
        assert os.path.exists(tmp_path / f"{policy}.json")
        if policy == "grace":
            assert "plans for load only" in r.stderr
    # per_pass: global physical counts mapped back to logical ids
    gpc = torch.zeros(3, 10, dtype=torch.int32)
    gpc[1] = torch.arange(10)
    gpc[2] = 1
    torch.save({"records": [{"forward_pass_id": 0, "rank": 0, "gatherer_key": "primary",
                             "global_physical_count": gpc}] * 2,
                "last_physical_to_logical_map": PHY2LOG}, tmp_path / "pp.pt")
    r = run_module("import", str(tmp_path / "pp.pt"), "-o", str(tmp_path / "pp"), "--model", model_file)
    assert r.returncode == 0, r.stderr
    loads = np.load(tmp_path / "pp" / "loads.npy")
    expect = np.zeros((2, 8), dtype=np.int64)
    for layer in (1, 2):
        np.add.at(expect[layer - 1], PHY2LOG[layer].numpy(), 2 * gpc[layer].numpy())
    assert (loads == expect).all()


def bad_dumps(tmp_path):
    good = {"records": [{"topk_ids_of_layer": torch.full((3, 4, 8), -1, dtype=torch.int32)}],
            "last_physical_to_logical_map": PHY2LOG}
    good["records"][0]["topk_ids_of_layer"][1:, :, :2] = torch.tensor([0, 1], dtype=torch.int32)
    cases = {}

    def put(name, obj, expect):
        path = tmp_path / f"{name}.pt"
        torch.save(obj, path)
        cases[name] = (path, expect)

    put("wrong_keys", {"counts": torch.zeros(3)}, "expected 'logical_count'")
    put("stat_float", {"logical_count": torch.zeros(2, 3, 8)}, "dtype torch.float32")
    put("stat_shape", {"logical_count": torch.zeros(8, dtype=torch.int32)}, "expected 2 or 3 dimensions")
    bad = dict(good, records=[{"topk_ids_of_layer": good["records"][0]["topk_ids_of_layer"].clone()}])
    bad["records"][0]["topk_ids_of_layer"][2, 0, 0] = 10
    put("id_out_of_range", bad, "physical id 10 outside [-1, 10)")
    put("layers_mismatch", dict(good, records=[{"topk_ids_of_layer": torch.zeros(2, 4, 8, dtype=torch.int32)}]),
        "has 2 layers, the map 3")
    put("map_float", dict(good, last_physical_to_logical_map=PHY2LOG.float()), "dtype torch.float32")
    put("records_not_list", dict(good, records=7), "non-empty list of dicts")
    # Stat dumps: counts must be counts, with at least one routed layer.
    neg = torch.ones(2, 3, 8, dtype=torch.int32)
    neg[1, 2, 3] = -1
    put("stat_negative", {"logical_count": neg}, "'logical_count' has negative counts")
    put("stat_empty", {"logical_count": torch.zeros(3, 8, dtype=torch.int32)}, "no layer holds any routing data")
    # The map: ids must be logical expert ids.
    neg_map = PHY2LOG.clone()
    neg_map[1, 0] = -2
    put("map_negative", dict(good, last_physical_to_logical_map=neg_map), "is empty or has negative ids")
    # Per-pass records (global_physical_count): the map's shape, non-negative counts, one mode.
    gpc = torch.ones(3, 10, dtype=torch.int32)
    put("pass_shape", {"records": [{"global_physical_count": torch.ones(3, 9, dtype=torch.int32)}],
                       "last_physical_to_logical_map": PHY2LOG}, "global_physical_count has shape [3, 9], the map is")
    put("pass_negative", {"records": [{"global_physical_count": -gpc}], "last_physical_to_logical_map": PHY2LOG},
        "records[0].global_physical_count has negative counts")
    put("pass_neither", {"records": [{"global_physical_count": gpc}, {"rank": 0}],
                         "last_physical_to_logical_map": PHY2LOG},
        "records[1] has neither 'topk_ids_of_layer' nor 'global_physical_count'")
    put("mixed_modes", dict(good, records=[good["records"][0], {"global_physical_count": gpc}]),
        "records[1] has no 'topk_ids_of_layer' (mixed recorder modes)")
    # Per-token records: one logical expert once per token and layer, some routed token.
    twice = good["records"][0]["topk_ids_of_layer"].clone()
    twice[1, 0, :2] = torch.tensor([0, 4], dtype=torch.int32)  # physical 0 and 4: both logical 0 in layer 1
    put("same_expert_twice", dict(good, records=[{"topk_ids_of_layer": twice}]),
        "records[0]: a token maps to the same logical expert twice in one layer")
    put("no_tokens", dict(good, records=[{"topk_ids_of_layer": torch.full((3, 4, 8), -1, dtype=torch.int32)}]),
        "no layer holds any routing data")
    put("not_a_dict", [1, 2, 3], "holds a list")
    (tmp_path / "text.pt").write_text("not a zip\n")
    cases["not_zip"] = (tmp_path / "text.pt", "not a torch.save zip archive")
    cases["missing"] = (tmp_path / "missing.pt", "no such file")
    (tmp_path / "a_folder").mkdir()
    cases["folder"] = (tmp_path / "a_folder", "is a folder, expected one recorder dump file")
    # A zip archive that is not a torch.save file: torch's reason, without its request for bug reports.
    import zipfile
    with zipfile.ZipFile(tmp_path / "other_zip.pt", "w") as z:
        z.writestr("hello.txt", "not a torch archive")
    cases["other_zip"] = (tmp_path / "other_zip.pt", "torch.load failed")
    return cases


def test_bad_dumps_give_one_error_line_exit_2_and_no_output(tmp_path, cli):
    for name, (path, expect) in bad_dumps(tmp_path).items():
        out = tmp_path / f"out_{name}"
        r = cli("trace", "import-sglang", str(path), "-o", str(out))
        assert r.returncode == 2, (name, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"grace: error: '{path}': "), (name, r.stderr)
        assert expect in lines[0], (name, lines[0])
        assert "Could this error message be improved" not in lines[0], (name, lines[0])
        assert not out.exists(), name
        assert r.stdout == ""

"""`grace trace import-sglang` / `python -m grace.sglang` keep grace's error and output promises
(docs/reliability.md): one `grace: error:` line and exit code 2 for every bad input, names escaped
and cut, long lines cut in the middle, and folder outputs written whole or not at all.
Red-team s11 findings 3, 4a-e, 5 and 9 (extend_seq_lens)."""
import hashlib
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
torch = pytest.importorskip("torch", reason="needs torch (apt install python3-torch)")

from conftest import run_module
from sglang_toy import MODEL, phy2log

# The toy model (3 decoder layers, layer 0 dense, 8 experts, top-2) and its 10-slot map.
PHY2LOG = phy2log()


def good_dump(path, extend_seq_lens=(4,), top_k=2):
    """4 tokens; layers 1 and 2 route every token to physical experts 0, 1 (, 2)."""
    t = torch.full((3, 4, 8), -1, dtype=torch.int32)
    t[1:, :, :top_k] = torch.arange(top_k, dtype=torch.int32)
    rec = {"topk_ids_of_layer": t}
    if extend_seq_lens is not None:
        rec["extend_seq_lens"] = list(extend_seq_lens) if isinstance(extend_seq_lens, tuple) else extend_seq_lens
    torch.save({"records": [rec], "last_physical_to_logical_map": PHY2LOG}, path)
    return str(path)


@pytest.fixture
def good(tmp_path):
    return good_dump(tmp_path / "good.pt")


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "toy3.json"
    path.write_text(json.dumps(MODEL))
    return str(path)


def one_error(r):
    """The one stderr line of a failed command (exit code 2, nothing on stdout)."""
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("grace: error: "), r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    return lines[0]


def snapshot(folder):
    return {n: hashlib.md5((folder / n).read_bytes()).hexdigest() if (folder / n).is_file() else "dir"
            for n in sorted(os.listdir(folder))}


def leftovers(parent):
    """Staging folders (.grace-import-*) and probes left in parent."""
    return [n for n in os.listdir(parent) if n.startswith(".")]


# --- finding 3: folder outputs ------------------------------------------------------------------

def test_import_refuses_a_folder_holding_other_files_and_leaves_it_alone(tmp_path, cli, good):
    tt = tmp_path / "tt"
    assert cli("trace", "synth", "--model", "deepseek-v2-lite", "--tokens", "500", "-o", str(tt)).returncode == 0
    before = snapshot(tt)
    line = one_error(cli("trace", "import-sglang", good, "-o", str(tt)))
    assert f"output folder '{tt}': holds '" in line and "which grace did not write there" in line, line
    assert snapshot(tt) == before
    assert cli("trace", "stats", str(tt)).returncode == 0
    assert leftovers(tmp_path) == []


def test_import_replaces_its_own_output_folder_whole(tmp_path, cli, good):
    out = tmp_path / "out"
    assert cli("trace", "import-sglang", good, "-o", str(out)).returncode == 0
    assert sorted(os.listdir(out)) == ["import.json", "seq_offsets.npy", "topk_ids.npy"]
    torch.save({"logical_count": torch.ones(3, 8, dtype=torch.int32)}, tmp_path / "stat.pt")
    r = cli("trace", "import-sglang", str(tmp_path / "stat.pt"), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(out)) == ["loads.npy", "profile.json"]  # the trace's files went with the old folder
    assert leftovers(tmp_path) == []


def test_import_refuses_a_trace_folder_another_command_wrote(tmp_path, cli, good):
    # A plain `grace trace synth` folder holds topk_ids.npy and seq_offsets.npy, names import
    # writes too; without import's import.json it is not import's to replace.
    plain = tmp_path / "plain"
    r = cli("trace", "synth", "--model", "deepseek-v2-lite", "--tokens", "500", "--plain", "--no-weights",
            "-o", str(plain))
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(plain)) == ["seq_offsets.npy", "topk_ids.npy"]
    before = snapshot(plain)
    torch.save({"logical_count": torch.ones(3, 8, dtype=torch.int32)}, tmp_path / "stat.pt")
    for dump in (good, str(tmp_path / "stat.pt")):
        line = one_error(cli("trace", "import-sglang", dump, "-o", str(plain)))
        assert f"output folder '{plain}': holds 'seq_offsets.npy' but no import.json or profile.json" in line, line
        assert snapshot(plain) == before
    assert leftovers(tmp_path) == []
    # import's own trace says where it came from.
    out = tmp_path / "own"
    assert cli("trace", "import-sglang", good, "-o", str(out)).returncode == 0
    meta = json.loads((out / "import.json").read_text())
    assert meta["format"] == "grace-sglang-import" and meta["kind"] == "trace"
    assert meta["tokens"] == np.load(out / "topk_ids.npy").shape[0]


# --- finding 4a: sparse tensors -----------------------------------------------------------------

def test_sparse_tensors_are_one_error_line(tmp_path, cli, good):
    d = torch.load(good)
    for key, layout in (("topk_ids_of_layer", "coo"), ("last_physical_to_logical_map", "coo"),
                        ("last_physical_to_logical_map", "csr")):
        bad = torch.load(good)
        if key == "topk_ids_of_layer":
            bad["records"][0][key] = d["records"][0][key].to_sparse()
        else:
            bad[key] = d[key].to_sparse() if layout == "coo" else d[key].to_sparse_csr()
        path = tmp_path / f"sparse_{layout}_{key}.pt"
        torch.save(bad, path)
        line = one_error(cli("trace", "import-sglang", str(path), "-o", str(tmp_path / "o")))
        assert f"{key}' is a sparse tensor (torch.sparse_{layout})" in line, line
        assert not (tmp_path / "o").exists()


# --- finding 4b: paths the system refuses -------------------------------------------------------

def test_output_paths_the_system_refuses_are_one_line_and_leave_nothing(tmp_path, cli, good):
    cases = {"/proc/grace-import-x": "cannot create output", good + "/sub": "Not a directory",
             str(tmp_path / ("n" * 300)): "over the 255-byte limit", "": "output path is empty"}
    for out, expect in cases.items():
        line = one_error(cli("trace", "import-sglang", good, "-o", out))
        assert expect in line, (out, line)
    for name in ("seq_offsets.npy", "seq_offsets.npy.tmp"):  # folders where a file goes, or a temp name
        o = tmp_path / f"o_{name}"
        (o / name).mkdir(parents=True)
        line = one_error(cli("trace", "import-sglang", good, "-o", str(o)))
        assert f"holds '{name}', which grace did not write there" in line, line
        assert os.listdir(o) == [name] and os.listdir(o / name) == []
    assert leftovers(tmp_path) == []
    assert sorted(os.listdir(tmp_path)) == ["good.pt", "o_seq_offsets.npy", "o_seq_offsets.npy.tmp"]


def test_the_module_checks_output_paths_itself(tmp_path, good):
    """python -m grace.sglang, without grace's CLI in front (which checks the path first): the
    same one-line errors, nothing left behind."""
    (tmp_path / "afile").write_text("x")
    cases = {"/proc/grace-import-x": "cannot create output", good + "/sub": "Not a directory",
             str(tmp_path / ("n" * 300)): "over the 255-byte limit", "": "output path is empty",
             str(tmp_path / "afile"): "exists and is not a folder",
             str(tmp_path / "p" / ("x" * 200)) * 21: "over the 4095-byte limit"}
    for out, expect in cases.items():
        line = one_error(run_module("import", good, "-o", out))
        assert expect in line, (out[:80], line)
    line = one_error(run_module("plan", str(tmp_path), "--model", "deepseek-v2-lite", "-o", str(tmp_path / "p.json")))
    assert "no loads.npy (import a stat or per_pass dump first)" in line, line
    assert sorted(os.listdir(tmp_path)) == ["afile", "good.pt"]


def in_process(args, patch):
    """python -m grace.sglang ARGS with `patch` (Python source) run first: failures inside the work."""
    code = "import errno, os, signal, sys, numpy as np\nfrom grace import sglang\n" + patch + \
        "\nsys.exit(sglang.main(sys.argv[1:]))\n"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)


def test_a_failed_write_is_one_line_and_leaves_nothing(tmp_path, good):
    """A full disk while the second file is written: one line, and no partial folder, no temporary,
    no parent folder the import created."""
    patch = ("save, calls = np.save, []\n"
             "def save_or_fail(*a, **k):\n"
             "    calls.append(1)\n"
             "    if len(calls) == 2:\n"
             "        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), a[0])\n"
             "    save(*a, **k)\n"
             "np.save = save_or_fail\n")
    out = tmp_path / "a" / "b" / "out"
    line = one_error(in_process(["import", good, "-o", str(out)], patch))
    assert line == f"grace: error: cannot write output folder '{out}': No space left on device", line
    assert sorted(os.listdir(tmp_path)) == ["good.pt"]


# --- finding 4c: names with control characters --------------------------------------------------

def test_names_are_escaped_and_quoted(tmp_path, cli, good):
    line = one_error(cli("trace", "import-sglang", "no\nsuch\x1b[31m.pt", "-o", str(tmp_path / "o")))
    assert line == "grace: error: 'no\\nsuch\\x1b[31m.pt': no such file", line
    long_name = str(tmp_path / ("d" * 250 + ".pt"))
    line = one_error(cli("trace", "import-sglang", long_name, "-o", str(tmp_path / "o")))
    assert f"...({len(long_name)} bytes): no such file" in line, line
    torch.save({"bad\nkey\x07": 1}, tmp_path / "keys.pt")
    line = one_error(cli("trace", "import-sglang", str(tmp_path / "keys.pt"), "-o", str(tmp_path / "o")))
    assert "'bad\\nkey\\x07'" in line, line


# --- finding 4d: usage errors and arguments that look like options ------------------------------

def test_usage_errors_are_one_grace_line(tmp_path, good):
    for args, expect in ((["import", good], "-o/--out"), (["import", good, "-o"], "expected one argument"),
                         (["import", "-o", str(tmp_path / "o")], "dumps"), (["bogus"], "invalid choice"),
                         (["plan", str(tmp_path), "-o", "p.json", "--seed", "x"], "--seed"), ([], "cmd")):
        line = one_error(run_module(*args))
        assert expect in line and "usage:" not in line, (args, line)


def test_plan_errors_name_the_commands_flags(tmp_path):
    # plan() says "plan: redundant -5"; the command's user typed --redundant.
    torch.save({"logical_count": torch.randint(1, 100, (2, 27, 64), dtype=torch.int32)}, tmp_path / "s.pt")
    assert run_module("import", str(tmp_path / "s.pt"), "-o", str(tmp_path / "prof"),
                      "--model", "deepseek-v2-lite").returncode == 0
    for flag, value in (("--redundant", "-5"), ("--seed", "-1")):
        line = one_error(run_module("plan", str(tmp_path / "prof"), "--model", "deepseek-v2-lite", flag, value,
                                    "-o", str(tmp_path / "p.json")))
        assert line.startswith(f"grace: error: {flag} {value} "), line
    assert not (tmp_path / "p.json").exists()


def test_the_cli_passes_names_that_look_like_options(tmp_path, cli, good):
    os.link(good, tmp_path / "-x.pt")
    r = cli("trace", "import-sglang", "-o", "o3", "--", "-x.pt", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(tmp_path / "o3")) == ["import.json", "seq_offsets.npy", "topk_ids.npy"]
    r = cli("trace", "import-sglang", "good.pt", "-o", "-o2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(tmp_path / "-o2")) == ["import.json", "seq_offsets.npy", "topk_ids.npy"]
    line = one_error(cli("trace", "import-sglang", "good.pt", "-o", "o4", "--model", "-h", cwd=tmp_path))
    assert "'-h'" in line, line
    assert not (tmp_path / "o4").exists()


# --- finding 4e: long lines ---------------------------------------------------------------------

def test_a_long_error_line_is_cut_in_the_middle(tmp_path, cli):
    torch.save({f"k{i}": 1 for i in range(3000)}, tmp_path / "manykeys.pt")
    line = one_error(cli("trace", "import-sglang", str(tmp_path / "manykeys.pt"), "-o", str(tmp_path / "o")))
    assert len(line) <= len("grace: error: ") + 1000 + 40, len(line)
    assert "expected 'logical_count'" in line, line


def test_one_line_and_quote_mirror_grace_core():
    from grace import sglang

    assert sglang.one_line("a\nb\x1b\\c") == "a\\nb\\x1b\\c"
    msg = "h" * 800 + "m" * 1000 + "t" * 300
    assert sglang.one_line(msg) == "h" * 750 + " [... 1100 bytes cut ...] " + "t" * 250
    assert sglang.quote("a'b\\c\td") == "'a'b\\\\c\\td'"
    assert sglang.quote("x" * 250) == "'" + "x" * 200 + "'...(250 bytes)"
    assert sglang.quote("\u00e9") == "'\u00e9'"  # UTF-8 text is kept


# --- finding 5: --model checks top-k and the expert count ---------------------------------------

def test_model_checks_top_k_and_the_stat_mode_expert_count(tmp_path, cli, model_file):
    good_dump(tmp_path / "k3.pt", top_k=3)
    torch.save({"logical_count": torch.ones(3, 5, dtype=torch.int32)}, tmp_path / "stat5.pt")
    torch.save({"logical_count": torch.ones(3, 0, dtype=torch.int32)}, tmp_path / "stat0.pt")
    for name, expect in (("k3", "top-3, model 'toy3' has top-2"), ("stat5", "5 experts, model 'toy3' has 8"),
                         ("stat0", "0 experts")):
        line = one_error(cli("trace", "import-sglang", str(tmp_path / f"{name}.pt"), "-o", str(tmp_path / name),
                             "--model", model_file))
        assert expect in line, (name, line)
        assert not (tmp_path / name).exists()
    line = one_error(cli("trace", "import-sglang", str(tmp_path / "stat0.pt"), "-o", str(tmp_path / "s0")))
    assert "0 experts" in line, line


# --- finding 9: extend_seq_lens -----------------------------------------------------------------

def test_extend_seq_lens_must_add_up_to_the_records_tokens(tmp_path, cli):
    for name, lens, expect in (("short", [3], "'extend_seq_lens' adds up to 3, the record has 4 tokens"),
                               ("long", [4, 1], "adds up to 5"), ("negative", [5, -1], "negative"),
                               ("nested", [[4]], "list of whole numbers"),
                               ("bools", [True, True, True, True], "list of whole numbers"),
                               ("tensor", torch.tensor([4]), "is a tensor"), ("text", "4", "is str")):
        dump = good_dump(tmp_path / f"{name}.pt", extend_seq_lens=lens)
        line = one_error(cli("trace", "import-sglang", dump, "-o", str(tmp_path / name)))
        assert "records[0]" in line and expect in line, (name, line)
        assert not (tmp_path / name).exists()
    for name, lens, offsets in (("split", [1, 3], [0, 1, 4]), ("none", None, [0, 4]), ("zero", [0, 4, 0], [0, 4])):
        dump = good_dump(tmp_path / f"{name}.pt", extend_seq_lens=lens)
        r = cli("trace", "import-sglang", dump, "-o", str(tmp_path / name))
        assert r.returncode == 0, (name, r.stderr)
        assert np.load(tmp_path / name / "seq_offsets.npy").tolist() == offsets, name


def test_a_signal_while_writing_leaves_nothing(tmp_path, good):
    """SIGTERM / SIGINT / SIGHUP after the first file is staged: the process dies of the signal, and
    the staging folder and the parents it created are gone (as grace's CLI does: core/cleanup.h)."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        patch = ("save = np.save\n"
                 "def save_then_die(*a, **k):\n"
                 "    save(*a, **k)\n"
                 f"    os.kill(os.getpid(), {int(sig)})\n"
                 "np.save = save_then_die\n")
        r = in_process(["import", good, "-o", str(tmp_path / "new" / "out")], patch)
        assert r.returncode == -sig, (sig, r.returncode, r.stderr)
        assert "Traceback" not in r.stderr, r.stderr
        assert sorted(os.listdir(tmp_path)) == ["good.pt"], (sig, os.listdir(tmp_path))


def test_logical_ids_past_grace_expert_limit_and_wrapping_counts_are_refused(cli, tmp_path):
    # Ids of 70,000 logical experts were written as uint16 (wrapped); stat counts whose layer sum
    # passes int64 wrapped to 0 and were reported as "no layer holds any routing data".
    big = tmp_path / "big.pt"
    g = torch.Generator().manual_seed(0)
    ids = torch.stack([torch.stack([torch.randperm(70000, generator=g)[:2] for _ in range(5)])
                       for _ in range(3)]).int()
    ids[0] = -1
    torch.save({"records": [{"topk_ids_of_layer": ids, "extend_seq_lens": [5]}],
                "last_physical_to_logical_map": torch.arange(70000).repeat(3, 1)}, big)
    r = cli("trace", "import-sglang", str(big), "-o", str(tmp_path / "o1"))
    assert r.returncode == 2, r.stderr
    assert "more than grace's 65535 experts" in r.stderr and r.stderr.count("\n") == 1
    wrap = tmp_path / "wrap.pt"
    torch.save({"logical_count": torch.full((1, 27, 64), 2 ** 62, dtype=torch.int64)}, wrap)
    r = cli("trace", "import-sglang", str(wrap), "-o", str(tmp_path / "o2"))
    assert r.returncode == 2, r.stderr
    assert "sums past 2**62" in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


def test_dot_and_long_output_names_are_written_whole(tmp_path, cli, good):
    # "-o ." is the current folder (its parent gets the staging folder), and the staging folder's
    # name does not grow with the output's (a 250-byte name failed after the work).
    work = tmp_path / "w"
    work.mkdir()
    r = cli("trace", "import-sglang", good, "-o", ".", cwd=work)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(work)) == ["import.json", "seq_offsets.npy", "topk_ids.npy"]
    long_name = "n" * 250
    r = cli("trace", "import-sglang", good, "-o", long_name, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(tmp_path / long_name)) == ["import.json", "seq_offsets.npy", "topk_ids.npy"]
    assert leftovers(tmp_path) == []

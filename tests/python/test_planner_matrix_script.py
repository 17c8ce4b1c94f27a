"""scripts/planner-matrix.sh: which traffic each case plans on and which it evaluates, and the
summary it computes, run against a stand-in planner_matrix (PM_BIN) on a stand-in data folder."""
import os
import re
import subprocess

import pytest

from conftest import SOURCE

SCRIPT = os.path.join(SOURCE, "scripts", "planner-matrix.sh")
TASKS = ["intent", "law", "summary", "translation"]
ROWS = ["eplb/wrr/flat", "uniform-affinity/primary/hierarchical", "eplb/tar/hierarchical",
        "uniform-affinity+replicas/cover/hierarchical", "grace/cover/hierarchical",
        "grace/cover/hierarchical/0"]
# Stand-in results per row: inter MB, load max/mean, layer us (grace/cover/hierarchical is row 4).
FAKE = {"eplb/wrr/flat": (800, 1.25, 12000), "uniform-affinity/primary/hierarchical": (320, 2.0, 5000),
        "eplb/tar/hierarchical": (400, 1.3, 5600), "uniform-affinity+replicas/cover/hierarchical": (310, 1.4, 4900),
        "grace/cover/hierarchical": (288, 1.2, 4500), "grace/cover/hierarchical/0": (312, 1.3, 4800)}


@pytest.fixture
def setup(tmp_path):
    log = tmp_path / "calls.log"
    fake = tmp_path / "planner_matrix"
    table = "\n".join(f'"{r}") echo "$a\t{m}\t{l}\t{u}\t9\t12.5\t0.1\t1.1" ;;' for r, (m, l, u) in FAKE.items())
    fake.write_text(f"""#!/usr/bin/env bash
echo "$*" >> {log}
echo "row	inter_MB	load_max_mean	layer_us	instances_per_gpu	extra_mem_pct	plan_s	nic_max_mean"
for a in "$@"; do
  case $a in
{table}
  esac
done
""")
    fake.chmod(0o755)
    data = tmp_path / "data"
    (data / "traces" / "deepseek-v2-lite-esft").mkdir(parents=True)
    (data / "traces" / "gpt-oss-20b-mmlu").mkdir(parents=True)  # empty: the domain split fails, skipped
    env = dict(os.environ, PM_BIN=str(fake), GRACE_SHARED_DATA=str(data))
    return tmp_path, log, env


def run(tmp_path, env, **knobs):
    out = tmp_path / "out" / "pm.tsv"
    r = subprocess.run(["bash", SCRIPT, "unused-build", str(out)], capture_output=True, text=True,
                       env=dict(env, **knobs))
    return r, out


def deepseek_rotations(log):
    """(plan tasks, evaluated tasks) of each DeepSeek call with --plan-trace, in call order."""
    got = []
    for line in log.read_text().splitlines():
        if "deepseek-v2-lite" not in line or "--plan-trace" not in line:
            continue
        plan = re.findall(r"--plan-trace \S*/(\w+)_topk_ids", line)
        ev = re.findall(r"--trace \S*/(\w+)_topk_ids", line)
        got.append((plan, ev))
    return got


@pytest.mark.parametrize("holdout,count", [(1, 4), (2, 6), (3, 4)])
def test_each_rotation_plans_on_the_other_tasks_and_evaluates_the_held_out_ones(setup, holdout, count):
    tmp_path, log, env = setup
    r, out = run(tmp_path, env, PM_HOLDOUT=str(holdout))
    assert r.returncode == 0, r.stderr
    assert "domain rotations skipped" in r.stderr
    rot = deepseek_rotations(log)
    assert len(rot) == 3 * count  # three topologies
    for plan, ev in rot:
        assert len(ev) == holdout and len(plan) == 4 - holdout
        assert sorted(plan + ev) == sorted(TASKS)  # disjoint, together every task
    sets = {tuple(ev) for _, ev in rot}
    assert len(sets) == count  # every held-out set once per topology
    names = [l.split("\t")[0] for l in out.read_text().splitlines()[1:]]
    assert f"deepseek-v2-lite 2x4 plan-{4 - holdout}-tasks/eval-" + "+".join(rot[0][1]) in names


def test_summary_ratios_are_the_rows_ratios(setup):
    tmp_path, log, env = setup
    r, out = run(tmp_path, env)
    assert r.returncode == 0, r.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 1 + 3 * (1 + 4 + 1) + 1  # header; per topology DeepSeek even/odd + 4 + GPT-OSS; V3
    f = lines[1].split("\t")
    g, ua, et, uar, g0, ew = (FAKE[r] for r in ("grace/cover/hierarchical", ROWS[1], ROWS[2], ROWS[3],
                                                 "grace/cover/hierarchical/0", ROWS[0]))
    assert float(f[1]) == g[0]
    assert float(f[2]) == pytest.approx(g[0] / min(ua[0], et[0]), abs=5e-4)
    assert float(f[3]) == pytest.approx(g[0] / uar[0], abs=5e-4)
    assert float(f[4]) == pytest.approx(g0[0] / ua[0], abs=5e-4)
    assert f[5].startswith(f"{g[1] / ew[1]:.3f} (")
    assert float(f[6]) == pytest.approx(min(ua[2], et[2], uar[2]) / g[2], abs=5e-4)


@pytest.mark.parametrize("knob,value", [("PM_HOLDOUT", "4"), ("PM_HOLDOUT", "two"), ("PM_SPLIT", "thirds")])
def test_a_bad_knob_is_one_error_line_exit_2_and_no_output(setup, knob, value):
    tmp_path, log, env = setup
    r, out = run(tmp_path, env, **{knob: value})
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and knob in r.stderr and value in r.stderr
    assert not out.parent.exists() and not log.exists()

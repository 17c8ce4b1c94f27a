#!/usr/bin/env python3
"""Splits the GPT-OSS-20B MMLU trace into MMLU's four subject domains, as traces grace reads.

Usage: gpt-oss-domains.py TRACE_DIR OUT_DIR

TRACE_DIR holds topk_ids.npy.gz, seq_offsets.npy and seqs.json (../shared/data/traces/
gpt-oss-20b-mmlu). OUT_DIR gets, per domain D in stem, humanities, social, other,
D_topk_ids.npy.gz and D_seq_offsets.npy: the sequences whose MMLU subject belongs to D (the
subject -> domain map of the MMLU authors' categories.py), whole and in trace order. A planner
made on three domains and evaluated on the fourth meets subjects it never saw, as the
DeepSeek-V2-Lite ESFT rotations meet an unseen task (scripts/planner-matrix.sh).
Derived data: written under out/, never committed. Exit 2 with one line on bad input.
"""
import gzip
import json
import os
import sys

DOMAINS = {
    "stem": """abstract_algebra anatomy astronomy college_biology college_chemistry
        college_computer_science college_mathematics college_physics computer_security
        conceptual_physics electrical_engineering elementary_mathematics high_school_biology
        high_school_chemistry high_school_computer_science high_school_mathematics
        high_school_physics high_school_statistics machine_learning""",
    "humanities": """formal_logic high_school_european_history high_school_us_history
        high_school_world_history international_law jurisprudence logical_fallacies
        moral_disputes moral_scenarios philosophy prehistory professional_law world_religions""",
    "social": """econometrics high_school_geography high_school_government_and_politics
        high_school_macroeconomics high_school_microeconomics high_school_psychology
        human_sexuality professional_psychology public_relations security_studies sociology
        us_foreign_policy""",
    "other": """business_ethics clinical_knowledge college_medicine global_facts human_aging
        management marketing medical_genetics miscellaneous nutrition professional_accounting
        professional_medicine virology""",
}
DOMAIN_OF = {s: d for d, subjects in DOMAINS.items() for s in subjects.split()}


def fail(msg):
    print(f"gpt-oss-domains: {msg}", file=sys.stderr)
    sys.exit(2)


def split(trace_dir, out_dir):
    import numpy as np

    paths = {n: os.path.join(trace_dir, n) for n in ("topk_ids.npy.gz", "seq_offsets.npy", "seqs.json")}
    for p in paths.values():
        if not os.path.isfile(p):
            fail(f"{p}: no such file")
    try:
        with gzip.open(paths["topk_ids.npy.gz"]) as f:
            ids = np.load(f)
        offsets = np.load(paths["seq_offsets.npy"])
        with open(paths["seqs.json"]) as f:
            seqs = json.load(f)
    except (OSError, ValueError, EOFError) as e:
        fail(f"{trace_dir}: cannot read the trace ({e})")
    if ids.ndim != 3 or offsets.ndim != 1 or len(offsets) != len(seqs) + 1 or offsets[-1] != len(ids):
        fail(f"{trace_dir}: ids {ids.shape}, {len(offsets)} offsets and {len(seqs)} sequences do not agree")
    rows = {d: [] for d in DOMAINS}
    for i, s in enumerate(seqs):
        cat = s.get("category") if isinstance(s, dict) else None
        if cat not in DOMAIN_OF:
            fail(f"{paths['seqs.json']}: sequence {i} has subject {cat!r}, which is in no MMLU domain")
        rows[DOMAIN_OF[cat]].append((int(offsets[i]), int(offsets[i + 1])))
    for d, spans in rows.items():
        if not spans:
            fail(f"{trace_dir}: no sequence of domain {d}")
    os.makedirs(out_dir, exist_ok=True)
    for d, spans in rows.items():
        part = np.concatenate([ids[a:b] for a, b in spans])
        offs = np.cumsum([0] + [b - a for a, b in spans]).astype(np.int64)
        # Written next to the final names and renamed, so a failed run leaves no half-written trace.
        ids_path = os.path.join(out_dir, f"{d}_topk_ids.npy.gz")
        offs_path = os.path.join(out_dir, f"{d}_seq_offsets.npy")
        with gzip.open(ids_path + ".tmp", "wb", compresslevel=1) as f:
            np.save(f, part)
        with open(offs_path + ".tmp", "wb") as f:
            np.save(f, offs)
        os.replace(offs_path + ".tmp", offs_path)
        os.replace(ids_path + ".tmp", ids_path)
        print(f"{d}: {len(spans)} sequences, {len(part)} tokens", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        sys.exit(0)
    if len(sys.argv) != 3:
        fail("Usage: gpt-oss-domains.py TRACE_DIR OUT_DIR (--help for more)")
    split(sys.argv[1], sys.argv[2])

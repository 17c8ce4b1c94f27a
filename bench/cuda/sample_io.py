"""What bench/cuda/ss-summary.py and link-summary.py share: reading a sampler's lines and writing
the summary table, with bad input as one error line and exit 2 (nothing printed before)."""
import sys


def fail(tool, msg):
    print(f"{tool}: {msg}", file=sys.stderr)
    sys.exit(2)


def split_lines(tool, path):
    """[(line number, whitespace-split fields)] of the file's non-empty lines."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return [(n, line.split()) for n, line in enumerate(f, 1) if line.split()]
    except OSError as e:
        fail(tool, f"cannot read {path}: {e.strerror}")


def print_tsv(fields, rows):
    """A header and one line per row, floats with 3 decimals."""
    print("\t".join(fields))
    for row in rows:
        print("\t".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row))

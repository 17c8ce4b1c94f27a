"""Runs pytest on tests/python, or exits 77 (ctest: skipped) naming what is missing."""
import importlib.util
import sys

# torch is needed by some tests only: they skip themselves (pytest.importorskip) without it.
missing = [m for m in ("numpy", "pytest") if importlib.util.find_spec(m) is None]
if missing:
    print("SKIP: python tests need " + ", ".join(missing) + " (apt install python3-numpy python3-pytest)")
    sys.exit(77)
if importlib.util.find_spec("grace") is None or importlib.util.find_spec("grace._core") is None:
    print("SKIP: the grace module is not on PYTHONPATH (build target grace_py)")
    sys.exit(77)
import pytest  # noqa: E402

sys.exit(pytest.main(sys.argv[1:]))

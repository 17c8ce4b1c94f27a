"""Shared fixtures: paths to the CLI and the source tree (set by ctest; see CMakeLists.txt)."""
import os
import subprocess
import sys

import pytest

CLI = os.environ.get("GRACE_CLI", "")
SOURCE = os.environ.get("GRACE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.environ.get("GRACE_SHARED_DATA", os.path.join(SOURCE, "..", "shared", "data"))


@pytest.fixture
def cli():
    if not CLI or not os.path.exists(CLI):
        pytest.skip("GRACE_CLI (the grace binary) not set")

    def run(*args, cwd=None):
        env = dict(os.environ)
        env.setdefault("GRACE_PYTHON", sys.executable)
        return subprocess.run([CLI, *args], capture_output=True, text=True, cwd=cwd, env=env)

    return run


def run_module(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "grace.sglang", *args], capture_output=True, text=True, cwd=cwd)

"""SGLang expert-distribution recorder dumps -> grace traces and load profiles.

    python -m grace.sglang import DUMP.pt... -o DIR [--model M]
    python -m grace.sglang plan DIR --model M --topology 2x4 [--policy eplb] -o placement.json

import (the dumps are read by grace.sglang_import, which describes SGLang's formats) writes:
  per_token -> DIR/topk_ids.npy [tokens, moe_layers, k] (logical ids: physical ids mapped back
              with last_physical_to_logical_map, dense-layer rows and -1 padding dropped),
              DIR/seq_offsets.npy (sequences from extend_seq_lens, else one per forward pass) and
              DIR/import.json (where it came from): a grace trace for `grace plan --trace DIR`.
  stat / per_pass -> DIR/loads.npy int64 [moe_layers, E] and DIR/profile.json: a load profile
              (no co-activation), for load-only planning: `python -m grace.sglang plan DIR`,
              grace.plan(loads=...) or grace.eplb.rebalance_experts.
DIR is written whole: into a sibling `.grace-import-XXXXXXXX`, renamed into place. An existing DIR is
replaced only when it holds nothing but import's own files, one of them its import.json or
profile.json (a trace folder that another command wrote is refused), else refused before any work.
Bad input, a usage error or a path the system refuses: one line `grace: error: <where>: <problem>`
on stderr (names quoted and escaped, the line cut past 1000 bytes), exit code 2, nothing written.
"""
import argparse
import contextlib
import ctypes
import errno
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import threading

import numpy as np

from .sglang_import import (MARKER_NAMES, OUTPUT_NAMES, DumpError, _fail, describe_import, import_dumps, load_dump,
                            one_line, quote, write_import)

__all__ = ["load_dump", "import_dumps", "main", "quote", "one_line"]

_NAME_MAX, _PATH_MAX = 255, 4096


# --- the output folder: checked before the work, staged, renamed into place (core/staged_dir.h) --

def _check_output_path(path):
    """Not empty, under the path length limit, no component over 255 bytes."""
    if not path:
        _fail("-o/--out", "output path is empty")
    data = os.fsencode(path)
    if len(data) >= _PATH_MAX:
        _fail(f"output path {quote(path)}", f"{len(data)} bytes, over the {_PATH_MAX - 1}-byte limit")
    longest = max(len(c) for c in data.split(b"/"))
    if longest > _NAME_MAX:
        _fail(f"output path {quote(path)}", f"a component of {longest} bytes is over the {_NAME_MAX}-byte limit")


def _refuse_foreign(folder, owned):
    """Fails when folder holds an entry import does not write (an own name that is not a plain file
    too), or holds entries but none of import's marker files (a trace another command wrote)."""
    try:
        with os.scandir(folder) as it:
            entries = [(e.name, e.is_file(follow_symlinks=False)) for e in it]
    except OSError as e:
        _fail(f"output folder {quote(folder)}", f"cannot list it: {e.strerror}")
    foreign = next((name for name, is_file in entries if name not in owned or not is_file), None)
    if foreign is not None:
        _fail(f"output folder {quote(folder)}", f"holds {quote(foreign)}, which grace did not write there; give a "
              "new or empty folder (grace replaces an output folder whole)")
    names = sorted(name for name, _ in entries)
    if names and not any(n in names for n in MARKER_NAMES):  # e.g. a trace that `grace trace synth` wrote
        _fail(f"output folder {quote(folder)}", f"holds {quote(names[0])} but no import.json or "
              "profile.json: a trace or profile that import did not write; give a new or empty folder")


def _check_can_create(path):
    """Makes and removes a folder in the nearest existing folder above path."""
    d = os.path.dirname(path) or "."
    while not os.path.exists(d):
        up = os.path.dirname(d)
        if not up or up == d:
            d = "/" if os.path.isabs(d) else "."
            break
        d = up
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".grace-probe-", dir=d))
    except OSError as e:
        _fail(f"cannot create output {quote(path)}", f"{e.strerror} ({quote(d)})")


def _check_output_folder(target, owned):
    _check_output_path(target)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return _check_can_create(target)
    except OSError as e:
        _fail(f"output folder {quote(target)}", e.strerror)
    if not stat.S_ISDIR(st.st_mode):
        _fail(f"output folder {quote(target)}", "exists and is not a folder")
    _refuse_foreign(target, owned)
    _check_can_create(target)


def _resolve_links(path):
    """A symbolic link's target (the folder is written there; the link stays)."""
    for _ in range(40):
        if not os.path.islink(path):
            break
        link = os.readlink(path)
        path = link if os.path.isabs(link) else os.path.join(os.path.dirname(path), link)
    return path


def _make_parents(folder, made):
    """Creates the missing folders down to folder, appending each to made."""
    missing = []
    while folder and not os.path.exists(folder) and folder != os.path.dirname(folder):
        missing.append(folder)
        folder = os.path.dirname(folder)
    for p in reversed(missing):
        os.mkdir(p)
        made.append(p)


def _exchange(a, b):
    """Swaps folders a and b in one step (renameat2 RENAME_EXCHANGE); where the system has no such
    call, moves b aside, a into place, and the old b to a."""
    fn = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if fn is not None:
        fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        if fn(-100, os.fsencode(a), -100, os.fsencode(b), 2) == 0:  # AT_FDCWD, RENAME_EXCHANGE
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS):
            raise OSError(err, os.strerror(err), b)
    aside = a + ".old"
    os.rename(b, aside)
    try:
        os.rename(a, b)
    except OSError:
        os.rename(aside, b)
        raise
    os.rename(aside, a)


def _commit(staging, target, owned):
    try:
        os.rename(staging, target)  # onto a missing or empty folder
        return
    except OSError as e:
        if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
    _refuse_foreign(target, owned)  # again: it may have changed during the work
    _exchange(staging, target)  # the staging folder now holds the old content


@contextlib.contextmanager
def _staged_folder(target, owned):
    """Yields a sibling staging folder `.grace-import-XXXXXXXX` (mkdtemp: short, and unique for
    every run, whatever the process), renamed onto target when the body ends without an error;
    else it is removed, and so are the missing parents it created."""
    target = os.path.abspath(_resolve_links(target))  # "." and ".." become real names
    parent = os.path.dirname(target)
    staging = None
    made, done = [], False
    try:
        try:
            _make_parents(parent, made)
            staging = tempfile.mkdtemp(prefix=".grace-import-", dir=parent)
            yield staging
            _commit(staging, target, owned)
            done = True
        except OSError as e:
            _fail(f"cannot write output folder {quote(target)}", e.strerror or str(e))
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)  # after an exchange: the old content
        for p in reversed(made if not done else []):
            with contextlib.suppress(OSError):
                os.rmdir(p)


# --- commands ------------------------------------------------------------------------------------

def _model_dict(name):
    if not name:
        return None
    from . import _core  # model facts come from grace's presets / JSON

    return _core.model_info(name)


def _same_file(a, b):
    """True when a and b name one file (the same device and inode: also through a link)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def _refuse_overwrite(outputs, inputs):
    """Fails, before anything is written, when an output would replace one of the inputs."""
    for out in outputs:
        for inp in inputs:
            if inp and _same_file(out, inp):
                _fail(quote(out), f"is the same file as the input {quote(inp)}: refusing to overwrite it "
                      "(choose another output)")


def _cmd_import(a):
    out = a.out.rstrip("/") or a.out[:1]
    target = _resolve_links(out)
    _refuse_overwrite([os.path.join(target, n) for n in OUTPUT_NAMES], list(a.dumps) + [a.model])  # the plainer error
    _check_output_folder(out, OUTPUT_NAMES)
    model = _model_dict(a.model)
    result = import_dumps(a.dumps, model)  # every dump read and checked before anything is written
    with _staged_folder(out, OUTPUT_NAMES) as folder:
        write_import(result, folder, model)
    _print_result(describe_import(result, out))


def _read_loads(path):
    try:
        loads = np.load(path)
    except Exception as e:  # noqa: BLE001 - pickled, truncated or not a .npy at all
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "pickle" in first:  # numpy's text for anything it does not recognise as a .npy header
            first = "not in .npy format, or it holds pickled Python objects"
        _fail(quote(path), f"cannot be read as a numpy .npy array of per-expert loads: {first}")
    if not isinstance(loads, np.ndarray) or loads.dtype.kind not in "iuf":
        what = f"dtype {loads.dtype}" if isinstance(loads, np.ndarray) else type(loads).__name__
        _fail(quote(path), f"holds {what}, expected numeric per-expert loads [moe_layers, experts]")
    return loads


def _cmd_plan(a):
    import warnings

    from . import plan

    path = os.path.join(a.profile, "loads.npy")
    if not os.path.isfile(path):
        _fail(quote(a.profile), "no loads.npy (import a stat or per_pass dump first)")
    _refuse_overwrite([a.output], [path, a.model, a.topology])
    loads = _read_loads(path)
    if a.policy in ("grace", "grace-paper", "uniform-affinity"):
        _write(sys.stderr, f"note: a load profile has no co-activation; {quote(a.policy)} plans for load only")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            p = plan(loads=loads, model=a.model, topology=a.topology, policy=a.policy, redundant=a.redundant,
                     seed=a.seed)
        except (TypeError, ValueError) as e:  # plan()'s argument names are this command's flags
            raise DumpError(re.sub(r"\bplan: (redundant|seed|model|topology|policy)\b", r"--\1", str(e))) from None
    p.save(a.output)
    _print_result(f"planned {p!r} -> {one_line(a.output)}")


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are grace's one line (raised, not printed with the usage)."""

    def error(self, message):
        raise DumpError(f"{self.prog}: {message}")


def _parser():
    ap = _Parser(prog="python3 -m grace.sglang", description="Import SGLang expert-distribution dumps into grace")
    sub = ap.add_subparsers(dest="cmd", required=True)
    imp = sub.add_parser("import", help="recorder dumps (.pt) -> grace trace or load profile")
    imp.add_argument("dumps", nargs="+", help="expert_distribution_recorder_*.pt files")
    imp.add_argument("-o", "--out", required=True, help="output directory (written whole)")
    imp.add_argument("--model", default="", help="model preset or JSON (checks shapes; gives the dense layers)")
    pl = sub.add_parser("plan", help="plan from an imported load profile")
    pl.add_argument("profile", help="directory written by import (loads.npy)")
    pl.add_argument("--model", default="", help="model preset or JSON")
    pl.add_argument("--topology", default="2x4")
    pl.add_argument("--policy", default="eplb")
    pl.add_argument("--redundant", type=int, default=-1)
    pl.add_argument("--seed", type=int, default=1)
    pl.add_argument("-o", "--output", required=True, help="grace placement JSON")
    return ap


# --- one line, exit code 2; signals remove the staging folder -------------------------------------

def _write(stream, line):
    """line + newline, names' raw bytes kept (surrogateescape) as grace's C++ side prints them."""
    data = os.fsencode(line) + b"\n"
    buf = getattr(stream, "buffer", None)
    if buf is None:
        stream.write(data.decode("utf-8", "replace"))
    else:
        stream.flush()
        buf.write(data)
        buf.flush()


def _print_result(line):
    try:
        _write(sys.stdout, line)
    except OSError as e:  # a full disk, a closed pipe: the result is lost, so the command failed
        raise DumpError(f"cannot write to standard output: {e.strerror}") from None


class _Signalled(BaseException):
    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _on_signal(signum, frame):
    for s in _SIGNALS:
        signal.signal(s, signal.SIG_IGN)  # the clean-up (finally blocks) runs once, uninterrupted
    raise _Signalled(signum)


def _run(argv):
    try:
        a = _parser().parse_args(argv)
        (_cmd_import if a.cmd == "import" else _cmd_plan)(a)
        return 0
    except ValueError as e:  # DumpError, usage errors and grace's own InputError (ValueError)
        _write(sys.stderr, f"grace: error: {one_line(str(e))}")
    except OSError as e:  # a path the system refuses, met outside the checks
        where = quote(e.filename) if e.filename else "input/output"
        _write(sys.stderr, f"grace: error: {one_line(f'{where}: {e.strerror or e}')}")
    except MemoryError:
        _write(sys.stderr, "grace: error: out of memory: the inputs do not fit in this machine's memory")
    except Exception as e:  # noqa: BLE001 - a bug in grace: one line too, exit code 1
        _write(sys.stderr, f"grace: internal error: {one_line(f'{type(e).__name__}: {e}')}")
        return 1
    return 2


def main(argv=None):
    hooked = threading.current_thread() is threading.main_thread()
    old = {s: signal.getsignal(s) for s in _SIGNALS} if hooked else {}
    old = {s: h for s, h in old.items() if h is not None and h is not signal.SIG_IGN}  # None: set outside Python
    for s in old:
        signal.signal(s, _on_signal)
    try:
        return _run(argv)
    except _Signalled as e:  # the staging folder is gone: die of the signal, as grace does
        signal.signal(e.signum, signal.SIG_DFL)
        os.kill(os.getpid(), e.signum)
        return 128 + e.signum
    finally:
        for s, h in old.items():
            signal.signal(s, h)


if __name__ == "__main__":
    sys.exit(main())

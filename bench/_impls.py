"""Implementations (table columns) and how each one's worker is started.

"ours" runs in the project's .venv; each anchor in its own venv under
bench/.envs/ (see _envs.py); the C baseline is bench/c/cabench.c.  A missing
worker file makes the column "n/a (not implemented)".
"""
import glob
import os
import shutil
import subprocess
import sys

import _envs
from _report import NOT_IMPLEMENTED

__all__ = ["OURS", "AIOCA", "Impl", "ca_impls", "pva_impls", "aio_impls", "ours_python"]

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKERS = os.path.join(HERE, "workers")
OURS = "ours"
AIOCA = "aioca"


def _log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def ours_python():
    """The project's venv interpreter (editable caffi/pva), else this one."""
    venv = os.path.join(ROOT, ".venv", "bin", "python")
    return venv if os.path.exists(venv) else sys.executable


def base_python():
    """A non-venv interpreter for the anchors' venvs (same minor version)."""
    base = getattr(sys, "_base_executable", None)
    if base and os.path.exists(base) and os.path.realpath(base) != os.path.realpath(
            sys.executable):
        return base
    probe = subprocess.run([ours_python(), "-c", "import sys; print(sys._base_executable)"],
                           stdout=subprocess.PIPE, text=True)
    path = probe.stdout.strip()
    return path if probe.returncode == 0 and os.path.exists(path) else sys.executable


def python39():
    """Python 3.9 for caproto 0.8.1 (its pva needs 3.9): $BENCH_PYTHON39 or search."""
    found = [os.environ.get("BENCH_PYTHON39")]
    found += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.9*/bin/python")))
    found += [shutil.which("python3.9")]
    for path in found:
        if not path or not os.path.exists(path):
            continue
        probe = subprocess.run([path, "-c", "import sys; print(sys.version_info[:2] == (3, 9))"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if probe.stdout.strip() == "True":
            return path
    return "python3.9 (not found; set BENCH_PYTHON39)"


# Implementations ---------------------------------------------------------------
class Impl:
    """One column of a table: how to run its worker, and whether it can run."""

    def __init__(self, label, worker=None, venv=None, requirements=(), python=None,
                 native=False, dist=None):
        self.label = label
        self.worker = worker
        self.venv = venv
        self.requirements = list(requirements)
        self.python = python
        self.native = native
        self.dist = dist
        self.command = None
        self.reason = None
        self.detail = None
        self.version = ""

    def prepare(self, cabench):
        """Set ``command`` (argv prefix) or ``reason`` why it cannot run."""
        if self.native:
            if cabench[0] is None:
                self.reason = "n/a (C build failed)"
                self.detail = cabench[1]
            else:
                self.command = [cabench[0]]
                self.version = "libca from epicscorelibs"
            return
        script = os.path.join(WORKERS, self.worker)
        if not os.path.exists(script):
            self.reason = NOT_IMPLEMENTED
            return
        python = self.python
        if self.venv is not None:
            python, why = _envs.ensure_venv(self.venv, self.python, self.requirements, log=_log)
            if python is None:
                self.reason = "n/a (install failed)"
                self.detail = why
                return
        self.command = [python, script]
        if self.dist:
            probe = subprocess.run(
                [python, "-c", "import importlib.metadata as m; print(m.version(%r))"
                 % self.dist], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                text=True, cwd=WORKERS)
            self.version = "%s %s" % (self.dist, probe.stdout.strip() or "?")


def ca_impls():
    base = base_python()
    return [
        Impl(OURS, "ca_caffi.py", python=ours_python(), dist="caffi"),
        Impl("C", native=True),
        Impl("caffi 1.0.4", "ca_caffi.py", venv="caffi104", python=base,
             requirements=["caffi==1.0.4", "numpy"], dist="caffi"),
        Impl("pyepics", "ca_pyepics.py", venv="pyepics", python=base,
             requirements=["pyepics", "numpy"], dist="pyepics"),
        Impl("caproto", "ca_caproto.py", venv="caproto", python=python39(),
             requirements=["caproto==0.8.1", "numpy"], dist="caproto"),
    ]


def pva_impls():
    return [
        # Our pva client and server (bench/workers/pva_ours.py, same protocol
        # as pva_p4p.py).
        Impl(OURS, "pva_ours.py", python=ours_python(), dist="caffi"),
        Impl("p4p", "pva_p4p.py", venv="p4p", python=base_python(),
             requirements=["p4p", "numpy"], dist="p4p"),
        Impl("caproto", "pva_caproto.py", venv="caproto", python=python39(),
             requirements=["caproto==0.8.1", "numpy"], dist="caproto"),
    ]


def aio_impls():
    """caffi.aio against aioca (its pinned release, in its own venv)."""
    return [
        Impl(OURS, "aio_ours.py", python=ours_python(), dist="caffi"),
        Impl(AIOCA, "aio_aioca.py", venv="aioca", python=base_python(),
             requirements=["aioca==2.1", "numpy"], dist="aioca"),
    ]

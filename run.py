#!/usr/bin/env python3
"""Set up a local virtual environment and run the demo or the test suite.

    python3 run.py demo    # soft IOC + Python PVA server: CA and PVA get, put, monitor
    python3 run.py test    # the whole test suite (extra arguments go to pytest)

The environment lives in ``.venv`` next to this file (``--venv DIR`` to pick
another).  It is created on first use; the project is reinstalled from this
checkout on every run, so what runs is what is checked out.  Only the standard
library is used here, so this works with a bare Python and a C compiler.
"""
import argparse
import hashlib
import os
import subprocess
import sys
import venv

HERE = os.path.dirname(os.path.abspath(__file__))

# Installed before the project so that it builds against the same
# epicscorelibs it runs with (``--no-build-isolation``).
BUILD_REQUIREMENTS = ["pip>=21.3", "setuptools>=61", "wheel", "cffi>=1.15",
                      "epicscorelibs>=7.0.7.99.0.0", "numpy>=1.20"]


def _bin(venv_dir, name):
    sub = "Scripts" if os.name == "nt" else "bin"
    suffix = ".exe" if os.name == "nt" else ""
    return os.path.join(venv_dir, sub, name + suffix)


def _run(cmd, **kwargs):
    print("+ " + " ".join(cmd), flush=True)
    subprocess.check_call(cmd, **kwargs)


def _requirements_stamp():
    digest = hashlib.sha256()
    for name in ("setup.py", "pyproject.toml", "run.py"):
        with open(os.path.join(HERE, name), "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def ensure_venv(venv_dir, extras):
    """Create *venv_dir* if needed and install the project with *extras*."""
    python = _bin(venv_dir, "python")
    if not os.path.exists(python):
        print("creating virtual environment in %s" % venv_dir, flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(venv_dir)
    stamp_file = os.path.join(venv_dir, ".caffi-requirements")
    stamp = _requirements_stamp() + ":" + extras
    try:
        with open(stamp_file) as f:
            current = f.read()
    except OSError:
        current = ""
    pip = [python, "-m", "pip", "--disable-pip-version-check", "install", "-q"]
    if current != stamp:
        _run(pip + ["-U"] + BUILD_REQUIREMENTS)
    target = ".[%s]" % extras if extras else "."
    _run(pip + ["--no-build-isolation", target], cwd=HERE)
    if current != stamp:
        with open(stamp_file, "w") as f:
            f.write(stamp)
    return python


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", default=os.path.join(HERE, ".venv"),
                        help="virtual environment directory (default: .venv)")
    parser.add_argument("what", choices=["demo", "test"])
    parser.add_argument("args", nargs=argparse.REMAINDER,
                        help="extra arguments for pytest or the demo")
    opts = parser.parse_args(argv)
    venv_dir = os.path.abspath(opts.venv)

    if opts.what == "demo":
        python = ensure_venv(venv_dir, "")
        return subprocess.call([python, os.path.join(HERE, "demo", "demo.py")] + opts.args,
                               cwd=HERE)

    ensure_venv(venv_dir, "test")
    # The pytest script (not ``python -m pytest``) keeps this checkout off
    # sys.path, so the tests import the installed package.
    cmd = [_bin(venv_dir, "pytest"), "-p", "no:cacheprovider"] + opts.args
    print("+ " + " ".join(cmd), flush=True)
    status = subprocess.call(cmd, cwd=HERE)
    if status == 5:
        print("pytest collected no tests: that is a failure here", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())

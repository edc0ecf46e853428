"""Anchor virtual environments (bench/.envs/<name>) and the C baseline build.

Each anchor gets its own venv created with ``python -m venv`` and filled by
its pip.  A venv is reused when its ``.bench-requirements`` stamp matches the
requested requirements; otherwise it is rebuilt.  Failures are returned as a
reason string, never raised, so the run goes on without that implementation.
"""
import hashlib
import os
import shutil
import subprocess
import sys

__all__ = ["ENVS_DIR", "ensure_venv", "build_cabench"]

HERE = os.path.dirname(os.path.abspath(__file__))
ENVS_DIR = os.path.join(HERE, ".envs")
_STAMP = ".bench-requirements"


def ensure_venv(name, base_python, requirements, log=print):
    """Return ``(python, None)`` for a ready venv, or ``(None, reason)``."""
    path = os.path.join(ENVS_DIR, name)
    python = os.path.join(path, "bin", "python")
    stamp = os.path.join(path, _STAMP)
    wanted = " ".join(requirements)
    if os.path.exists(stamp) and os.path.exists(python):
        with open(stamp) as f:
            if f.read().strip() == wanted:
                return python, None
    if not os.path.exists(base_python):
        return None, "base interpreter %s not found" % base_python
    log("  creating %s venv (%s) ..." % (name, wanted))
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(ENVS_DIR, exist_ok=True)
    logfile = os.path.join(ENVS_DIR, name + ".log")
    with open(logfile, "w") as out:
        steps = ([base_python, "-m", "venv", path],
                 [python, "-m", "pip", "install", "--disable-pip-version-check"]
                 + list(requirements))
        for cmd in steps:
            rc = subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ENVS_DIR)
            if rc != 0:
                with open(logfile) as f:
                    tail = f.read().strip().splitlines()[-3:]
                return None, "%s failed (rc %d): %s" % (cmd[2] if cmd[1] == "-m" else cmd[0],
                                                       rc, " | ".join(tail))
    with open(stamp, "w") as f:
        f.write(wanted + "\n")
    return python, None


def _include_dirs(include):
    dirs = [include]
    for sub in (os.path.join("os", "Linux"), os.path.join("compiler", "gcc")):
        d = os.path.join(include, sub)
        if os.path.isdir(d):
            dirs.append(d)
    return dirs


def build_cabench(python, log=print):
    """Compile bench/c/cabench.c against ``python``'s epicscorelibs.

    Returns ``(path, None)`` or ``(None, reason)``.
    """
    try:
        out = subprocess.check_output(
            [python, "-c", "import epicscorelibs.path as p; print(p.include_path); "
                           "print(p.lib_path)"], text=True, cwd=HERE)
    except (OSError, subprocess.CalledProcessError) as exc:
        return None, "epicscorelibs not importable: %s" % exc
    include, libdir = out.split("\n")[:2]
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return None, "no C compiler (cc/gcc) on PATH"
    src = os.path.join(HERE, "c", "cabench.c")
    flags = ["-O2", "-std=gnu99"] + ["-I" + d for d in _include_dirs(include)]
    libs = ["-L" + libdir, "-Wl,-rpath," + libdir, "-lca", "-lCom", "-lpthread"]
    # One executable per source text and command: checkouts that share
    # bench/.envs neither rebuild nor overwrite each other's.
    digest = hashlib.sha256(" ".join([cc] + flags + libs).encode())
    with open(src, "rb") as f:
        digest.update(f.read())
    exe = os.path.join(ENVS_DIR, "c", "cabench-" + digest.hexdigest()[:12])
    if os.path.exists(exe):
        return exe, None        # built by an earlier run from the same source and command
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    tmp = "%s.%d.tmp" % (exe, os.getpid())
    proc = subprocess.run([cc] + flags + ["-o", tmp, src] + libs, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        if os.path.exists(tmp):
            os.remove(tmp)
        return None, "compile failed: %s" % proc.stdout.strip()[-500:]
    os.replace(tmp, exe)
    log("  compiled %s" % os.path.relpath(exe, os.path.dirname(HERE)))
    return exe, None


if __name__ == "__main__":
    print(build_cabench(sys.executable))

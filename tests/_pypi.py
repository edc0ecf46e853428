"""Pinned distributions from PyPI for the tests that run other projects' suites.

``fetch`` returns the path of a distribution file checked against its sha256:
from the user's cache directory (``$XDG_CACHE_HOME/caffi-tests``, else
``~/.cache/caffi-tests``), else downloaded with ``pip download`` and then
cached.  Nothing of those projects is kept in this repository.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "caffi-tests")


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(requirement, filename, digest, pip_args=()):
    """The file ``filename`` of ``requirement`` (``name==version``), verified.

    ``pip_args`` choose the kind of file (``--no-binary``, ``--only-binary``
    ...).  A download whose sha256 is not ``digest`` fails the test; the cache
    is written through a temporary name, so a partial file is never reused.
    """
    cache = cache_dir()
    cached = os.path.join(cache, filename)
    if os.path.exists(cached) and sha256(cached) == digest:
        return cached
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q",
             "--no-deps", *pip_args, requirement, "-d", tmp],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
        path = os.path.join(tmp, filename)
        assert proc.returncode == 0 and os.path.exists(path), \
            "pip could not download %s:\n%s" % (filename, proc.stdout[-3000:])
        got = sha256(path)
        assert got == digest, "%s has sha256 %s, expected %s" % (filename, got, digest)
        try:
            os.makedirs(cache, exist_ok=True)
            partial = "%s.%d" % (cached, os.getpid())
            shutil.copyfile(path, partial)
            os.replace(partial, cached)
        except OSError:
            return _keep(path)      # no cache: use a copy outside the temporary directory
    return cached


def _keep(path):
    fd, copy = tempfile.mkstemp(suffix="-" + os.path.basename(path))
    os.close(fd)
    shutil.copyfile(path, copy)
    return copy

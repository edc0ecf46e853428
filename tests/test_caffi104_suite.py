"""caffi 1.0.4's own test suite passes, unmodified, against this package.

The suite is not part of this repository: its sdist (pinned by version and
sha256) is downloaded from PyPI with pip, its ``tests/`` directory is
extracted into a temporary directory and run with pytest in a subprocess,
against the installed ``caffi``.  Its tests read and write records without a
prefix (``catest``, ``cawave``, ...): ``tests/ioc/caffi104.db`` serves them
from a soft IOC on an isolated port that only the subprocess searches.
"""
import hashlib
import os
import subprocess
import sys
import tarfile

import pytest

import _ioc

VERSION = "1.0.4"
SDIST = "caffi-%s.tar.gz" % VERSION
SHA256 = "45dcb301cca98bf90f56b3d3eda4e9a2c0c1e27d47ff2761bc56db434bafd4c0"
#: test items in the 1.0.4 suite (37 DBR types, 15 put/get cases, 6 others)
N_TESTS = 58
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                     "caffi-tests")


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def _sdist(tmp_path):
    """The verified sdist: from the cache, else downloaded with pip (and cached)."""
    cached = os.path.join(CACHE, SDIST)
    if os.path.exists(cached) and _sha256(cached) == SHA256:
        return cached
    download = tmp_path / "download"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q",
         "--no-deps", "--no-binary", ":all:", "--no-build-isolation",
         "caffi==%s" % VERSION, "-d", str(download)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    path = download / SDIST
    assert proc.returncode == 0 and path.exists(), \
        "pip could not download %s:\n%s" % (SDIST, proc.stdout.decode("utf-8", "replace"))
    assert _sha256(str(path)) == SHA256, "%s does not have the pinned sha256" % SDIST
    try:
        os.makedirs(CACHE, exist_ok=True)
        partial = cached + ".%d" % os.getpid()
        with open(str(path), "rb") as src, open(partial, "wb") as dst:
            dst.write(src.read())
        os.replace(partial, cached)
    except OSError:
        pass  # no cache: download again next time
    return str(path)


def _extract_tests(sdist, dest):
    """Extract the sdist's ``tests/*.py`` (only those) into *dest*/tests."""
    prefix = "caffi-%s/tests/" % VERSION
    names = []
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            rel = member.name[len(prefix):]
            if not member.name.startswith(prefix) or not member.isfile() or "/" in rel \
                    or not rel.endswith(".py"):
                continue
            data = tar.extractfile(member).read()
            (dest / "tests").mkdir(exist_ok=True)
            (dest / "tests" / rel).write_bytes(data)
            names.append(rel)
    return sorted(names)


@pytest.fixture
def caffi104_ioc(ca_repeater, ports):
    port, = _ioc.pick_free_ports(1, exclude=(ports.server, ports.repeater) + ports.private)
    server = _ioc.IOC(dbfile=os.path.join(_ioc.IOC_DIR, "caffi104.db"), env=os.environ,
                      ca_port=port, name="caffi104-ioc")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_caffi104_suite_passes_unmodified(tmp_path, caffi104_ioc):
    sdist = _sdist(tmp_path)
    names = _extract_tests(sdist, tmp_path)
    assert names == ["test_callbacks.py", "test_context.py", "test_coverage.py",
                     "test_get_dbrtypes.py", "test_preemptive.py", "test_put_types.py",
                     "test_sg.py", "test_thread.py"]
    # An ini file of our own makes tmp_path the rootdir (no conftest or
    # configuration from elsewhere); the tests import the installed caffi.
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = dict(os.environ)
    env["EPICS_CA_ADDR_LIST"] = "127.0.0.1:%d" % caffi104_ioc.ca_port
    env["EPICS_CA_AUTO_ADDR_LIST"] = "NO"
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout=120",
         "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path), "tests"],
        cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        timeout=600)
    out = proc.stdout.decode("utf-8", "replace")
    assert proc.returncode == 0, out[-6000:]
    assert "%d passed" % N_TESTS in out, out[-3000:]

"""caproto 0.8.1's own pva tests, run against ``pva`` with only the module names rewritten.

The tests come from caproto's wheel on PyPI (pinned version, checked against
its sha256; fetched with pip and cached by ``_pypi``): only its
``caproto/tests/test_pva*.py`` are extracted, into a temporary directory.
``REWRITES`` changes the name ``caproto.pva`` to ``pva`` (in imports, and in
the module names the tests run or log under) and nothing else of the tests'
code.  They run with pytest in a subprocess, against the installed package,
on loopback ports of their own (the example-IOC tests start servers).

The tests whose subject ``pva`` does not keep are deselected; the list, with
the reasons, is in docs/pva-caproto.rst (read from there, so the docs and the
run cannot disagree).  Every other test must pass, except caproto's own
expected failures (``XFAIL``: pvRequests of bad syntax that must be refused,
and one test caproto marks unfinished): the counts of the last line of
pytest's summary are compared with the expected ones, so a drop fails this
test.
"""
import os
import re
import subprocess
import sys
import zipfile

import pytest

import _ioc
import _pypi

VERSION = "0.8.1"
WHEEL = "caproto-%s-py3-none-any.whl" % VERSION
SHA256 = "f3ddb730e5b54b0351762a27627b81b0cddb946aec19009de9a4036335fc1b40"
FILES = ["test_pva.py", "test_pva_circuit.py", "test_pva_commandline.py",
         "test_pva_dataclass.py", "test_pva_normative.py", "test_pva_pvrequest.py",
         "test_pva_server.py"]
#: the suite has 145 test items
N_ITEMS = 145
#: items caproto marks as expected failures: test_pvrequests_bad_syntax (4,
#: strict: each pvRequest must raise) and test_pvrequest_test_two
N_XFAIL = 5
DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                    "pva-caproto.rst")

#: (pattern, replacement, files): regular expressions applied in this order;
#: each must match at least once in each of its files
REWRITES = [
    # the package: ``caproto.pva`` is ``pva``
    (r"^from caproto import pva\b", "import pva",
     ["test_pva.py", "test_pva_circuit.py", "test_pva_dataclass.py", "test_pva_normative.py",
      "test_pva_pvrequest.py", "test_pva_server.py"]),
    # names imported from caproto.pva's private modules are at pva's top level
    (r"^from caproto\.pva\._(fields|normative) import", "from pva import",
     ["test_pva.py", "test_pva_normative.py"]),
    (r"\bcaproto\.pva\b", "pva", FILES),
    # caproto's runner of example IOCs (under coverage) is runpy's ``-m``
    (r"'caproto\.tests\.example_runner'", "'runpy'", ["test_pva_server.py"]),
    # caproto itself (for caproto.docs, a helper of caproto's documentation)
    (r"^import caproto(\.docs)?\n", "", ["test_pva_dataclass.py"]),
]


def left_out():
    """{node id prefix: reason} from the list in docs/pva-caproto.rst."""
    with open(DOCS) as f:
        text = f.read()
    section = text.split(".. left-out-tests-start", 1)[1].split(".. left-out-tests-end", 1)[0]
    found = {}
    for item in filter(None, re.split(r"\n(?=- )", section.strip())):
        m = re.match(r"- ``(tests/test_pva\w*\.py::[\w\[\]-]+)``\s*\((\d+)\):\s+(.+)", item,
                     re.S)
        assert m, "malformed entry in docs/pva-caproto.rst: %r" % item
        found[m.group(1)] = (int(m.group(2)), " ".join(m.group(3).split()))
    return found


def _extract(wheel, dest):
    (dest / "tests").mkdir()
    with zipfile.ZipFile(wheel) as zf:
        names = sorted(n.rsplit("/", 1)[1] for n in zf.namelist()
                       if re.fullmatch(r"caproto/tests/test_pva\w*\.py", n))
        assert names == FILES
        for name in names:
            source = zf.read("caproto/tests/" + name).decode("utf-8")
            for pattern, replacement, files in REWRITES:
                if name in files:
                    source, n = re.subn(pattern, replacement, source, flags=re.M)
                    assert n, "%r does not occur in %s" % (pattern, name)
            assert not re.search(r"^\s*(from|import)\s+caproto\b", source, re.M), name
            (dest / "tests" / name).write_text(source)
    # what the tests expect of caproto's conftest (which is not extracted)
    (dest / "tests" / "conftest.py").write_text(
        "import uuid\n\nimport pytest\n\n\n"
        "@pytest.fixture\n"
        "def prefix():\n"
        "    \"\"\"A random PV prefix for a server.\"\"\"\n"
        "    return str(uuid.uuid4())[:8] + ':'\n")
    (dest / "pytest.ini").write_text("[pytest]\n")


@pytest.fixture(scope="module")
def caproto_suite(tmp_path_factory):
    root = tmp_path_factory.mktemp("caproto-pva-suite")
    _extract(_pypi.fetch("caproto==%s" % VERSION, WHEEL, SHA256, ["--only-binary", ":all:"]),
             root)
    return root


def _env():
    server, broadcast = _ioc.pick_free_ports(2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPICS_")}
    env.pop("PYTHONPATH", None)
    env.update({
        "EPICS_PVA_SERVER_PORT": str(server), "EPICS_PVA_BROADCAST_PORT": str(broadcast),
        "EPICS_PVA_ADDR_LIST": "127.0.0.1", "EPICS_PVA_AUTO_ADDR_LIST": "NO",
        "EPICS_PVAS_INTF_ADDR_LIST": "127.0.0.1",
    })
    return env


def test_caproto_pva_suite(caproto_suite):
    skipped = left_out()
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE",
           "--timeout=120", "-c", str(caproto_suite / "pytest.ini"),
           "--rootdir", str(caproto_suite), "tests"]
    for node in sorted(skipped):
        cmd += ["--deselect", node]
    proc = subprocess.run(cmd, cwd=str(caproto_suite), env=_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=900)
    tail = proc.stdout[-8000:]
    assert proc.returncode == 0, tail
    n_left_out = sum(n for n, _ in skipped.values())
    counts = {word: int(n) for n, word in
              re.findall(r"(\d+) (passed|failed|errors?|deselected|xfailed|xpassed|skipped)",
                         tail.splitlines()[-1])}
    assert counts == {"passed": N_ITEMS - n_left_out - N_XFAIL, "deselected": n_left_out,
                      "xfailed": N_XFAIL}, tail


def test_left_out_list_is_short_and_names_real_tests(caproto_suite):
    """Each entry names tests of the suite, as many as it says."""
    skipped = left_out()
    assert sum(n for n, _ in skipped.values()) <= 15
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--collect-only",
           "-c", str(caproto_suite / "pytest.ini"), "--rootdir", str(caproto_suite), "tests"]
    proc = subprocess.run(cmd, cwd=str(caproto_suite), env=_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)
    ids = [line for line in proc.stdout.splitlines() if "::" in line]
    assert len(ids) == N_ITEMS, proc.stdout[-3000:]
    for prefix, (n, reason) in skipped.items():
        assert sum(i.startswith(prefix) for i in ids) == n, prefix
        assert len(reason) > 20, prefix

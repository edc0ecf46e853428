"""The Channel Access tutorial page runs as written, against a soft IOC and
against our server.

Every ``>>>`` example of ``docs/ca-protocol-tutorial.rst`` is run by
:mod:`doctest` (outputs compared, ``...`` standing for ports, ids and time
stamps) against a soft IOC serving ``docs/random_walk.db``, and again
against ``caffi.server.ioc_examples.random_walk``, each on a port of its
own; the EPICS_CA_* variables the page reads point at that server and at
the session's CA repeater.
"""
import doctest
import os
import sys

import pytest

import _ioc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "test_ca_server"))
from _pyioc import PyIOC  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGE = os.path.join(ROOT, "docs", "ca-protocol-tutorial.rst")
DB = os.path.join(ROOT, "docs", "random_walk.db")


@pytest.fixture(params=["soft IOC", "caffi.server"])
def tutorial_ioc(request, ca_repeater, ports, monkeypatch):
    (port,) = _ioc.pick_free_ports(
        1, exclude=(ports.server, ports.repeater) + tuple(ports.private))
    env = dict(os.environ)
    env.update({"EPICS_CA_SERVER_PORT": str(port), "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1",
                "EPICS_CA_ADDR_LIST": "127.0.0.1", "EPICS_CA_AUTO_ADDR_LIST": "NO"})
    if request.param == "soft IOC":
        server = _ioc.IOC(dbfile=DB, env=env, ca_port=port, name="tutorial-ioc")
    else:
        server = PyIOC("random_walk:", port, module="caffi.server.ioc_examples.random_walk",
                       env=env)
    server.start()
    try:
        for key in ("EPICS_CA_SERVER_PORT", "EPICS_CA_ADDR_LIST", "EPICS_CA_AUTO_ADDR_LIST"):
            monkeypatch.setenv(key, env[key])
        yield server
    finally:
        server.stop()


def test_tutorial_page_runs(tutorial_ioc):
    failures, tried = doctest.testfile(
        PAGE, module_relative=False, globs={},
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False,
        report=True)
    assert tried > 60
    assert failures == 0, "%d of %d tutorial examples failed (see the output above)" % (
        failures, tried)


def test_page_is_in_the_docs_index():
    with open(os.path.join(ROOT, "docs", "index.rst")) as f:
        assert "ca-protocol-tutorial" in f.read()


def test_reference_page_examples_run():
    failures, tried = doctest.testfile(
        os.path.join(ROOT, "docs", "ca-protocol.rst"), module_relative=False, globs={},
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert tried >= 5 and failures == 0

"""docs/pva-caproto.rst runs as written.

Every ``>>>`` example of the page is run by :mod:`doctest` (outputs
compared) against a p4p server (pvxs) on isolated loopback ports serving the
page's ``demo:value``, an NTScalar double of 1.5 that takes puts; the
environment the page's synchronous client reads points at that server.
"""
import doctest
import os

import pytest

import pva.sync.client as sc
from client_helpers import settable_double

PAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))), "docs", "pva-caproto.rst")


@pytest.fixture
def demo_server(p4p_server, monkeypatch):
    pv = settable_double(1.5)
    _, conf = p4p_server([{"demo:value": pv}])
    for k, v in conf.items():
        monkeypatch.setenv(k, v)
    sc._close_default()
    sc._default = None
    yield pv
    sc._close_default()
    sc._default = None


def test_page_examples_run(demo_server):
    failures, tried = doctest.testfile(PAGE, module_relative=False, globs={},
                                       optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried >= 14
    assert failures == 0, "%d of %d examples failed (see the output above)" % (failures, tried)
    # the page's put reached the server
    assert float(demo_server.current()) == 2.5

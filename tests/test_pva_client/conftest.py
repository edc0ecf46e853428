"""Fixtures of the pva client tests: real peers on isolated 127.0.0.1 ports.

* ``p4p_server`` -- start p4p (pvxs) servers; ``start(providers, tcp_port=0,
  udp_port=0, beacon_to=0)``
  returns ``(server, client_conf)``; every server is stopped at teardown.
* ``ioc`` -- the epicscorelibs soft IOC serving ``ioc.db`` through qsrv
  (pvAccessCPP) on run-time chosen ports; ready when it prints
  ``IOC Running``; stopped by PID at teardown.
* ``pva_server`` -- our own server (``pva.server.Context``) in a thread, on
  OS-chosen loopback ports; ``start(pvdb, **kwargs)`` returns it (with
  ``client_conf()``); stopped at teardown.

Every ``EPICS_PVA*`` variable is removed from the environment during each
test, so nothing leaks in from the developer's shell.
"""
from __future__ import annotations

import os
import sys
from typing import Iterator

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from client_helpers import client_conf, server_conf  # noqa: E402
from client_ioc import Ioc, start_ioc  # noqa: E402

_SERVER_TESTS = os.path.join(os.path.dirname(_HERE), "test_pva_server")
if _SERVER_TESTS not in sys.path:
    sys.path.insert(0, _SERVER_TESTS)

from server_helpers import ServerThread  # noqa: E402


@pytest.fixture(autouse=True)
def _no_epics_pva_env(monkeypatch) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith("EPICS_PVA"):
            monkeypatch.delenv(key)
    yield


@pytest.fixture
def p4p_server():
    """``start(providers, **server_conf_kw) -> (server, client_conf)``."""
    from p4p.server import Server

    servers = []

    def start(providers, **kw):
        server = Server(providers=providers, conf=server_conf(**kw), useenv=False)
        servers.append(server)
        conf = server.conf()
        return server, client_conf(int(conf["EPICS_PVAS_BROADCAST_PORT"]))

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def pva_server():
    """``start(pvdb, **kwargs) -> ServerThread`` (our server, isolated ports)."""
    servers = []

    def start(pvdb, **kwargs):
        srv = ServerThread(pvdb, **kwargs)
        servers.append(srv)
        return srv.start()

    yield start
    for srv in servers:
        srv.stop()


@pytest.fixture(scope="module")
def ioc(tmp_path_factory) -> Iterator[Ioc]:
    with start_ioc(tmp_path_factory.mktemp("ioc")) as running:
        yield running

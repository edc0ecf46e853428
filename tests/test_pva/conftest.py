"""Fixtures of the pva tests: isolated PVA ports on 127.0.0.1.

Independent of ``tests/conftest.py`` (the caffi suite), so the pva tests run
with ``--confcutdir=tests/test_pva``.  Every p4p server or client a test starts
gets an explicit configuration (``useenv=False``) naming only loopback and
ports chosen at run time; the fixture below additionally removes any
``EPICS_PVA*`` variables from the environment during each test, so nothing
can leak in from the developer's shell.
"""
from __future__ import annotations

import os
import sys
from typing import Iterator

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))

# ``recorder`` (and the corpus script) are imported as top-level modules.
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from recorder import (  # noqa: E402  (helpers shared with the corpus script)
    LOOPBACK,
    free_tcp_port,
    free_udp_port,
    isolated_client_conf,
    isolated_server_conf,
)

__all__ = ["LOOPBACK", "free_tcp_port", "free_udp_port", "isolated_client_conf",
           "isolated_server_conf"]


@pytest.fixture(autouse=True)
def _no_epics_pva_env(monkeypatch) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith("EPICS_PVA"):
            monkeypatch.delenv(key)
    yield


@pytest.fixture
def pva_server_conf() -> dict:
    """Isolated p4p server configuration (loopback, OS-chosen ports)."""
    return isolated_server_conf()


@pytest.fixture
def p4p_server_factory():
    """Start p4p servers with isolated configuration; all stopped at teardown.

    ``start(providers) -> (server, client_conf)``.
    """
    from p4p.server import Server

    servers = []

    def start(providers):
        server = Server(providers=providers, conf=isolated_server_conf(), useenv=False)
        servers.append(server)
        return server, isolated_client_conf(server.conf())

    yield start
    for server in servers:
        server.stop()

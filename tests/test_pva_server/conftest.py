"""Fixtures of the pva server tests: our server on isolated loopback ports.

``serve(pvdb, **kwargs)`` starts a :class:`pva.server.Context` in its own
thread and event loop, bound to 127.0.0.1 with OS-chosen TCP and UDP ports,
and returns once it is listening (a ready signal, not a sleep); every server
is stopped at teardown.  ``p4p_client(server)`` gives a p4p client that
searches only that server (by unicast), closed at teardown.  ``RawClient``
speaks the protocol through our sans-I/O client circuit for the operations
p4p does not expose (GET_FIELD, cancel, echo, search over TCP, hostile
bytes).
"""
from __future__ import annotations

import os
import sys
from typing import List, Optional

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from server_helpers import RawClient, ServerThread  # noqa: E402


@pytest.fixture(autouse=True)
def _no_epics_pva_env(monkeypatch):
    for key in list(os.environ):
        if key.startswith("EPICS_PVA"):
            monkeypatch.delenv(key)
    yield


@pytest.fixture
def serve():
    servers: List[ServerThread] = []

    def start(pvdb, conf: Optional[dict] = None, **kwargs) -> ServerThread:
        srv = ServerThread(pvdb, conf, **kwargs)
        servers.append(srv)
        return srv.start()

    yield start
    for srv in servers:
        srv.stop()


@pytest.fixture
def p4p_client():
    from p4p.client.thread import Context as P4PContext
    clients = []

    def make(server: ServerThread, nt=None, **extra):
        """A client of ``server`` (raw p4p Values unless ``nt`` says otherwise)."""
        conf = server.client_conf()
        conf.update(extra)
        ctxt = P4PContext("pva", conf=conf, useenv=False, nt=False if nt is None else nt)
        clients.append(ctxt)
        return ctxt

    yield make
    for c in clients:
        c.close()


@pytest.fixture
def raw_client():
    clients: List[RawClient] = []

    def make(port: int, **kwargs) -> RawClient:
        c = RawClient(port, **kwargs)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()

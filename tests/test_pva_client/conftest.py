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
import queue
import subprocess
import sys
import threading
import time
from typing import Iterator

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from client_helpers import (LOOPBACK, client_conf, free_tcp_port,  # noqa: E402
                            free_udp_port, server_conf)

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


IOC_DB = """
record(ao, "$(P)ao") {
    field(VAL, "1.5")
    field(EGU, "mm")
    field(PREC, "3")
    field(HOPR, "10")
    field(LOPR, "-10")
}
record(longout, "$(P)long") {
    field(VAL, "42")
}
record(stringout, "$(P)str") {
    field(VAL, "hello")
}
record(bo, "$(P)bo") {
    field(ZNAM, "Off")
    field(ONAM, "On")
    field(VAL, "0")
}
record(waveform, "$(P)wf") {
    field(FTVL, "DOUBLE")
    field(NELM, "16")
}
record(calc, "$(P)count") {
    field(CALC, "A+1")
    field(INPA, "$(P)count NPP")
}
record(calc, "$(P)calc") {
    field(SCAN, ".1 second")
    field(CALC, "(A+1)%1000")
    field(INPA, "$(P)calc NPP")
}
"""


class Ioc:
    def __init__(self, proc, conf, prefix):
        self.proc = proc
        self.conf = conf
        self.prefix = prefix

    def pv(self, name: str) -> str:
        return self.prefix + name


@pytest.fixture(scope="module")
def ioc(tmp_path_factory) -> Iterator[Ioc]:
    db = tmp_path_factory.mktemp("ioc") / "test.db"
    db.write_text(IOC_DB)
    tcp, udp = free_tcp_port(), free_udp_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPICS_")}
    env.update(EPICS_PVA_SERVER_PORT=str(tcp), EPICS_PVA_BROADCAST_PORT=str(udp),
               EPICS_PVAS_INTF_ADDR_LIST=LOOPBACK, EPICS_PVA_AUTO_ADDR_LIST="NO",
               EPICS_PVA_ADDR_LIST="", EPICS_PVAS_BEACON_ADDR_LIST="",
               EPICS_PVAS_AUTO_BEACON_ADDR_LIST="NO",
               EPICS_CA_SERVER_PORT=str(free_tcp_port()), EPICS_CAS_INTF_ADDR_LIST=LOOPBACK,
               EPICS_CA_AUTO_ADDR_LIST="NO", EPICS_CA_ADDR_LIST=LOOPBACK)
    prefix = f"tst{os.getpid()}:"
    proc = subprocess.Popen([sys.executable, "-m", "epicscorelibs.ioc", "-m", f"P={prefix}",
                             "-d", str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    lines: "queue.Queue[bytes]" = queue.Queue()

    def pump(stream):
        for line in iter(stream.readline, b""):
            lines.put(line)
        lines.put(b"")
    threads = [threading.Thread(target=pump, args=(s,), daemon=True)
               for s in (proc.stdout, proc.stderr)]
    for t in threads:
        t.start()
    seen = []
    try:
        deadline = time.monotonic() + 30
        eof = 0
        while True:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            seen.append(line)
            if b"IOC Running" in line:
                break
            if line == b"":
                eof += 1
                if eof == 2:
                    raise RuntimeError(f"IOC exited: {b''.join(seen)!r}")
        yield Ioc(proc, client_conf(udp), prefix)
    finally:
        proc.kill()
        proc.wait(10)
        for s in (proc.stdin, proc.stdout, proc.stderr):
            s.close()

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


def build_pvxs_format(out_dir) -> str:
    """Compile ``pvxs_format.cpp`` against the libpvxs of the installed pvxslibs
    (p4p's dependency); returns the executable's path.

    The program prints a PV as libpvxs's value formatter prints it, laid out
    as pvxs's command-line tools lay it out: the reference our tools are
    compared with.  pvxslibs is built with the pre-C++11 string ABI.
    """
    import subprocess
    import epicscorelibs.config
    import epicscorelibs.path
    import pvxslibs.path
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pvxs_format.cpp")
    exe = os.path.join(str(out_dir), "pvxs_format")
    inc = epicscorelibs.path.include_path
    pvxs_lib = os.path.join(os.path.dirname(pvxslibs.path.__file__), "lib")
    os_class = epicscorelibs.config.get_config_var("OS_CLASS")
    cmplr = epicscorelibs.config.get_config_var("CMPLR_CLASS")
    cmd = ["c++", "-std=c++11", "-D_GLIBCXX_USE_CXX11_ABI=0", "-o", exe, src,
           "-I" + pvxslibs.path.include_path, "-I" + inc,
           "-I" + os.path.join(inc, "os", os_class),
           "-I" + os.path.join(inc, "compiler", cmplr),
           "-L" + pvxs_lib, "-L" + epicscorelibs.path.lib_path, "-lpvxs", "-lCom",
           "-Wl,-rpath," + pvxs_lib, "-Wl,-rpath," + epicscorelibs.path.lib_path]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return exe


class PvxsFormat:
    """The compiled pvxs reference program: ``run(conf, *args)`` runs it to
    completion, ``exe`` is its path (for a process of its own)."""

    def __init__(self, exe: str):
        self.exe = exe

    @staticmethod
    def env(conf) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("EPICS_PVA", "PVXS"))}
        env.update(conf)
        return env

    def __call__(self, conf, *args):
        import subprocess
        return subprocess.run([self.exe, *args], env=self.env(conf), capture_output=True,
                              text=True, timeout=60)


@pytest.fixture(scope="session")
def pvxs_format(tmp_path_factory) -> PvxsFormat:
    return PvxsFormat(build_pvxs_format(tmp_path_factory.mktemp("pvxs")))

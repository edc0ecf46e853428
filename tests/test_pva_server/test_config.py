"""EPICS_PVAS_* / EPICS_PVA_* configuration of the server."""
from __future__ import annotations

import logging
import socket

from pva import nt
from pva.server import ServerConfig

from server_helpers import LOOPBACK, server_conf


def test_defaults():
    cfg = ServerConfig.from_env({}, useenv=False)
    assert cfg.interfaces == ["0.0.0.0"]
    assert (cfg.tcp_port, cfg.udp_port) == (5075, 5076)
    assert cfg.auto_beacon and cfg.beacon_addresses == []
    assert cfg.conn_timeout == 30.0


def test_pvas_falls_back_to_pva(monkeypatch):
    monkeypatch.setenv("EPICS_PVA_SERVER_PORT", "6000")
    monkeypatch.setenv("EPICS_PVA_BROADCAST_PORT", "6001")
    monkeypatch.setenv("EPICS_PVA_CONN_TMO", "5")
    cfg = ServerConfig.from_env()
    assert (cfg.tcp_port, cfg.udp_port, cfg.conn_timeout) == (6000, 6001, 5.0)
    monkeypatch.setenv("EPICS_PVAS_SERVER_PORT", "7000")
    monkeypatch.setenv("EPICS_PVAS_BROADCAST_PORT", "7001")
    cfg = ServerConfig.from_env()
    assert (cfg.tcp_port, cfg.udp_port) == (7000, 7001)
    # explicit conf wins over the environment; useenv=False ignores it
    assert ServerConfig.from_env({"EPICS_PVAS_SERVER_PORT": "8000"}).tcp_port == 8000
    assert ServerConfig.from_env({}, useenv=False).tcp_port == 5075


def test_interfaces_and_beacons():
    cfg = ServerConfig.from_env({
        "EPICS_PVAS_INTF_ADDR_LIST": "127.0.0.1 10.0.0.1",
        "EPICS_PVAS_BROADCAST_PORT": "5999",
        "EPICS_PVAS_BEACON_ADDR_LIST": "10.0.0.255 192.168.1.255:6000",
        "EPICS_PVAS_AUTO_BEACON_ADDR_LIST": "NO",
        "EPICS_PVAS_BEACON_PERIOD": "2.5",
    }, useenv=False)
    assert cfg.interfaces == ["127.0.0.1", "10.0.0.1"]
    assert cfg.beacon_addresses == [("10.0.0.255", 5999), ("192.168.1.255", 6000)]
    assert not cfg.auto_beacon and cfg.beacon_period == 2.5


def test_busy_port_falls_back_to_a_free_one(serve, caplog):
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        s.listen(1)
        busy = s.getsockname()[1]
        with caplog.at_level(logging.WARNING, logger="pva.server"):
            srv = serve({"x": nt.NTScalarInt32(value=1)},
                        server_conf(EPICS_PVAS_SERVER_PORT=busy))
        assert srv.port != busy and srv.port > 0
        assert any("in use" in r.getMessage() for r in caplog.records)


def test_explicit_port(serve):
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        port = s.getsockname()[1]
    srv = serve({"x": nt.NTScalarInt32(value=1)}, server_conf(EPICS_PVAS_SERVER_PORT=port))
    assert srv.port == port

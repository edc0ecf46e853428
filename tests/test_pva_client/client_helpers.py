"""Helpers of the pva client tests: free ports, isolated configurations, a p4p PV."""
from __future__ import annotations

import socket

__all__ = ["LOOPBACK", "free_tcp_port", "free_udp_port", "server_conf", "client_conf",
           "settable_double"]

LOOPBACK = "127.0.0.1"


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def server_conf(tcp_port: int = 0, udp_port: int = 0, beacon_to: int = 0) -> dict:
    """p4p ``Server(conf=..., useenv=False)`` on 127.0.0.1 only."""
    return {
        "EPICS_PVAS_INTF_ADDR_LIST": LOOPBACK,
        "EPICS_PVAS_SERVER_PORT": str(tcp_port),
        "EPICS_PVAS_BROADCAST_PORT": str(udp_port),
        "EPICS_PVAS_AUTO_BEACON_ADDR_LIST": "NO",
        "EPICS_PVAS_BEACON_ADDR_LIST": f"{LOOPBACK}:{beacon_to}" if beacon_to else "",
        "EPICS_PVAS_IGNORE_ADDR_LIST": "",
    }


def client_conf(udp_port=None, name_server_port=None) -> dict:
    """Client configuration (ours and p4p's) for one server on 127.0.0.1."""
    return {
        "EPICS_PVA_AUTO_ADDR_LIST": "NO",
        "EPICS_PVA_ADDR_LIST": f"{LOOPBACK}:{udp_port}" if udp_port else "",
        "EPICS_PVA_NAME_SERVERS": f"{LOOPBACK}:{name_server_port}" if name_server_port else "",
        "EPICS_PVA_INTF_ADDR_LIST": LOOPBACK,
        "EPICS_PVA_BROADCAST_PORT": str(free_udp_port()),
        "EPICS_PVA_CONN_TMO": "30",
    }


def settable_double(initial: float):
    """A p4p SharedPV: an NTScalar double that takes puts (and posts them)."""
    from p4p.nt import NTScalar
    from p4p.server.thread import SharedPV

    pv = SharedPV(nt=NTScalar("d"), initial=initial)

    @pv.put
    def onput(p, op):
        p.post(op.value())
        op.done()
    return pv

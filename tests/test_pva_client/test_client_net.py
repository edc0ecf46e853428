"""Name-resolution networking of our client: address lists and beacons.

- EPICS_PVA_AUTO_ADDR_LIST / EPICS_PVA_INTF_ADDR_LIST against the host's
  interfaces, and which searches are flagged unicast;
- beacons heard on the broadcast port while our server and p4p's server
  share it, and servers found there by a unicast search.
"""
from __future__ import annotations

import asyncio
import time

import pytest

from pva import nt
from pva.io.netif import broadcast_addresses
from pva.client.config import ClientConfig

from client_helpers import LOOPBACK, free_udp_port

pytestmark = pytest.mark.timeout(60)


def test_auto_addr_list_is_the_interfaces_broadcasts():
    cfg = ClientConfig.from_conf({"EPICS_PVA_BROADCAST_PORT": "7000"}, useenv=False)
    assert cfg.interfaces == ["0.0.0.0"]
    assert cfg.addr_list == [(b, 7000) for b in broadcast_addresses()]
    cfg = ClientConfig.from_conf({"EPICS_PVA_BROADCAST_PORT": "7000",
                                  "EPICS_PVA_ADDR_LIST": "10.1.1.1 10.1.1.2:7001",
                                  "EPICS_PVA_INTF_ADDR_LIST": "127.0.0.1"}, useenv=False)
    assert cfg.interfaces == ["127.0.0.1"]
    assert cfg.addr_list == [("10.1.1.1", 7000), ("10.1.1.2", 7001), ("127.0.0.1", 7000)]
    cfg = ClientConfig.from_conf({"EPICS_PVA_AUTO_ADDR_LIST": "NO"}, useenv=False)
    assert cfg.addr_list == []
    assert ClientConfig.from_conf(cfg.to_conf(), useenv=False).interfaces == ["0.0.0.0"]


def test_unicast_flag():
    cfg = ClientConfig.from_conf({}, useenv=False)
    assert cfg.is_unicast("127.0.0.1") and cfg.is_unicast("10.1.1.1")
    assert not cfg.is_unicast("255.255.255.255")
    assert not cfg.is_unicast("224.0.0.128")
    for b in broadcast_addresses():
        assert not cfg.is_unicast(b)


def test_beacons_on_shared_port(pva_server):
    """Our client listens on the broadcast port that our server and p4p's
    server also bind; it hears both servers' beacons (sent to the loopback
    broadcast address, which reaches every socket on the port) and finds a
    PV of each by a unicast search to 127.0.0.1 on that port."""
    from p4p.nt import NTScalar
    from p4p.server import Server
    from p4p.server.thread import SharedPV

    from pva.sync import Context

    port = free_udp_port()
    ctx = Context(conf={"EPICS_PVA_ADDR_LIST": LOOPBACK, "EPICS_PVA_AUTO_ADDR_LIST": "NO",
                        "EPICS_PVA_BROADCAST_PORT": str(port)}, useenv=False)
    p4p = None
    try:
        core = _core(ctx)       # listening before the servers start
        beacons = {"EPICS_PVAS_BEACON_ADDR_LIST": f"127.255.255.255:{port}",
                   "EPICS_PVAS_AUTO_BEACON_ADDR_LIST": "NO"}
        ours = pva_server({"shared:ours": nt.NTScalarFloat64(value=3.5)}, conf={
            "EPICS_PVAS_INTF_ADDR_LIST": LOOPBACK, "EPICS_PVAS_SERVER_PORT": "0",
            "EPICS_PVAS_BROADCAST_PORT": str(port), "EPICS_PVAS_BEACON_PERIOD": "0.2",
            **beacons})
        p4p = Server(providers=[{"shared:p4p": SharedPV(nt=NTScalar("d"), initial=4.5)}],
                     useenv=False, conf={
                         "EPICS_PVAS_INTF_ADDR_LIST": LOOPBACK, "EPICS_PVAS_SERVER_PORT": "0",
                         "EPICS_PVAS_BROADCAST_PORT": str(port),
                         "EPICS_PVAS_IGNORE_ADDR_LIST": "", **beacons})
        p4p_tcp = int(p4p.conf()["EPICS_PVAS_SERVER_PORT"])
        want = {(LOOPBACK, ours.port), (LOOPBACK, p4p_tcp)}
        deadline = time.monotonic() + 10
        while not want <= set(core.servers.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        # nothing was searched yet: only beacons can have told about them
        assert want <= set(core.servers.values())
        assert ctx.get("shared:ours", timeout=5).value == 3.5
        assert ctx.get("shared:p4p", timeout=5).value == 4.5
    finally:
        ctx.close()
        if p4p is not None:
            p4p.stop()


def _core(sync_ctx):
    """The core of a synchronous context, once its beacon listener is open."""
    async def opened(actx):
        core = actx.core
        while actx._beacon is None:
            await asyncio.sleep(0.01)
        return core
    return sync_ctx._call(opened(sync_ctx._ctx), 10)


def test_search_replies_waiting_are_read_at_one_wakeup():
    """The search socket reads every reply that is waiting when it wakes up (a
    datagram transport would read one per event-loop iteration, leaving the
    rest behind the TCP traffic of the channels found first)."""
    import socket
    from pva.io.udp import DatagramReader

    async def run():
        received, wakeups = [], []

        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((LOOPBACK, 0))
        sock.setblocking(False)
        reader = DatagramReader(asyncio.get_running_loop(), sock,
                                lambda data, addr: received.append((data, addr)))
        readable = reader._readable
        reader.loop.remove_reader(sock.fileno())
        reader.loop.add_reader(sock.fileno(), lambda: (wakeups.append(1), readable()))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            for i in range(20):          # delivered at once on loopback
                out.sendto(b"reply %d" % i, sock.getsockname())
            deadline = time.monotonic() + 5
            while len(received) < 20 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            reader.sendto(b"search", out.getsockname())
            assert out.recv(100) == b"search"
        reader.close()
        assert [d for d, _ in received] == [b"reply %d" % i for i in range(20)]
        assert len(wakeups) == 1
        assert received[0][1][0] == LOOPBACK
    asyncio.run(run())

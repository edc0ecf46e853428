"""A client on the same host as a server, searching it on the shared broadcast port.

Servers and clients bind the broadcast port with SO_REUSEADDR, and Linux hands
a unicast datagram to one socket only: here the client's own beacon listener
(bound last) receives its searches, and forwards them to the local multicast
group where the server (pvxs) hears them.
"""
import pytest

from pva.sync import Context

pytestmark = pytest.mark.timeout(60)


def test_finds_local_server_on_shared_broadcast_port(p4p_server):
    from p4p.nt import NTScalar
    from p4p.server.thread import SharedPV

    pv = SharedPV(nt=NTScalar("d"), initial=4.25)
    _, conf = p4p_server([{"local:d": pv}])
    port = conf["EPICS_PVA_ADDR_LIST"].rsplit(":", 1)[1]
    # The usual user setup: the address list names this host, no port given,
    # the broadcast port is the one the server listens on.
    ctx = Context(conf={"EPICS_PVA_ADDR_LIST": "127.0.0.1", "EPICS_PVA_AUTO_ADDR_LIST": "NO",
                        "EPICS_PVA_BROADCAST_PORT": port}, useenv=False)
    try:
        assert ctx.get("local:d", timeout=5).value == 4.25
        beacon = ctx._call(_beacon_listener(ctx._ctx), 5)
        assert beacon is not None and beacon.forwarding and beacon.forwarded > 0
    finally:
        ctx.close()


async def _beacon_listener(actx):
    return actx._beacon

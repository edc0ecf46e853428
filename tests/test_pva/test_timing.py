"""Time-driven protocol behaviour with a fake clock: search backoff, beacons,
echo and inactivity timeouts, reconnection.

The client core (pva.client.core) and the server core (pva.server.core) are
both loop-free; here they run on one pva.io.testing.FakeReactor, their
connections joined by in-memory transports and their UDP by a fake network
that routes search datagrams to the servers that are up and search replies
and beacons back (the bytes are the real encodings, decoded again on the
other side).  Time moves only when the test says so: every expected time
below is written out by hand from the rules, and the tests take
milliseconds.
"""
from __future__ import annotations

import dataclasses

import pytest

from pva import nt
from pva._broadcaster import Broadcaster
from pva._forwarding import Origin, Received
from pva._header import Direction
from pva._messages import Beacon, SearchRequest
from pva.client.config import ClientConfig
from pva.client.core import ClientCore
from pva.client.errors import Disconnected
from pva.client.value import Value
from pva.io.budget import MemoryBudget, MemoryLimits
from pva.io.testing import FakeReactor, connect_pair
from pva.server.config import ServerConfig
from pva.server.core import ServerCore

BCAST = ("10.0.0.255", 5076)
CLIENT_UDP = ("10.0.0.1", 40000)


class Net:
    """One client core and the servers of a fake network (see the module doc)."""

    def __init__(self, conn_tmo: float = 30.0):
        self.reactor = r = FakeReactor(start=100.0)
        self.t0 = r.now
        cfg = ClientConfig(addr_list=[BCAST], broadcasts=frozenset([BCAST[0]]),
                           conn_tmo=conn_tmo)
        self.client = ClientCore(r, cfg, identity=("user", "host"))
        self.searches = []        # (time since start, [names])
        self.servers = {}         # (host, tcp port) -> ServerCore, while up
        self._decode = Broadcaster(Direction.CLIENT)
        r.connector = self._connect
        self.client.attach_udp(self._client_sendto, CLIENT_UDP[1])

    def time(self) -> float:
        return self.reactor.now - self.t0

    # ---- servers
    def start_server(self, host: str, pvdb: dict, conn_timeout: float = 30.0) -> ServerCore:
        cfg = ServerConfig.from_env(useenv=False)
        cfg.conn_timeout = conn_timeout
        core = ServerCore(pvdb, cfg, self.reactor)
        core.broadcaster.server_address = (host, 5075)
        self.servers[(host, 5075)] = core
        return core

    def stop_server(self, core: ServerCore) -> None:
        del self.servers[core.broadcaster.server_address]
        core.close_connections()

    def freeze_server(self, core: ServerCore) -> None:
        """``core`` stops (as if SIGSTOP'd): its connections stay open but what
        it writes is lost, and it answers no search."""
        del self.servers[core.broadcaster.server_address]
        for circuit in core.circuits:
            circuit.conn.transport.frozen = True

    def beacon(self, core: ServerCore) -> None:
        """``core`` sends a beacon to the broadcast address (the client hears it)."""
        data = b"".join(core.broadcaster.send(core.broadcaster.beacon()))
        source = (core.broadcaster.server_address[0], 5076)
        for msg in self._decode.recv(data, source):
            assert isinstance(msg, Beacon)
            self.reactor.call_soon(self.client.beacon_received, msg, source)

    # ---- the network
    def _client_sendto(self, data: bytes, addr) -> None:
        assert addr == BCAST
        msgs = self._decode.recv(data, CLIENT_UDP)
        names = [c.channel_name for m in msgs if isinstance(m, SearchRequest)
                 for c in m.channels]
        self.searches.append((round(self.time(), 9), names))
        rx = Received(msgs, CLIENT_UDP, BCAST[0], Origin.BROADCAST)
        for (host, _), core in list(self.servers.items()):
            for reply, dest in core.search_replies(rx):
                assert dest == CLIENT_UDP
                self.reactor.call_soon(self.client.datagram_received, reply, (host, 5076))

    def _connect(self, host: str, port: int, conn) -> None:
        core = self.servers.get((host, port))
        if core is None:
            self.reactor.call_soon(conn.connection_lost, ConnectionRefusedError(host, port))
        else:
            connect_pair(self.reactor, conn, core.connection(),
                         client_address=CLIENT_UDP, server_address=(host, port))

    def search_times(self, name: str):
        return [t for t, names in self.searches if name in names]


def _monitor(net: Net, name: str):
    events = []
    net.client.monitor(name, "", lambda item: events.append((round(net.time(), 9), item)))
    return events


def _value(x: float):
    return {"t:x": nt.NTScalarFloat64(value=x)}


# ---------------------------------------------------------------- searching
def test_search_backoff_doubles_from_search_min_to_search_max():
    """An unresolved name: searched at once, then after 0.05 s, the interval
    doubling up to 5 s (search_min / search_max of the client config)."""
    net = Net()
    net.client.channel("nobody")
    net.reactor.advance(20)
    gaps = [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5, 5]
    expected = [0.0]
    for g in gaps:
        expected.append(round(expected[-1] + g, 9))
    assert net.search_times("nobody") == expected          # ..., 11.35, 16.35


def test_beacon_of_a_new_server_resets_the_backoff():
    """A server that appears is found at once through its beacon, not at the
    next search of a backoff grown to 5 s; a beacon of a server already seen
    changes nothing."""
    net = Net()
    ch = net.client.channel("t:x")
    net.reactor.advance(30)                 # searches at ... 26.35, next at 31.35
    before = len(net.search_times("t:x"))
    server = net.start_server("10.0.0.7", _value(2.5))
    net.beacon(server)
    net.reactor.run()
    assert net.search_times("t:x")[before:] == [30.0]
    assert ch.connected and ch.server == ("10.0.0.7", 5075)
    # the same server again: no search
    net.reactor.advance(1)
    net.beacon(server)
    net.reactor.advance(1)
    assert len(net.search_times("t:x")) == before + 1


def test_channel_found_by_search_connects_and_reads():
    net = Net()
    net.start_server("10.0.0.7", _value(1.5))
    got = []
    net.client.get("t:x", "", lambda value, exc: got.append((value, exc)))
    net.reactor.run()
    (value, exc), = got
    assert exc is None and isinstance(value, Value) and value.value == 1.5
    assert net.time() == 0.0                # all within one instant of fake time


# ---------------------------------------------------------------- keep-alive
def test_echo_keeps_a_quiet_connection_and_silence_drops_it():
    """EPICS_PVA_CONN_TMO = 2: the client sends an echo every second, which a
    live server answers, so a quiet connection stays; once the server sends
    nothing any more, the client drops the connection after 2 s of silence
    (at the next check, the checks being 1 s apart) and the monitor gets
    Disconnected."""
    net = Net(conn_tmo=2.0)
    server = net.start_server("10.0.0.7", _value(1.5))
    events = _monitor(net, "t:x")
    net.reactor.run()
    assert [type(item) for _, item in events] == [Value]
    (circuit,) = net.client.circuits.values()
    net.reactor.advance(10)                 # 10 quiet seconds
    assert list(net.client.circuits.values()) == [circuit] and circuit.connected
    assert [type(item) for _, item in events] == [Value]
    # the server freezes: whatever it writes is lost from now on
    net.freeze_server(server)
    frozen_at = net.time()
    net.reactor.advance(10)
    assert [type(item) for _, item in events] == [Value, Disconnected]
    lost_after = events[1][0] - frozen_at
    assert 2.0 <= lost_after <= 3.0
    assert not circuit.connected


def test_server_drops_a_silent_client():
    """EPICS_PVA_CONN_TMO = 3 on the server; a client with no echo of its own
    (its timeout 1000 s) that sends nothing is dropped after 3 s.  (The client
    then connects again at once: the server is still there.)"""
    net = Net(conn_tmo=1000.0)
    server = net.start_server("10.0.0.7", _value(1.5), conn_timeout=3.0)
    events = _monitor(net, "t:x")
    net.reactor.run()
    (scircuit,) = server.circuits
    sconn = scircuit.conn
    connected_at = net.time()
    net.reactor.run_until(lambda: sconn.closed, timeout=10)
    assert net.time() - connected_at == 3.0
    net.reactor.run()
    assert sconn.close_reason == "no data received for 3 s"
    assert [(t - connected_at, type(item)) for t, item in events] == \
        [(0.0, Value), (3.0, Disconnected), (3.0, Value)]
    assert len(server.circuits) == 1 and scircuit not in server.circuits


def test_a_validated_connection_outlives_the_validation_deadline():
    net = Net(conn_tmo=1000.0)
    net.start_server("10.0.0.7", _value(1.5))
    events = _monitor(net, "t:x")
    net.reactor.run()
    (circuit,) = net.client.circuits.values()
    net.reactor.advance(2 * net.client.config.memory.validation_timeout)
    assert circuit.connected and [type(item) for _, item in events] == [Value]


def test_client_drops_a_server_that_does_not_validate():
    """A server that accepts the connection but never validates it (what it
    writes is lost) is dropped after the client's validation_timeout, and
    the name is searched again."""
    net = Net(conn_tmo=1000.0)
    core = net.start_server("10.0.0.7", _value(1.5))
    # the server waits for the client's validation for ever (the client never
    # sees the server's request)
    core.config.limits = dataclasses.replace(
        core.config.limits, memory=MemoryLimits(validation_timeout=0))
    mute = []

    def connect(host, port, conn):
        mute.append(connect_pair(net.reactor, conn, core.connection(),
                                 client_address=CLIENT_UDP, server_address=(host, port)))
        mute[-1][1].frozen = True               # the server's side writes nothing
    net.reactor.connector = connect
    got = []
    net.client.get("t:x", "", lambda value, exc: got.append(exc))
    net.reactor.run()
    (circuit,) = net.client.circuits.values()
    opened_at = net.time()
    net.reactor.run_until(lambda: circuit.conn.closed, timeout=60)
    assert net.time() - opened_at == net.client.config.memory.validation_timeout
    assert circuit.conn.close_reason.startswith("not validated within")
    assert net.search_times("t:x")[-1] >= net.time()    # searched again


def test_client_charges_the_types_a_server_caches(caplog):
    """A client allowed 1 KiB per connection beyond its cost: the type of
    an NTScalar (about 60 nodes) sent through the type cache is over it."""
    net = Net()
    net.start_server("10.0.0.7", _value(1.5))
    limits = MemoryLimits(per_connection=MemoryLimits().connection_cost + 1024)
    net.client.accounting = MemoryBudget(limits, "client")
    got = []
    net.client.get("t:x", "", lambda value, exc: got.append(value))
    net.reactor.advance(1.0)
    closes = [r.getMessage() for r in caplog.records
              if "protocol error from server: a type cache of" in r.getMessage()]
    assert closes and all(v is None for v in got), (got, caplog.text[-500:])  # failed gets


# ---------------------------------------------------------------- reconnection
def test_monitor_resumes_after_the_server_comes_back():
    """The server goes away at L: the monitor delivers Disconnected, the name
    is searched again at once with the backoff restarted (L, L+0.05,
    L+0.15, L+0.35, L+0.75, L+1.55, ...); the server is back at L+1, so the
    search at L+1.55 finds it and the monitor delivers the new value."""
    net = Net()
    server = net.start_server("10.0.0.7", _value(1.0))
    events = _monitor(net, "t:x")
    net.reactor.advance(10)
    lost = net.time()
    searched = len(net.search_times("t:x"))
    net.stop_server(server)
    net.reactor.run()
    assert [type(item) for _, item in events] == [Value, Disconnected]
    assert events[1][0] == lost
    net.reactor.advance(1.0)
    net.start_server("10.0.0.7", _value(2.0))
    net.reactor.advance(5)
    assert [type(item) for _, item in events] == [Value, Disconnected, Value]
    assert events[2][0] == pytest.approx(lost + 1.55)
    assert events[2][1].value == 2.0
    assert net.search_times("t:x")[searched:] == pytest.approx(
        [lost + d for d in (0, 0.05, 0.15, 0.35, 0.75, 1.55)])

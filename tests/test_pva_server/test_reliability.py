"""Attacks on decoding cost, against our server and our client.

A type-cache reference (``0xFE id``) costs 3 bytes and may stand for a whole
type, so a few kilobytes describe 10**7..10**8 fields ("billion laughs").
Each test sends such a message over a raw socket, again and again for a
while, and asserts the budget: the attacking connection is closed, with the
reason logged; the victim's memory (RSS of its process) hardly grows; and a
well-behaved p4p client of the same server is still served (95th percentile
of its gets under 100 ms) while the attack runs.

Our server and client run in their own processes (``reliability_peers.py``),
each capped at 3 GiB of address space, so an attack that gets through fails
the test instead of taking the machine's memory.
"""
from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from typing import Callable, List

import pytest
from reliability_helpers import (ATTACK_SECONDS, MAX_RSS_GROWTH_KIB, P95_LIMIT, PEERS, Bystander,
                                 Victim, frame, peer_env, percentile, run_attack, u32)
from server_helpers import LOOPBACK, RawClient, free_udp_port

import pva
from pva import FieldDesc, FieldType, IntrospectionCache
from pva._broadcaster import Broadcaster
from pva._server_circuit import ServerVirtualCircuit
from pva._messages import (ChannelGetRequest, ChannelGetResponse, ConnectionValidationResponse,
                           CreateChannelRequest, SearchRequest)
from pva._typecodec import NODE_BYTES
from pva.io.budget import MemoryLimits
from pva.server.core import ServerCore

F, T = FieldDesc, FieldType
EMPTY = F.struct([])


def laughs(levels: int, width: int) -> FieldDesc:
    """``levels`` nested structures of ``width`` members each, all one object."""
    t = EMPTY
    for _ in range(levels):
        t = F.struct([(f"f{i}", t) for i in range(width)])
    return t


def cached(desc: FieldDesc, cache=None) -> bytes:
    """``desc`` as sent through a type cache (0xFD id once, then 0xFE id)."""
    return pva.encode_field_desc(desc, "<", IntrospectionCache() if cache is None else cache)


@pytest.fixture
def victim():
    v = Victim()
    try:
        yield v
    finally:
        v.stop()


# ------------------------------------------------------------ type fan-out
def _pvrequest_bomb(levels: int, width: int) -> bytes:
    # GET INIT: server channel id, request id, subcommand INIT, then the
    # pvRequest: its type, and its value (empty: every member is an empty struct)
    return frame(0x0A, u32(1) + u32(1) + b"\x08" + cached(laughs(levels, width)))


def test_billion_laughs_pvrequest(victim):
    bomb = _pvrequest_bomb(3, 400)                       # 6.4e7 structures
    assert 9000 < len(bomb) < 9500
    run_attack(victim, lambda c: c.send_raw(bomb), "max_type_nodes")


def test_smaller_fan_out_pvrequest(victim):
    bomb = _pvrequest_bomb(3, 200)                       # 8e6 structures
    assert 4400 < len(bomb) < 4800
    run_attack(victim, lambda c: c.send_raw(bomb), "max_type_nodes")


def test_ca_authorization_fan_out_before_validation(victim):
    ca = F.struct([("user", F(T.string)), ("host", F(T.string)), ("x", laughs(3, 95))])
    payload = (struct.pack("<IHH", 0x10000, 0x7FFF, 0) + b"\x02ca" + cached(ca)
               + b"\x04user\x04host")
    assert len(payload) < 2200
    bomb = frame(0x01, payload)
    run_attack(victim, lambda c: c.send_raw(bomb), "max_type_nodes", validate=False)


def test_type_cache_growth_is_budgeted():
    # GET INITs whose pvRequests define ever new type-cache ids (a structure
    # of 200 fields each, 3.6 KB): what the cache keeps is charged to the
    # connection (4 MiB here), which closes once it is full
    fields = F.struct([(f"field_number_{i:04d}", F(T.float64)) for i in range(200)])
    body = pva.encode_field_desc(fields, "<", None)
    victim = Victim({"limits": {"memory": {"per_connection": 4 << 20}}})

    def attack(client):
        ch, _ = client.create_channel("rel:x")
        data = b"".join(frame(0x0A, u32(ch.sid) + u32(ident) + b"\x08\xfd"
                              + struct.pack("<H", ident) + body + bytes(8 * 200))
                        for ident in range(1, 300))
        try:
            client.send_raw(data)
        except ConnectionError:
            pass
    try:
        run_attack(victim, attack, "a type cache of")
    finally:
        victim.stop()


# ----------------------------------------------------------- value fan-out
def _rpc(typed: bytes) -> bytes:
    # RPC exec: server channel id, request id, subcommand 0, then the argument
    return frame(0x14, u32(1) + u32(1) + b"\x00" + typed)


def test_structure_array_fan_out_in_rpc_argument(victim):
    elem = laughs(2, 100)                                # 10,101 nodes, 0 bytes of value
    n = 2000
    typed = cached(F.struct([("a", F.array(elem))])) + b"\xfe" + u32(n) + b"\x01" * n
    bomb = _rpc(typed)
    run_attack(victim, lambda c: c.send_raw(bomb), "max_message_nodes")


def test_variant_array_fan_out_in_rpc_argument(victim):
    big = laughs(2, 250)                                 # 62,751 nodes: a type may be this big
    cache = IntrospectionCache()
    n = 400
    typed = cached(F.struct([("v", F.array(F.variant()))]), cache) + b"\xfe" + u32(n)
    first = cached(big, cache)
    typed += b"\x01" + first + (b"\x01" + b"\xfe" + struct.pack("<H", cache.sent[big])) * (n - 1)
    bomb = _rpc(typed)
    assert len(bomb) < 6000
    run_attack(victim, lambda c: c.send_raw(bomb), "max_message_nodes")


# ------------------------------------------------------- memory budgets
def _wait(predicate, timeout: float = 5.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


def _released(victim: Victim, bystanders: int = 1) -> dict:
    """The server's state once only the bystanders' connections are left
    (waited for briefly: a closed connection is released at once)."""
    stats = {}

    def done():
        stats.update(victim.stats())
        return stats["connections"] <= bystanders and stats["circuits"] <= bystanders
    _wait(done, timeout=1.0)
    return stats


def test_unvalidated_connections_buffer_little(victim):
    # 8 connections that never validate each start a message of (almost)
    # max_message_size and send it as fast as they can; the server must
    # refuse it at its header, before buffering it
    size = 64 * 1024 * 1024 - 8
    header = bytes((0xCA, 2, 0x00, 0x01)) + u32(size)
    chunk = bytes(0x10000)
    bystander = Bystander(victim.udp_port)
    closed = []
    rounds = 0

    def attack():
        with socket.create_connection((LOOPBACK, victim.port)) as s:
            s.settimeout(2.0)
            try:
                s.sendall(header)
                for _ in range(size // len(chunk)):
                    s.sendall(chunk)
                while s.recv(0x10000):      # sent it all: is it closed?
                    pass
                closed.append(True)
            except (ConnectionError, socket.timeout) as ex:
                closed.append(not isinstance(ex, socket.timeout))

    try:
        victim.reset_peak()
        rss0 = victim.rss_kib()
        bystander.measuring = True
        start = time.monotonic()
        while not rounds or time.monotonic() - start < ATTACK_SECONDS:
            threads = [threading.Thread(target=attack) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            rounds += 1
        bystander.measuring = False
        growth = victim.peak_kib() - rss0
    finally:
        bystander.close()
    assert closed == [True] * 8 * rounds, closed
    logged = victim.closes_logged("before validation", 8 * rounds)
    assert len(logged) == 8 * rounds, victim.log[-5:]
    assert growth < MAX_RSS_GROWTH_KIB, f"server peak RSS grew by {growth} KiB"
    bystander.check(f"{rounds} x 8 unvalidated connections")
    assert _released(victim)["connections"] <= 1


def test_unvalidated_connection_must_validate_in_time():
    # a byte every 2 s keeps a connection from being idle; it must still
    # validate within the deadline (fake clock: no waiting)
    from pva import nt
    from pva.io.testing import FakeReactor, FakeTransport
    from pva.server.config import ServerConfig
    reactor = FakeReactor()
    core = ServerCore({"x": nt.NTScalarFloat64Base(value=1.0)}, ServerConfig(), reactor)
    conn = core.connection()
    transport = FakeTransport(reactor, conn, ("127.0.0.1", 40000), ("127.0.0.1", 5075))
    conn.connection_made(transport)
    dribble = iter(frame(0x01, bytes(1000)))
    start = reactor.now
    while not conn.closed and reactor.now - start < 120:
        transport._deliver(bytes((next(dribble),)))
        reactor.advance(2.0)
    assert conn.closed, "the dribbling connection was still open after 120 s"
    assert reactor.now - start <= 6.0
    assert "not validated within" in conn.close_reason, conn.close_reason
    assert not core.circuits


def _monitor_inits(sid: int, first: int, count: int) -> bytes:
    """``count`` MONITOR INITs (request ids from ``first``) with the same empty pvRequest."""
    one = frame(0x0D, u32(sid) + u32(first) + b"\x08" + pva.PVRequest.parse("").encode())
    return b"".join(one[:12] + u32(ioid) + one[16:] for ioid in range(first, first + count))


class _Replies:
    """Reads a connection's replies in a thread: counts the INIT replies to
    MONITOR that succeeded and that failed (little-endian server messages)."""

    def __init__(self, sock):
        self.sock = sock
        self.ok = self.refused = 0
        self.message = ""
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        buf = bytearray()
        try:
            while True:
                data = self.sock.recv(0x40000)
                if not data:
                    return
                buf += data
                pos = 0
                while len(buf) - pos >= 8:
                    n = 8 + struct.unpack_from("<I", buf, pos + 4)[0]
                    if len(buf) - pos < n:
                        break
                    if buf[pos + 3] == 0x0D and not buf[pos + 2] & 0x01 and buf[pos + 12] & 0x08:
                        if buf[pos + 13] == 0xFF:
                            self.ok += 1
                        else:
                            self.refused += 1
                            if not self.message:
                                self.message = bytes(buf[pos + 14:pos + n]).decode(
                                    "utf-8", "replace")
                    pos += n
                del buf[:pos]
        except OSError:
            return


def test_monitor_init_flood_is_budgeted(victim):
    bystander = Bystander(victim.udp_port)
    client = RawClient(victim.port)
    try:
        ch, _ = client.create_channel("rel:x")
        replies = _Replies(client.sock)
        victim.reset_peak()
        rss0 = victim.rss_kib()
        bystander.measuring = True
        total, batch = 0, 2000
        while total < 40000:
            client.send_raw(_monitor_inits(ch.sid, 1 + total, batch))
            total += batch
            _wait(lambda: replies.ok + replies.refused >= total - batch, timeout=10, step=0.01)
            growth = victim.peak_kib() - rss0
            assert growth < 3 * MAX_RSS_GROWTH_KIB, f"server RSS grew by {growth} KiB " \
                f"after {total} MONITOR INITs ({replies.ok} accepted)"
        assert _wait(lambda: replies.ok + replies.refused == total, timeout=10)
        bystander.measuring = False
        assert replies.refused > 0 and "budget" in replies.message, (replies.ok, replies.message)
        assert _released(victim, bystanders=2)["ops"] >= replies.ok
    finally:
        client.sock.shutdown(socket.SHUT_RDWR)  # the reader thread's recv holds the socket
        client.close()
        bystander.close()
    bystander.check(f"{total} MONITOR INITs")
    stats = _released(victim, bystanders=0)
    assert stats["ops"] == 0 and stats["circuits"] == 0 and stats["budget"] == 0, stats


def test_server_wide_budget_bounds_all_connections():
    # 4 connections flood at once; each alone may hold 16 MiB, together
    # they hold what the server-wide 24 MiB allow (and the equal shares
    # past it), the bystander's gets go on
    memory = {"total": 24 << 20, "per_connection": 16 << 20}
    victim = Victim({"limits": {"memory": memory}})
    bystander = Bystander(victim.udp_port)
    clients = []
    try:
        for _ in range(4):
            client = RawClient(victim.port)
            ch, _ = client.create_channel("rel:x")
            clients.append((client, ch.sid, _Replies(client.sock)))
        victim.reset_peak()
        rss0 = victim.rss_kib()
        bystander.measuring = True
        batch = 250                     # INITs per connection at a time
        for first in range(1, 8000, batch):
            for client, sid, _ in clients:
                client.send_raw(_monitor_inits(sid, first, batch))
            assert _wait(lambda: all(r.ok + r.refused >= first + batch - 1
                                     for _, _, r in clients), timeout=20, step=0.005)
        bystander.measuring = False
        stats = victim.stats()
        growth = victim.peak_kib() - rss0
        accepted = [r.ok for _, _, r in clients]
    finally:
        for client, _, _ in clients:
            client.sock.shutdown(socket.SHUT_RDWR)
            client.close()
        bystander.close()
        victim.stop()
    assert all(r.refused and "budget" in r.message for _, _, r in clients), accepted
    assert stats["budget"] < 2 * memory["total"], stats
    assert sum(accepted) * 3072 < 2 * memory["total"], accepted
    assert growth < 2 * memory["total"] // 1024 + MAX_RSS_GROWTH_KIB // 2, \
        f"server peak RSS grew by {growth} KiB"
    bystander.check("4 connections filling the server's budget")


def _fake_server(limits: MemoryLimits, send_type_cache: bool = True):
    """A server core on a fake clock and transport, in this process, with a
    validated client connection and a channel ``x``: ``(reactor, core, conn,
    transport, client, channel, exchange)``, ``exchange(*msgs)`` sends and
    runs until the replies are processed."""
    from pva import nt
    from pva.io.testing import FakeReactor, FakeTransport
    from pva.server.config import ServerConfig, ServerLimits
    reactor = FakeReactor()
    config = ServerConfig(limits=ServerLimits(memory=limits))
    core = ServerCore({"x": nt.NTScalarFloat64Base(value=1.0)}, config, reactor)
    conn = core.connection()
    transport = FakeTransport(reactor, conn, ("127.0.0.1", 40000), ("127.0.0.1", 5075))
    client = pva.ClientVirtualCircuit(address=("127.0.0.1", 5075),
                                      send_type_cache=send_type_cache)

    def exchange(*msgs):
        if msgs:
            transport._deliver(b"".join(bytes(b) for b in client.send(*msgs)))
        reactor.run()
        data, transport.written[:] = b"".join(transport.written), []
        replies = [msg for msg, _ in client.recv(data)]
        for msg in replies:
            client.process_command(msg)
        return replies

    conn.connection_made(transport)
    exchange()
    exchange(client.validate_connection(auth_nz="ca"))
    ch = client.create_channel("x")
    exchange(ch.create())
    return reactor, core, conn, transport, client, client.channel_by_cid(ch.cid), exchange


def test_operations_give_back_their_memory_when_destroyed():
    # 64 KiB per connection hold about 30 operations at a time; 300 made one
    # after the other (each destroyed before the next) all fit, and what an
    # open one holds is its COST and its pvRequest's nodes (sent inline, as
    # pvxs does: no type cache charged)
    from pva._messages import (ChannelGetResponse, ChannelMonitorResponse,
                               ChannelRequestDestroy)
    from pva.server.circuit import CHANNEL_COST
    from pva.server.ops.base import ServerOp
    from pva.server.ops.monitor import Monitor
    limits = MemoryLimits(per_connection=64 << 10)
    _, core, conn, _, _, ch, exchange = _fake_server(limits, send_type_cache=False)
    at_rest = limits.connection_cost + CHANNEL_COST
    assert conn.held == at_rest and core.accounting.in_use == at_rest
    request = "field(value,alarm.severity)"         # 3 nodes: value, alarm, severity
    for i in range(300):
        get, mon = ch.read(request), ch.subscribe(request)
        replies = exchange(get, mon)
        assert [type(r) for r in replies] == [ChannelGetResponse, ChannelMonitorResponse]
        assert all(r.status.is_successful for r in replies), (i, replies)
        assert conn.held == at_rest + ServerOp.COST + Monitor.COST + 2 * 3 * NODE_BYTES
        exchange(ChannelRequestDestroy(ch.sid, get.ioid),
                 ChannelRequestDestroy(ch.sid, mon.ioid))
        assert conn.held == at_rest and core.accounting.in_use == at_rest


def test_monitor_memory_is_given_back_at_close():
    # a budget of 8 MiB per connection; the heap is measured with
    # tracemalloc, in this process (fake clock and transport)
    import gc
    import tracemalloc
    limits = MemoryLimits(per_connection=8 << 20)
    reactor, core, conn, transport, client, ch, exchange = _fake_server(limits)
    del exchange, client                # what the heap holds is the server's
    sid = ch.sid
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for first in range(1, 6000, 1000):
            transport._deliver(_monitor_inits(sid, first, 1000))
            reactor.run()
            transport.written.clear()
        held = tracemalloc.get_traced_memory()[0] - base
        refused = core.accounting.refused
        conn.connection_lost(None)
        reactor.run()
        del conn, transport             # as the event loop lets go of them
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert refused > 0, "6,000 monitors fit the budget"
    assert held < 2 * limits.per_connection, f"{held} bytes held by 1 connection"
    assert held > limits.per_connection // 2, f"only {held} bytes held: nothing measured?"
    assert kept < 64 * 1024, f"{kept} bytes still held after the connection closed"
    assert not core.circuits and core.accounting.in_use == 0


def test_connections_closed_for_garbage_are_released_at_once(victim):
    # 1,000 connections send garbage and go away without reading
    bystander = Bystander(victim.udp_port)
    try:
        rss0 = victim.rss_kib()
        bystander.measuring = True
        t0 = time.monotonic()
        for _ in range(1000):
            with socket.create_connection((LOOPBACK, victim.port), timeout=5) as s:
                s.sendall(b"garbage!" * 2)
        elapsed = time.monotonic() - t0
        stats = _released(victim)
        bystander.measuring = False
    finally:
        bystander.close()
    assert stats["connections"] <= 1 and stats["circuits"] <= 1, stats
    growth = victim.rss_kib() - rss0
    assert growth < MAX_RSS_GROWTH_KIB // 2, f"server RSS grew by {growth} KiB"
    assert elapsed < 3.0, f"1,000 connections took {elapsed:.1f} s"
    bystander.check("1,000 connections closed for garbage")


def test_rapid_connects_beyond_the_backlog(victim):
    # while the server is stopped (SIGSTOP) the kernel completes handshakes
    # into its accept queue (the listen backlog); beyond it they wait
    # (a SYN retried after 1 s)
    n = 1000
    socks = []
    bystander = Bystander(victim.udp_port)
    try:
        os.kill(victim.proc.pid, signal.SIGSTOP)
        try:
            for _ in range(n):
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex((LOOPBACK, victim.port))
                socks.append(s)
            deadline = time.monotonic() + 0.5
            with selectors.DefaultSelector() as sel:
                for s in socks:
                    sel.register(s, selectors.EVENT_WRITE)
                done = set()
                while len(done) < n and time.monotonic() < deadline:
                    for key, _ in sel.select(0.05):
                        sel.unregister(key.fileobj)
                        done.add(key.fileobj)
            connected = sum(1 for s in done
                            if not s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
        finally:
            os.kill(victim.proc.pid, signal.SIGCONT)
        rss0 = victim.rss_kib()
        bystander.measuring = True
        for s in socks:
            s.close()
        socks = []
        stats = _released(victim)
        _wait(lambda: len(bystander.latencies) >= 10)
        bystander.measuring = False
    finally:
        for s in socks:
            s.close()
        bystander.close()
    assert connected == n, f"{connected} of {n} connects completed in 0.5 s"
    assert stats["connections"] <= 1, stats
    assert victim.rss_kib() - rss0 < MAX_RSS_GROWTH_KIB // 2
    bystander.check(f"{n} connections accepted at once")


# ------------------------------------------------- a hostile server, our client
class HostileServer:
    """Answers searches for ``evil:x`` and replies to a GET's INIT with ``reply(ioid)``;
    with ``greeting(sock)`` that is all it does on a connection, instead of validating.

    A socket server speaking through :class:`ServerVirtualCircuit`, in threads.
    """

    def __init__(self, reply: Callable[[ServerVirtualCircuit, int], List[bytes]],
                 greeting: Callable[[socket.socket], None] = None):
        self.reply = reply
        self.greeting = greeting
        self.tcp = socket.socket()
        self.tcp.bind((LOOPBACK, 0))
        self.tcp.listen(16)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((LOOPBACK, 0))
        self.udp.settimeout(0.2)
        self.port, self.udp_port = self.tcp.getsockname()[1], self.udp.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._search, daemon=True),
                         threading.Thread(target=self._accept, daemon=True)]
        for t in self._threads:
            t.start()

    def _search(self):
        bc = Broadcaster("server", server_address=(LOOPBACK, self.port))
        while not self._stop.is_set():
            try:
                data, source = self.udp.recvfrom(65536)
                msgs = bc.recv(data, source)
            except (socket.timeout, pva.PVAError):
                continue
            except OSError:
                return
            for msg in msgs:
                if isinstance(msg, SearchRequest):
                    ids = [c.id for c in msg.channels if c.channel_name == "evil:x"]
                    if ids:
                        reply = bc.search_response(msg, ids, found=True)
                        self.udp.sendto(b"".join(bc.send(reply)), source)

    def _accept(self):
        self.tcp.settimeout(0.2)
        while not self._stop.is_set():
            try:
                sock, addr = self.tcp.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(sock, addr), daemon=True).start()

    def _serve(self, sock, addr):
        vc = ServerVirtualCircuit(addr)
        try:
            if self.greeting is not None:
                self.greeting(sock)
                return
            sock.sendall(b"".join(bytes(b) for b in vc.send(vc.set_byte_order("<"),
                                                            vc.validate_connection())))
            while not self._stop.is_set():
                data = sock.recv(65536)
                if not data:
                    return
                for msg, _ in vc.recv(data):
                    vc.process_command(msg)
                    out: List[bytes] = []
                    if isinstance(msg, ConnectionValidationResponse):
                        out = vc.send(vc.validated_connection())
                    elif isinstance(msg, CreateChannelRequest):
                        for cid, _ in msg.channels:
                            out += vc.send(vc.channel_by_cid(cid).create())
                    elif isinstance(msg, ChannelGetRequest) and msg.is_init:
                        out = self.reply(vc, msg.ioid)
                    if out:
                        sock.sendall(b"".join(bytes(b) for b in out))
        except (OSError, pva.PVAError):
            return
        finally:
            sock.close()

    def close(self):
        self._stop.set()
        self.tcp.close()
        self.udp.close()
        for t in self._threads:
            t.join(5)


@pytest.fixture
def p4p_bystander_server():
    from p4p.nt import NTScalar
    from p4p.server import Server, StaticProvider
    from p4p.server.thread import SharedPV
    pv = SharedPV(nt=NTScalar("d"), initial=2.5)
    provider = StaticProvider("good")
    provider.add("good:x", pv)
    conf = {"EPICS_PVAS_INTF_ADDR_LIST": LOOPBACK, "EPICS_PVAS_SERVER_PORT": "0",
            "EPICS_PVAS_BROADCAST_PORT": "0", "EPICS_PVAS_AUTO_BEACON_ADDR_LIST": "NO",
            "EPICS_PVAS_BEACON_ADDR_LIST": ""}
    server = Server(providers=[provider], conf=conf, useenv=False)
    try:
        yield int(server.conf()["EPICS_PVAS_BROADCAST_PORT"])
    finally:
        server.stop()


def _run_client_under_attack(p4p_udp_port: int, reply, greeting=None) -> dict:
    hostile = HostileServer(reply, greeting)
    try:
        addr_list = f"{LOOPBACK}:{p4p_udp_port} {LOOPBACK}:{hostile.udp_port}"
        proc = subprocess.run([sys.executable, PEERS, "client", addr_list, str(ATTACK_SECONDS),
                               "good:x", "evil:x", str(free_udp_port())],
                              capture_output=True, text=True, env=peer_env(), timeout=60)
    finally:
        hostile.close()
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["log"] = proc.stderr
    out["connections"] = hostile.connections
    return out


def _check_client(out: dict, reason: str) -> None:
    closes = [line for line in out["log"].splitlines()
              if "protocol error from server" in line and reason in line]
    assert out["connections"] >= 2 and len(closes) >= out["connections"] - 1, (
        out["connections"], out["log"][-1000:])
    assert out["failed"] >= 1
    growth = out["peak"] - out["rss0"]
    assert growth < MAX_RSS_GROWTH_KIB, f"client peak RSS grew by {growth} KiB"
    assert len(out["latencies"]) >= 10
    p95 = percentile(out["latencies"], 0.95)
    assert p95 < P95_LIMIT, f"p95 of gets from the good server {p95 * 1e3:.1f} ms"


def _get_data(ioid: int, value: bytes) -> bytes:
    """A GET reply from a server: request id, subcommand GET, status OK, BitSet {0}, value."""
    data = u32(ioid) + b"\x40\xff" + b"\x01\x01" + value
    return bytes((0xCA, 2, 0x40, 0x0A)) + u32(len(data)) + data


def test_hostile_server_type_fan_out(p4p_bystander_server):
    bomb = laughs(3, 400)

    def reply(vc, ioid):
        # the INIT reply's type, sent through the connection's type cache,
        # and at once a GET reply: the whole (empty) value
        return vc.send(ChannelGetResponse(ioid).to_init(bomb)) + [_get_data(ioid, b"")]

    _check_client(_run_client_under_attack(p4p_bystander_server, reply), "max_type_nodes")


def test_hostile_server_value_fan_out(p4p_bystander_server):
    elem = laughs(2, 100)                                # 10,101 nodes, 0 bytes of value
    desc = F.struct([("a", F.array(elem))])
    n = 2000

    def reply(vc, ioid):
        init = vc.send(ChannelGetResponse(ioid).to_init(desc))
        return init + [_get_data(ioid, b"\xfe" + u32(n) + b"\x01" * n)]

    _check_client(_run_client_under_attack(p4p_bystander_server, reply), "max_message_nodes")


def test_hostile_server_large_message_before_validation(p4p_bystander_server):
    # instead of its validation request, the server starts a message of
    # 100 MiB and sends it as fast as it can
    size = 100 << 20

    def greeting(sock):
        sock.sendall(bytes((0xCA, 2, 0x40, 0x01)) + u32(size))
        chunk = bytes(0x10000)
        for _ in range(size // len(chunk)):
            sock.sendall(chunk)

    out = _run_client_under_attack(p4p_bystander_server, None, greeting)
    _check_client(out, "before validation")

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
import socket
import struct
import subprocess
import sys
import threading
import time
from typing import Callable, List

import pytest
from server_helpers import LOOPBACK, RawClient, client_conf_for, free_udp_port

import pva
from pva import FieldDesc, FieldType, IntrospectionCache
from pva._broadcaster import Broadcaster
from pva._circuit import ServerVirtualCircuit
from pva._messages import (ChannelGetRequest, ChannelGetResponse, ConnectionValidationResponse,
                           CreateChannelRequest, SearchRequest)

PEERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reliability_peers.py")
F, T = FieldDesc, FieldType
EMPTY = F.struct([])
ATTACK_SECONDS = 1.5
#: attacking connections per test, spread over ATTACK_SECONDS (each one is
#: closed by the server; what a closed connection keeps for a while is a
#: separate budget, so their number is kept small)
ATTACKS = 20
MAX_RSS_GROWTH_KIB = 20 * 1024
P95_LIMIT = 0.100


def laughs(levels: int, width: int) -> FieldDesc:
    """``levels`` nested structures of ``width`` members each, all one object."""
    t = EMPTY
    for _ in range(levels):
        t = F.struct([(f"f{i}", t) for i in range(width)])
    return t


def cached(desc: FieldDesc, cache=None) -> bytes:
    """``desc`` as sent through a type cache (0xFD id once, then 0xFE id)."""
    return pva.encode_field_desc(desc, "<", IntrospectionCache() if cache is None else cache)


def frame(command: int, payload: bytes) -> bytes:
    """An application message from a client, little endian."""
    return bytes((0xCA, 2, 0x00, command)) + struct.pack("<I", len(payload)) + payload


def u32(n: int) -> bytes:
    return struct.pack("<I", n)


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPICS_")}
    env["OPENBLAS_NUM_THREADS"] = "1"
    return env


def _percentile(values: List[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


# ------------------------------------------------------------------ victim
class Victim:
    """Our server in its own process; its stderr (the log) is collected."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, PEERS, "server"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=_env())
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "READY":
            raise RuntimeError(f"server did not start: {line} {self.proc.stderr.read()}")
        self.port, self.udp_port = int(line[1]), int(line[2])
        self.log: List[str] = []
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()

    def _read_log(self):
        for line in self.proc.stderr:
            self.log.append(line.rstrip())

    def rss_kib(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def closes_logged(self, reason: str, count: int, timeout: float = 5.0) -> List[str]:
        """Wait until ``count`` connections were logged as closed for ``reason``."""
        deadline = time.monotonic() + timeout
        while True:
            found = [line for line in list(self.log)
                     if "closing circuit from 127.0.0.1" in line and reason in line]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(10)
        self.proc.stdout.close()


@pytest.fixture
def victim():
    v = Victim()
    try:
        yield v
    finally:
        v.stop()


class Bystander:
    """A p4p client getting a PV in a loop in its own thread, timing each get."""

    def __init__(self, udp_port: int, name: str = "rel:x"):
        from p4p.client.thread import Context as P4PContext
        self.ctxt = P4PContext("pva", conf=client_conf_for(udp_port), useenv=False, nt=False)
        self.name = name
        self.latencies: List[float] = []
        self.errors: List[str] = []
        self.measuring = False
        self._stop = threading.Event()
        self.ctxt.get(name, timeout=5)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            t0 = time.perf_counter()
            try:
                self.ctxt.get(self.name, timeout=5)
            except Exception as ex:  # a failed get is a finding, reported by the test
                self.errors.append(repr(ex))
            if self.measuring:
                self.latencies.append(time.perf_counter() - t0)
            self._stop.wait(0.005)

    def close(self):
        self._stop.set()
        self._thread.join(10)
        self.ctxt.close()


def _closed_by_peer(client: RawClient, timeout: float = 5.0) -> bool:
    client.sock.settimeout(timeout)
    try:
        return client.wait_closed()
    except socket.timeout:
        return False


def run_attack(victim: Victim, attack: Callable[[RawClient], None], reason: str,
               validate: bool = True) -> None:
    """``attack`` on ATTACKS fresh connections over ATTACK_SECONDS; check the budget."""
    bystander = Bystander(victim.udp_port)
    attacks = 0

    def once():
        nonlocal attacks
        client = RawClient(victim.port, validate=validate)
        try:
            if not validate:
                client.expect(pva.ConnectionValidationRequest)
            attack(client)
            attacks += 1
            assert _closed_by_peer(client), "the attacking connection was not closed"
        finally:
            client.close()

    try:
        once()                                  # first use: codecs compiled, buffers sized
        rss0 = victim.rss_kib()
        bystander.measuring = True
        start = time.monotonic()
        for i in range(ATTACKS):
            time.sleep(max(0.0, start + i * ATTACK_SECONDS / ATTACKS - time.monotonic()))
            once()
        bystander.measuring = False
        growth = victim.rss_kib() - rss0
    finally:
        bystander.close()
    logged = victim.closes_logged(reason, attacks)
    assert len(logged) >= attacks, (attacks, victim.log[-5:])
    assert growth < MAX_RSS_GROWTH_KIB, f"server RSS grew by {growth} KiB in {attacks} attacks"
    assert not bystander.errors, bystander.errors[:3]
    assert len(bystander.latencies) >= 10, bystander.latencies
    p95 = _percentile(bystander.latencies, 0.95)
    assert p95 < P95_LIMIT, f"bystander p95 {p95 * 1e3:.1f} ms during {attacks} attacks"


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


# ------------------------------------------------- a hostile server, our client
class HostileServer:
    """Answers searches for ``evil:x`` and replies to a GET's INIT with ``reply(ioid)``.

    A socket server speaking through :class:`ServerVirtualCircuit`, in threads.
    """

    def __init__(self, reply: Callable[[ServerVirtualCircuit, int], List[bytes]]):
        self.reply = reply
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
            sock.sendall(b"".join(bytes(b) for b in vc.send(vc.set_byte_order("<"),
                                                            vc.validate_connection())))
            while not self._stop.is_set():
                data = sock.recv(65536)
                if not data:
                    return
                for msg in vc.recv(data):
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


def _run_client_under_attack(p4p_udp_port: int, reply) -> dict:
    hostile = HostileServer(reply)
    try:
        addr_list = f"{LOOPBACK}:{p4p_udp_port} {LOOPBACK}:{hostile.udp_port}"
        proc = subprocess.run([sys.executable, PEERS, "client", addr_list, str(ATTACK_SECONDS),
                               "good:x", "evil:x", str(free_udp_port())],
                              capture_output=True, text=True, env=_env(), timeout=60)
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
    p95 = _percentile(out["latencies"], 0.95)
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

"""Hostile clients of our CA server, with a well-behaved client looking on.

Our server runs in its own process (``reliability_app.py server``, 127.0.0.1
on ports of its own); a libca client (caffi.simple.caget, also a child
process) gets ``rel:x`` throughout each attack.  Each attack is made over raw
sockets, again and again for a while, and each test asserts: the attacker's
connections are closed, with the reason in the server's log; the server's
memory (RSS of its process) hardly grows; the bystander's gets all succeed,
95% of them within 100 ms.
"""
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
APP = os.path.join(HERE, "reliability_app.py")
ATTACK_SECONDS = 3.0
P95_LIMIT = 0.1
MAX_RSS_GROWTH_KIB = 30 * 1024
_HEADER = struct.Struct(">HHHHII")


def _free_port():
    """A port free for both TCP and UDP on 127.0.0.1."""
    while True:
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port


def _env(port, repeater):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPICS_")}
    env.update(EPICS_CA_SERVER_PORT=str(port), EPICS_CA_REPEATER_PORT=str(repeater),
               EPICS_CA_ADDR_LIST="127.0.0.1", EPICS_CA_AUTO_ADDR_LIST="NO",
               EPICS_CAS_INTF_ADDR_LIST="127.0.0.1", EPICS_CAS_BEACON_ADDR_LIST="127.0.0.1",
               EPICS_CAS_AUTO_BEACON_ADDR_LIST="NO")
    return env


class Victim:
    """Our server in its own process; its log (stderr) is collected."""

    def __init__(self, limits):
        self.env = _env(_free_port(), _free_port())
        self.proc = subprocess.Popen([sys.executable, APP, "server", json.dumps(limits)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=self.env, cwd=HERE)
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "READY":
            raise RuntimeError("server did not start: %s %s" % (line, self.proc.stderr.read()))
        self.port = int(line[1])
        self.log = []
        threading.Thread(target=self._read_log, daemon=True).start()

    def _read_log(self):
        for line in self.proc.stderr:
            self.log.append(line.rstrip())

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def logged(self, reason, count, timeout=10.0):
        """Wait until ``count`` log lines mention ``reason``; return them."""
        deadline = time.monotonic() + timeout
        while True:
            found = [line for line in list(self.log) if reason in line]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def stop(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def victim(request):
    v = Victim(getattr(request, "param", {}))
    try:
        yield v
    finally:
        v.stop()


def _under_attack(victim, attack):
    """Run ``attack()`` repeatedly for ATTACK_SECONDS while a libca client
    gets ``rel:x``; returns (the attack's results, the bystander's
    latencies, the server's RSS growth in KiB)."""
    rss0 = victim.rss_kib()
    bystander = subprocess.Popen([sys.executable, APP, "bystander", "rel:x",
                                  str(ATTACK_SECONDS + 1.0)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=victim.env, cwd=HERE)
    try:
        time.sleep(0.5)                 # the bystander connects first
        results = []
        end = time.monotonic() + ATTACK_SECONDS
        while time.monotonic() < end:
            results.append(attack())
        out, err = bystander.communicate(timeout=30)
    finally:
        if bystander.poll() is None:
            bystander.kill()
            bystander.wait()
    assert bystander.returncode == 0, err
    return results, json.loads(out), victim.rss_kib() - rss0


def _check_attack(victim, attack, reason):
    """Every attacking connection closed with ``reason`` logged, the server's
    memory bounded, the bystander served."""
    results, latencies, growth = _under_attack(victim, attack)
    assert results and all(results)
    assert len(victim.logged(reason, len(results))) >= len(results)
    assert growth < MAX_RSS_GROWTH_KIB
    _check_bystander(latencies)


def _check_bystander(latencies):
    assert latencies and None not in latencies, latencies
    ordered = sorted(latencies)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    assert p95 < P95_LIMIT, "bystander p95 %.1f ms" % (p95 * 1e3)


def _connect(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _closed_by_peer(sock, timeout=5.0):
    """Whether the server closes ``sock`` within ``timeout`` (what it sent
    before is read and dropped)."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False
    finally:
        sock.close()
    return False


def _greeting():
    """VERSION, HOST_NAME, CLIENT_NAME as libca sends them."""
    return (_HEADER.pack(0, 0, 0, 13, 0, 0)
            + _HEADER.pack(21, 8, 0, 0, 0, 0) + b"attack\x00\x00"
            + _HEADER.pack(20, 8, 0, 0, 0, 0) + b"attack\x00\x00")


def _create(cid, name=b"rel:x"):
    raw = name + b"\x00" * (8 - len(name) % 8)
    return _HEADER.pack(18, len(raw), 0, 0, cid, 13) + raw


def test_huge_declared_payload_is_refused(victim):
    """A header announcing 2 GB (extended size) closes that connection at
    once: nothing is allocated for it."""
    def attack():
        sock = _connect(victim.port)
        sock.sendall(_greeting() + _HEADER.pack(1, 0xFFFF, 6, 0, 1, 1)
                     + struct.pack(">II", 2 ** 31, 1) + b"\x00" * 64)
        return _closed_by_peer(sock)
    _check_attack(victim, attack, "announces 2147483648 bytes")


@pytest.mark.parametrize("victim", [{"channels_per_circuit": 500}], indirect=True)
def test_create_channel_flood_is_budgeted(victim):
    """A circuit creating more channels than its budget is closed (the
    channels it held are given back)."""
    def attack():
        sock = _connect(victim.port)
        sock.sendall(_greeting() + b"".join(_create(cid) for cid in range(1, 2001)))
        return _closed_by_peer(sock)
    _check_attack(victim, attack, "more than 500 channels on this circuit")


def _created_sid(sock):
    """The sid of the server's CREATE_CHAN answer (after VERSION, ACCESS_RIGHTS)."""
    data = b""
    while True:
        while len(data) >= 16:
            command, size = _HEADER.unpack_from(data)[:2]
            if command == 18:
                return _HEADER.unpack_from(data)[5]
            data = data[16 + size:]
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError("closed before the channel was created")
        data += chunk


@pytest.mark.parametrize("victim", [{"subscriptions_per_circuit": 500}], indirect=True)
def test_subscription_flood_is_budgeted(victim):
    """A circuit subscribing more than its budget is closed."""
    def attack():
        sock = _connect(victim.port)
        sock.sendall(_greeting() + _create(1))
        sid = _created_sid(sock)
        adds = b"".join(_HEADER.pack(1, 16, 6, 1, sid, subid) + struct.pack(">fffH2x", 0, 0,
                                                                              0, 1)
                        for subid in range(1, 2001))
        sock.sendall(adds)
        return _closed_by_peer(sock)
    _check_attack(victim, attack, "more than 500 subscriptions")


@pytest.mark.parametrize("victim", [{"idle_circuit_timeout": 1.0}], indirect=True)
def test_slow_loris_partial_headers_are_closed(victim):
    """Connections that send a byte of a header now and then, and never
    create a channel, are closed after the idle timeout."""
    socks = []

    def attack():
        if len(socks) < 50:
            sock = _connect(victim.port)
            sock.sendall(_HEADER.pack(0, 0, 0, 13, 0, 0)[:3])
            socks.append(sock)
        time.sleep(0.05)
        return True
    _, latencies, growth = _under_attack(victim, attack)
    closed = [_closed_by_peer(sock, timeout=5.0) for sock in socks]
    assert len(closed) == 50 and all(closed)
    assert len(victim.logged("no channel created within 1 s: closed", 50)) >= 50
    assert growth < MAX_RSS_GROWTH_KIB
    _check_bystander(latencies)

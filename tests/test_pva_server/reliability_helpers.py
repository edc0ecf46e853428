"""Helpers of the reliability tests: the victim process, the bystander, budgets.

:class:`Victim` runs our server in its own process (``reliability_peers.py
server``) and can ask it for its state (:meth:`Victim.stats`: live
connections, circuits and operations, the bytes its memory budget counts,
its RSS) and measure its resident memory, including the peak since a
moment (``/proc/PID/clear_refs``).  :class:`Bystander` is a well-behaved p4p
client getting a PV in a loop and timing each get; :func:`run_attack`
repeats an attack on fresh connections while it measures.
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

from server_helpers import RawClient, client_conf_for

import pva

PEERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reliability_peers.py")
ATTACK_SECONDS = 1.5
#: attacking connections per run_attack, spread over ATTACK_SECONDS (each one
#: is closed by the server)
ATTACKS = 20
MAX_RSS_GROWTH_KIB = 20 * 1024
P95_LIMIT = 0.100


def frame(command: int, payload: bytes) -> bytes:
    """An application message from a client, little endian."""
    return bytes((0xCA, 2, 0x00, command)) + struct.pack("<I", len(payload)) + payload


def u32(n: int) -> bytes:
    return struct.pack("<I", n)


def peer_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPICS_")}
    env["OPENBLAS_NUM_THREADS"] = "1"
    return env


def percentile(values: List[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class Victim:
    """Our server in its own process; its stderr (the log) is collected.

    ``options`` (a dict) go to the server as JSON: ``limits`` (ServerLimits
    fields) and ``backlog``.
    """

    def __init__(self, options: dict = None):
        self.proc = subprocess.Popen([sys.executable, PEERS, "server", json.dumps(options or {})],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=peer_env())
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "READY":
            raise RuntimeError(f"server did not start: {line} {self.proc.stderr.read()}")
        self.port, self.udp_port = int(line[1]), int(line[2])
        self.log: List[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()

    def _read_log(self):
        for line in self.proc.stderr:
            self.log.append(line.rstrip())

    def _status(self, field: str) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise RuntimeError(f"no {field}")

    def rss_kib(self) -> int:
        return self._status("VmRSS")

    def reset_peak(self) -> None:
        """From now on :meth:`peak_kib` is the peak since this call."""
        with open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
            f.write("5")

    def peak_kib(self) -> int:
        return self._status("VmHWM")

    def stats(self) -> dict:
        """The server's state, from the server: ``connections`` (live
        Connection objects), ``circuits``, ``ops`` (live operations),
        ``budget`` (bytes its memory budget counts), ``rss`` (KiB)."""
        with self._lock:
            self.proc.stdin.write("stats\n")
            self.proc.stdin.flush()
            return json.loads(self.proc.stdout.readline())

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
            measuring = self.measuring      # a get counts if it started and ended measured
            t0 = time.perf_counter()
            try:
                self.ctxt.get(self.name, timeout=5)
            except Exception as ex:  # a failed get is a finding, reported by the test
                self.errors.append(repr(ex))
            if measuring and self.measuring:
                self.latencies.append(time.perf_counter() - t0)
            self._stop.wait(0.005)

    def check(self, what: str, min_gets: int = 10) -> None:
        """No get failed, enough were timed, their p95 is under P95_LIMIT."""
        assert not self.errors, self.errors[:3]
        assert len(self.latencies) >= min_gets, self.latencies
        p95 = percentile(self.latencies, 0.95)
        assert p95 < P95_LIMIT, f"bystander p95 {p95 * 1e3:.1f} ms during {what}"

    def close(self):
        self._stop.set()
        self._thread.join(10)
        self.ctxt.close()


def closed_by_peer(client: RawClient, timeout: float = 5.0) -> bool:
    """The server closes the connection within ``timeout`` (what it sends
    meanwhile is read and dropped, not decoded)."""
    client.sock.settimeout(timeout)
    try:
        while client.sock.recv(0x10000):
            pass
        return True
    except ConnectionResetError:
        return True
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
            assert closed_by_peer(client), "the attacking connection was not closed"
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
    bystander.check(f"{attacks} attacks")

"""Two network namespaces joined by a veth pair, for broadcast tests.

``NetnsPair`` creates ``<prefix>a`` (10.X.Y.1/24) and ``<prefix>b``
(10.X.Y.2/24), loopback up in both, and runs commands in them with
``ip netns exec``.  Traffic stays between the two namespaces.  ``remove()``
deletes both (their veth ends go with them) and is safe to call twice.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import List, Optional

__all__ = ["NetnsPair", "netns_unavailable_reason"]


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check,
                          timeout=30)


def netns_unavailable_reason() -> Optional[str]:
    """Why namespaces cannot be made here (None: they can)."""
    if not sys.platform.startswith("linux"):
        return "network namespaces are Linux only"
    if shutil.which("ip") is None:
        return "the 'ip' command (iproute2) is not installed"
    probe = f"pvaprobe{os.getpid()}"
    res = _ip("netns", "add", probe, check=False)
    if res.returncode != 0:
        return f"'ip netns add' is not permitted: {res.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


class NetnsPair:
    def __init__(self, tag: str):
        pid = os.getpid()
        self.a = f"pva{tag}{pid}a"[:15]
        self.b = f"pva{tag}{pid}b"[:15]
        net = (200 + pid % 50, (pid // 50) % 250)
        self.addr_a = "10.%d.%d.1" % net
        self.addr_b = "10.%d.%d.2" % net
        self.broadcast = "10.%d.%d.255" % net
        self._made: List[str] = []

    def create(self) -> "NetnsPair":
        for ns in (self.a, self.b):
            _ip("netns", "add", ns)
            self._made.append(ns)
        veth_a, veth_b = "veth0", "veth1"
        _ip("-n", self.a, "link", "add", veth_a, "type", "veth", "peer", "name", veth_b,
            "netns", self.b)
        for ns, dev, addr in ((self.a, veth_a, self.addr_a), (self.b, veth_b, self.addr_b)):
            _ip("-n", ns, "addr", "add", f"{addr}/24", "brd", "+", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        return self

    def popen(self, ns: str, argv: List[str], env: dict) -> subprocess.Popen:
        return subprocess.Popen(["ip", "netns", "exec", ns, *argv], env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def run(self, ns: str, argv: List[str], env: dict, timeout: float = 60
            ) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", ns, *argv], env=env,
                              capture_output=True, text=True, timeout=timeout)

    def remove(self) -> None:
        while self._made:
            _ip("netns", "del", self._made.pop(), check=False)

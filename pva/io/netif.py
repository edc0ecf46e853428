"""The host's IPv4 network interfaces: addresses, broadcast addresses, flags.

Name resolution needs to know them: a client's automatic search list and a
server's automatic beacon list are the broadcast addresses of the
interfaces, and a UDP listener tells a unicast search (to be forwarded to
the other listeners on this host) from a broadcast one by the datagram's
destination address.  This module only asks the operating system; it sends
nothing.

On Linux the list comes from ``ioctl`` (``SIOCGIFCONF`` for the IPv4
addresses, then ``SIOCGIFFLAGS``, ``SIOCGIFBRDADDR``, ``SIOCGIFDSTADDR``
and ``SIOCGIFNETMASK`` per address label), as EPICS base's
``osiSockDiscoverBroadcastAddresses`` does.  Elsewhere (or when the calls
fail) :func:`interfaces` returns an empty list and
:func:`broadcast_addresses` falls back to ``255.255.255.255``.

A secondary address without a label of its own shares the label of the
primary address; the kernel then reports the primary's broadcast address
and netmask for it (the same limitation as the ``ioctl`` interface of EPICS
base).
"""
from __future__ import annotations

import dataclasses
import ipaddress
import socket
import struct
import sys
import time
from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

__all__ = ["Interface", "InterfaceMap", "interfaces", "broadcast_addresses",
           "ENUMERATION_AVAILABLE", "ANY", "LIMITED_BROADCAST"]

ANY = "0.0.0.0"
LIMITED_BROADCAST = "255.255.255.255"
_LOOPBACK_NET_BCAST = ("127.0.0.0", "127.255.255.255")

# <linux/sockios.h>, <net/if.h>
_SIOCGIFCONF = 0x8912
_SIOCGIFFLAGS = 0x8913
_SIOCGIFDSTADDR = 0x8917
_SIOCGIFBRDADDR = 0x8919
_SIOCGIFNETMASK = 0x891B
IFF_UP = 0x1
IFF_BROADCAST = 0x2
IFF_LOOPBACK = 0x8
IFF_POINTOPOINT = 0x10

_IFNAMSIZ = 16
# struct ifreq: the name, then a union whose largest member is struct ifmap
_IFREQ_SIZE = _IFNAMSIZ + max(16, struct.calcsize("LLHBBB0L"))

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

#: whether this platform's interfaces can be listed (else the fall-backs apply)
ENUMERATION_AVAILABLE = fcntl is not None and sys.platform.startswith("linux")


@dataclasses.dataclass(frozen=True)
class Interface:
    """One IPv4 address of an interface.

    Attributes
    ----------
    name : str
        The address label (``eth0``, or ``eth0:1`` for a labelled alias).
    index : int
        Interface index (0 if unknown).
    address, netmask : str
        The address and its netmask.
    broadcast : str or None
        Broadcast address (interfaces with ``IFF_BROADCAST``), else None.
    peer : str or None
        Destination address of a point-to-point interface, else None.
    flags : int
        ``IFF_*`` flags.
    """

    name: str
    index: int
    address: str
    netmask: str
    broadcast: Optional[str]
    peer: Optional[str]
    flags: int

    @property
    def up(self) -> bool:
        return bool(self.flags & IFF_UP)

    @property
    def loopback(self) -> bool:
        return bool(self.flags & IFF_LOOPBACK)

    @property
    def prefixlen(self) -> int:
        return ipaddress.IPv4Network(f"0.0.0.0/{self.netmask}").prefixlen


def _ifreq(name: str) -> bytearray:
    buf = bytearray(_IFREQ_SIZE)
    raw = name.encode()[:_IFNAMSIZ - 1]
    buf[:len(raw)] = raw
    return buf


def _ioctl_addr(sock: socket.socket, request: int, name: str) -> Optional[str]:
    try:
        out = fcntl.ioctl(sock.fileno(), request, bytes(_ifreq(name)))
    except OSError:
        return None
    family = struct.unpack_from("=H", out, _IFNAMSIZ)[0]
    if family != socket.AF_INET:
        return None
    return socket.inet_ntoa(out[_IFNAMSIZ + 4:_IFNAMSIZ + 8])


def _ioctl_flags(sock: socket.socket, name: str) -> Optional[int]:
    try:
        out = fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, bytes(_ifreq(name)))
    except OSError:
        return None
    return struct.unpack_from("=H", out, _IFNAMSIZ)[0]


def _ifconf(sock: socket.socket) -> List[Tuple[str, str]]:
    """``(label, address)`` of every IPv4 address (``SIOCGIFCONF``)."""
    import array
    count = 64
    while True:
        buf = array.array("B", bytes(count * _IFREQ_SIZE))
        addr, _ = buf.buffer_info()
        req = struct.pack("iP", len(buf), addr)
        res = fcntl.ioctl(sock.fileno(), _SIOCGIFCONF, req)
        used = struct.unpack_from("i", res)[0]
        if used < len(buf) or count >= 4096:
            break
        count *= 4          # possibly truncated: ask again with more room
    raw = buf.tobytes()[:used]
    out = []
    for off in range(0, used - _IFREQ_SIZE + 1, _IFREQ_SIZE):
        name = raw[off:off + _IFNAMSIZ].split(b"\0", 1)[0].decode(errors="replace")
        family = struct.unpack_from("=H", raw, off + _IFNAMSIZ)[0]
        if family != socket.AF_INET:
            continue
        out.append((name, socket.inet_ntoa(raw[off + _IFNAMSIZ + 4:off + _IFNAMSIZ + 8])))
    return out


def _index_of(label: str) -> int:
    try:
        return socket.if_nametoindex(label.split(":", 1)[0])
    except (OSError, AttributeError):
        return 0


def interfaces() -> List[Interface]:
    """Every IPv4 address of the host, with its interface's flags.

    Empty where the platform is not supported or the query fails.
    """
    if not ENUMERATION_AVAILABLE:
        return []
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    except OSError:
        return []
    try:
        try:
            entries = _ifconf(sock)
        except OSError:
            return []
        out = []
        for label, address in entries:
            flags = _ioctl_flags(sock, label)
            if flags is None:
                continue
            broadcast = peer = None
            if flags & IFF_BROADCAST:
                broadcast = _ioctl_addr(sock, _SIOCGIFBRDADDR, label)
                if broadcast == ANY:
                    broadcast = None
            elif flags & IFF_POINTOPOINT:
                peer = _ioctl_addr(sock, _SIOCGIFDSTADDR, label)
            netmask = _ioctl_addr(sock, _SIOCGIFNETMASK, label) or "255.255.255.255"
            out.append(Interface(label, _index_of(label), address, netmask, broadcast,
                                 peer, flags))
        return out
    finally:
        sock.close()


def broadcast_addresses(match: str = ANY,
                        interface_list: Optional[Sequence[Interface]] = None) -> List[str]:
    """Where to broadcast through the interface(s) with address ``match``.

    As EPICS base (``osiSockDiscoverBroadcastAddresses``) and so pvxs:
    ``match='127.0.0.1'`` gives ``['127.0.0.1']``; otherwise every
    interface that is up and not loopback, with address ``match`` (any
    address for ``0.0.0.0``), gives its broadcast address, or a
    point-to-point interface its peer's address.  Where interfaces cannot be
    listed, ``0.0.0.0`` gives ``['255.255.255.255']`` and another address
    nothing.
    """
    if match == "127.0.0.1":
        return ["127.0.0.1"]
    if interface_list is None:
        if not ENUMERATION_AVAILABLE:
            return [LIMITED_BROADCAST] if match == ANY else []
        interface_list = interfaces()
    out: List[str] = []
    for intf in interface_list:
        if not intf.up or intf.loopback:
            continue
        if match != ANY and intf.address != match:
            continue
        dest = intf.broadcast if intf.broadcast is not None else intf.peer
        if dest is not None and dest not in out:
            out.append(dest)
    return out


class InterfaceMap:
    """A snapshot of :func:`interfaces` for classifying received datagrams.

    :meth:`refresh_if_stale` re-reads the interfaces, at most every
    ``min_age`` seconds (an interface that appears later is learnt when a
    datagram arrives through it).
    """

    def __init__(self, interface_list: Optional[Sequence[Interface]] = None,
                 min_age: float = 5.0):
        self.min_age = min_age
        self._stamp = 0.0
        self._set(interfaces() if interface_list is None else list(interface_list))

    def _set(self, interface_list: List[Interface]) -> None:
        self.interfaces = interface_list
        self._stamp = time.monotonic()
        self.addresses: FrozenSet[str] = frozenset(i.address for i in interface_list)
        by_index: Dict[int, List[Interface]] = {}
        for i in interface_list:
            by_index.setdefault(i.index, []).append(i)
        self.by_index = by_index
        self.loopback_indexes = frozenset(i.index for i in interface_list if i.loopback)

    def refresh_if_stale(self) -> bool:
        """Re-read the interfaces unless done within ``min_age`` seconds."""
        if time.monotonic() - self._stamp < self.min_age:
            return False
        self._set(interfaces())
        return True

    def is_local(self, address: str) -> bool:
        """A unicast address of this host (any of 127.0.0.0/8 but its
        network and broadcast addresses counts)."""
        if address in self.addresses:
            return True
        return address.startswith("127.") and address not in _LOOPBACK_NET_BCAST

    def broadcast_of(self, index: int, address: str) -> Optional[str]:
        """The interface address whose broadcast address ``address`` is, on ``index``."""
        for i in self.by_index.get(index, ()):
            if i.broadcast == address:
                return i.address
        return None

    def first_address(self, index: int) -> Optional[str]:
        intfs = self.by_index.get(index)
        return intfs[0].address if intfs else None

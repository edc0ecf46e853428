"""UDP listeners (asyncio): a port shared by the servers and clients of a
host, and the search socket of a client.  Protocol-neutral: datagrams go to a
handler as :class:`Datagram`; what they mean is the handler's business.

A :class:`UDPCollector` binds one socket to ``0.0.0.0:port`` (with
``SO_REUSEADDR``, so that servers and clients on this host share the port),
asks for each datagram's destination address and receiving interface
(``IP_PKTINFO``) and joins a local forwarding group (a multicast address
given by the protocol, pvAccess's is ``224.0.0.128``) on the loopback
interface.  Its handler decides whether a datagram is handled or forwarded
to that group (:meth:`UDPCollector.forward_to_group`: every listener on the
port receives the copy; pvAccess forwards unicast searches so, see
:mod:`pva._forwarding`).

Where ``IP_PKTINFO`` cannot be used (not Linux, or an event loop without
``add_reader``) the socket is bound to the given address and datagrams are
handed over with that address as their destination and no interface index,
without forwarding: a unicast datagram then reaches one of the listeners
sharing the port only.

A :class:`DatagramReader` reads a client's own search socket with
``add_reader``: every reply waiting is read at one wake-up (asyncio's
datagram transport reads one per event-loop iteration).
"""
from __future__ import annotations

import asyncio
import logging
import socket
import struct
import sys
from typing import Callable, NamedTuple, Optional, Tuple

from .netif import ANY, InterfaceMap

__all__ = ["UDPCollector", "Datagram", "DatagramReader", "open_reader", "client_socket",
           "PKTINFO_AVAILABLE"]

log = logging.getLogger("pva.udp")

_IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)    # <linux/in.h>
_PKTINFO = struct.Struct("=I4s4s")                 # struct in_pktinfo
#: whether datagram destinations can be learnt (Linux)
PKTINFO_AVAILABLE = sys.platform.startswith("linux") and hasattr(socket.socket, "recvmsg")
_MAX_PER_WAKEUP = 16
_LOOPBACK = "127.0.0.1"


class Datagram(NamedTuple):
    """One received datagram.

    ``destination`` is the address it was sent to (the socket's own address
    when not known); ``ifindex`` the receiving interface (None when not
    known, and then ``destination`` is not either).
    """

    data: bytes
    source: Tuple[str, int]
    destination: str
    ifindex: Optional[int]


Handler = Callable[[Datagram, "UDPCollector"], None]


class UDPCollector:
    """Receive the datagrams of one UDP port shared with other listeners.

    Parameters
    ----------
    handler : callable
        ``handler(datagram, collector)`` for every datagram (exceptions are
        logged); it may call :meth:`forward_to_group`.
    port : int
        Port to bind (0: any free port; see :attr:`port`).
    host : str
        Address to bind where destinations cannot be learnt (with
        ``IP_PKTINFO`` the socket is always bound to ``0.0.0.0``).
    ifmap : InterfaceMap, optional
        Shared interface snapshot (known interfaces; refreshed when a
        datagram arrives through one it does not know).
    group : str, optional
        The local forwarding group to join on loopback (None: no forwarding).
    """

    def __init__(self, handler: Optional[Handler], port: int, host: str = ANY,
                 ifmap: Optional[InterfaceMap] = None, group: Optional[str] = None):
        self.handler = handler
        self.group = group
        self.requested = (host, port)
        self.ifmap = ifmap
        self.sock: Optional[socket.socket] = None
        self.port = port
        self.host = host
        #: destinations known (IP_PKTINFO) and the local group joined
        self.pktinfo = False
        self.forwarding = False
        #: datagrams forwarded to the local group so far
        self.forwarded = 0
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._transport = None

    def __repr__(self) -> str:
        mode = "forwarding" if self.forwarding else ("pktinfo" if self.pktinfo else "plain")
        return f"<UDPCollector {self.host}:{self.port} {mode}>"

    # ------------------------------------------------------------ setup
    async def open(self) -> "UDPCollector":
        """Bind and start receiving."""
        loop = self._loop = asyncio.get_running_loop()
        host, port = self.requested
        use_pktinfo = PKTINFO_AVAILABLE and hasattr(loop, "add_reader")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            if use_pktinfo:
                try:
                    sock.setsockopt(socket.IPPROTO_IP, _IP_PKTINFO, 1)
                except OSError as ex:
                    log.debug("IP_PKTINFO refused: %s", ex)
                    use_pktinfo = False
            sock.bind((ANY if use_pktinfo else host, port))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.host, self.port = sock.getsockname()[:2]
        if use_pktinfo:
            try:
                loop.add_reader(sock.fileno(), self._readable)
            except NotImplementedError:
                use_pktinfo = False
        if use_pktinfo:
            self.pktinfo = True
            if self.ifmap is None:
                self.ifmap = InterfaceMap()
            self.forwarding = self.group is not None and self._join_local_group()
        else:
            self._transport, _ = await loop.create_datagram_endpoint(
                lambda: _Plain(self), sock=sock)
        log.debug("%r open", self)
        return self

    def _join_local_group(self) -> bool:
        sock = self.sock
        try:
            mreq = socket.inet_aton(self.group) + socket.inet_aton(_LOOPBACK)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                            socket.inet_aton(_LOOPBACK))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        except OSError as ex:
            log.warning("UDP port %d: cannot join %s on loopback (%s); unicast datagrams "
                        "are not forwarded to other listeners on this host",
                        self.port, self.group, ex)
            return False
        return True

    def close(self) -> None:
        if self.sock is None:
            return
        if self._transport is not None:
            self._transport.close()
        else:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self.sock.fileno())
            self.sock.close()
        self.sock = None

    # ------------------------------------------------------------ sending
    def sendto(self, data: bytes, address: Tuple[str, int],
               source: Optional[str] = None) -> None:
        """Send a datagram, from the local address ``source`` if given (and possible)."""
        if self.sock is None:
            raise OSError("UDP socket closed")
        if self._transport is not None:
            self._transport.sendto(data, address)
            return
        if source is not None and source not in (ANY, "::", ""):
            info = _PKTINFO.pack(0, socket.inet_aton(source), bytes(4))
            try:
                self.sock.sendmsg([data], [(socket.IPPROTO_IP, _IP_PKTINFO, info)], 0, address)
                return
            except (OSError, ValueError) as ex:   # the kernel refused that source
                log.debug("send to %s from %s failed (%s), from any", address, source, ex)
        try:
            self.sock.sendto(data, address)
        except BlockingIOError:
            log.debug("send to %s dropped: socket buffer full", address)

    def forward_to_group(self, data: bytes) -> bool:
        """Send ``data`` to every listener of this port on this host (the
        local group); False when this collector cannot forward."""
        if not self.forwarding:
            return False
        try:
            self.sendto(data, (self.group, self.port))
        except OSError as ex:
            log.debug("%r: forwarding failed: %s", self, ex)
            return False
        self.forwarded += 1
        return True

    # ------------------------------------------------------------ receiving
    def _readable(self) -> None:
        sock = self.sock
        for _ in range(_MAX_PER_WAKEUP):
            if sock is None or sock is not self.sock:
                return
            try:
                data, ancdata, _flags, source = sock.recvmsg(0x10000, 64)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as ex:
                log.debug("%r: receive error %s", self, ex)
                return
            dest = ifindex = None
            for level, kind, raw in ancdata:
                if level == socket.IPPROTO_IP and kind == _IP_PKTINFO and \
                        len(raw) >= _PKTINFO.size:
                    ifindex, _spec, addr = _PKTINFO.unpack_from(raw)
                    dest = socket.inet_ntoa(addr)
            self._datagram(data, source[:2], dest, ifindex)

    def _datagram(self, data: bytes, source: Tuple[str, int], dest: Optional[str],
                  ifindex: Optional[int]) -> None:
        ifmap = self.ifmap if self.pktinfo else None
        if ifmap is not None and ifindex is not None and ifindex not in ifmap.by_index:
            ifmap.refresh_if_stale()    # an interface that appeared since
            if ifindex not in ifmap.by_index:
                log.debug("%r: datagram through unknown interface %d ignored", self, ifindex)
                return
        if ifmap is None or dest is None or ifindex is None:
            dest, ifindex = self.host, None     # not known: the bound address
        try:
            self.handler(Datagram(data, source, dest, ifindex), self)
        except Exception:   # a bad datagram must never stop the listener
            log.exception("%r: handling a datagram from %s failed", self, source)


class _Plain(asyncio.DatagramProtocol):
    """Fallback receiver: no destination information."""

    def __init__(self, collector: UDPCollector):
        self.collector = collector

    def datagram_received(self, data: bytes, addr) -> None:
        self.collector._datagram(data, addr[:2], None, None)

    def error_received(self, exc) -> None:
        log.debug("UDP error: %s", exc)


#: datagrams read at one wake-up, at most
_MAX_REPLIES_PER_WAKEUP = 64


class DatagramReader:
    """A client's own UDP socket (searches out, replies in), read with
    ``add_reader``: every datagram waiting is read at one wake-up, so the
    replies to a burst of searches do not wait behind other traffic (and
    get searched for again meanwhile).  Falls back to asyncio's datagram
    endpoint on a loop without ``add_reader``: use :func:`open_reader`.

    ``received(data, (host, port))`` is called per datagram.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket,
                 received: Callable[[bytes, Tuple[str, int]], None]):
        self.loop, self.sock, self.received = loop, sock, received
        loop.add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        recvfrom, received = self.sock.recvfrom, self.received
        for _ in range(_MAX_REPLIES_PER_WAKEUP):
            try:
                data, addr = recvfrom(0x10000)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as ex:   # ICMP port unreachable and the like
                log.debug("UDP error: %s", ex)
                return
            received(data, addr[:2])

    def sendto(self, data: bytes, addr) -> None:
        try:
            self.sock.sendto(data, addr)
        except (BlockingIOError, InterruptedError):
            log.debug("datagram to %s dropped: socket buffer full", addr)

    def close(self) -> None:
        if self.sock.fileno() >= 0:
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()


class _Endpoint(asyncio.DatagramProtocol):
    def __init__(self, received: Callable[[bytes, Tuple[str, int]], None]):
        self.received = received

    def datagram_received(self, data, addr) -> None:
        self.received(data, addr[:2])

    def error_received(self, exc) -> None:  # ICMP port unreachable and the like
        log.debug("UDP error: %s", exc)


def client_socket() -> socket.socket:
    """A non-blocking UDP socket on a free port, allowed to broadcast."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.bind((ANY, 0))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def open_reader(sock: socket.socket, received: Callable[[bytes, Tuple[str, int]], None]):
    """A :class:`DatagramReader` on ``sock`` (or asyncio's datagram transport
    where the loop has no ``add_reader``); both have ``sendto`` and ``close``."""
    loop = asyncio.get_running_loop()
    try:
        return DatagramReader(loop, sock, received)
    except NotImplementedError:     # a loop without add_reader
        transport, _ = await loop.create_datagram_endpoint(lambda: _Endpoint(received),
                                                           sock=sock)
        return transport

"""The asyncio UDP listener of a search/beacon port, shared by the server and
the asyncio client adapter (the only asyncio module outside ``server/`` and
``client/``).

A :class:`UDPCollector` binds one socket to ``0.0.0.0:port`` (with
``SO_REUSEADDR``, so that servers and clients on this host share the port),
asks for each datagram's destination address and receiving interface
(``IP_PKTINFO``), joins the local forwarding group ``224.0.0.128`` on the
loopback interface, and hands every datagram, decoded and classified by
:mod:`pva._forwarding`, to its owner -- except unicast searches, which it
forwards to the group instead (the owner receives the forwarded copy like
every other listener on the port).

Where ``IP_PKTINFO`` cannot be used (not Linux, or an event loop without
``add_reader``) the socket is bound to the given address and datagrams are
handed over as broadcasts, without forwarding: a unicast search then
reaches one of the listeners sharing the port only.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import struct
import sys
from typing import Callable, Optional, Tuple

from ._broadcaster import Broadcaster
from ._errors import PVAError
from ._forwarding import LOCAL_MCAST_GROUP, Origin, Received, classify, forward, is_any
from ._header import Direction
from ._netif import InterfaceMap

__all__ = ["UDPCollector", "PKTINFO_AVAILABLE"]

log = logging.getLogger("pva.udp")

_IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)    # <linux/in.h>
_PKTINFO = struct.Struct("=I4s4s")                 # struct in_pktinfo
#: whether datagram destinations can be learnt (Linux)
PKTINFO_AVAILABLE = sys.platform.startswith("linux") and hasattr(socket.socket, "recvmsg")
_MAX_PER_WAKEUP = 16
_LOOPBACK = "127.0.0.1"

Handler = Callable[[Received], None]


class UDPCollector:
    """Receive (and forward) the datagrams of one UDP port.

    Parameters
    ----------
    handler : callable
        ``handler(received)`` for every datagram to handle (a
        :class:`~pva._forwarding.Received`); exceptions are logged.
    port : int
        Port to bind (0: any free port; see :attr:`port`).
    host : str
        Address to bind where destinations cannot be learnt (with
        ``IP_PKTINFO`` the socket is always bound to ``0.0.0.0``).
    ifmap : InterfaceMap, optional
        Shared interface snapshot.
    """

    def __init__(self, handler: Handler, port: int, host: str = "0.0.0.0",
                 ifmap: Optional[InterfaceMap] = None):
        self.handler = handler
        self.requested = (host, port)
        self.ifmap = ifmap
        self.sock: Optional[socket.socket] = None
        self.port = port
        self.host = host
        #: destinations known (IP_PKTINFO) and the local group joined
        self.pktinfo = False
        self.forwarding = False
        #: unicast searches forwarded to the local group so far
        self.forwarded = 0
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._transport = None
        self._decoder = Broadcaster(Direction.CLIENT)

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
            sock.bind(("0.0.0.0" if use_pktinfo else host, port))
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
            self.forwarding = self._join_local_group()
        else:
            self._transport, _ = await loop.create_datagram_endpoint(
                lambda: _Plain(self), sock=sock)
        log.debug("%r open", self)
        return self

    def _join_local_group(self) -> bool:
        sock = self.sock
        try:
            mreq = socket.inet_aton(LOCAL_MCAST_GROUP) + socket.inet_aton(_LOOPBACK)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                            socket.inet_aton(_LOOPBACK))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        except OSError as ex:
            log.warning("UDP port %d: cannot join %s on loopback (%s); unicast searches "
                        "are not forwarded to other listeners on this host",
                        self.port, LOCAL_MCAST_GROUP, ex)
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
        if source is not None and not is_any(source):
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
        try:
            messages = self._decoder.recv(data, source)
        except PVAError as ex:
            log.debug("%r: bad datagram from %s: %s", self, source, ex)
            return
        ifmap = self.ifmap if self.pktinfo else None
        if ifmap is not None and ifindex is not None and ifindex not in ifmap.by_index:
            ifmap.refresh_if_stale()    # an interface that appeared since
            if ifindex not in ifmap.by_index:
                log.debug("%r: datagram through unknown interface %d ignored", self, ifindex)
                return
        if dest is None and not self.pktinfo:
            dest = self.host
        rx = classify(messages, source, dest, ifindex, ifmap)
        if rx is None:
            log.debug("%r: datagram from %s to %s dropped", self, source, dest)
            return
        if rx.forward_search and self.forwarding:
            try:
                self.sendto(forward(rx), (LOCAL_MCAST_GROUP, self.port))
                self.forwarded += 1
                return
            except (OSError, PVAError) as ex:   # handle it here at least
                log.debug("%r: forwarding failed: %s", self, ex)
            rx.origin = Origin.BROADCAST
        try:
            self.handler(rx)
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

"""Local forwarding of unicast searches (sans-I/O): where a datagram came from.

Theory of operation
-------------------
Servers and clients on one host bind the same UDP port (5076) with
``SO_REUSEADDR``.  A broadcast or multicast datagram reaches every one of
those sockets, but the kernel hands a *unicast* datagram to one socket only
(on Linux the last one bound), which may be a client listening for beacons,
or a server other than the one that has the PV.  As pvxs does, a listener
that receives a unicast search does not answer it itself: it *forwards* it,
prefixed with an ``ORIGIN_TAG`` naming the address it was sent to, to the
local multicast group ``224.0.0.128`` on the loopback interface (TTL 1,
multicast loop on).  Every listener on the port (the forwarder too) has
joined that group on loopback, so each of them receives the forwarded copy
once and answers it as if it had received the original.

:func:`classify` decides, from the datagram's destination address and
receiving interface (``IP_PKTINFO``), what a listener does with it:

================  ========================================================
origin            destination of the datagram
================  ========================================================
``BROADCAST``     a broadcast or multicast address (or not known): handle it
``UNICAST``       an address of this host: forward a search, handle the rest
``FORWARDED``     ``224.0.0.128`` through a loopback interface: handle it
================  ========================================================

and :func:`forward` builds the forwarded datagram.  The rules that keep
this from looping or from being abused (all from pvxs's UDP collector):

- a datagram with a multicast *source* is dropped;
- only a datagram received as ``UNICAST`` is forwarded, and only when its
  first message is a SEARCH; a forwarded one is never forwarded again;
- the forwarded search has its UNICAST flag cleared and its response
  address filled in (the requester's address when the search said
  ``0.0.0.0``), because the receivers of the copy see the forwarder as its
  source;
- an ``ORIGIN_TAG`` counts only as the first message of a ``FORWARDED``
  datagram (we join the group on loopback only, so it cannot come from
  another host) and only if it names ``0.0.0.0`` or an address of this
  host; otherwise the datagram is dropped;
- a forwarded search whose response address is ``0.0.0.0`` cannot be
  answered (the source is the forwarder) and is dropped.

The original destination (or the ORIGIN_TAG's address) is what a server
bound to particular interfaces (``EPICS_PVAS_INTF_ADDR_LIST``) compares
with its own addresses to decide whether a search is for it.
"""
from __future__ import annotations

import dataclasses
import enum
import ipaddress
import logging
from typing import Any, Callable, List, Optional, Sequence, Tuple

from ._broadcaster import Broadcaster
from ._errors import PVAError
from ._header import Direction
from ._messages import Message, OriginTag, SearchFlags, SearchRequest

__all__ = ["Origin", "Received", "classify", "forward", "LOCAL_MCAST_GROUP",
           "is_any", "is_multicast", "DatagramRouter"]

#: the group unicast searches are forwarded to, on the loopback interface
LOCAL_MCAST_GROUP = "224.0.0.128"
ANY = "0.0.0.0"

Address = Tuple[str, int]
log = logging.getLogger("pva.udp")


class Origin(enum.Enum):
    BROADCAST = "broadcast"
    UNICAST = "unicast"
    FORWARDED = "forwarded"


def is_any(host: str) -> bool:
    return host in ("0.0.0.0", "::", "")


def is_multicast(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_multicast
    except ValueError:
        return False


@dataclasses.dataclass
class Received:
    """A datagram, classified.

    Attributes
    ----------
    messages : list
        The messages to handle (an accepted ORIGIN_TAG removed).
    source : (host, port)
        Where the datagram came from (the forwarder, for a forwarded one).
    destination : str
        The address it was first sent to: the datagram's destination, or
        the ORIGIN_TAG's address for a forwarded one (``0.0.0.0``: not known).
    origin : Origin
    reply_from : str or None
        The local address to answer from (None: let the kernel choose).
    """

    messages: List[Message]
    source: Address
    destination: str
    origin: Origin
    reply_from: Optional[str] = None

    @property
    def forward_search(self) -> bool:
        """True when this datagram is to be forwarded instead of handled."""
        return (self.origin is Origin.UNICAST and bool(self.messages)
                and isinstance(self.messages[0], SearchRequest))


def classify(messages: Sequence[Message], source: Address, destination: Optional[str],
             ifindex: Optional[int], ifmap: Any) -> Optional[Received]:
    """Classify a decoded datagram (see the module doc); None: drop it.

    ``destination``/``ifindex`` are the ``IP_PKTINFO`` of the datagram (None
    when not known: the datagram is then taken as a broadcast to the
    socket's own address, which the caller passes as ``destination``).
    ``ifmap`` is the host's interfaces (:class:`pva.io.netif.InterfaceMap`:
    ``is_local``, ``broadcast_of``, ``first_address``, ``loopback_indexes``).
    """
    if is_multicast(source[0]):
        return None     # never amplify for a spoofed multicast source
    msgs = list(messages)
    if ifindex is None or ifmap is None or destination is None:
        if msgs and isinstance(msgs[0], OriginTag):
            return None
        return Received(msgs, source, destination or ANY, Origin.BROADCAST)
    if ifindex in ifmap.loopback_indexes and destination == LOCAL_MCAST_GROUP:
        rx = Received(msgs, source, ANY, Origin.FORWARDED)
        if msgs and isinstance(msgs[0], OriginTag):
            tag = msgs[0].forwarder_address
            if not is_any(tag) and not ifmap.is_local(tag):
                return None
            rx.messages = msgs[1:]
            if not is_any(tag):
                rx.destination = rx.reply_from = tag
        # a forwarded search with no response address cannot be answered
        rx.messages = [m for m in rx.messages
                       if not (isinstance(m, SearchRequest) and is_any(m.response_address))]
        return rx
    if msgs and isinstance(msgs[0], OriginTag):
        return None     # only accepted from the local group
    bcast_of = ifmap.broadcast_of(ifindex, destination)
    if bcast_of is not None:
        return Received(msgs, source, destination, Origin.BROADCAST, reply_from=bcast_of)
    if ifmap.is_local(destination):
        return Received(msgs, source, destination, Origin.UNICAST, reply_from=destination)
    # 255.255.255.255, a multicast group, ...: answer from the receiving interface
    return Received(msgs, source, destination, Origin.BROADCAST,
                    reply_from=ifmap.first_address(ifindex))


_ENCODER = Broadcaster(Direction.CLIENT)


def forward(rx: Received, byte_order: str = ">") -> bytes:
    """The datagram forwarding ``rx`` (a ``UNICAST`` search) to the local group."""
    out: List[Message] = [OriginTag(rx.destination)]
    for msg in rx.messages:
        if isinstance(msg, SearchRequest):   # nothing else is forwarded
            host = msg.response_address
            if is_any(host):
                host = rx.source[0]
            port = msg.response_port or rx.source[1]
            msg = SearchRequest(msg.sequence_id, (host, port),
                                [(c.id, c.channel_name) for c in msg.channels],
                                protocols=msg.protocols,
                                flags=msg.flags & ~SearchFlags.UNICAST,
                                reserved=msg.reserved)
            out.append(msg)
    return b"".join(_ENCODER.send(*out, byte_order=byte_order))


class DatagramRouter:
    """What a pvAccess listener does with each datagram of its UDP port.

    Called by a :class:`pva.io.udp.UDPCollector` as ``router(datagram,
    collector)``: decodes the datagram, classifies it (:func:`classify`) and
    either forwards a unicast search to the local group (when the collector
    can) or passes the :class:`Received` to ``handle``.
    """

    def __init__(self, handle: Callable[[Received], None]):
        self.handle = handle
        self._decoder = Broadcaster(Direction.CLIENT)

    def __call__(self, datagram: Any, collector: Any) -> None:
        try:
            messages = self._decoder.recv(datagram.data, datagram.source)
        except PVAError as ex:
            log.debug("bad datagram from %s: %s", datagram.source, ex)
            return
        ifmap = collector.ifmap if datagram.ifindex is not None else None
        rx = classify(messages, datagram.source, datagram.destination, datagram.ifindex, ifmap)
        if rx is None:
            log.debug("datagram from %s to %s dropped", datagram.source, datagram.destination)
            return
        if rx.forward_search and collector.forwarding:
            try:
                data = forward(rx)
            except PVAError as ex:
                log.debug("cannot forward a search from %s: %s", rx.source, ex)
            else:
                if collector.forward_to_group(data):
                    return
            rx.origin = Origin.BROADCAST    # handle it here at least
        self.handle(rx)

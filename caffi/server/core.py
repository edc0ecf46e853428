"""The server core: what the connections of a CA server share (loop-free).

:class:`ServerCore` holds the PV database, the access hook, the budgets
(:class:`ServerLimits`) and the live circuits; it makes the
:class:`pva.io.driver.Connection` of each accepted client (driving a
:class:`~caffi.server.circuit.ServerCircuit`), answers searches
(:meth:`ServerCore.search_replies`) and builds beacons.  It opens no socket
and reads no clock but the reactor's: :mod:`caffi.server.aio` binds the
sockets, and :mod:`pva.io.testing`'s fake reactor drives it in tests.

Names are looked up as rsrv does: ``NAME`` in the database, else
``RECORD.FIELD`` (a field of a pvproperty with ``record=``), a trailing
``.`` or ``.VAL`` meaning the record itself.  PVs may be added and removed
while the server runs (:meth:`ServerCore.add_pv`, :meth:`ServerCore.remove_pv`);
the clients of a removed PV are disconnected from it
(``CA_PROTO_SERVER_DISCONN``), and find it again if it comes back.
"""
import logging
import struct
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from pva.io.driver import NO_ACCOUNTING, Accounting, Connection

from ..protocol import (CLIENT, DEFAULT_PROTOCOL_VERSION, AccessRights, Beacon, ChannelData,
                        NotFoundResponse, RemoteProtocolError, SearchResponse, read_datagram)
from ..protocol._constants import MAX_UDP_RECV
from ..protocol._header import HEADER

__all__ = ["ServerCore", "ServerLimits", "AccessHook", "find_pv"]

log = logging.getLogger("caffi.server")

#: ``access(pvname, data, host, user) -> AccessRights`` (see ServerCore)
AccessHook = Callable[[str, ChannelData, str, str], AccessRights]


@dataclass
class ServerLimits:
    """Budgets against hostile or runaway clients.

    Past a per-circuit limit the request is refused (CreateChFail for a
    channel, an ECA_ALLOCMEM error for a subscription) and logged; past the
    server-wide ones too, so every other client goes on being served.
    Queued subscription updates are bounded per subscription
    (``max_subscription_backlog`` of the PV, default 100) and per circuit
    (``max_queued_bytes``): beyond, the newest update replaces the last one
    queued, so the latest value is always delivered.
    """
    channels_per_circuit: int = 100_000
    subscriptions_per_circuit: int = 100_000
    pending_per_circuit: int = 10_000
    channels_total: int = 1_000_000
    subscriptions_total: int = 1_000_000
    circuits_total: int = 4096
    max_queued_bytes: int = 64 * 1024 * 1024
    #: what a connection may hold unsent (its transport's high water mark)
    #: before subscription updates wait in their queues (where they coalesce)
    send_buffer: int = 512 * 1024
    #: a connection that has not created a channel after this many seconds
    #: is closed (an unvalidated or idle peer); 0: never
    idle_circuit_timeout: float = 120.0


def find_pv(pvdb: Mapping[str, Any], name: str) -> Optional[ChannelData]:
    """The ChannelData serving ``name`` (a PV, or ``RECORD.FIELD``), or None."""
    data = pvdb.get(name)
    if data is not None:
        return data
    if "." not in name:
        return None
    record, _, field = name.rpartition(".")
    field = field.rstrip("$")
    parent = pvdb.get(record)
    if parent is None:
        return None
    if field in ("", "VAL"):
        return parent
    get_field = getattr(parent, "get_field", None)
    if get_field is None:
        return None
    try:
        return get_field(field)
    except (KeyError, AttributeError):
        return None


class ServerCore:
    """The shared state of a CA server's connections.

    Parameters
    ----------
    pvdb : mapping
        PV name -> :class:`~caffi.protocol.ChannelData`.
    reactor : object
        The reactor of :mod:`pva.io.driver` (clock, timers, ``spawn``).
    access : callable, optional
        ``access(pvname, data, host, user) -> AccessRights``, asked when a
        channel is created and again when the client names its host or
        user; default: ``data.check_access(host, user)`` (read-only
        pvproperties answer READ).
    limits : ServerLimits, optional
    max_array_bytes : int
        EPICS_CA_MAX_ARRAY_BYTES: the largest payload accepted from a client
        (larger answers are not limited: rsrv sends what was asked).
    """

    def __init__(self, pvdb: Mapping[str, Any], reactor: Any, *,
                 access: Optional[AccessHook] = None, limits: Optional[ServerLimits] = None,
                 max_array_bytes: int = 16384, accounting: Accounting = NO_ACCOUNTING,
                 tcp_port: int = 0):
        self.pvdb: Dict[str, ChannelData] = dict(pvdb)
        self.reactor = reactor
        self.access = access
        self.limits = limits or ServerLimits()
        self.max_array_bytes = max(int(max_array_bytes), 16384)
        self.accounting = accounting
        self.tcp_port = tcp_port
        self.circuits: set = set()
        self.n_channels = 0
        self.n_subscriptions = 0
        self.beacon_id = 0
        self._tasks: set = set()
        #: stops of the server (each gets the reason) -- for tests and logs
        self.refusals: List[Tuple[str, str]] = []

    # ------------------------------------------------------------ connections
    def connection(self) -> Connection:
        """A new client connection (the listener's protocol factory)."""
        from .circuit import ServerCircuit
        high = self.limits.send_buffer
        return Connection(ServerCircuit(self), self.reactor, pause_reading_when_blocked=True,
                          write_limits=(high, high // 4), close_grace=5.0,
                          accounting=self.accounting)

    def refuse(self, peer, reason: str) -> None:
        """Log a refused request or connection (every refusal has a reason)."""
        log.warning("client %s: %s", peer, reason)
        self.refusals.append((str(peer), reason))
        del self.refusals[:-100]

    def close_connections(self, reason: str = "server stopping") -> None:
        for circuit in list(self.circuits):
            circuit.close(reason)

    # ------------------------------------------------------------ tasks
    def detach(self, coro) -> None:
        """Run ``coro`` eagerly; keep it until done if it has to wait."""
        waiter = self.reactor.spawn(coro)
        if waiter is not None:
            self._tasks.add(waiter)
            waiter.add_done_callback(self._tasks.discard)

    def tasks(self) -> list:
        return list(self._tasks)

    # ------------------------------------------------------------ the database
    def find(self, name: str) -> Optional[ChannelData]:
        data = self.pvdb.get(name)
        return data if data is not None else find_pv(self.pvdb, name)

    def rights(self, name: str, data: ChannelData, host: str, user: str) -> AccessRights:
        try:
            if self.access is not None:
                rights = self.access(name, data, host, user)
            else:
                rights = data.check_access(host, user)
            return rights if type(rights) is AccessRights else AccessRights(rights)
        except Exception:
            log.exception("access check of %s for %s@%s failed: no access", name, user, host)
            return AccessRights.NO_ACCESS

    def add_pv(self, name: str, data: ChannelData) -> None:
        """Serve ``data`` as ``name`` from now on."""
        self.pvdb[name] = data

    def remove_pv(self, name: str) -> Optional[ChannelData]:
        """Stop serving ``name``; its clients (and those of its fields) are
        disconnected from it."""
        data = self.pvdb.pop(name, None)
        for circuit in list(self.circuits):
            circuit.drop_channels(lambda chan_name: chan_name == name
                                  or chan_name.startswith(name + "."))
        return data

    # ------------------------------------------------------------ UDP
    def answer_datagram(self, data, source) -> bytes:
        """The reply (bytes, empty for none) to one datagram from a client.

        A datagram of version and search messages only is answered straight
        from its bytes (:func:`_search_fast`); anything else is decoded
        (:func:`caffi.protocol.read_datagram`) and answered by
        :meth:`search_replies`.  Both give the same bytes (tested); a
        datagram that does not decode gets no answer.
        """
        reply = _search_fast(data, self.pvdb.get, self.find, self.tcp_port)
        if reply is not None:
            return reply
        try:
            commands = read_datagram(data, source, CLIENT)
        except RemoteProtocolError as ex:
            log.debug("bad datagram from %s: %s", source, ex)
            return b""
        return b"".join(bytes(c) for c in self.search_replies(commands, source))

    def search_replies(self, commands, source, reply_ip: str = "255.255.255.255") -> list:
        """The replies to the SearchRequests of one datagram, as commands
        (a VersionResponse first, as rsrv sends; empty if nothing found and
        no reply is asked for)."""
        from ..protocol import VersionResponse
        out = []
        for cmd in commands:
            if type(cmd).__name__ != "SearchRequest":
                continue
            if self.find(cmd.name) is not None:
                out.append(SearchResponse(self.tcp_port, reply_ip, cmd.cid,
                                          DEFAULT_PROTOCOL_VERSION))
            elif cmd.reply == 10:       # DO_REPLY
                out.append(NotFoundResponse(version=DEFAULT_PROTOCOL_VERSION, cid=cmd.cid))
        if out:
            out.insert(0, VersionResponse(DEFAULT_PROTOCOL_VERSION))
        return out

    def beacon(self, address: str = "0.0.0.0") -> Beacon:
        """The next beacon (its id counts up)."""
        b = Beacon(DEFAULT_PROTOCOL_VERSION, self.tcp_port, self.beacon_id, address)
        self.beacon_id = (self.beacon_id + 1) & 0xFFFFFFFF
        return b


_unpack = HEADER.unpack_from
_pack = HEADER.pack
#: a SearchResponse: the header, then the server's minor protocol version (8 bytes)
_pack_found = struct.Struct(">HHHHIIH6x").pack
_VERSION_REPLY = _pack(0, 0, 0, DEFAULT_PROTOCOL_VERSION, 0, 0)
_DO_REPLY = 10


def _search_fast(data, get, find, tcp_port):
    """:meth:`ServerCore.answer_datagram`'s answer to a datagram of VERSION
    and SEARCH messages, from its bytes; None for anything else (the
    generic path decides)."""
    n = len(data)
    if n > MAX_UDP_RECV:
        return None
    pos = 0
    out = []
    while pos < n:
        if n - pos < 16:
            return None
        command, size, reply, _, cid, _ = _unpack(data, pos)
        end = pos + 16 + size
        if size & 7 or size == 0xFFFF or end > n:
            return None
        if command == 6:
            name = str(data[pos + 16:end], "latin-1").partition("\x00")[0]
            # the database first (find: also RECORD.FIELD names)
            if get(name) is not None or find(name) is not None:
                # 255.255.255.255: "the address this answer came from", as rsrv
                out.append(_pack_found(6, 8, tcp_port, 0, 0xFFFFFFFF, cid,
                                       DEFAULT_PROTOCOL_VERSION))
            elif reply == _DO_REPLY:
                out.append(_pack(14, 0, _DO_REPLY, DEFAULT_PROTOCOL_VERSION, cid, cid))
        elif command != 0:
            return None
        pos = end
    if not out:
        return b""
    return _VERSION_REPLY + b"".join(out)


def beacon_delays(max_period: float):
    """The beacon intervals of rsrv: 20 ms, doubling up to ``max_period``
    (EPICS_CAS_BEACON_PERIOD), then every ``max_period``."""
    delay = 0.02
    while True:
        yield delay
        delay = min(delay * 2, max_period)

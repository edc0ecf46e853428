"""The pvAccess client core: name resolution, circuits, channels, operations.

Theory of operation
-------------------
One :class:`ClientCore` holds everything a client context shares: the UDP
search state (a :class:`~pva.Broadcaster` and a :class:`~.search.Searcher`),
the TCP connections (one :class:`~.circuit.ClientCircuit` per server address,
each driven by a :class:`pva.io.driver.Connection`), the channels (one
:class:`~.channel.SharedChannel` per PV name, shared by every operation on
that name) and the operations (:mod:`pva.client.ops`, one module each).

The core does no I/O of its own and knows no event loop or thread.  The
adapter that creates it (:mod:`pva.client.aio`; the synchronous layer runs
that adapter on a background thread) supplies a *reactor* (the contract of
:mod:`pva.io.driver`: ``time``, ``call_soon``, ``call_later``, plus
``connect_tcp(host, port, connection)``), the identity sent with ``ca``
authentication, and UDP: it opens a socket, passes its ``sendto`` to
:meth:`ClientCore.attach_udp` and feeds every datagram received on it
(search responses) to :meth:`ClientCore.datagram_received`; it also listens
on the broadcast port (shared with the servers of this host, see
:mod:`pva._forwarding`) and gives the beacons heard there to
:meth:`ClientCore.beacon_received`.  :mod:`pva.io.testing`'s fake reactor
drives the same core in tests, with a clock that moves only when told.

A response to a search connects its channel to its server's circuit, which
is validated (auth ``ca`` if offered, else ``anonymous``) before channels
are created on it.  When a circuit is lost, every channel on it goes back to
searching (with the backoff reset), one-shot operations in progress fail
with :class:`~.errors.Disconnected`, and monitors deliver a
:class:`~.errors.Disconnected` *value* to their subscriber and re-subscribe
when the channel reconnects.  A beacon from a server not seen before resets
the backoff of every unresolved name.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Optional, Tuple

from .._broadcaster import Broadcaster
from .._errors import PVAError
from .._messages import Beacon, SearchResponse
from ..io.budget import MemoryBudget
from ..io.driver import Connection
from .channel import NameState, SharedChannel
from .circuit import ClientCircuit
from .config import ClientConfig
from .errors import Cancelled, Disconnected, Finished, RemoteError, Timeout
from .ops.array import ArrayOp, array_action
from .ops.base import parse_request
from .ops.get import GetOp
from .ops.info import InfoOp
from .ops.monitor import MonitorOp
from .ops.process import ProcessOp
from .ops.put import PutOp
from .ops.put_get import PutGetOp
from .ops.rpc import RpcOp
from .putvalue import build_put
from .search import Searcher
from .value import Value

__all__ = ["ClientCore", "Value", "Disconnected", "RemoteError", "Finished", "Timeout",
           "Cancelled", "build_put", "parse_request", "array_action"]

log = logging.getLogger("pva.client")


class ClientCore:
    """Shared client state: searches, circuits, channels (see the module doc)."""

    def __init__(self, reactor: Any, config: Optional[ClientConfig] = None,
                 identity: Tuple[str, str] = ("", "")):
        self.reactor = reactor
        #: ``(user, host)`` this client identifies with (looked up by the adapter)
        self.identity = identity
        self.config = config or ClientConfig.from_conf()
        self.broadcaster = Broadcaster("client")
        self.channels: Dict[Any, SharedChannel] = {}
        self.circuits: Dict[Tuple[str, int], ClientCircuit] = {}
        self.name_server_circuits: Dict[Tuple[str, int], ClientCircuit] = {}
        self.search = Searcher(reactor, self.config, self._send_search)
        #: the memory budget of the connections to servers (one for all)
        self.accounting = MemoryBudget(self.config.memory, "client")
        self._udp_send: Optional[Callable[[bytes, Tuple[str, int]], None]] = None
        self._udp_port = 0
        self._servers_seen: Dict[bytes, Tuple[str, int]] = {}
        #: servers heard of (search responses, beacons): GUID -> (host, TCP port)
        self.servers: Dict[bytes, Tuple[str, int]] = {}
        self.closed = False
        self._ns_timers: Dict[Tuple[str, int], Any] = {}
        for addr in self.config.name_servers:
            self._connect_name_server(addr)

    # ---- public
    def channel(self, name: str, server: Optional[Tuple[str, int]] = None) -> SharedChannel:
        """The (shared) channel of ``name``; searched for if new.

        With ``server``, the channel is created on that server directly, without
        searching (as pvxs's ``.server()``; used for the ``server`` PV of pvlist).
        """
        if self.closed:
            raise Cancelled("the client context is closed")
        key: Any = name if server is None else (name, tuple(server))
        ch = self.channels.get(key)
        if ch is None:
            ch = self.channels[key] = SharedChannel(self, name)
            ch.key = key
            if server is None:
                self._start_search(ch, delay=0.0)
            else:
                ch.direct = tuple(server)
                ch._found(ch.direct)
        return ch

    def ping(self) -> None:
        """Ask every server of the address list to answer (empty search, reply required).

        Answers land in :attr:`servers`.
        """
        if self._udp_send is None:
            return
        for addr in self.config.addr_list:
            req = self.broadcaster.search([], reply_address=("0.0.0.0", self._udp_port),
                                          unicast=self.config.is_unicast(addr[0]),
                                          reply_required=True)
            try:
                self._udp_send(b"".join(self.broadcaster.send(req)), addr)
            except (OSError, PVAError):
                pass

    def get(self, name, request, callback) -> GetOp:
        op = GetOp(self.channel(name), request, callback)
        op.channel._attach(op)
        return op

    def put(self, name, value, request, callback, get: bool = False) -> PutOp:
        """A PUT (``get=True``: a PUT_GET)."""
        op = (PutGetOp if get else PutOp)(self.channel(name), request, value, callback)
        op.channel._attach(op)
        return op

    def rpc(self, name, argument, request, callback, server=None) -> RpcOp:
        op = RpcOp(self.channel(name, server), request, argument, callback)
        op.channel._attach(op)
        return op

    def process(self, name, request, callback) -> ProcessOp:
        op = ProcessOp(self.channel(name), request, callback)
        op.channel._attach(op)
        return op

    def array(self, name, request, action: Dict[str, Any], callback) -> ArrayOp:
        """An ARRAY execution; ``action`` from :func:`array_action`."""
        op = ArrayOp(self.channel(name), request, action, callback)
        op.channel._attach(op)
        return op

    def info(self, name, sub_field, callback) -> InfoOp:
        op = InfoOp(self.channel(name), sub_field, callback)
        op.channel._attach(op)
        return op

    def monitor(self, name, request, on_event) -> MonitorOp:
        op = MonitorOp(self.channel(name), request, on_event)
        op.channel._attach(op)
        return op

    def attach_udp(self, sendto: Callable[[bytes, Tuple[str, int]], None], port: int = 0) -> None:
        """The adapter's UDP socket is ready (``port`` is its local port)."""
        self._udp_send = sendto
        self._udp_port = port
        self.search.now()

    def close(self) -> None:
        """Close every channel and connection."""
        if self.closed:
            return
        self.closed = True
        for ch in list(self.channels.values()):
            ch.close(destroy=False)  # closing the connections destroys them
        self.search.close()
        for t in self._ns_timers.values():
            t.cancel()
        for circ in list(self.circuits.values()) + list(self.name_server_circuits.values()):
            circ.close()

    # ---- UDP input
    def datagram_received(self, data: bytes, address: Tuple[str, int]) -> None:
        if self.closed:
            return
        try:
            msgs = self.broadcaster.recv(data, address)
        except PVAError:
            return
        for msg in msgs:
            if isinstance(msg, SearchResponse):
                self._on_search_response(msg, address)
            elif isinstance(msg, Beacon):
                self._on_beacon(msg, address)

    def beacon_received(self, msg: Beacon, address: Tuple[str, int]) -> None:
        """A beacon heard by the adapter's beacon listener (already decoded)."""
        if not self.closed:
            self._on_beacon(msg, address)

    def _on_search_response(self, msg: SearchResponse, address: Tuple[str, int]) -> None:
        host = msg.server_address
        if host in ("0.0.0.0", "::"):
            host = address[0]
        self.servers[msg.guid] = (host, msg.server_port)
        try:
            found = self.broadcaster.process_command(msg, address)
        except PVAError:
            return
        for name, server in found:
            ch = self.channels.get(name)
            if ch is not None:
                ch._found(server)

    def _on_beacon(self, msg: Beacon, address: Tuple[str, int]) -> None:
        host = msg.server_address
        if host in ("0.0.0.0", "::"):
            host = address[0]
        server = (host, msg.server_port)
        self.servers[msg.guid] = server
        if self._servers_seen.get(msg.guid) == server:
            return
        self._servers_seen[msg.guid] = server
        # a server (re)appeared: search again soon for everything unresolved
        self.search.reset_backoff()

    # ---- searching
    def _start_search(self, ch: SharedChannel, delay: Optional[float] = None) -> None:
        if self.closed or ch.state is NameState.CLOSED:
            return
        if ch.direct is not None:   # no search: reconnect to the given server
            self.reactor.call_later(1.0 if delay is None else delay,
                                    lambda: ch._found(ch.direct))
            return
        self.search.add(ch, delay)

    def _send_search(self, names: List[str]) -> bool:
        """One search of ``names`` to the address list and the name servers;
        False when there is nowhere to send it yet."""
        ns = [c for c in self.name_server_circuits.values() if c.can_search]
        if self._udp_send is None and not ns:
            return False
        if self._udp_send is not None and self.config.addr_list:
            for addr in self.config.addr_list:
                unicast = self.config.is_unicast(addr[0])
                req = self.broadcaster.search(names, reply_address=("0.0.0.0", self._udp_port),
                                              unicast=unicast)
                try:
                    data = b"".join(self.broadcaster.send(req))
                    self._udp_send(data, addr)
                except (OSError, PVAError) as ex:
                    log.debug("search to %s failed: %s", addr, ex)
        for circ in ns:
            req = self.broadcaster.search(names, reply_address=("0.0.0.0", 0), unicast=True)
            try:
                circ.send(req)
            except PVAError as ex:
                log.debug("search via name server %s failed: %s", circ, ex)
        return True

    # ---- circuits
    def _connect(self, address: Tuple[str, int], name_server: bool = False) -> ClientCircuit:
        circ = ClientCircuit(self, address, name_server)
        tmo = self.config.conn_tmo
        # an idle connection is probed every tmo/2 and dropped after tmo of silence
        circ.conn = Connection(circ, self.reactor, idle_timeout=tmo, echo_interval=tmo / 2,
                               close_grace=0, accounting=self.accounting,
                               validation_timeout=self.config.memory.validation_timeout)
        self.reactor.connect_tcp(address[0], address[1], circ.conn)
        return circ

    def _circuit_for(self, address: Tuple[str, int]) -> ClientCircuit:
        circ = self.circuits.get(address)
        if circ is None or circ.closed:
            ns = self.name_server_circuits.get(address)
            if ns is not None and not ns.closed:
                return ns
            circ = self.circuits[address] = self._connect(address)
        return circ

    def _connect_name_server(self, address: Tuple[str, int]) -> None:
        self._ns_timers.pop(address, None)
        if self.closed:
            return
        self.name_server_circuits[address] = self._connect(address, name_server=True)

    def _circuit_lost(self, circ: ClientCircuit) -> None:
        if self.circuits.get(circ.address) is circ:
            del self.circuits[circ.address]
        if self.name_server_circuits.get(circ.address) is circ and not self.closed:
            # reconnect to the name server after a while
            self._ns_timers[circ.address] = self.reactor.call_later(
                1.0, lambda a=circ.address: self._connect_name_server(a))

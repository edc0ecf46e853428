"""The server core: what the connections of a server share (loop-free).

:class:`ServerCore` holds the PV database (data wrappers), the
configuration, the ``authorize`` hook and the server's GUID; it makes the
:class:`pva.io.driver.Connection` of each accepted client (driving a
:class:`~pva.server.circuit.ServerCircuit`), answers searches received over
UDP and sends beacons on the reactor's timers.  It
opens no socket: :mod:`pva.server.aio` binds them and feeds it, and
:mod:`pva.io.testing`'s fake reactor can drive it in tests.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, List, Mapping, Optional, Tuple

from .._broadcaster import Broadcaster
from .._forwarding import Received
from .._header import Direction
from .._messages import SearchFlags, SearchRequest
from ..io.budget import MemoryBudget
from ..io.driver import Accounting, Connection
from .circuit import ServerCircuit
from .common import wrap_pvdb
from .config import ServerConfig

__all__ = ["ServerCore", "CLOSE_GRACE"]

log = logging.getLogger("pva.server")

#: seconds a closed connection may take to deliver its last data
CLOSE_GRACE = 5.0


class ServerCore:
    """The shared state of a server's connections (see the module doc).

    Parameters
    ----------
    pvdb : mapping
        PV name to data wrapper (or plain pva dataclass instance).
    config : ServerConfig
    reactor : object
        The reactor of :mod:`pva.io.driver`.
    authorize : callable, optional
        ``authorize(authorization: dict)`` (may be async), called when a
        client validates its connection; raise to refuse it.
    accounting : Accounting, optional
        Memory accounting shared by every connection (see :mod:`pva.io.driver`);
        by default a :class:`~pva.io.budget.MemoryBudget` of ``config.limits.memory``.
    """

    def __init__(self, pvdb: Mapping[str, Any], config: ServerConfig, reactor: Any, *,
                 authorize: Optional[Callable[[dict], Any]] = None,
                 accounting: Optional[Accounting] = None):
        self.pvdb = wrap_pvdb(pvdb)
        self.config = config
        self.reactor = reactor
        self.authorize = authorize
        self.accounting = (accounting if accounting is not None
                           else MemoryBudget(config.limits.memory, "server"))
        self.broadcaster = Broadcaster(Direction.SERVER)
        #: the circuits of the live connections
        self.circuits: set = set()
        #: interface and broadcast addresses searches are answered on (None: all)
        self.accept: Optional[frozenset] = None
        self._tasks: set = set()
        self._beacon_timer: Any = None

    @property
    def guid(self) -> bytes:
        """The server GUID."""
        return self.broadcaster.guid

    # ------------------------------------------------------------ connections
    def connection(self) -> Connection:
        """A new client connection (the listener's protocol factory)."""
        return Connection(ServerCircuit(self), self.reactor,
                          idle_timeout=self.config.conn_timeout,
                          pause_reading_when_blocked=True, close_grace=CLOSE_GRACE,
                          accounting=self.accounting,
                          validation_timeout=self.config.limits.memory.validation_timeout)

    def close_connections(self, reason: str = "server stopping") -> List[ServerCircuit]:
        """Close every connection; returns their circuits."""
        circuits = list(self.circuits)
        for circuit in circuits:
            circuit.close(reason)
        return circuits

    # ------------------------------------------------------------ tasks
    def track(self, waiter: Any) -> Any:
        """Keep ``waiter`` (a started handler) until it is done."""
        self._tasks.add(waiter)
        waiter.add_done_callback(self._tasks.discard)
        return waiter

    def detach(self, coro) -> None:
        """Run ``coro`` without anyone waiting for it."""
        waiter = self.reactor.spawn(coro)
        if waiter is not None:
            self.track(waiter)

    def tasks(self) -> list:
        return list(self._tasks)

    # ------------------------------------------------------------ name resolution
    def found_ids(self, msg: SearchRequest) -> List[int]:
        pvdb = self.pvdb
        return [c.id for c in msg.channels if c.channel_name in pvdb]

    def search_replies(self, rx: Received) -> List[Tuple[bytes, Tuple[str, int]]]:
        """The replies to the searches of a received datagram:
        ``[(datagram, (host, port))]`` to send from ``rx.reply_from``."""
        if self.accept is not None and rx.destination not in self.accept:
            return []       # sent to an interface this server does not serve
        out = []
        for msg in rx.messages:
            if not isinstance(msg, SearchRequest):
                continue
            if msg.protocols and "tcp" not in msg.protocols:
                continue
            found = self.found_ids(msg)
            if not found and not msg.flags & SearchFlags.REPLY_REQUIRED:
                continue
            reply = self.broadcaster.search_response(msg, found, found=bool(found))
            host = msg.response_address
            if host in ("0.0.0.0", "::", ""):
                host = rx.source[0]
            port = msg.response_port or rx.source[1]
            out.append((b"".join(self.broadcaster.send(reply)), (host, port)))
        return out

    def start_beacons(self, send: Callable[[bytes, Tuple[str, int]], None],
                      destinations: List[Tuple[str, int]], period: float) -> None:
        """Send a beacon to every destination now and every ``period`` seconds."""
        if not destinations:
            return

        def tick() -> None:
            data = b"".join(self.broadcaster.send(self.broadcaster.beacon()))
            for dest in destinations:
                try:
                    send(data, dest)
                except OSError as ex:
                    log.debug("beacon to %s failed: %s", dest, ex)
            self._beacon_timer = self.reactor.call_later(period, tick)
        tick()

    def stop_beacons(self) -> None:
        if self._beacon_timer is not None:
            self._beacon_timer.cancel()
            self._beacon_timer = None

"""Memory budgets of connections (protocol-neutral).

Theory of operation
-------------------
A :class:`MemoryBudget` is the :class:`Accounting` of a
server (one object shared by all its connections) or of a client context.
It counts bytes -- estimates of what a peer makes us hold, not a measure of
the heap -- and refuses what would go past a limit (:class:`MemoryLimits`):

connections
    ``connection_cost`` per open connection (its objects and buffers at
    rest), taken when it opens (:meth:`MemoryBudget.opened`: refused, the
    connection is closed at once);
receive buffers
    the buffer of a connection's incomplete message, reserved by the driver
    before it is allocated and given back when the message is complete
    (:meth:`MemoryBudget.reserve`).  Before the connection is *validated*
    (the protocol's handshake done: :meth:`Connection.mark_validated
    <pva.io.driver.Connection.mark_validated>`) one message may be at most
    ``unvalidated_message`` bytes, and the buffers of all unvalidated
    connections together at most ``unvalidated_total``; a refused buffer
    closes the connection;
protocol state
    what a protocol keeps for a peer -- its channels, operations and queued
    updates -- charged with :meth:`MemoryBudget.charge`, which answers
    ``False`` when it does not fit the connection's ``per_connection`` or
    the ``total``: the protocol then refuses the request (an error reply) or
    squashes the update, and takes no more memory;
other holdings
    ``charge(None, n)``: against the total only (a client's queued monitor
    updates, which outlive a connection).

Everything counts against ``total``, which refuses the big holders first:
past it a connection may still take what keeps it within an equal share
(``total`` / open connections), so a few peers that fill the budget do not
starve the others (what is counted stays under twice ``total``).  Each
connection is counted ``connection_cost`` when it opens, which bounds how
many connections there are (``total`` / ``connection_cost``).

When a connection goes, everything charged to it is released at once (:meth:`MemoryBudget.released`; a credit
that comes later is ignored).  A connection that has not validated within
``validation_timeout`` seconds is closed by the driver.

The per-connection figures are kept on the connection (``held``,
``reserved``, ``validated``), so a charge is a few additions.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional

__all__ = ["Accounting", "NO_ACCOUNTING", "MemoryLimits", "MemoryBudget", "OverBudget",
           "Charged"]

KiB = 1024
MiB = 1024 * KiB


class OverBudget(Exception):
    """An :class:`Accounting` refuses a connection or a receive buffer."""


class Accounting:
    """The memory accounting hooks of :class:`~pva.io.driver.Connection`
    (see :mod:`pva.io.driver`); this one counts nothing and sets no limit
    (:class:`MemoryBudget` does)."""

    def opened(self, conn: Any) -> None:
        """``conn`` was made; raise :class:`OverBudget` to refuse it (closed at once)."""

    def reserve(self, conn: Any, nbytes: int) -> None:
        """``conn``'s buffer for an incoming message will be ``nbytes`` (0:
        none); raise :class:`OverBudget` to refuse: the connection is closed."""

    def validated(self, conn: Any) -> None:
        """``conn``'s peer completed the protocol's handshake."""

    def charge(self, conn: Any, nbytes: int) -> bool:
        """Count ``nbytes`` more held for ``conn``; False: refused (nothing counted)."""
        return True

    def credit(self, conn: Any, nbytes: int) -> None:
        """Give back ``nbytes`` charged for ``conn``."""

    def released(self, conn: Any) -> None:
        """``conn`` is gone: everything charged to it is free again."""


NO_ACCOUNTING = Accounting()


@dataclasses.dataclass(frozen=True)
class MemoryLimits:
    """The byte budgets of a :class:`MemoryBudget` (see the module doc).

    Attributes
    ----------
    total : int
        Everything counted, all connections together: past it only
        connections within an equal share get more (see the module doc).
    per_connection : int
        The protocol state one connection may hold (channels, operations,
        queued updates), its ``connection_cost`` included.
    unvalidated_message : int
        The largest message buffered before the connection validated
        (64 KiB: the receive buffer size pvxs and pvAccessCPP announce in
        their validation).
    unvalidated_total : int
        The receive buffers of all unvalidated connections together.
    validation_timeout : float
        Seconds a connection has to validate (0: no limit).
    connection_cost : int
        Charged per open connection.
    """

    total: int = 256 * MiB
    per_connection: int = 32 * MiB
    unvalidated_message: int = 64 * KiB
    unvalidated_total: int = 16 * MiB
    validation_timeout: float = 5.0
    connection_cost: int = 16 * KiB


class MemoryBudget(Accounting):
    """Byte budgets of a server's or a client's connections (see the module doc).

    Attributes
    ----------
    in_use : int
        Bytes counted now.
    unvalidated : int
        Bytes of the receive buffers of unvalidated connections.
    connections : int
        Open connections counted.
    refused : int
        Requests refused so far (connections, buffers and charges).
    """

    def __init__(self, limits: Optional[MemoryLimits] = None, what: str = "server"):
        self.limits = limits = limits or MemoryLimits()
        self.what = what
        self.in_use = 0
        self.unvalidated = 0
        self.connections = 0
        self.refused = 0
        # read per call below: attributes of this object, not of the frozen limits
        self._total = limits.total
        self._per_connection = limits.per_connection

    def __repr__(self) -> str:
        return (f"<MemoryBudget {self.what} {self.in_use}/{self._total} bytes, "
                f"{self.connections} connections>")

    def _refuse(self, why: str) -> OverBudget:
        self.refused += 1
        return OverBudget(f"{self.what} memory budget: {why}")

    # ---- the driver's hooks
    def _over_total(self, conn: Any, delta: int, holding: int) -> bool:
        """``delta`` more would pass ``total`` and ``conn`` would hold more than
        an equal share (``holding``: what it would hold)."""
        return (self.in_use + delta > self._total
                and holding > self._total // max(1, self.connections))

    def opened(self, conn: Any) -> None:
        cost = self.limits.connection_cost
        if (self.connections + 1) * cost > self._total:
            raise self._refuse(f"connection refused, {self.connections} connections "
                               f"open (limit total {self._total} / connection_cost {cost})")
        self.in_use += cost
        conn.held += cost
        self.connections += 1

    def reserve(self, conn: Any, nbytes: int) -> None:
        delta = nbytes - conn.reserved
        validated = conn.validated
        if delta > 0:
            lim = self.limits
            if not validated:
                if nbytes > lim.unvalidated_message:
                    raise self._refuse(f"a message of {nbytes} bytes before validation "
                                       f"(limit unvalidated_message {lim.unvalidated_message})")
                if self.unvalidated + delta > lim.unvalidated_total:
                    raise self._refuse(f"unvalidated connections buffer {self.unvalidated} "
                                       f"bytes (limit unvalidated_total "
                                       f"{lim.unvalidated_total})")
            if self._over_total(conn, delta, conn.held + nbytes):
                raise self._refuse(f"a message of {nbytes} bytes with {self.in_use} of "
                                   f"{self._total} bytes in use (limit total)")
        if not validated:
            self.unvalidated += delta
        self.in_use += delta
        conn.reserved = nbytes

    def validated(self, conn: Any) -> None:
        self.unvalidated -= conn.reserved

    def released(self, conn: Any) -> None:
        self.connections -= 1
        self.in_use -= conn.held + conn.reserved
        if not conn.validated:
            self.unvalidated -= conn.reserved
        conn.held = conn.reserved = 0

    # ---- the protocol's
    def charge(self, conn: Any, nbytes: int) -> bool:
        """Count ``nbytes`` more held for ``conn`` (None: for no connection);
        False (nothing counted) if that goes past a limit."""
        # the test of _over_total written out: this runs for every operation
        # and queued update
        in_use = self.in_use + nbytes
        if conn is None:
            if in_use > self._total:
                self.refused += 1
                return False
        else:
            if conn.closing:
                return False
            held = conn.held + nbytes
            total = self._total
            if held > self._per_connection or (
                    in_use > total
                    and held + conn.reserved > total // max(1, self.connections)):
                self.refused += 1
                return False
            conn.held = held
        self.in_use = in_use
        return True

    def credit(self, conn: Any, nbytes: int) -> None:
        """Give back ``nbytes`` charged for ``conn`` (ignored once it is released)."""
        if conn is not None:
            if conn.closed:
                return
            conn.held -= nbytes
        self.in_use -= nbytes


class Charged:
    """What a connection is charged for a quantity its protocol keeps track of
    (the nodes of the types a peer cached): ``unit`` bytes each.

    :meth:`update` charges (or credits) the change since the last update;
    past the budget it raises :class:`OverBudget`, which closes the
    connection when raised while its messages are decoded.
    """

    __slots__ = ("unit", "count")

    def __init__(self, unit: int):
        self.unit = unit
        self.count = 0

    def hook(self, conn_of: Callable[[], Any], what: str) -> Callable[[int], None]:
        """``hook(count)``: :meth:`update` of ``conn_of()``'s charge to
        ``count`` (``what``: the reason, formatted with the count); a
        circuit's ``type_nodes_hook`` (:class:`pva.VirtualCircuit`)."""
        def hook(count: int) -> None:
            self.update(conn_of(), count, what.format(count))
        return hook

    def update(self, conn: Any, count: int, what: str) -> None:
        delta = (count - self.count) * self.unit
        if delta > 0 and not conn.charge(delta):
            raise OverBudget(f"{what} refused: over the memory budget "
                             f"({conn.held} bytes held by this connection)")
        if delta < 0:
            conn.credit(-delta)
        self.count = count

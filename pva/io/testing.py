"""A fake reactor and in-memory transports: protocol timing without waiting.

:class:`FakeReactor` is a reactor for :mod:`pva.io.driver` whose clock only
moves when told (:meth:`FakeReactor.advance`, in the manner of trio's
``MockClock`` with ``autojump`` off): timers fire in order, each with the
clock set to its due time, so a test of a search backoff, an echo timeout or
a reconnection takes milliseconds and decides by events, never by sleeping.
:func:`connect_pair` joins two connections with in-memory transports (h11's
``ConnectionPair`` idea, with the driver in between): what one writes, the
other receives at the next turn of the reactor, chunked as a socket would.

Coroutines started with ``spawn`` run at once; one that waits for something
(an asyncio future) cannot go on here and is reported as an error.
"""
from __future__ import annotations

import heapq
import itertools
from typing import Any, Callable, List, Optional, Tuple

from .._stream import SCRATCH_SIZE

__all__ = ["FakeReactor", "FakeTransport", "connect_pair"]


def _noop() -> None:
    pass


class _Handle:
    __slots__ = ("when", "fn", "args", "cancelled")

    def __init__(self, when: float, fn: Callable, args: tuple):
        self.when, self.fn, self.args = when, fn, args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        self.fn, self.args = _noop, ()      # as asyncio's: what it held is free


class FakeReactor:
    """A reactor with a manual clock (see the module doc).

    ``connector(host, port, conn)``, if set, is called by
    :meth:`connect_tcp` to make the connection (for instance with
    :func:`connect_pair` to a server's connection); without it, the attempt
    is recorded in :attr:`connecting` and fails with ``connection_lost``
    when :attr:`refuse` is set.
    """

    def __init__(self, start: float = 1000.0):
        self.now = start
        #: shared by the connections' small reads, as AsyncioReactor's
        self.read_buffer = bytearray(SCRATCH_SIZE)
        self._heap: List[Tuple[float, int, _Handle]] = []
        self._seq = itertools.count()
        self.connector: Optional[Callable[[str, int, Any], None]] = None
        self.connecting: List[Tuple[str, int, Any]] = []
        self.refuse = False

    # ---- the reactor interface
    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, fn: Callable, *args) -> _Handle:
        h = _Handle(self.now + max(0.0, delay), fn, args)
        heapq.heappush(self._heap, (h.when, next(self._seq), h))
        return h

    def call_soon(self, fn: Callable, *args) -> _Handle:
        return self.call_later(0.0, fn, *args)

    def spawn(self, coro) -> None:
        try:
            coro.send(None)
        except StopIteration:
            return None
        coro.close()
        raise RuntimeError("FakeReactor cannot run a coroutine that waits")

    def connect_tcp(self, host: str, port: int, conn: Any) -> None:
        if self.connector is not None:
            self.connector(host, port, conn)
            return
        self.connecting.append((host, port, conn))
        if self.refuse:
            self.call_soon(conn.connection_lost, ConnectionRefusedError(host, port))

    # ---- driving it
    def run(self) -> int:
        """Run every callback due now (including those they schedule for now);
        returns how many ran."""
        n = 0
        heap = self._heap
        while heap and heap[0][0] <= self.now:
            _, _, h = heapq.heappop(heap)
            if not h.cancelled:
                n += 1
                h.fn(*h.args)
        return n

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``, running the timers that
        fall due on the way, each at its own time."""
        target = self.now + seconds
        self.run()
        heap = self._heap
        while heap and heap[0][0] <= target:
            self.now = max(self.now, heap[0][0])
            self.run()
        self.now = target
        self.run()

    def run_until(self, predicate: Callable[[], bool], timeout: float,
                  step: Optional[float] = None) -> float:
        """Advance the clock until ``predicate()`` is true, timer by timer (or
        by ``step``); returns the time it took.  Raises ``TimeoutError``
        after ``timeout`` seconds of fake time."""
        start = self.now
        self.run()
        while not predicate():
            if self.now - start >= timeout:
                raise TimeoutError(f"not reached in {timeout} s of fake time")
            nxt = self.next_due()
            if step is not None or nxt is None:
                self.advance(step if step is not None else timeout)
            else:
                self.advance(min(max(0.0, nxt - self.now), start + timeout - self.now))
        return self.now - start

    def next_due(self) -> Optional[float]:
        """When the next live timer is due (None: no timer)."""
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None


class FakeTransport:
    """An in-memory transport (the subset of asyncio's the driver uses).

    Writes go to ``peer`` (a Connection) at the next turn of the reactor, or
    are collected in :attr:`written` when there is no peer.  ``frozen``
    holds everything written (a peer that stopped reading).
    """

    def __init__(self, reactor: FakeReactor, conn: Any, peername: Tuple[str, int],
                 sockname: Tuple[str, int], chunk: int = 0x10000):
        self.reactor = reactor
        self.conn = conn
        self.peer: Optional["FakeTransport"] = None
        self.extra = {"peername": peername, "sockname": sockname}
        self.chunk = chunk
        self.written: List[bytes] = []
        self.frozen = False
        self.reading = True
        self._closing = False
        self._pending: List[bytes] = []   # received while not reading
        self.limits = (0x10000, 0x4000)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.extra.get(name, default)

    def write(self, data) -> None:
        self.writelines([data])

    def writelines(self, buffers) -> None:
        if self._closing:
            return
        data = b"".join(bytes(b) for b in buffers)
        self.written.append(data)
        peer = self.peer
        if peer is not None and not self.frozen:
            self.reactor.call_soon(peer._deliver, data)

    def _deliver(self, data: bytes) -> None:
        if self._closing:
            return
        if not self.reading:
            self._pending.append(data)
            return
        conn = self.conn
        view = memoryview(data)
        while view and not self._closing:
            buf = conn.get_buffer(-1)
            n = min(len(buf), len(view), self.chunk)
            buf[:n] = view[:n]
            view = view[n:]
            conn.buffer_updated(n)

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True
        pending, self._pending = self._pending, []
        for data in pending:
            self._deliver(data)

    def get_write_buffer_size(self) -> int:
        return 0

    def get_write_buffer_limits(self) -> Tuple[int, int]:
        return self.limits[1], self.limits[0]

    def set_write_buffer_limits(self, high: Optional[int] = None,
                                low: Optional[int] = None) -> None:
        self.limits = (high or self.limits[0], low or self.limits[1])

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self.abort()

    def abort(self) -> None:
        if self._closing:
            return
        self._closing = True
        self.reactor.call_soon(self.conn.connection_lost, None)
        peer = self.peer
        if peer is not None and not peer._closing:
            peer._closing = True
            self.reactor.call_soon(peer.conn.connection_lost, None)


def connect_pair(reactor: FakeReactor, client: Any, server: Any,
                 client_address: Tuple[str, int] = ("127.0.0.1", 40000),
                 server_address: Tuple[str, int] = ("127.0.0.1", 5075)
                 ) -> Tuple[FakeTransport, FakeTransport]:
    """Connect two connections (each gets ``connection_made`` now)."""
    ct = FakeTransport(reactor, client, server_address, client_address)
    st = FakeTransport(reactor, server, client_address, server_address)
    ct.peer, st.peer = st, ct
    server.connection_made(st)
    client.connection_made(ct)
    return ct, st

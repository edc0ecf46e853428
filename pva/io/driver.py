"""The connection driver: one TCP connection, for any stream protocol.

Theory of operation
-------------------
A :class:`Connection` sits between a transport (an asyncio transport, or
:mod:`pva.io.testing`'s in-memory one) and a *protocol object* that knows
one side of one protocol (a pvAccess client or server circuit, a Channel
Access server circuit).  The protocol object is loop-free: it never reads a
socket, never sleeps, never starts a thread.  The driver does everything
that is the same for every protocol:

receive buffer
    bytes go into a :class:`pva._stream.ReceiveBuffer` (scratch reads, large
    messages received in place) split by the protocol's framing function;
dispatch loop
    complete messages are decoded by the protocol (``frames_received``),
    then handed to ``dispatch`` one at a time, in order.  ``dispatch``
    returns ``None`` when it is done with the message, or a *waiter* (an
    object with ``add_done_callback`` and ``cancel``, such as an asyncio
    task) when its handler has to wait: then the messages behind it wait
    and reading pauses until the waiter is done (flow control);
write batching
    ``send`` queues buffers; everything queued during one event-loop
    iteration (or during one dispatch loop) goes out with one
    ``transport.writelines``.  ``write_backlog`` and ``when_writable`` let
    a protocol respect TCP back-pressure (the transport's high and low
    water marks, ``write_limits``); with ``pause_reading_when_blocked`` a
    peer that does not read its replies stops being read (servers);
keep-alive
    with ``idle_timeout`` a connection silent that long is closed; with
    ``echo_interval`` the protocol's ``keepalive()`` is called that often
    (a client sends an echo).  Time comes from the reactor, so a fake
    clock drives it in tests;
teardown
    ``close(reason)`` flushes what was queued and closes the transport
    (aborted after ``close_grace`` seconds if the peer does not take the
    data); when the transport reports the loss, everything is released at
    once: timers, the waiter, queued messages and buffers, then the
    protocol's ``connection_lost(reason)``, the accounting hook and the
    close callbacks.  A connection closes once.

The protocol object provides::

    header_size                        bytes needed to frame a message
    message_length(buf, pos, avail)    the framing function (pva._stream)
    connection_made(conn)              greet the peer (conn.send(...))
    frames_received(frames) -> items   decode complete messages (a list or tuple)
    dispatch(item) -> waiter or None   handle one (a waiter: add_done_callback,
                                       cancel, cancelled, exception)
    keepalive()                        (only with echo_interval)
    connection_lost(reason)            release everything

The *reactor* provides ``time()``, ``call_soon(fn, *args)`` and
``call_later(delay, fn, *args)`` (both returning a handle with
``cancel()``), and ``spawn(coroutine)``, which runs a coroutine at once up to
its first real wait and returns ``None`` if it finished, else a waiter for
the rest (:class:`pva.io.aio.AsyncioReactor`, :class:`pva.io.testing.FakeReactor`).

Validation: a protocol calls :meth:`Connection.mark_validated` once its
peer completed the handshake (pvAccess: the connection validation).  With
``validation_timeout`` a connection that has not by then is closed, however
little it sends meanwhile.

Accounting: every connection has an :attr:`Connection.accounting`
(:class:`pva.io.budget.Accounting`, also importable from here; one object
may be shared by all the connections of a server,
:class:`pva.io.budget.MemoryBudget`).  The driver calls
``opened(conn)`` when the connection is made (raising :class:`OverBudget`
refuses it: closed at once), ``reserve(conn, nbytes)`` before a receive
buffer for an incomplete message is allocated (``nbytes``: its size, which
replaces the previous reservation; 0 once the message is complete; raising
refuses it and closes the connection), ``validated(conn)`` when the protocol
marks it validated and ``released(conn)`` at teardown.  Protocols charge
what they hold for a peer (channels, operations, queued updates) with
:meth:`Connection.charge` and :meth:`Connection.credit`.  The per-connection
figures live on the connection: ``held`` (bytes charged), ``reserved``
(bytes of its receive buffer), ``validated``.  The default accounts nothing.

Fairness: a dispatch loop runs at most :data:`DISPATCH_SLICE` seconds
(counted from the read that brought its messages, the time already taken
for the idle timeout); the messages left wait, with reading paused, until the reactor has run what else
was ready (``call_soon``) -- a burst of thousands of requests in one read
does not hold up the other connections.

Replies that outrun the peer: a dispatch loop whose replies pass the
transport's high water mark writes them, and with
``pause_reading_when_blocked`` the messages after it wait (as reading does)
until the transport drains -- a few kilobytes of requests for large values
do not queue their replies in memory all at once.
"""
from __future__ import annotations

import collections
import logging
from typing import Any, Callable, List, Optional, Tuple

from .._stream import ReceiveBuffer
from .budget import NO_ACCOUNTING, Accounting, OverBudget

__all__ = ["Connection", "Accounting", "NO_ACCOUNTING", "OverBudget"]

log = logging.getLogger("pva.io")

#: where a closing connection reads to (what arrives is dropped; shared)
_DISCARD = memoryview(bytearray(0x10000))

#: seconds one connection's dispatch loop runs before the messages left wait
#: for the next round of the event loop (the other connections' turn)
DISPATCH_SLICE = 0.002


class Connection:
    """Drives one stream connection for a protocol object (see the module doc).

    Parameters
    ----------
    protocol : object
        The protocol object (contract in the module doc).
    reactor : object
        Clock, timers and coroutine start (contract in the module doc).
    idle_timeout : float, optional
        Close the connection after this many seconds without receiving.
    echo_interval : float, optional
        Call ``protocol.keepalive()`` this often.
    pause_reading_when_blocked : bool
        Stop reading while the transport's write buffer is above its high
        water mark (a peer that does not read its replies).
    write_limits : (high, low), optional
        The transport's write buffer water marks.
    close_grace : float
        Seconds a closing connection may take to deliver what was queued
        before the transport is aborted (0: abort at once).
    accounting : Accounting, optional
        Memory accounting hooks.
    validation_timeout : float, optional
        Close the connection if the protocol has not called
        :meth:`mark_validated` this many seconds after it was made.
    """

    def __init__(self, protocol: Any, reactor: Any, *, idle_timeout: Optional[float] = None,
                 echo_interval: Optional[float] = None,
                 pause_reading_when_blocked: bool = False,
                 write_limits: Optional[Tuple[int, int]] = None, close_grace: float = 5.0,
                 accounting: Accounting = NO_ACCOUNTING,
                 validation_timeout: Optional[float] = None):
        self.protocol = protocol
        self.reactor = reactor
        self.idle_timeout = idle_timeout if idle_timeout and idle_timeout > 0 else None
        self.echo_interval = echo_interval if echo_interval and echo_interval > 0 else None
        self.pause_reading_when_blocked = pause_reading_when_blocked
        self.write_limits = write_limits
        self.close_grace = close_grace
        self.accounting = accounting
        self.validation_timeout = (validation_timeout if validation_timeout
                                   and validation_timeout > 0 else None)
        #: the peer completed the protocol's handshake (:meth:`mark_validated`)
        self.validated = False
        #: bytes charged to this connection (the accounting's)
        self.held = 0
        #: bytes of the buffer of the incomplete message received (the accounting's)
        self.reserved = 0
        self.transport: Any = None
        self.peer: Tuple[str, int] = ("", 0)
        self.sockname: Tuple[str, int] = ("", 0)
        #: reactor time of the last bytes received
        self.last_rx = reactor.time()
        #: why the connection closed (None while open, or if the peer closed it)
        self.close_reason: Optional[str] = None
        self._time = reactor.time
        self._call_soon = reactor.call_soon
        # the reactor's read buffer, if it has one, is shared by its
        # connections: what a read brings is copied out of it at once
        self._rx = ReceiveBuffer(protocol.header_size, protocol.message_length,
                                 reserve=self._reserve,
                                 scratch=getattr(reactor, "read_buffer", None))
        self._rx_updated = self._rx.buffer_updated
        self._decode = protocol.frames_received
        self._dispatch = protocol.dispatch
        self._out: List[Any] = []
        self._out_size = 0
        self._flush_pending = False
        self._inbox: "collections.deque" = collections.deque()
        self._waiter: Any = None
        self._read_paused = False
        self._write_paused = False
        self._writable_waiters: List[Callable[[], None]] = []
        self._keepalive_timer: Any = None
        self._validation_timer: Any = None
        self._yielded = False       # the dispatch loop gave way to others (DISPATCH_SLICE)
        self._abort_timer: Any = None
        self._high_water = write_limits[0] if write_limits else 0x10000
        self._accounted = False     # opened() accepted it: released() at teardown
        self._started = False       # the protocol's connection_made was called
        self._close_callbacks: List[Callable[["Connection"], None]] = []
        #: True once :meth:`close` was called or the connection was lost (no
        #: more I/O); plain attributes, read on hot paths: set here only
        self.closing = False
        #: True once the connection is torn down
        self.closed = False

    def __repr__(self) -> str:
        state = "lost" if self.closed else ("closing" if self.closing else "open")
        return f"<Connection {self.peer[0]}:{self.peer[1]} {state}>"

    # ================================================================ protocol side
    def mark_validated(self) -> None:
        """The peer completed the protocol's handshake (stops the validation deadline)."""
        if self.validated:
            return
        self.validated = True
        if self._validation_timer is not None:
            self._validation_timer.cancel()
            self._validation_timer = None
        if self._accounted:
            self.accounting.validated(self)

    def charge(self, nbytes: int) -> bool:
        """Count ``nbytes`` the protocol holds for this peer; False: over
        budget, refuse what needed them."""
        return self.accounting.charge(self, nbytes)

    def credit(self, nbytes: int) -> None:
        """Give back what :meth:`charge` counted."""
        self.accounting.credit(self, nbytes)

    def send(self, buffers) -> None:
        """Queue ``buffers`` (bytes-like); written with the others of this
        event-loop iteration in one ``writelines``.  Dropped once closing."""
        if self.closing:
            return
        out = self._out
        for b in buffers:
            out.append(b)
            self._out_size += len(b)
        if not self._flush_pending:
            self._flush_pending = True
            self._call_soon(self.flush)

    def hold(self) -> None:
        """What is sent from now on is not written at the end of this
        iteration: the caller calls :meth:`flush` (a burst gathered for a
        moment; a dispatch loop does this for its replies)."""
        self._flush_pending = True

    def flush(self) -> None:
        """Write what is queued now (one ``writelines``)."""
        self._flush_pending = False
        out = self._out
        if not out or self.transport is None or self.closing:
            return
        self._out = []
        self._out_size = 0
        try:
            self.transport.writelines(out)
        except Exception as ex:  # a write error closes this connection only
            log.warning("%r: write failed: %s", self, ex)
            self.close(f"write failed: {ex}")

    def write_backlog(self) -> int:
        """Bytes queued here and in the transport, not yet sent."""
        t = self.transport
        return self._out_size + (t.get_write_buffer_size() if t is not None else 0)

    @property
    def high_water(self) -> int:
        """The transport's high water mark (``write_backlog`` above it: stop sending)."""
        if self.transport is None:
            return self.write_limits[0] if self.write_limits else 0x10000
        return self.transport.get_write_buffer_limits()[1]

    @property
    def write_blocked(self) -> bool:
        """True while the transport's buffer is above its high water mark."""
        return self._write_paused

    def when_writable(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once the transport takes data again (soon if it does)."""
        if self.closing:
            return
        if not self._write_paused:
            self._call_soon(callback)
        else:
            self._writable_waiters.append(callback)

    def add_close_callback(self, callback: Callable[["Connection"], None]) -> None:
        """Call ``callback(conn)`` after teardown (at once if already torn down)."""
        if self.closed:
            callback(self)
        else:
            self._close_callbacks.append(callback)

    def close(self, reason: Optional[str] = None) -> None:
        """Close: what was queued is still delivered (within ``close_grace``)."""
        if self.close_reason is None:
            self.close_reason = reason
        if self.closing:
            return
        self.flush()
        self.closing = True
        self._cancel_timers()
        transport = self.transport
        if transport is None:           # never connected: nothing will report the loss
            self._teardown()
        elif not transport.is_closing():
            if self.close_grace > 0:
                transport.close()
                # a peer that does not read would keep the data (and the
                # connection) forever
                self._abort_timer = self.reactor.call_later(self.close_grace, self._abort)
            else:
                transport.abort()

    def _abort(self) -> None:
        self._abort_timer = None
        if not self.closed and self.transport is not None:
            self.transport.abort()

    # ================================================================ transport side
    def connection_made(self, transport: Any) -> None:
        if self.closing:                # closed while connecting
            transport.close()
            return
        self.transport = transport
        peer = transport.get_extra_info("peername")
        if peer:
            self.peer = tuple(peer[:2])
        sock = transport.get_extra_info("sockname")
        if sock:
            self.sockname = tuple(sock[:2])
        if self.write_limits is not None:
            transport.set_write_buffer_limits(*self.write_limits)
        self._high_water = transport.get_write_buffer_limits()[1]
        try:
            self.accounting.opened(self)
        except OverBudget as ex:
            log.warning("%r: %s", self, ex)
            self.close(str(ex))
            return
        self._accounted = True
        self.last_rx = self._time()
        self._arm_keepalive(self.echo_interval or self.idle_timeout)
        if self.validation_timeout is not None and not self.validated:
            self._validation_timer = self.reactor.call_later(self.validation_timeout,
                                                             self._validation_expired)
        self._started = True
        self.protocol.connection_made(self)
        if self._out and not self._flush_pending:
            self._flush_pending = True
            self._call_soon(self.flush)

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        if self.closing:
            return _DISCARD
        return self._rx.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        if not self.closing:
            self._received(self._rx_updated, nbytes)

    def data_received(self, data: bytes) -> None:
        """The non-buffered form of :meth:`buffer_updated`."""
        if not self.closing:
            self._received(self._rx.feed, data)

    def _received(self, frame, arg) -> None:
        """Frame (``frame(arg)``: the complete messages), decode and
        deliver what one read brought; what decoding answers is written
        before returning."""
        self.last_rx = now = self._time()
        pending = self._flush_pending
        self._flush_pending = True
        try:
            items = self._decode(frame(arg))
        except Exception as ex:
            self._malformed(ex)
            return
        if self.reserved and self._rx.at_boundary():
            self.accounting.reserve(self, 0)
        if items:
            self._deliver(items, now)
        elif self._out:
            self.flush()
        else:
            self._flush_pending = pending

    def eof_received(self) -> bool:
        return False                    # close our side too

    def pause_writing(self) -> None:
        self._write_paused = True
        if self.pause_reading_when_blocked:
            self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        waiters, self._writable_waiters = self._writable_waiters, []
        for callback in waiters:
            self._call_soon(callback)
        if self._inbox and self._waiter is None:
            self._call_soon(self._resume_inbox)
        self._update_reading()

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        if self.closed:
            return
        if self.close_reason is None and exc is not None:
            self.close_reason = f"connection lost: {exc}"
        self.closing = True
        self._teardown()

    # ================================================================ internals
    def _reserve(self, nbytes: int) -> None:
        self.accounting.reserve(self, nbytes)

    def _malformed(self, ex: Exception) -> None:
        if isinstance(ex, OverBudget):
            self.close(str(ex))
            return
        log.debug("%r: cannot decode what was received", self, exc_info=True)
        self.close(f"malformed data: {ex}")

    def _validation_expired(self) -> None:
        self._validation_timer = None
        if not self.validated and not self.closing:
            self.close(f"not validated within {self.validation_timeout:g} s")

    def _deliver(self, items, start: float) -> None:
        """Dispatch ``items`` in order; stop at a handler that waits, or
        (``pause_reading_when_blocked``) when the replies block the transport.
        ``start``: the reactor time the slice began (the read that brought them)."""
        if self._waiter is not None or self._inbox:
            self._inbox.extend(items)
            return
        dispatch = self._dispatch
        self._flush_pending = True      # one write at the end, not one per reply
        it = iter(items)
        n, last = 0, len(items)
        try:
            for item in it:
                waiter = dispatch(item)
                if waiter is not None:
                    self._wait(waiter)
                    self._inbox.extend(it)
                    break
                if self.closing:
                    break
                n += 1
                if n == last:
                    break
                # between two messages (after the last, the flush below and
                # the transport's pause_writing do the same)
                if not n & 15 and self._time() > start + DISPATCH_SLICE:
                    # the slice is used up: the rest after the other connections
                    self._inbox.extend(it)
                    self._yielded = True
                    self._update_reading()
                    self._call_soon(self._resume_yielded)
                    break
                if self._out_size > self._high_water and self.pause_reading_when_blocked:
                    self.flush()
                    if self._write_paused:  # the rest waits until the peer reads
                        self._inbox.extend(it)
                        self._update_reading()
                        break
                    self._flush_pending = True
        except Exception as ex:
            log.exception("%r: handling a message failed", self)
            self.close(f"internal error: {ex}")
        self.flush()

    def _resume_yielded(self) -> None:
        self._yielded = False
        if self._inbox:
            self._resume_inbox()
        else:
            self._update_reading()

    def _resume_inbox(self) -> None:
        """Dispatch what waited (for a handler, or for the transport to drain)."""
        if self.closing or self._waiter is not None or self._yielded or not self._inbox:
            return
        if self._write_paused and self.pause_reading_when_blocked:
            return                      # resume_writing calls again
        items = list(self._inbox)
        self._inbox.clear()
        self._deliver(items, self._time())
        if self._waiter is None:
            self._update_reading()

    def _wait(self, waiter: Any) -> None:
        self._waiter = waiter
        self._update_reading()
        waiter.add_done_callback(self._waiter_done)

    def _waiter_done(self, waiter: Any) -> None:
        if waiter is not self._waiter:
            return
        self._waiter = None
        if self.closing:
            return
        if not waiter.cancelled():
            ex = waiter.exception()
            if ex is not None:          # a handler failed after it waited
                log.error("%r: handling a message failed", self, exc_info=ex)
                self.close(f"internal error: {ex}")
                return
        if self._inbox:
            self._resume_inbox()
        elif self._waiter is None:
            self._update_reading()

    def _update_reading(self) -> None:
        t = self.transport
        if t is None or self.closing:
            return
        pause = self._waiter is not None or self._yielded or (
            self._write_paused and self.pause_reading_when_blocked)
        if not pause and self._inbox:   # what waited is dispatched first
            return
        if pause and not self._read_paused:
            self._read_paused = True
            t.pause_reading()
        elif not pause and self._read_paused:
            self._read_paused = False
            t.resume_reading()

    def _arm_keepalive(self, delay: Optional[float]) -> None:
        if delay is not None and not self.closing:
            self._keepalive_timer = self.reactor.call_later(delay, self._keepalive)

    def _keepalive(self) -> None:
        self._keepalive_timer = None
        if self.closing:
            return
        idle = self._time() - self.last_rx
        tmo = self.idle_timeout
        if tmo is not None and idle >= tmo:
            log.info("%r: nothing received for %.1f s, closing", self, idle)
            self.close(f"no data received for {tmo:g} s")
            return
        if self.echo_interval is not None:
            self.protocol.keepalive()
            self._arm_keepalive(self.echo_interval)
        else:
            self._arm_keepalive(tmo - idle)

    def _cancel_timers(self) -> None:
        if self._keepalive_timer is not None:
            self._keepalive_timer.cancel()
            self._keepalive_timer = None
        if self._validation_timer is not None:
            self._validation_timer.cancel()
            self._validation_timer = None

    def _teardown(self) -> None:
        """Release everything at once (the connection is gone)."""
        self.closed = True
        self.closing = True
        self._cancel_timers()
        if self._abort_timer is not None:
            self._abort_timer.cancel()
            self._abort_timer = None
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.cancel()
        self._inbox.clear()
        self._out = []
        self._out_size = 0
        self._writable_waiters = []
        self._rx.discard()
        reason = self.close_reason
        if self._started:
            try:
                self.protocol.connection_lost(reason)
            except Exception:
                log.exception("%r: teardown of the protocol failed", self)
        if self._accounted:
            self._accounted = False
            try:
                self.accounting.released(self)
            except Exception:
                log.exception("%r: accounting release failed", self)
        callbacks, self._close_callbacks = self._close_callbacks, []
        for callback in callbacks:
            try:
                callback(self)
            except Exception:
                log.exception("%r: close callback failed", self)

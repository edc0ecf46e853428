"""The connection driver (pva.io.driver) with a toy protocol, on a fake reactor.

The protocol here is not pvAccess: messages are a 2-byte big-endian length
(of the payload) and the payload; a length of 0xFFFF announces an extended
header with the real length in 4 more bytes (as Channel Access does), so the
framing function's "wait for more header" answer is exercised too.  The
tests check what the driver promises every protocol: framing over any
chunking, dispatch in order, pausing while a handler waits, one write per
iteration, keep-alive timing, accounting and teardown.
"""
from __future__ import annotations

import struct

import pytest

from pva.io.driver import DISPATCH_SLICE, Accounting, Connection, OverBudget
from pva.io.testing import FakeReactor, FakeTransport


def encode(payload: bytes) -> bytes:
    if len(payload) < 0xFFFF:
        return struct.pack(">H", len(payload)) + payload
    return struct.pack(">HI", 0xFFFF, len(payload)) + payload


class Toy:
    """A protocol object (the driver's contract) recording what happens."""

    header_size = 2

    def __init__(self, limit: int = 1 << 20):
        self.limit = limit
        self.dispatched = []
        self.lost = []
        self.keepalives = 0
        self.wait_on = {}           # payload -> waiter to return from dispatch
        self.conn = None
        self.cost = 0.0             # fake seconds each dispatch takes
        self.log = None             # a list shared by several connections

    def message_length(self, buf, pos, avail):
        (n,) = struct.unpack_from(">H", buf, pos)
        if n == 0xFFFF:
            if avail < 6:
                return 6            # the extended header first
            (n,) = struct.unpack_from(">I", buf, pos + 2)
            if n > self.limit:
                raise ValueError(f"message of {n} bytes")
            return 6 + n
        return 2 + n

    def connection_made(self, conn):
        self.conn = conn

    def frames_received(self, frames):
        out = []
        for mv in frames:
            (n,) = struct.unpack_from(">H", mv, 0)
            out.append(bytes(mv[6:] if n == 0xFFFF else mv[2:]))
        return out

    def dispatch(self, item):
        self.dispatched.append(item)
        if self.cost:
            self.conn.reactor.now += self.cost
        if self.log is not None:
            self.log.append(item)
        if item == b"echo":
            self.conn.send([encode(b"e1"), encode(b"e2")])
        if item == b"boom":
            raise RuntimeError("boom")
        return self.wait_on.get(item)

    def keepalive(self):
        self.keepalives += 1

    def connection_lost(self, reason):
        self.lost.append(reason)


class Waiter:
    """A minimal waiter (what a handler that waits returns)."""

    def __init__(self):
        self.callbacks = []
        self._cancelled = False
        self._exc = None
        self._done = False

    def add_done_callback(self, fn):
        self.callbacks.append(fn)

    def cancel(self):
        self._cancelled = True

    def cancelled(self):
        return self._cancelled

    def exception(self):
        return self._exc

    def finish(self, exc=None):
        self._done, self._exc = True, exc
        for fn in self.callbacks:
            fn(self)


def make(reactor=None, chunk=0x10000, toy=None, **kw):
    reactor = reactor or FakeReactor()
    toy = toy or Toy()
    conn = Connection(toy, reactor, **kw)
    transport = FakeTransport(reactor, conn, ("1.2.3.4", 5), ("5.6.7.8", 9), chunk=chunk)
    conn.connection_made(transport)
    return reactor, toy, conn, transport


def receive(reactor, transport, data: bytes):
    transport._deliver(data)
    reactor.run()


@pytest.mark.parametrize("chunk", [1, 3, 7, 0x10000])
def test_framing_over_any_chunking(chunk):
    big = bytes(range(256)) * 300                    # extended header, 76,800 bytes
    msgs = [b"a", b"", b"bcd", big, b"e" * 1000, b"f"]
    reactor, toy, conn, transport = make(chunk=chunk)
    receive(reactor, transport, b"".join(encode(m) for m in msgs))
    assert toy.dispatched == msgs
    assert conn._rx.at_boundary()


def test_replies_of_one_batch_go_out_in_one_write():
    reactor, toy, conn, transport = make()
    receive(reactor, transport, encode(b"echo") + encode(b"echo"))
    assert transport.written == [encode(b"e1") + encode(b"e2") + encode(b"e1") + encode(b"e2")]
    conn.send([b"x"])
    conn.send([b"y"])
    assert transport.written[1:] == []               # at the end of the iteration
    reactor.run()
    assert transport.written[1:] == [b"xy"]


def test_answers_sent_while_decoding_are_written_by_the_read_itself():
    # a protocol may answer in frames_received and hand nothing to dispatch
    # (the CA server does): the answer leaves with the read, not one event-loop
    # turn later (a second poll per request, one in flight)
    class AnswersWhileDecoding(Toy):
        def frames_received(self, frames):
            self.conn.send([encode(b"r%d" % len(bytes(f))) for f in frames])
            return ()
    reactor, toy, conn, transport = make(toy=AnswersWhileDecoding())
    transport._deliver(encode(b"q") + encode(b"qq"))
    assert transport.written == [encode(b"r3") + encode(b"r4")]     # before any turn
    assert reactor.run() == 0                          # no flush left for later
    conn.send([b"x"])                                # not in a read: end of the turn
    assert transport.written[1:] == []
    reactor.run()
    assert transport.written[1:] == [b"x"]


def test_a_waiting_handler_pauses_reading_and_the_messages_behind_it():
    reactor, toy, conn, transport = make()
    w = toy.wait_on[b"slow"] = Waiter()
    receive(reactor, transport, encode(b"1") + encode(b"slow") + encode(b"2"))
    assert toy.dispatched == [b"1", b"slow"] and not transport.reading
    receive(reactor, transport, encode(b"3"))        # read while paused: held
    assert toy.dispatched == [b"1", b"slow"]
    w.finish()
    reactor.run()
    assert toy.dispatched == [b"1", b"slow", b"2", b"3"] and transport.reading


def test_a_handler_failing_after_it_waited_closes_the_connection():
    reactor, toy, conn, transport = make()
    w = toy.wait_on[b"slow"] = Waiter()
    receive(reactor, transport, encode(b"slow") + encode(b"next"))
    w.finish(RuntimeError("late"))
    reactor.run()
    assert conn.closed and toy.lost == ["internal error: late"]
    assert toy.dispatched == [b"slow"]


def test_a_handler_failing_at_once_closes_the_connection():
    reactor, toy, conn, transport = make()
    receive(reactor, transport, encode(b"boom") + encode(b"never"))
    assert toy.dispatched == [b"boom"] and toy.lost == ["internal error: boom"]


def test_a_bad_header_closes_before_anything_is_buffered():
    acct = []

    class Counting(Accounting):
        def reserve(self, conn, nbytes):
            acct.append(nbytes)

        def released(self, conn):
            acct.append("released")
    reactor, toy, conn, transport = make(accounting=Counting())
    toy.limit = 100
    receive(reactor, transport, encode(b"ok"))
    receive(reactor, transport, encode(b"ok2") + struct.pack(">HI", 0xFFFF, 10 ** 9))
    # the connection closes: nothing of the read with the bad header is handled
    assert toy.dispatched == [b"ok"]
    assert toy.lost == ["malformed data: message of 1000000000 bytes"]
    assert 10 ** 9 + 6 not in acct and acct[-1] == "released"


def test_accounting_may_refuse_a_message_buffer():
    class Budget(Accounting):
        def reserve(self, conn, nbytes):
            if nbytes > 1000:
                raise OverBudget(f"{nbytes} bytes over budget")
    reactor, toy, conn, transport = make(accounting=Budget(), chunk=100)
    receive(reactor, transport, encode(b"z" * 5000))
    assert toy.dispatched == [] and toy.lost == ["5002 bytes over budget"]


def test_idle_timeout_and_echo_interval():
    reactor, toy, conn, transport = make(idle_timeout=3.0, echo_interval=1.0)
    start = reactor.now
    reactor.advance(2.5)
    receive(reactor, transport, encode(b"alive"))    # at 2.5: the timer restarts
    reactor.run_until(lambda: conn.closed, timeout=10)
    assert reactor.now - start == 6.0                # the check at 6 sees 3.5 s of silence
    assert toy.keepalives == 5                       # at 1, 2, 3, 4, 5
    assert toy.lost == ["no data received for 3 s"]


def test_teardown_releases_once_and_drops_what_was_queued():
    reactor, toy, conn, transport = make(close_grace=2.0)
    w = toy.wait_on[b"slow"] = Waiter()
    receive(reactor, transport, encode(b"slow") + encode(b"queued"))
    conn.send([b"last words"])
    conn.close("bye")
    assert transport.written == [b"last words"]      # what was sent is still delivered
    reactor.run()
    assert toy.lost == ["bye"] and w.cancelled() and conn.closed
    conn.connection_lost(None)                       # a second report changes nothing
    assert toy.lost == ["bye"] and toy.dispatched == [b"slow"]


def test_a_long_batch_gives_way_to_other_connections():
    reactor = FakeReactor()
    reactor, a, conn_a, transport_a = make(reactor)
    reactor, b, conn_b, transport_b = make(reactor)
    a.log = b.log = log = []
    a.cost = b.cost = DISPATCH_SLICE / 4
    batch = [b"a%d" % i for i in range(100)]
    transport_a._deliver(b"".join(encode(m) for m in batch))
    assert 0 < len(a.dispatched) < 100 and not transport_a.reading
    transport_a._deliver(encode(b"later"))          # held while it gave way
    transport_b._deliver(encode(b"b"))              # the other connection's turn
    assert log[-1] == b"b"
    reactor.run()
    assert a.dispatched == batch + [b"later"] and transport_a.reading
    assert log.index(b"b") < 20


def test_validation_deadline():
    reactor, toy, conn, transport = make(validation_timeout=2.0)
    for _ in range(3):                              # traffic does not extend it
        reactor.advance(0.5)
        receive(reactor, transport, encode(b"x"))
    reactor.run_until(lambda: conn.closed, timeout=10)
    assert toy.lost == ["not validated within 2 s"] and reactor.now - 1000.0 == 2.0
    reactor, toy, conn, transport = make(validation_timeout=2.0)
    reactor.advance(1.0)
    conn.mark_validated()
    reactor.advance(10.0)
    assert not conn.closed and conn.validated


def test_accounting_may_refuse_a_connection():
    class Full(Accounting):
        def opened(self, conn):
            raise OverBudget("no room")

        def released(self, conn):
            raise AssertionError("released without being opened")
    reactor, toy, conn, transport = make(accounting=Full())
    reactor.run()
    assert conn.closed and conn.close_reason == "no room"
    assert toy.conn is None and toy.lost == []      # the protocol never saw it

"""The monitor sender of a server connection, on a fake clock: a flood of
posts reaches every subscriber in order, in few writes, encoded once."""
from __future__ import annotations

import pva
from pva import nt
from pva._messages import ChannelMonitorRequest, ChannelMonitorResponse
from pva.io.testing import FakeReactor, FakeTransport
from pva.server.config import ServerConfig
from pva.server.core import ServerCore
from pva.server.ops import monitor as monitor_module


class _Subscriber:
    """A client connection with one running monitor of ``x``."""

    def __init__(self, reactor, core, port, queue_size=1000, fields=""):
        self.reactor = reactor
        self.conn = core.connection()
        self.transport = FakeTransport(reactor, self.conn, ("127.0.0.1", port),
                                       ("127.0.0.1", 5075))
        self.client = pva.ClientVirtualCircuit(address=("127.0.0.1", 5075))
        self.writes = 0
        self.values = []
        self.updates = []               # each update's fields, as received
        self.conn.connection_made(self.transport)
        self.exchange()
        self.exchange(self.client.validate_connection(auth_nz="ca"))
        ch = self.client.create_channel("x")
        self.exchange(ch.create())
        ch = self.client.channel_by_cid(ch.cid)
        mon = ch.subscribe("record[queueSize=%d]%s" % (queue_size, fields))
        self.exchange(mon)
        self.exchange(ChannelMonitorRequest(ch.sid, mon.ioid).to_start())
        self.writes = 0
        self.values.clear()
        self.updates.clear()

    def exchange(self, *msgs):
        if msgs:
            self.transport._deliver(b"".join(bytes(b) for b in self.client.send(*msgs)))
        self.reactor.run()
        self.receive()

    def receive(self):
        written, self.transport.written[:] = list(self.transport.written), []
        self.writes += len(written)
        for msg, _ in self.client.recv(b"".join(bytes(b) for b in written)):
            self.client.process_command(msg)
            if type(msg) is ChannelMonitorResponse and msg.pv_data is not None:
                self.updates.append(msg.pv_data.data)
                self.values.append(msg.pv_data.data.get("value"))


def _commit(entry, value):
    coro = entry.commit({"value": value, "timeStamp": {"secondsPastEpoch": 1,
                                                       "nanoseconds": 0}})
    try:
        coro.send(None)
    except StopIteration:
        return
    raise AssertionError("commit waited")


def _server():
    """A fake clock and a server core with one NTScalar double, ``x``."""
    reactor = FakeReactor()
    return reactor, ServerCore({"x": nt.NTScalarFloat64Base(value=0.0)},
                               ServerConfig.from_env(useenv=False), reactor)


def _count_encodes(monkeypatch) -> list:
    """The values of the monitor updates encoded from now on, in order."""
    encodes = []
    encode = monitor_module.encode_update_body

    def counting(*args):
        encodes.append(args[1]["value"])
        return encode(*args)
    monkeypatch.setattr(monitor_module, "encode_update_body", counting)
    return encodes


def test_a_flood_reaches_every_subscriber_in_few_writes_encoded_once(monkeypatch):
    reactor, core = _server()
    subs = [_Subscriber(reactor, core, 40000 + i) for i in range(3)]
    encodes = _count_encodes(monkeypatch)
    runs = []
    run = monitor_module.MonitorSender.run
    monkeypatch.setattr(monitor_module.MonitorSender, "run",
                        lambda self, due=False: (runs.append(self), run(self, due)))
    entry = core.pvdb["x"]
    n = 200
    for i in range(1, n + 1):
        _commit(entry, float(i))
        reactor.run()                           # one iteration of the loop
        reactor.advance(monitor_module.MONITOR_BATCH / 10)
    reactor.advance(1.0)
    for sub in subs:
        sub.receive()
    expected = [float(i) for i in range(1, n + 1)]
    for sub in subs:
        assert sub.values == expected
        # posts 10 to the millisecond: written together, about 1 write per ms
        assert sub.writes <= n // 5, sub.writes
    assert encodes == expected                  # once for the 3 subscribers
    # a burst waits for its batch write: one run of a sender per write
    assert len(runs) <= sum(sub.writes for sub in subs), (len(runs), subs[0].writes)


def test_a_flood_faster_than_a_batch_squashes_into_the_queue_and_sends_the_last_value(
        monkeypatch):
    reactor, core = _server()
    sub = _Subscriber(reactor, core, 40000, queue_size=4)
    encodes = _count_encodes(monkeypatch)
    entry = core.pvdb["x"]
    n = 200                                     # 10 posts to the millisecond
    for i in range(1, n + 1):
        _commit(entry, float(i))
        reactor.run()
        reactor.advance(monitor_module.MONITOR_BATCH / 10)
    reactor.advance(1.0)
    sub.receive()
    values = sub.values
    assert values[-1] == float(n)               # the last value always arrives
    assert values == sorted(set(values))        # in order, none twice
    # per batch (10 posts): the update that started it, then what the queue
    # of 4 kept; without the waiting every post would be encoded and sent
    assert len(values) <= n // 10 * 5 + 5, len(values)
    assert len(values) >= n // 10 * 2, len(values)
    assert encodes == values


def test_posts_further_apart_than_a_batch_are_each_sent():
    reactor, core = _server()
    sub = _Subscriber(reactor, core, 40000, queue_size=1)
    entry = core.pvdb["x"]
    for i in range(1, 21):
        _commit(entry, float(i))
        reactor.run()
        reactor.advance(monitor_module.MONITOR_BATCH * 1.5)
    sub.receive()
    assert sub.values == [float(i) for i in range(1, 21)]


def test_subscribers_selecting_other_fields_each_get_their_own_fields():
    # the update is encoded once per selection and byte order, not once per PV
    reactor, core = _server()
    subs = [_Subscriber(reactor, core, 40000, fields="field(value)"),
            _Subscriber(reactor, core, 40001),
            _Subscriber(reactor, core, 40002, fields="field(timeStamp)"),
            _Subscriber(reactor, core, 40003, fields="field(value)")]
    entry = core.pvdb["x"]
    for i in range(1, 31):
        coro = entry.commit({"value": float(i), "timeStamp": {"secondsPastEpoch": i,
                                                              "nanoseconds": 0}})
        try:
            coro.send(None)
        except StopIteration:
            pass
        reactor.run()
        reactor.advance(monitor_module.MONITOR_BATCH / 3)
    reactor.advance(1.0)
    for sub in subs:
        sub.receive()
    values = [{"value": float(i)} for i in range(1, 31)]
    assert subs[0].updates == values and subs[3].updates == values
    assert [(u["value"], u["timeStamp"]["secondsPastEpoch"]) for u in subs[1].updates] == \
        [(float(i), i) for i in range(1, 31)]
    assert [set(u) for u in subs[1].updates] == [{"value", "timeStamp"}] * 30
    assert [set(u) for u in subs[2].updates] == [{"timeStamp"}] * 30
    assert [u["timeStamp"]["secondsPastEpoch"] for u in subs[2].updates] == list(range(1, 31))

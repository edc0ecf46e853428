"""The server's circuit without sockets: our core on pva.io's fake reactor,
driven by a caffi.protocol client circuit."""
import random
import struct

import numpy as np
import pytest

import caffi.protocol as ca
from caffi.protocol import CAStatus, ChannelType
from caffi.server import PVGroup, ServerLimits, pvproperty

from _harness import Pair


class G(PVGroup):
    x = pvproperty(value=1.5, precision=2, units="mm")
    n = pvproperty(value=3)
    ro = pvproperty(value=4, read_only=True)
    arr = pvproperty(value=np.arange(5.0), max_length=100)
    fails = pvproperty(value=0)
    rec = pvproperty(value=2.0, record="ai", units="V")

    @fails.putter
    async def fails(self, instance, value):
        raise RuntimeError("broken putter")


def names(commands):
    return [type(c).__name__ for c in commands]


@pytest.fixture
def pair():
    g = G(prefix="p:")
    p = Pair(g.pvdb)
    p.group = g
    p.handshake()
    return p


def test_greeting_create_read(pair):
    chan, answer = pair.connect("p:x")
    assert names(answer) == ["AccessRightsResponse", "CreateChanResponse"]
    assert answer[1].data_type == ChannelType.DOUBLE and answer[1].data_count == 1
    reading = pair.read(chan, ChannelType.CTRL_DOUBLE)
    assert reading.status.name == "ECA_NORMAL"
    assert reading.data.tolist() == [1.5] and reading.metadata.units == b"mm"


def test_unknown_name_fails_creation(pair):
    chan, answer = pair.connect("p:nothing")
    assert names(answer) == ["CreateChFailResponse"]


def test_record_field_names(pair):
    for name, value in (("p:rec.EGU", [b"V"]), ("p:rec.RTYP", [b"ai"]),
                        ("p:rec.VAL", [b"2"]), ("p:rec.", [b"2"])):
        chan, answer = pair.connect(name)
        assert names(answer)[-1] == "CreateChanResponse", name
        assert pair.read(chan, ChannelType.STRING).data == value, name
    chan, answer = pair.connect("p:x.EGU")        # not a record
    assert names(answer) == ["CreateChFailResponse"]


def test_write_notify_and_failures(pair):
    chan, _ = pair.connect("p:n")
    pair.send(chan.write([7], data_type=ChannelType.LONG, notify=True))
    (done,) = pair.recv()
    assert done.status.name == "ECA_NORMAL" and pair.group.n.value == 7
    chan, _ = pair.connect("p:fails")
    pair.send(chan.write([1], data_type=ChannelType.LONG, notify=True))
    (done,) = pair.recv()
    assert done.status.name == "ECA_PUTFAIL" and not pair.closed
    chan, _ = pair.connect("p:ro")
    pair.send(chan.write([1], data_type=ChannelType.LONG, notify=True))
    (done,) = pair.recv()
    assert done.status.name == "ECA_NOWTACCESS" and pair.group.ro.value == 4
    pair.send(chan.write([1], data_type=ChannelType.LONG))       # no notify: an error message
    (err,) = pair.recv()
    assert type(err).__name__ == "ErrorResponse" and err.status.name == "ECA_NOWTACCESS"


def test_updates_caused_by_a_write_precede_its_completion(pair):
    # (pyepics' caput(wait=True) then caget reads its monitor's cache)
    chan, _ = pair.connect("p:n")
    pair.send(chan.subscribe(data_type=ChannelType.LONG))
    pair.recv()
    pair.send(chan.write([9], data_type=ChannelType.LONG, notify=True))
    answers = pair.recv()
    assert names(answers) == ["EventAddResponse", "WriteNotifyResponse"]
    assert answers[0].data.tolist() == [9]


def test_bad_conversion_is_putfail(pair):
    chan, _ = pair.connect("p:n")
    pair.send(chan.write([b"not a number"], data_type=ChannelType.STRING, notify=True))
    (done,) = pair.recv()
    assert done.status.name == "ECA_PUTFAIL" and pair.group.n.value == 3


def test_access_hook_per_user_and_change_of_user():
    g = G(prefix="p:")

    def access(name, data, host, user):
        return ca.AccessRights.READ if user != "boss" else \
            ca.AccessRights.READ | ca.AccessRights.WRITE
    p = Pair(g.pvdb, access=access)
    p.handshake(user="guest")
    chan, answer = p.connect("p:n")
    assert answer[0].access_rights == ca.AccessRights.READ
    p.send(ca.ClientNameRequest("boss"))
    (rights,) = p.recv()
    assert rights.access_rights == ca.AccessRights.READ | ca.AccessRights.WRITE


def test_subscription_initial_value_masks_and_cancel(pair):
    chan, _ = pair.connect("p:x")
    pair.send(chan.subscribe(data_type=ChannelType.TIME_DOUBLE, mask=ca.DBE_VALUE))
    (first,) = pair.recv()
    assert first.data.tolist() == [1.5]
    sub_id = first.subscriptionid
    x = pair.group.x
    ca_run(x.write(2.5))
    ca_run(x.alarm.write(status=ca.AlarmStatus.STATE, severity=1))   # not in the mask
    pair.reactor.run()
    (update,) = pair.recv()
    assert update.data.tolist() == [2.5]
    pair.send(chan.unsubscribe(sub_id))
    (cancel,) = pair.recv()
    assert type(cancel).__name__ == "EventCancelResponse"
    assert not x.subscribers


def ca_run(coro):
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("waited")


def test_updates_go_out_at_once_while_the_client_reads(pair):
    chan, _ = pair.connect("p:n")
    pair.send(chan.subscribe(data_type=ChannelType.LONG))
    pair.recv()
    sub = next(iter(pair.circuit.subscriptions.values()))
    for i in range(1000):                       # all in one iteration
        ca_run(pair.group.n.write(i))
    assert not sub.queue and sub.dropped == 0
    pair.reactor.run()
    assert [c.data.tolist()[0] for c in pair.recv()] == list(range(1000))


def test_bounded_queue_keeps_the_latest_value(pair):
    chan, _ = pair.connect("p:n")
    pair.send(chan.subscribe(data_type=ChannelType.LONG))
    pair.recv()
    n = pair.group.n
    n.max_subscription_backlog = 100
    sub = next(iter(pair.circuit.subscriptions.values()))
    pair.stall()                                # the client stopped reading
    for i in range(1000):
        ca_run(n.write(i))
    pair.reactor.run()
    assert len(sub.queue) == sub.backlog and pair.recv() == []
    pair.stall(False)
    updates = [c.data.tolist()[0] for c in pair.recv()]
    assert len(updates) == sub.backlog and updates[-1] == 999
    assert updates == list(range(99)) + [999]   # the newest replaced the last queued


def test_events_off_holds_updates_until_on(pair):
    chan, _ = pair.connect("p:n")
    pair.send(chan.subscribe(data_type=ChannelType.LONG))
    pair.recv()
    pair.send(ca.EventsOffRequest())
    for i in range(5):
        ca_run(pair.group.n.write(100 + i))
    pair.reactor.run()
    assert pair.recv() == []
    pair.send(ca.EventsOnRequest())
    assert [c.data.tolist()[0] for c in pair.recv()][-1] == 104


def test_removed_pv_disconnects_its_clients(pair):
    chan, _ = pair.connect("p:x")
    pair.send(chan.subscribe())
    pair.recv()
    pair.core.remove_pv("p:x")
    pair.reactor.run()
    (gone,) = pair.recv()
    assert type(gone).__name__ == "ServerDisconnResponse"
    assert not pair.group.x.subscribers
    pair.core.add_pv("p:x", pair.group.x)
    chan2, answer = pair.connect("p:x")
    assert names(answer)[-1] == "CreateChanResponse"


def test_answers_beyond_max_array_bytes_are_refused(pair):
    chan, _ = pair.connect("p:arr")
    pair.circuit.max_answer = 16
    err = pair.read(chan, ChannelType.DOUBLE, count=100)
    assert type(err).__name__ == "ErrorResponse" and err.status.name == "ECA_TOLARGE"


def test_channel_budget_per_circuit():
    g = G(prefix="p:")
    p = Pair(g.pvdb, limits=ServerLimits(channels_per_circuit=3))
    p.handshake()
    for i in range(3):
        p.connect("p:x")
    chan = ca.ClientChannel("p:x", p.client)
    p.send_bytes(bytes(chan.create()))          # past the budget: the connection closes
    p.reactor.run()
    assert p.closed and any("more than 3 channels" in r for _, r in p.core.refusals)


def test_server_wide_subscription_budget():
    g = G(prefix="p:")
    p = Pair(g.pvdb, limits=ServerLimits(subscriptions_total=2))
    p.handshake()
    chan, _ = p.connect("p:x")
    for i in range(3):
        p.send(chan.subscribe())
    answers = p.recv()
    assert names(answers).count("EventAddResponse") == 2
    (err,) = [c for c in answers if type(c).__name__ == "ErrorResponse"]
    assert err.status.name == "ECA_ALLOCMEM" and not p.closed


def test_idle_peer_is_closed():
    g = G(prefix="p:")
    p = Pair(g.pvdb, limits=ServerLimits(idle_circuit_timeout=5.0))
    p.reactor.advance(4.9)
    assert not p.closed
    p.reactor.advance(0.2)
    assert p.closed and any("no channel" in r for _, r in p.core.refusals)


def test_oversized_message_closes_before_it_is_buffered(pair):
    header = struct.pack(">HHHHIIII", 4, 0xFFFF, 6, 0, 1, 1, 1 << 30, 1 << 27)
    pair.send_bytes(header)
    assert pair.closed


def _random_message(rng, sids):
    command = rng.choice([0, 1, 2, 4, 6, 8, 12, 14, 15, 18, 19, 20, 21, 23, 29, 99, 65535])
    payload = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 8, 16, 40])))
    p1 = rng.choice(sids + [0, 0xFFFFFFFF, rng.getrandbits(32)])
    dtype = rng.choice([0, 6, 14, 34, 38, 39, 400])
    count = rng.choice([0, 1, 2, 100, 0xFFFF])
    return struct.pack(">HHHHII", command, len(payload), dtype, count, p1,
                       rng.getrandbits(32)) + payload


def test_hostile_inputs_only_close_the_circuit():
    """100,000 random messages over many circuits: each either works or
    closes its connection with a logged reason; the server core stays sane."""
    rng = random.Random(1234)
    g = G(prefix="p:")
    sent = 0
    while sent < 100_000:
        p = Pair(g.pvdb)
        p.handshake()
        chan, _ = p.connect("p:x")
        sids = list(p.circuit.channels)
        while not p.closed and sent < 100_000:
            p.send_bytes(_random_message(rng, sids))
            sent += 1
        p.conn.close("test over")
        p.reactor.run()
        assert p.conn.closed
        assert not p.circuit.channels and p.circuit not in p.core.circuits
    assert all(not d.subscribers for d in g.pvdb.values())

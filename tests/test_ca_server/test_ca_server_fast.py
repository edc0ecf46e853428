"""The CA server's fast paths against its generic path, byte for byte.

The generic path builds message objects (ReadNotifyResponse,
EventAddResponse) from ChannelData.read_now and runs them through the
protocol circuit; the fast paths pack headers over ChannelData.payload
(compiled encoders for scalars) and check guards derived from the
transition tables.  Each test runs both and compares what the client gets.
"""
import itertools

import numpy as np
import pytest

import caffi.protocol as ca
from caffi.protocol import (AlarmSeverity, AlarmStatus, CaprotoConversionError, ChannelType,
                            ReadNotifyResponse)
from caffi.protocol._data import scalar_encoder
from caffi.protocol._sentinels import CLIENT, SERVER
from caffi.protocol._state import CHANNEL_TRANSITIONS
from caffi.server import PVGroup, pvproperty
from caffi.server import _fast

from _harness import Pair

READ_TYPES = [t for t in range(39) if t not in (35, 36)]


def _datas():
    """ChannelData of every class, scalars (with alarms) and arrays."""
    out = []
    for value in (1.5, -0.0, float("nan"), 1e300, 3, 123456.789):
        out.append(ca.ChannelDouble(value=value, precision=3, units="mm",
                                    upper_disp_limit=10.0, timestamp=(1000, 5)))
    for value in (1.5, 3.4e38, 1e40, 1e-45):
        out.append(ca.ChannelFloat(value=value, precision=2, timestamp=1.7e9 + 0.25))
    for value in (5, -2 ** 31, 2 ** 31 - 1, 70000):
        out.append(ca.ChannelInteger(value=value, units="cnt"))
    for value in (7, -32768, 32767):
        out.append(ca.ChannelShort(value=value))
    out.append(ca.ChannelEnum(value="b", enum_strings=("a", "b", "c")))
    out.append(ca.ChannelString(value="text"))
    out.append(ca.ChannelChar(value="chars", max_length=20))
    out.append(ca.ChannelByte(value=b"\x01\x02\x03", max_length=10))
    out.append(ca.ChannelDouble(value=np.arange(5.0), max_length=10))
    out.append(ca.ChannelInteger(value=[1, 2, 3]))
    alarmed = ca.ChannelDouble(value=2.5, timestamp=(7, 8))
    alarmed.alarm.apply(status=AlarmStatus.HIHI, severity=AlarmSeverity.MAJOR_ALARM)
    out.append(alarmed)
    return out


def _generic_payload(data, data_type, count):
    values, metadata = data.read_now(data_type, count)
    raw = bytes(ReadNotifyResponse(values, data_type, count, ca.CAStatus.ECA_NORMAL, 1,
                                   metadata=metadata))
    header = ca.MessageHeader(*__import__("struct").unpack(">HHHHII", raw[:16]))
    if header.payload_size == 0xFFFF:
        size, n = __import__("struct").unpack(">II", raw[16:24])
        return raw[24:], n, size
    return raw[16:], header.data_count, header.payload_size


@pytest.mark.parametrize("data", _datas(), ids=lambda d: "%s=%r" % (type(d).__name__,
                                                                   d.value))
def test_payload_is_the_generic_encoding(data):
    compiled = 0
    for data_type, count in itertools.product(READ_TYPES, (None, 1, 3)):
        try:
            expected = _generic_payload(data, data_type, count)
        except CaprotoConversionError:
            with pytest.raises(CaprotoConversionError):
                data.payload(data_type, count)
            continue
        buffers, n, size = data.payload(data_type, count)
        assert (b"".join(bytes(b) for b in buffers), n, size) == expected, (data_type, count)
        if count in (None, 1) and data.max_length == 1 and type(data.value) in (int, float) \
                and scalar_encoder(type(data), data_type) is not None:
            compiled += 1
    if isinstance(data, (ca.ChannelDouble, ca.ChannelInteger)) and data.max_length == 1:
        assert compiled >= 6, "the compiled encoders were not exercised"


def test_compiled_encoders_exist_for_the_scalar_types():
    for cls in (ca.ChannelDouble, ca.ChannelFloat, ca.ChannelInteger, ca.ChannelShort):
        native = int(cls.data_type)
        for offset in (0, 7, 14):
            assert scalar_encoder(cls, native + offset) is not None
        assert scalar_encoder(cls, native + 21) is None      # GR: the general path
    assert scalar_encoder(ca.ChannelEnum, 3) is None


class G(PVGroup):
    d = pvproperty(value=1.25, precision=2, units="mm", upper_ctrl_limit=100.0,
                   lower_ctrl_limit=-100.0, upper_alarm_limit=90.0)
    f = pvproperty(value=2.5, dtype=ChannelType.FLOAT)
    i = pvproperty(value=42, upper_warning_limit=50, lower_warning_limit=-50)
    s = pvproperty(value=3, dtype=ChannelType.INT)
    e = pvproperty(value="On", dtype=ChannelType.ENUM, enum_strings=("Off", "On"))
    t = pvproperty(value="text", dtype=ChannelType.STRING)
    arr = pvproperty(value=np.arange(6.0), max_length=10)
    rec = pvproperty(value=4.0, record="ai", units="V")


def _pair(fast):
    g = G(prefix="p:")
    p = Pair(g.pvdb)
    p.group = g
    p.taken = 0
    if fast:
        real_read, real_write = p.circuit._fast_read, p.circuit._fast_write
        real_create = p.circuit._fast_create

        def counted(real):
            def wrapper(frame):
                ok = real(frame)
                p.taken += ok
                return ok
            return wrapper
        p.circuit._fast_read = counted(real_read)
        p.circuit._fast_write = counted(real_write)
        p.circuit._fast_create = counted(real_create)
    else:
        p.circuit.fast_updates = False
        p.circuit._fast_read = p.circuit._fast_write = p.circuit._fast_create = \
            lambda frame: False
    p.handshake()
    return p


def run(coro):
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("waited")


def _both():
    return _pair(True), _pair(False)


def test_reads_answer_as_the_generic_path():
    fast, generic = _both()
    for name in ("p:d", "p:f", "p:i", "p:s", "p:e", "p:t", "p:arr", "p:rec", "p:rec.EGU"):
        chans = [p.connect(name)[0] for p in (fast, generic)]
        for p in (fast, generic):               # the same time stamp in both
            run(p.core.find(name).write_metadata(timestamp=(1000, 5)))
        for data_type, count in itertools.product(READ_TYPES, (0, 1, 2, 11)):
            got = []
            for p, chan in zip((fast, generic), chans):
                p.send(chan.read(data_type=data_type, data_count=count))
                p.reactor.run()
                got.append(b"".join(p.transport.written))
                p.transport.written.clear()
                p.client._ioids.clear()
            assert got[0] == got[1], (name, data_type, count)
    assert fast.taken > 500 and generic.taken == 0


def test_writes_store_and_post_as_the_generic_path():
    fast, generic = _both()
    values = {"p:d": [0.5, 95.0, 1e9, -100.0, float("nan")], "p:f": [1.5, -3.25],
              "p:i": [7, 60, -2 ** 31], "p:s": [-5, 300], "p:rec": [1.0, 2.0]}
    types = {"p:d": ChannelType.DOUBLE, "p:f": ChannelType.FLOAT, "p:i": ChannelType.LONG,
             "p:s": ChannelType.INT, "p:rec": ChannelType.DOUBLE}
    for name, vals in values.items():
        chans = []
        for p in (fast, generic):
            chan, _ = p.connect(name)
            p.send(chan.subscribe(data_type=ChannelType.STS_DOUBLE))
            p.recv()
            chans.append(chan)
        for v in vals:
            got = []
            for p, chan in zip((fast, generic), chans):
                p.send(chan.write([v], data_type=types[name]))
                p.reactor.run()
                got.append(b"".join(p.transport.written))
                p.transport.written.clear()
            assert got[0] == got[1], (name, v)
        assert fast.group.pvdb[name].value == generic.group.pvdb[name].value or (
            np.isnan(fast.group.pvdb[name].value) and np.isnan(generic.group.pvdb[name].value))
    assert fast.taken >= 12 and generic.taken == 0


def test_fast_write_refusals_as_the_generic_path():
    """A write outside the control limits: the same error message either way."""
    fast, generic = _both()
    got = []
    for p in (fast, generic):
        chan, _ = p.connect("p:d")
        p.send(chan.write([1000.0], data_type=ChannelType.DOUBLE))
        p.reactor.run()
        got.append(p.recv())
    assert bytes(got[0][0]) == bytes(got[1][0])
    assert got[0][0].status.name == "ECA_PUTFAIL"


def _server_circuit_with_channel(state):
    """A protocol circuit in the SERVER role with one channel, forced into ``state``."""
    vc = ca.VirtualCircuit(SERVER, ("127.0.0.1", 1), None)
    vc.process_command(ca.VersionRequest(0, 13))
    vc._process(SERVER, ca.VersionResponse(13))
    vc.process_command(ca.CreateChanRequest("x", 1, 13))
    vc._process(SERVER, ca.AccessRightsResponse(1, 3))
    vc._process(SERVER, ca.CreateChanResponse(6, 1, 1, 7))
    vc.event_add_commands[9] = ca.EventAddRequest(6, 1, 7, 9)
    vc.channels_sid[7]._state = state
    return vc


def _generic_keeps(state, steps):
    vc = _server_circuit_with_channel(state)
    try:
        for sender, command in steps:
            vc._process(sender, command)
    except ca.ProtocolError:
        return False
    return vc.channels_sid.get(7) is not None and vc.channels_sid[7]._state == state \
        and not vc._ioids


STATES = sorted({s for (s, _) in CHANNEL_TRANSITIONS} | set(CHANNEL_TRANSITIONS.values()),
                key=repr)


@pytest.mark.parametrize("state", STATES, ids=repr)
def test_guards_are_where_the_generic_path_changes_nothing(state):
    read = [(CLIENT, ca.ReadNotifyRequest(6, 1, 7, 3)),
            (SERVER, ca.ReadNotifyResponse([1.0], 6, 1, 1, 3))]
    write = [(CLIENT, ca.WriteRequest([1.0], 6, 1, 7, 3))]
    update = [(SERVER, ca.EventAddResponse([1.0], 6, 1, 1, 9))]
    assert (state in _fast.READ_KEEPS) == _generic_keeps(state, read)
    assert (state in _fast.WRITE_KEEPS) == _generic_keeps(state, write)
    assert (state in _fast.UPDATE_KEEPS) == _generic_keeps(state, update)
    vc = _server_circuit_with_channel(state)

    class Circuit:                  # what update_ok reads of a server circuit
        open = _fast.circuit_open(vc)[1]
    Circuit.vc = vc

    class Sub:
        subscriptionid = 9

        class chan:
            vchan = vc.channels_sid[7]
    assert _fast.update_ok(Circuit, Sub) == (state in _fast.UPDATE_KEEPS)


def _generic_answer(core, data):
    try:
        commands = ca.read_datagram(data, ("127.0.0.1", 1), CLIENT)
    except ca.RemoteProtocolError:
        return b""
    return b"".join(bytes(c) for c in core.search_replies(commands, ("127.0.0.1", 1)))


def test_search_answers_as_the_generic_path():
    import random
    import struct
    rng = random.Random(7)
    g = G(prefix="p:")
    core = Pair(g.pvdb).core
    core.tcp_port = 5999
    names = [b"p:d", b"p:rec.EGU", b"p:nothing", b"", b"p:\xe9", b"p:t\x00junk"]

    def message():
        kind = rng.random()
        if kind < 0.6:
            name = rng.choice(names)
            raw = name + b"\x00" * rng.choice([0, 1, 3])
            raw += b"\x00" * (-len(raw) % 8) if rng.random() < 0.95 else b"\x01"
            return struct.pack(">HHHHII", 6, len(raw), rng.choice([5, 10, 0]), 13,
                               rng.getrandbits(32), rng.getrandbits(32)) + raw
        if kind < 0.8:
            return struct.pack(">HHHHII", 0, 0, 0, 13, rng.getrandbits(16), 0)
        command = rng.choice([1, 6, 23, 24, 0xFFFF])
        body = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 8, 5])))
        return struct.pack(">HHHHII", command, len(body), 0, 0, 0, 0) + body
    fast = 0
    for _ in range(3000):
        data = b"".join(message() for _ in range(rng.randint(1, 6)))
        if rng.random() < 0.05:
            data = data[:rng.randrange(len(data))]
        assert core.answer_datagram(data, ("127.0.0.1", 1)) == _generic_answer(core, data), data
        fast += core_search_fast(core, data) is not None
    assert fast > 1000
    assert b"\x00\x06" in core.answer_datagram(
        bytes(ca.SearchRequest("p:d", 5, 13)), ("127.0.0.1", 1))


def core_search_fast(core, data):
    from caffi.server.core import _search_fast
    return _search_fast(data, core.pvdb.get, core.find, core.tcp_port)


def _vc_state(vc):
    return (vc._state, {cid: (c.name, c.sid, c._state, int(c.access_rights), c.native_data_type,
                              c.native_data_count, c.protocol_version)
                        for cid, c in vc.channels.items()},
            sorted(vc.channels_sid))


def test_creates_answer_as_the_generic_path():
    fast, generic = _both()
    got = []
    for p in (fast, generic):
        out = []
        for name in ("p:d", "p:nothing", "p:rec.EGU", "p:arr", "p:e", "p:d"):
            chan = ca.ClientChannel(name, p.client)
            p.send(chan.create())
            p.reactor.run()
            out.append(b"".join(p.transport.written))
            p.transport.written.clear()
        out.append(_vc_state(p.circuit.vc))
        out.append(sorted((c.sid, c.cid, c.name, c.rights) for c in p.circuit.channels.values()))
        got.append(out)
    assert got[0] == got[1]
    assert fast.taken == 5 and generic.taken == 0


def test_a_reused_cid_is_a_violation_either_way():
    import struct
    for p in _both():
        chan, _ = p.connect("p:d")
        raw = b"p:f\x00\x00\x00\x00\x00"
        p.send_bytes(struct.pack(">HHHHII", 18, len(raw), 0, 0, chan.cid, 13) + raw)
        assert p.closed and any("CreateChanRequest" in r for _, r in p.core.refusals)


def test_accept_channel_is_the_creation_exchange():
    """accept_channel leaves a protocol circuit as the three messages do."""
    def fresh():
        vc = ca.VirtualCircuit(SERVER, ("127.0.0.1", 1), None)
        vc.process_command(ca.VersionRequest(0, 13))
        vc._process(SERVER, ca.VersionResponse(13))
        return vc
    one, three = fresh(), fresh()
    assert one.accept_channel("x", 4, 13, ChannelType.DOUBLE, 1, 9,
                              ca.AccessRights.READ) is one.channels[4]
    three.process_command(ca.CreateChanRequest("x", 4, 13))
    three._process(SERVER, ca.AccessRightsResponse(4, ca.AccessRights.READ))
    three._process(SERVER, ca.CreateChanResponse(ChannelType.DOUBLE, 1, 4, 9))
    assert _vc_state(one) == _vc_state(three)
    # the channel object itself, attribute by attribute (accept_channel makes
    # it without ServerChannel.__init__)
    made, generic = one.channels[4], three.channels[4]
    assert type(made) is type(generic) and made.circuit is one and generic.circuit is three
    assert ({k: v for k, v in vars(made).items() if k != "circuit"}
            == {k: v for k, v in vars(generic).items() if k != "circuit"})
    # refused where the messages would be: the same cid, the same sid, a full circuit
    assert one.accept_channel("y", 4, 13, 6, 1, 10, 3) is None
    assert one.accept_channel("y", 5, 13, 6, 1, 9, 3) is None
    one.max_channels = 1
    assert one.accept_channel("y", 5, 13, 6, 1, 10, 3) is None
    assert _vc_state(one) == _vc_state(three)
    unopened = ca.VirtualCircuit(SERVER, ("127.0.0.1", 1), None)
    assert unopened.accept_channel("x", 4, 13, 6, 1, 9, 3) is None and not unopened.channels


class Big(PVGroup):
    small = pvproperty(value=1.0)
    big = pvproperty(value=np.arange(100_000, dtype=float), max_length=100_000)


def test_large_answers_and_updates_in_order_as_the_generic_path():
    """Large answers go to the transport at once, after what was queued (a
    count of 100,000 needs the extended header in the request too)."""
    got = []
    for fast in (True, False):
        g = Big(prefix="p:")
        p = Pair(g.pvdb, max_array_bytes=10_000_000)
        p.client = ca.VirtualCircuit(CLIENT, ("127.0.0.1", 5064), 0, max_array_bytes=10_000_000)
        taken = []
        if fast:
            real = p.circuit._fast_read
            p.circuit._fast_read = lambda frame: taken.append(real(frame)) or taken[-1]
        else:
            p.circuit.fast_updates = False
            p.circuit._fast_read = p.circuit._fast_write = p.circuit._fast_create = \
                lambda frame: False
        p.handshake()
        small, _ = p.connect("p:small")
        big, _ = p.connect("p:big")
        for chan in (small, big):
            run(p.core.find(chan.name).write_metadata(timestamp=(1000, 5)))
        p.send(small.read(), big.read(data_type=ChannelType.TIME_DOUBLE), small.read(),
               big.subscribe(data_type=ChannelType.DOUBLE))
        run(g.big.write(np.arange(100_000, dtype=float) * 2))
        p.reactor.run()
        got.append(b"".join(p.transport.written))
        answers = p.recv()
        assert taken == ([True] * 3 if fast else [])
    assert got[0] == got[1]
    assert [type(a).__name__ for a in answers] == ["ReadNotifyResponse"] * 3 + [
        "EventAddResponse"] * 2
    assert answers[1].data[-1] == 99_999 and answers[4].data[-1] == 199_998


def test_a_large_answer_starts_with_its_header_and_payload_in_one_write():
    """The header of a large answer is not written alone (its own TCP
    segment, one more wake-up of the client per array)."""
    from caffi.server.circuit import LARGE_HEAD
    g = Big(prefix="p:")
    p = Pair(g.pvdb, max_array_bytes=10_000_000)
    p.client = ca.VirtualCircuit(CLIENT, ("127.0.0.1", 5064), 0, max_array_bytes=10_000_000)
    p.handshake()
    big, _ = p.connect("p:big")
    p.recv()
    for data_type, metadata in ((ChannelType.DOUBLE, 0), (ChannelType.TIME_DOUBLE, 16)):
        p.send(big.read(data_type=data_type))
        p.reactor.run()
        writes = [bytes(w) for w in p.transport.written]
        first = next(w for w in writes if w[:2] == b"\x00\x0f")
        assert len(first) == 24 + LARGE_HEAD
        values = np.frombuffer(first[24 + metadata:], ">f8")
        assert values[:3].tolist() == [0.0, 1.0, 2.0]
        (answer,) = p.recv()
        assert answer.data[-1] == 99_999


def test_a_create_of_a_large_array_answers_as_the_generic_path():
    """A native count of 65,535 or more takes the extended CREATE_CHAN header."""
    got = []
    for fast in (True, False):
        p = Pair(Big(prefix="p:").pvdb, max_array_bytes=10_000_000)
        taken = []
        if fast:
            real = p.circuit._fast_create
            p.circuit._fast_create = lambda frame: taken.append(real(frame)) or taken[-1]
        else:
            p.circuit._fast_create = lambda frame: False
        p.handshake()
        p.transport.written.clear()
        p.send(ca.ClientChannel("p:big", p.client).create())
        p.reactor.run()
        got.append((b"".join(p.transport.written), _vc_state(p.circuit.vc)))
        assert taken == ([True] if fast else [])
    assert got[0] == got[1]
    (chan,) = got[0][1][1].values()
    assert len(got[0][0]) == 16 + 24 and chan[5] == 100_000

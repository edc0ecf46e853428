"""Tests of pva._header: header, control messages, Deframer and Framer."""
from __future__ import annotations

import random
import struct
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pva._errors import DecodeError, RemoteProtocolError
from pva._framing import Deframer, Framer
from pva._header import (
    BIG_ENDIAN,
    LITTLE_ENDIAN,
    AcknowledgeMarker,
    ApplicationCommand,
    ControlMessage,
    Direction,
    EchoRequest,
    EchoResponse,
    Frame,
    FramingError,
    Header,
    Segment,
    SetByteOrder,
    SetMarker,
    UnknownControlMessage,
    decode_header,
    encode_header,
)

BYTE_ORDERS = [LITTLE_ENDIAN, BIG_ENDIAN]


def join(buffers):
    return b"".join(bytes(b) for b in buffers)


def summary(items):
    """Comparable form of deframer output."""
    out = []
    for it in items:
        if isinstance(it, Frame):
            out.append(("F", it.version, it.flags, it.command, bytes(it.payload)))
        else:
            out.append(("C", type(it).__name__, it.encode()))
    return out


# ------------------------------------------------------------------ header


@pytest.mark.parametrize("bo", BYTE_ORDERS)
def test_header_round_trip(bo):
    raw = encode_header(ApplicationCommand.GET, 0x01020304, direction=Direction.SERVER,
                        byte_order=bo)
    size = b"\x04\x03\x02\x01" if bo == "<" else b"\x01\x02\x03\x04"
    flags = 0x40 | (0x80 if bo == ">" else 0)
    assert raw == bytes([0xCA, 2, flags, 10]) + size
    head = decode_header(raw)
    assert head == Header(2, flags, 10, 0x01020304)
    assert head.byte_order == bo
    assert head.direction is Direction.SERVER
    assert head.segment is Segment.NONE
    assert not head.is_control
    assert head.encode() == raw
    assert Header.decode(b"xx" + raw, 2) == head


def test_header_known_vectors():
    # pvxs server: SetByteOrder control message, little endian host
    assert SetByteOrder(0, Direction.SERVER, "<").encode() == bytes.fromhex("ca02410200000000")
    assert SetByteOrder(0, Direction.SERVER, "big").encode() == bytes.fromhex("ca02c10200000000")
    # pvxs client echo (application message, empty payload)
    assert encode_header(ApplicationCommand.ECHO, 0) == bytes.fromhex("ca02000200000000")


def test_header_errors():
    with pytest.raises(FramingError):
        decode_header(b"\xca\x02\x00")
    with pytest.raises(FramingError):
        decode_header(bytes.fromhex("cb02000200000000"))
    assert issubclass(FramingError, DecodeError)
    assert issubclass(FramingError, RemoteProtocolError)
    from pva._errors import LocalProtocolError
    with pytest.raises(LocalProtocolError):
        encode_header(1, 1 << 32)
    with pytest.raises(LocalProtocolError):
        encode_header(256, 0)
    with pytest.raises(ValueError):
        encode_header(1, 0, byte_order="middle")


# ------------------------------------------------------------------ control


CONTROL_CLASSES = [SetMarker, AcknowledgeMarker, SetByteOrder, EchoRequest, EchoResponse]


@pytest.mark.parametrize("bo", BYTE_ORDERS)
@pytest.mark.parametrize("cls", CONTROL_CLASSES)
@pytest.mark.parametrize("direction", list(Direction))
def test_control_round_trip(cls, bo, direction):
    msg = cls(0x0A0B0C0D, direction, bo)
    raw = msg.encode()
    assert len(raw) == 8
    assert raw[2] & 0x01
    assert raw[3] == cls.command
    assert raw[4:] == struct.pack(bo + "I", 0x0A0B0C0D)
    back = ControlMessage.decode(raw)
    assert type(back) is cls and back == msg
    with pytest.raises(Exception):
        msg.value = 1  # frozen


def test_control_keeps_odd_flag_bits():
    # reserved and segmentation bits on a control message survive a round trip
    raw = bytes.fromhex("ca02fb0b00000000")
    msg = ControlMessage.decode(raw)
    assert msg.other_flags == 0x3A and msg.byte_order == ">"
    assert msg.encode() == raw
    (item,) = Deframer().feed(raw)
    assert item.encode() == raw


def test_error_carries_earlier_messages():
    good = encode_header(10, 2) + b"ok"
    d = Deframer()
    with pytest.raises(FramingError) as info:
        d.feed(good + SetMarker(1).encode() + bytes.fromhex("cb02000200000000"))
    assert [type(m).__name__ for m in info.value.messages] == ["Frame", "SetMarker"]
    assert info.value.offset == 18


def test_unknown_control():
    raw = bytes.fromhex("ca02c1ff01020304")
    msg = ControlMessage.decode(raw)
    assert isinstance(msg, UnknownControlMessage)
    assert msg.code == 0xFF and msg.value == 0x01020304 and msg.byte_order == ">"
    assert msg.direction is Direction.SERVER
    assert msg.encode() == raw
    with pytest.raises(FramingError):
        ControlMessage.decode(encode_header(1, 0))


# ------------------------------------------------------------------ framer


@pytest.mark.parametrize("bo", BYTE_ORDERS)
def test_framer_unsegmented(bo):
    fr = Framer(Direction.CLIENT, bo)
    payload = b"hello"
    out = fr.encode(ApplicationCommand.RPC, [payload, b"", b"!"])
    assert out[1] is payload
    assert join(out) == encode_header(20, 6, byte_order=bo) + b"hello!"
    assert join(fr.encode(7)) == encode_header(7, 0, byte_order=bo)


@pytest.mark.parametrize("bo", BYTE_ORDERS)
def test_framer_segments_without_copying(bo):
    big = bytes(range(256)) * 40  # 10240 bytes
    fr = Framer(Direction.SERVER, bo, max_segment_size=4096)
    out = fr.encode(ApplicationCommand.MONITOR, [b"head", big])
    headers = [decode_header(b) for b in out if len(b) == 8 and bytes(b)[0] == 0xCA]
    assert [h.segment for h in headers] == [Segment.FIRST, Segment.MIDDLE, Segment.LAST]
    assert [h.payload_size for h in headers] == [4096, 4096, 10244 - 8192]
    assert all(h.direction is Direction.SERVER and h.byte_order == bo for h in headers)
    views = [b for b in out if isinstance(b, memoryview)]
    assert views and all(v.obj is big for v in views)  # slices, not copies
    frames = Deframer().feed(join(out))
    assert len(frames) == 1
    assert bytes(frames[0].payload) == b"head" + big
    assert frames[0].segment is Segment.NONE
    assert frames[0].byte_order == bo


def test_framer_numpy_payload_and_exact_limit():
    arr = np.arange(1000, dtype=np.float64)
    fr = Framer(max_segment_size=3000)
    out = fr.encode(11, [arr])
    frames = Deframer().feed(join(out))
    assert np.frombuffer(frames[0].payload, np.float64).tolist() == arr.tolist()
    # payload exactly the segment size: not segmented
    out = fr.encode(11, bytes(3000))
    assert len(out) == 2 and decode_header(out[0]).segment is Segment.NONE
    # one byte over: two segments
    out = fr.encode(11, bytes(3001))
    assert [decode_header(out[0]).segment, decode_header(out[2]).segment] == [
        Segment.FIRST, Segment.LAST]


# ------------------------------------------------------------------ deframer basics


@pytest.mark.parametrize("bo", BYTE_ORDERS)
def test_deframer_simple(bo):
    fr = Framer(Direction.SERVER, bo)
    stream = (SetByteOrder(0, Direction.SERVER, bo).encode()
              + join(fr.encode(1, b"\x00\x00\x01\x00\xff\x7f"))
              + join(fr.encode(2, b"")))
    d = Deframer(direction=Direction.SERVER)
    items = d.feed(stream)
    assert isinstance(items[0], SetByteOrder) and items[0].byte_order == bo
    assert items[1].command == 1 and bytes(items[1].payload) == b"\x00\x00\x01\x00\xff\x7f"
    assert items[1].byte_order == bo and items[1].direction is Direction.SERVER
    assert items[2].command == 2 and len(items[2].payload) == 0
    assert d.at_boundary()
    d.close()


def test_deframer_payload_is_view_of_input():
    data = join(Framer().encode(10, bytes(100))) * 3
    frames = Deframer().feed(data)
    assert len(frames) == 3
    assert all(f.payload.obj is data for f in frames)


def test_deframer_bytearray_input_is_copied():
    data = bytearray(join(Framer().encode(10, b"abcd")))
    frames = Deframer().feed(data)
    data[8:] = b"zzzz"
    assert bytes(frames[0].payload) == b"abcd"


def test_deframer_byte_by_byte():
    msgs = [join(Framer(byte_order=bo).encode(c, bytes([c]) * c))
            for c in range(20) for bo in BYTE_ORDERS]
    stream = b"".join(msgs)
    d = Deframer()
    out = []
    for i in range(len(stream)):
        out.extend(d.feed(stream[i:i + 1]))
        assert d.buffered <= 8 + 19
    assert summary(out) == summary(Deframer().feed(stream))
    assert len(out) == 40


def test_control_inside_segmented_message():
    fr = Framer(Direction.CLIENT, max_segment_size=4)
    bufs = fr.encode(11, b"0123456789")
    segs = []
    i = 0
    while i < len(bufs):
        segs.append(bytes(bufs[i]) + b"".join(bytes(b) for b in bufs[i + 1:i + 2]))
        i += 2
    marker = SetMarker(123).encode()
    stream = segs[0] + marker + segs[1] + EchoRequest(7).encode() + segs[2]
    items = Deframer(direction=Direction.CLIENT).feed(stream)
    assert [type(x).__name__ for x in items] == ["SetMarker", "EchoRequest", "Frame"]
    assert bytes(items[2].payload) == b"0123456789"


def test_reassemble_false_keeps_segments():
    fr = Framer(Direction.CLIENT, max_segment_size=3)
    stream = join(fr.encode(13, b"abcdefgh")) + join(fr.encode(2, b""))
    d = Deframer(reassemble=False)
    items = d.feed(stream)
    assert [f.segment for f in items] == [Segment.FIRST, Segment.MIDDLE, Segment.LAST,
                                          Segment.NONE]
    assert join(b for f in items for b in f.encode()) == stream


# ------------------------------------------------------------------ violations


def seg(cmd, flag, payload=b"x", bo="<", direction=Direction.CLIENT):
    return encode_header(cmd, len(payload), flags=flag, byte_order=bo,
                         direction=direction) + payload


@pytest.mark.parametrize("stream, what", [
    (bytes.fromhex("cb02000200000000"), "magic"),
    (bytes.fromhex("ca00000200000000"), "version"),
    (seg(10, 0x20), "without a first"),
    (seg(10, 0x30), "without a first"),
    (seg(10, 0x10) + seg(10, 0x10), "incomplete"),
    (seg(10, 0x10) + seg(10, 0x00), "incomplete"),
    (seg(10, 0x10) + seg(11, 0x20), "inside segmented"),
    (seg(10, 0x10) + seg(11, 0x30), "inside segmented"),
    (seg(10, 0x00, direction=Direction.SERVER), "direction"),
])
def test_violations(stream, what):
    for reassemble in (True, False):
        d = Deframer(direction=Direction.CLIENT, reassemble=reassemble)
        with pytest.raises(FramingError, match=what):
            d.feed(stream)
        # sticky: a dead deframer stays dead
        with pytest.raises(FramingError):
            d.feed(seg(1, 0))
        # same outcome byte by byte
        d = Deframer(direction=Direction.CLIENT, reassemble=reassemble)
        with pytest.raises(FramingError, match=what):
            for i in range(len(stream)):
                d.feed(stream[i:i + 1])


@pytest.mark.parametrize("bo", BYTE_ORDERS)
def test_oversize_rejected_before_buffering(bo):
    d = Deframer(max_message_size=1000)
    # the header alone is enough to reject the message
    with pytest.raises(FramingError, match="exceeds"):
        d.feed(encode_header(10, 1001, byte_order=bo))
    d = Deframer(max_message_size=1000)
    d.feed(encode_header(10, 1000, byte_order=bo) + bytes(999))
    assert d.buffered == 1007
    assert len(d.feed(b"\x00")) == 1
    # a huge announced size, header split over two chunks
    d = Deframer(max_message_size=1000)
    d.feed(b"\xca\x02\x00\x0a")
    with pytest.raises(FramingError, match="exceeds"):
        d.feed(b"\xff\xff\xff\xff")


def test_oversize_segmented_total():
    fr = Framer(max_segment_size=400)
    stream = join(fr.encode(10, bytes(1001)))
    with pytest.raises(FramingError, match="exceeds"):
        Deframer(max_message_size=1000).feed(stream)
    assert len(Deframer(max_message_size=1001).feed(stream)) == 1
    # the next segment's header is enough to refuse: nothing more is buffered
    d = Deframer(max_message_size=1000)
    d.feed(seg(10, 0x10, bytes(999)))
    assert d.buffered == 999
    with pytest.raises(FramingError, match="exceeds"):
        d.feed(encode_header(10, 2, flags=0x20))


def test_close_inside_message():
    d = Deframer()
    d.feed(seg(10, 0)[:5])
    with pytest.raises(FramingError, match="ended"):
        d.close()
    d = Deframer()
    d.feed(seg(10, 0x10))
    assert d.in_segmented_message
    with pytest.raises(FramingError):
        d.close()


# ------------------------------------------------------------------ hypothesis round trips


@st.composite
def message_streams(draw):
    """A list of (kind, ...) message descriptions and their encoding."""
    direction = draw(st.sampled_from(list(Direction)))
    items = draw(st.lists(
        st.one_of(
            st.tuples(st.just("app"), st.integers(0, 255), st.binary(max_size=200),
                      st.sampled_from(BYTE_ORDERS),
                      st.one_of(st.none(), st.integers(1, 64))),
            st.tuples(st.just("ctl"), st.integers(0, 5), st.integers(0, 2**32 - 1),
                      st.sampled_from(BYTE_ORDERS)),
        ),
        max_size=12))
    return direction, items


def encode_items(direction, items):
    """Encoding and expected reassembled output, with controls interleaved."""
    fr = Framer(direction)
    stream = []
    expected = []
    for it in items:
        if it[0] == "app":
            _, cmd, payload, bo, limit = it
            bufs = fr.encode(cmd, payload, byte_order=bo, max_segment_size=limit)
            stream.append(join(bufs))
            flags = (0x40 if direction else 0) | (0x80 if bo == ">" else 0)
            expected.append(("F", 2, flags, cmd, payload))
        else:
            _, cmd, value, bo = it
            raw = ControlMessage.from_header(Header(2, 1, cmd, value))
            raw = type(raw)(value, direction, bo, 2, **(
                {"code": cmd} if isinstance(raw, UnknownControlMessage) else {}))
            stream.append(raw.encode())
            expected.append(("C", type(raw).__name__, raw.encode()))
    return b"".join(stream), expected


def split_stream(data, cuts):
    points = sorted({c % (len(data) + 1) for c in cuts})
    chunks, prev = [], 0
    for p in points:
        chunks.append(data[prev:p])
        prev = p
    chunks.append(data[prev:])
    return chunks


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message_streams(), st.lists(st.integers(0, 10**6), max_size=20))
def test_round_trip_any_chunking(spec, cuts):
    direction, items = spec
    stream, expected = encode_items(direction, items)
    d = Deframer(direction=direction)
    out = []
    for chunk in split_stream(stream, cuts):
        out.extend(d.feed(chunk))
    assert summary(out) == expected
    assert d.at_boundary()
    assert summary(Deframer().feed(stream)) == expected
    # segments kept apart re-encode to the identical stream
    raw = Deframer(reassemble=False).feed(stream)
    assert b"".join(join(x.encode()) if isinstance(x, Frame) else x.encode()
                    for x in raw) == stream


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 255), st.binary(max_size=3000), st.sampled_from(BYTE_ORDERS),
       st.integers(1, 5000), st.lists(st.binary(max_size=300), max_size=5))
@example(0, b"", "<", 8, [b"\xca\x00\x00\x00\x00\x00\x00\x01"])  # payload shaped like a header
def test_segmentation_round_trip(cmd, payload, bo, limit, more):
    pieces = [payload] + more
    bufs = Framer(Direction.SERVER, bo).encode(cmd, pieces, max_segment_size=limit)
    # Walk the stream header by header (a payload may itself look like one).
    stream = join(bufs)
    heads, offset = [], 0
    while offset < len(stream):
        head = decode_header(stream[offset:offset + 8])
        heads.append(head)
        offset += 8 + head.payload_size
    assert offset == len(stream)
    total = sum(len(p) for p in pieces)
    assert all(h.payload_size <= limit for h in heads)
    assert sum(h.payload_size for h in heads) == total
    frames = Deframer(direction=Direction.SERVER).feed(join(bufs))
    assert len(frames) == 1
    assert bytes(frames[0].payload) == b"".join(pieces)
    assert frames[0].command == cmd and frames[0].byte_order == bo


# ------------------------------------------------------------------ hostile input


MAX = 4096


def feed_hostile(data, chunks):
    """Feed; only FramingError may escape; memory stays bounded."""
    d = Deframer(max_message_size=MAX)
    try:
        for c in chunks:
            for item in d.feed(c):
                assert isinstance(item, (Frame, ControlMessage))
                if isinstance(item, Frame):
                    assert len(item.payload) <= MAX
            assert d.buffered <= MAX + 8
    except FramingError:
        assert d.error is not None
        with pytest.raises(FramingError):
            d.feed(b"\xca")


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=2000), st.lists(st.integers(0, 2000), max_size=10))
def test_hostile_hypothesis(data, cuts):
    feed_hostile(data, split_stream(data, cuts))


def _hostile_input(rng):
    """Mostly plausible headers with mutations, so deep paths are reached."""
    parts = []
    for _ in range(rng.randrange(1, 8)):
        r = rng.random()
        if r < 0.15:
            parts.append(rng.randbytes(rng.randrange(0, 24)))
            continue
        magic = 0xCA if rng.random() < 0.95 else rng.randrange(256)
        version = rng.choice((0, 1, 2, 2, 2, 255))
        flags = rng.choice((0, 0x10, 0x20, 0x30, 0x01, 0x80, 0x90, 0xB0, 0x40, 0xFF,
                            rng.randrange(256)))
        cmd = rng.choice((10, 10, 11, rng.randrange(256)))
        size = rng.choice((0, 1, 7, 50, MAX, MAX + 1, 2**32 - 1, rng.randrange(2**32)))
        bo = ">" if flags & 0x80 else "<"
        parts.append(struct.pack(bo + "BBBBI", magic, version, flags, cmd, size))
        if size <= 64 and not flags & 1:
            body = rng.randbytes(size)
            if rng.random() < 0.2:
                body = body[:rng.randrange(size + 1)]
            parts.append(body)
    return b"".join(parts)


def test_hostile_100k_fast():
    rng = random.Random(0xCA02)
    t0 = time.perf_counter()
    outcomes = {"ok": 0, "error": 0}
    for _ in range(100_000):
        data = _hostile_input(rng)
        d = Deframer(max_message_size=MAX)
        try:
            if rng.random() < 0.3 and len(data) > 1:
                cut = rng.randrange(1, len(data))
                d.feed(data[:cut])
                assert d.buffered <= MAX + 8
                d.feed(data[cut:])
            else:
                d.feed(data)
            assert d.buffered <= MAX + 8
            outcomes["ok"] += 1
        except FramingError:
            outcomes["error"] += 1
    elapsed = time.perf_counter() - t0
    assert outcomes["ok"] > 1000 and outcomes["error"] > 1000, outcomes
    assert elapsed < 60




# ------------------------------------------------------------------ receiving into buffers


def _buffered_read(deframer, stream, sizes):
    """What ``asyncio.BufferedProtocol`` does: recv_into get_buffer(), then
    buffer_updated(n); ``sizes`` caps each read (as the kernel would)."""
    out, pos, k = [], 0, 0
    while pos < len(stream):
        buf = deframer.get_buffer(-1)
        n = min(len(buf), sizes[k % len(sizes)], len(stream) - pos)
        k += 1
        buf[:n] = stream[pos:pos + n]
        pos += n
        out += deframer.buffer_updated(n)
    return out


@pytest.mark.parametrize("bo", BYTE_ORDERS)
@pytest.mark.parametrize("sizes", [[1], [7, 8, 9], [1000], [65536 * 3], [300000], [5, 250000, 3]])
def test_deframer_get_buffer_matches_feed(bo, sizes):
    """Large messages go straight into their own buffer; the frames are the
    same as when the stream is fed in one piece."""
    fr = Framer(Direction.SERVER, bo, max_segment_size=100000)
    arr = np.arange(40000, dtype=np.float64)          # 320 kB: segmented
    parts = [fr.encode(ApplicationCommand.GET, b"small"),
             fr.encode(ApplicationCommand.MONITOR, [b"head", arr]),
             fr.encode(ApplicationCommand.ECHO, bytes(200000)),     # one big message
             [EchoResponse(7, direction=Direction.SERVER, byte_order=bo).encode()],
             fr.encode(ApplicationCommand.GET, b"tail")]
    stream = join(join(p) for p in parts)
    expected = summary(Deframer(direction=Direction.SERVER).feed(stream))
    d = Deframer(direction=Direction.SERVER)
    got = _buffered_read(d, stream, sizes)
    assert summary(got) == expected and d.at_boundary() and d.buffered == 0
    arrays = [f for f in got if isinstance(f, Frame) and f.command == ApplicationCommand.MONITOR]
    assert np.frombuffer(arrays[0].payload, np.float64, offset=4).tolist() == arr.tolist()


def test_deframer_big_message_received_in_place():
    """Once a big message's header is in, get_buffer() is the rest of that
    message's own buffer, and the frame's payload is a view of it."""
    fr = Framer(Direction.SERVER)
    payload = bytes(range(256)) * 1000
    stream = join(fr.encode(ApplicationCommand.GET, payload))
    d = Deframer(direction=Direction.SERVER)
    first = d.get_buffer(-1)
    first[:100] = stream[:100]
    assert d.buffer_updated(100) == []
    rest = d.get_buffer(-1)
    assert len(rest) == len(stream) - 100           # exactly the rest of the message
    rest[:] = stream[100:]
    frames = d.buffer_updated(len(rest))
    assert len(frames) == 1 and bytes(frames[0].payload) == payload
    assert frames[0].payload.obj is rest.obj          # no copy after the first read
    # a limit violation is still caught from the header
    small = Deframer(max_message_size=1000, direction=Direction.SERVER)
    buf = small.get_buffer(-1)
    n = min(len(buf), len(stream))          # one read: the header and what fits
    buf[:n] = stream[:n]
    with pytest.raises(FramingError, match="exceeds the limit"):
        small.buffer_updated(n)

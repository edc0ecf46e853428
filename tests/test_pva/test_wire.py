"""Primitive encoding: sizes, strings, scalars, limits, Writer."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pva import DecodeError, LocalProtocolError, Writer
from pva._wire import (SCALAR_STRUCTS, Limits, check_count, pack_selector,
                       pack_size, pack_string, read_scalar, read_selector,
                       read_size, read_string)

ORDERS = ["<", ">"]


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("n, enc_le", [
    (0, "00"), (1, "01"), (253, "fd"), (254, "fefe000000"), (255, "feff000000"),
    (0x12345678, "fe78563412"), (0xFFFFFFFF, "feffffffff"),
])
def test_size_encoding(order, n, enc_le):
    data = bytes.fromhex(enc_le)
    if order == ">" and len(data) == 5:
        data = data[:1] + data[1:][::-1]
    assert pack_size(n, order) == data
    assert read_size(memoryview(data), 0, order) == (n, len(data))


def test_size_limits_and_null():
    with pytest.raises(LocalProtocolError):
        pack_size(-1, "<")
    with pytest.raises(LocalProtocolError):
        pack_size(1 << 32, "<")
    assert pack_selector(-1, "<") == b"\xff"
    assert read_selector(memoryview(b"\xff"), 0, "<") == (-1, 1)
    with pytest.raises(DecodeError, match="null size"):
        read_size(memoryview(b"\xff"), 0, "<")
    for bad in (b"", b"\xfe\x01\x02"):
        with pytest.raises(DecodeError, match="truncated"):
            read_size(memoryview(bad), 0, "<")
        with pytest.raises(DecodeError, match="truncated"):
            read_selector(memoryview(bad), 0, "<")


@pytest.mark.parametrize("order", ORDERS)
@given(s=st.text(max_size=600))
def test_string_round_trip(order, s):
    data = b"junk" + pack_string(s, order)
    assert read_string(memoryview(data), 4, order) == (s, len(data))


def test_string_special_cases():
    mv = memoryview
    assert read_string(mv(b"\xff"), 0, "<") == ("", 1)  # pvAccessJava null string
    assert read_string(mv(b"\x00"), 0, "<") == ("", 1)
    # invalid UTF-8 survives a round trip byte for byte
    s, _ = read_string(mv(b"\x02\xff\xfe"), 0, "<")
    assert pack_string(s, "<") == b"\x02\xff\xfe"
    with pytest.raises(DecodeError, match="exceeds the 2 bytes remaining"):
        read_string(mv(b"\x05ab"), 0, "<")
    with pytest.raises(DecodeError, match="limit"):
        read_string(mv(b"\xfe\x00\x00\x01\x00" + b"a" * 256), 0, ">", Limits(max_string_length=100))
    with pytest.raises(DecodeError) as info:
        read_string(mv(b"\x01a\xfe\xff\xff\xff\x7f"), 2, "<")
    assert info.value.offset == 2 and "offset 2" in str(info.value)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("char, value", [
    ("?", True), ("b", -128), ("B", 255), ("h", -32768), ("H", 65535), ("i", -(2 ** 31)),
    ("I", 2 ** 32 - 1), ("q", -(2 ** 63)), ("Q", 2 ** 64 - 1), ("f", 1.5), ("d", -1e300),
])
def test_scalars(order, char, value):
    data = SCALAR_STRUCTS[order][char].pack(value)
    assert data == struct.pack(order + char, value)
    assert read_scalar(memoryview(b"x" + data), 1, order, char) == (value, 1 + len(data))
    with pytest.raises(DecodeError, match="truncated"):
        read_scalar(memoryview(data[:-1]), 0, order, char)


def test_check_count_refuses_before_allocation():
    buf = memoryview(bytes(100))
    check_count(100, 1, buf, 0, 1000, "array")
    with pytest.raises(DecodeError, match="exceeds the 99 bytes remaining"):
        check_count(100, 1, buf, 1, 1000, "array")
    with pytest.raises(DecodeError, match="limit of 10"):
        check_count(11, 1, buf, 0, 10, "array")
    with pytest.raises(DecodeError):
        check_count(2 ** 32 - 1, 8, buf, 0, 2 ** 40, "array")


def test_writer():
    w = Writer(">", big=8)
    w.buf += b"ab"
    w.add_buffer(b"cd")
    payload = bytearray(b"0123456789")
    w.add_buffer(memoryview(payload))
    w.buf += b"z"
    assert [bytes(b) for b in w.buffers()] == [b"abcd", b"0123456789", b"z"]
    assert w.getvalue() == b"abcd0123456789z" and len(w) == 15
    payload[0:1] = b"X"  # referenced, not copied
    assert w.getvalue() == b"abcdX123456789z"

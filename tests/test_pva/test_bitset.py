"""BitSet wire form (spec examples, pvxs word order) and structure semantics."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pva import BitSet, DecodeError, nt
from pva._bitset import decode_bitset, encode_bitset

# examples from the specification ("BitSets"), little-endian word order
SPEC = [
    ((), "00"), ((0,), "0101"), ((1,), "0102"), ((7,), "0180"), ((8,), "020001"),
    ((15,), "020080"), ((55,), "0700000000000080"), ((56,), "080000000000000001"),
    ((63,), "080000000000000080"), ((64,), "09000000000000000001"),
    ((65,), "09000000000000000002"), ((0, 1, 2, 4), "0117"), ((0, 1, 2, 4, 8), "021701"),
    ((8, 17, 24, 25, 34, 40, 42, 49, 50), "0700010203040506"),
    ((8, 17, 24, 25, 34, 40, 42, 49, 50, 56, 57, 58), "080001020304050607"),
    ((8, 17, 24, 25, 34, 40, 42, 49, 50, 56, 57, 58, 67), "09000102030405060708"),
]


@pytest.mark.parametrize("bits, hexdata", SPEC)
def test_spec_examples(bits, hexdata):
    data = bytes.fromhex(hexdata)
    assert BitSet(bits).encode("<") == data
    assert BitSet.decode(memoryview(data), 0, "<") == (BitSet(bits), len(data))


def test_big_endian_swaps_whole_words_only():
    bits = BitSet({8, 17, 24, 25, 34, 40, 42, 49, 50, 56, 57, 58, 67})
    assert bits.encode(">") == bytes.fromhex("09" "0706050403020100" "08")
    assert BitSet({0, 8}).encode(">") == bytes.fromhex("020101")
    assert BitSet.decode(memoryview(bits.encode(">")), 0, ">")[0] == bits


@given(bits=st.sets(st.integers(0, 300)), order=st.sampled_from("<>"))
def test_round_trip(bits, order):
    data = encode_bitset(BitSet(bits).to_int(), order)
    assert decode_bitset(memoryview(b"x" + data), 1, order) == (BitSet(bits).to_int(), len(data) + 1)
    if order == "<":
        assert data[-1:] != b"\x00" or not bits  # no trailing zero bytes


def test_decode_errors():
    with pytest.raises(DecodeError, match="remaining"):
        decode_bitset(memoryview(b"\x05\x01"), 0, "<")
    with pytest.raises(DecodeError, match="limit"):
        decode_bitset(memoryview(b"\x05" + bytes(5)), 0, "<", max_bytes=4)
    with pytest.raises(ValueError):
        BitSet({-1})


DESC = nt.NTScalar("d").type  # 0 struct, 1 value, 2 alarm(3,4,5), 6 timeStamp(7,8,9)


def test_expand_and_compact():
    assert DESC.num_bits == 10
    assert BitSet({2}).expand(DESC) == {2, 3, 4, 5}
    assert BitSet({0}).expand(DESC) == set(range(10))
    assert BitSet({3, 4, 5}).compact(DESC) == {2}
    assert BitSet({2, 3}).compact(DESC) == {2}
    assert BitSet(range(10)).compact(DESC) == {0}
    assert BitSet({1, 7}).compact(DESC) == {1, 7}
    assert BitSet({1, 99}).expand(DESC) == {1}
    assert BitSet({2}).covers(4, DESC) and not BitSet({2}).covers(7, DESC)


def test_set_operations_return_bitsets():
    a, b = BitSet({1, 2}), BitSet({2, 3})
    for r in (a | b, a & b, a - b, a ^ b, a.offset_by(4)):
        assert isinstance(r, BitSet)
    assert a | b == {1, 2, 3} and a & b == {2} and a.offset_by(4) == {5, 6}
    assert BitSet.from_int(0b1011) == {0, 1, 3} and BitSet({0, 1, 3}).to_int() == 11
    assert repr(BitSet({3, 1})) == "BitSet([1, 3])"

"""Type descriptions: spec examples, pvxs codes, the per-connection cache."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pva_strategies import field_descs

import pva
from pva import (DecodeError, FieldArrayType, FieldDesc, FieldType,
                 IntrospectionCache, Limits)

F, T = FieldDesc, FieldType

# "Introspection Data" examples #1 and #2 of the pvAccess specification (big endian)
SPEC_EXAMPLE_1 = bytes.fromhex(
    "FD0001800B74696D655374616D705F7403107365636F6E64735061737445706F6368230B6E616E6F"
    "5365636F6E6473220775736572546167" "22")
SPEC_EXAMPLE_2 = bytes.fromhex(
    "FD000180106578616D706C65537472756374757265070576616C756528106"
    "26F756E64656453697A6541727261793010"
    "0E666978656453697A65417272617938"
    "040974696D655374616D70FD00028006"
    "74696D655F7403107365636F6E647350"
    "61737445706F6368230B6E616E6F7365"
    "636F6E647322077573657254616722"
    "05616C61726DFD00038007616C61726D5F"
    "7403087365766572697479220673746174"
    "757322076D657373616765600A76616C"
    "7565556E696F6EFD0004810003" "0B73"
    "7472696E6756616C7565600869"
    "6E7456616C7565220B646F75626C6556616C75"
    "65430C76617269616E74556E696F6EFD"
    "000582")

TIME_T = F.struct([("secondsPastEpoch", F(T.int64)), ("nanoseconds", F(T.int32)),
                   ("userTag", F(T.int32))], "time_t")


def test_spec_example_1():
    cache = IntrospectionCache()
    desc, off = pva.decode_field_desc(memoryview(SPEC_EXAMPLE_1), 0, ">", cache)
    assert off == len(SPEC_EXAMPLE_1)
    assert desc == F.struct([("secondsPastEpoch", F(T.int64)), ("nanoSeconds", F(T.int32)),
                             ("userTag", F(T.int32))], "timeStamp_t")
    assert cache.received == {1: desc}
    # our encoder with a fresh cache produces exactly the same bytes
    assert pva.encode_field_desc(desc, ">", IntrospectionCache()) == SPEC_EXAMPLE_1
    # and the cached reference afterwards
    assert pva.decode_field_desc(memoryview(b"\xfe\x00\x01"), 0, ">", cache) == (desc, 3)


def test_spec_example_2_nested_cache_definitions():
    cache = IntrospectionCache()
    desc, off = pva.decode_field_desc(memoryview(SPEC_EXAMPLE_2), 0, ">", cache)
    assert off == len(SPEC_EXAMPLE_2)
    alarm = F.struct([("severity", F(T.int32)), ("status", F(T.int32)), ("message", F(T.string))], "alarm_t")
    union = F.union([("stringValue", F(T.string)), ("intValue", F(T.int32)), ("doubleValue", F(T.float64))])
    assert desc == F.struct([
        ("value", F.array(T.int8)),
        ("boundedSizeArray", F(T.int8, FieldArrayType.bounded_array, 16)),
        ("fixedSizeArray", F(T.int8, FieldArrayType.fixed_array, 4)),
        ("timeStamp", TIME_T), ("alarm", alarm), ("valueUnion", union),
        ("variantUnion", F.variant()),
    ], "exampleStructure")
    assert cache.received == {1: desc, 2: TIME_T, 3: alarm, 4: union, 5: F.variant()}
    assert desc.descendants[3][0] == "timeStamp" and desc.bit_of["alarm.message"] == 11


def test_pvxs_type_codes():
    assert [F(t).code for t in (T.boolean, T.int8, T.uint64, T.float32, T.float64, T.string,
                                T.struct, T.union, T.any)] == \
        [0x00, 0x20, 0x27, 0x42, 0x43, 0x60, 0x80, 0x81, 0x82]
    assert F.array(T.float64).code == 0x4B and F.array(T.string).code == 0x68
    assert F.array(F.struct()).code == 0x88 and F.array(F.union()).code == 0x89
    assert F.array(F.variant()).code == 0x8A
    assert F(T.bounded_string, size=5).code == 0x86
    # struct array: 0x88 followed by the element structure
    assert pva.encode_field_desc(F.array(F.struct([], "x"))) == b"\x88\x80\x01x\x00"
    assert pva.encode_field_desc(None) == b"\xff"
    assert pva.decode_field_desc(memoryview(b"\xff")) == (None, 1)


@settings(max_examples=300, deadline=None)
@given(desc=field_descs(), order=st.sampled_from("<>"), cached=st.booleans())
def test_round_trip(desc, order, cached):
    send = IntrospectionCache() if cached else None
    recv = IntrospectionCache() if cached else None
    first = pva.encode_field_desc(desc, order, send)
    second = pva.encode_field_desc(desc, order, send)
    buf = memoryview(first + second)
    a, off = pva.decode_field_desc(buf, 0, order, recv)
    b, off2 = pva.decode_field_desc(buf, off, order, recv)
    assert a == desc and b == desc and off2 == len(buf)
    if cached and desc.field_type in (T.struct, T.union) and not desc.is_array:
        assert second[0] == 0xFE and len(second) == 3
    if not cached:
        assert first == second


def test_cache_ids_and_errors():
    cache = IntrospectionCache()
    d1, d2 = F.struct([("a", F(T.int8))]), F.struct([("b", F(T.int8))])
    assert pva.encode_field_desc(d1, "<", cache)[:3] == b"\xfd\x01\x00"
    assert pva.encode_field_desc(d2, ">", cache)[:3] == b"\xfd\x00\x02"
    assert pva.encode_field_desc(d1, "<", cache) == b"\xfe\x01\x00"
    with pytest.raises(DecodeError, match="unknown type cache id 7"):
        pva.decode_field_desc(memoryview(b"\xfe\x07\x00"), 0, "<", IntrospectionCache())
    with pytest.raises(DecodeError, match="unknown"):
        pva.decode_field_desc(memoryview(b"\xfe\x07\x00"), 0, "<", None)
    with pytest.raises(DecodeError, match="null type"):
        pva.decode_field_desc(memoryview(b"\xfd\x01\x00\xff"), 0, "<", IntrospectionCache())
    cache.clear()
    assert cache.sent == {} and cache.received == {}


@pytest.mark.parametrize("data, match", [
    (b"", "truncated"), (b"\x01", "invalid type code"), (b"\xfc\x00\x00", "invalid type code"),
    (b"\x44", "invalid type code"), (b"\x8e\x01", "invalid type code"),
    (b"\x88\x81\x00\x00", "does not match"), (b"\x88\xff", "does not match"),
    (b"\x80\x00\x01\x01a\xff", "null type"), (b"\x80\x00\x02\x01a\x22\x01a\x22", "duplicate"),
    (b"\x80\x00\xfe\xff\xff\x00\x00", "member list length"),
    (b"\x30\xfe", "truncated"), (b"\x90", "invalid type code"),
])
def test_malformed(data, match):
    with pytest.raises(DecodeError, match=match):
        pva.decode_field_desc(memoryview(data), 0, "<", IntrospectionCache())


def test_depth_and_member_limits():
    deep = b"\x80\x00\x01\x01a" * 30 + b"\x22"
    with pytest.raises(DecodeError, match="deeper than 20"):
        pva.decode_field_desc(memoryview(deep), 0, "<")
    ok = b"\x80\x00\x01\x01a" * 5 + b"\x22"
    assert pva.decode_field_desc(memoryview(ok), 0, "<")[1] == len(ok)
    wide = b"\x80\x00\x05" + b"".join(bytes([1, 97 + i, 0x22]) for i in range(5))
    with pytest.raises(DecodeError, match="limit of 4"):
        pva.decode_field_desc(memoryview(wide), 0, "<", None, Limits(max_fields=4))


def test_field_desc_properties():
    desc = pva.nt.NTScalar("d").type
    assert desc["alarm.message"] == F(T.string)
    assert desc.children["value"] == F(T.float64)
    assert desc.struct_name == "epics:nt/NTScalar:1.0"
    assert desc.num_bits == 10 and desc.bit_of["timeStamp.userTag"] == 9
    arr = F.array(desc)
    assert arr.is_array and arr.element == desc and arr.descendants == ()
    assert "double value" in desc.summary() and "time_t" in str(desc)
    assert hash(desc) == hash(pva.nt.NTScalar("d").type)
    with pytest.raises(ValueError):
        F.struct([("a", F(T.int8)), ("a", F(T.int8))])
    with pytest.raises(ValueError):
        F(T.int8, type_id="x")
    with pytest.raises(ValueError):
        F(F.struct().field_type, FieldArrayType.fixed_array, 2)


def _fan_out(levels: int, width: int, leaf: FieldDesc) -> FieldDesc:
    """``levels`` nested structures of ``width`` members, each level one object."""
    t = leaf
    for _ in range(levels):
        t = FieldDesc.struct([(f"f{i}", t) for i in range(width)])
    return t


def test_equality_of_shared_members_compares_each_pair_once():
    # two separately built (or decoded) descriptions whose members are
    # shared objects describe 1e8 nodes each; equality compares the pairs
    # of distinct nodes (a few hundred), not the expansion, which would
    # take hours (the suite's timeout fails the test)
    a = _fan_out(4, 100, FieldDesc.scalar(FieldType.int32))
    b = _fan_out(4, 100, FieldDesc.scalar(FieldType.int32))
    assert a is not b and a == b and hash(a) == hash(b)
    assert {a: 1}[b] == 1
    c = _fan_out(4, 100, FieldDesc.scalar(FieldType.int64))
    assert a != c
    d = _fan_out(3, 100, FieldDesc.scalar(FieldType.int32))
    renamed = FieldDesc.struct([(f"f{i}", d) for i in range(99)] + [("g", d)])
    assert a != renamed
    assert FieldDesc.struct([("x", d)], "t") != FieldDesc.struct([("x", d)], "u")

"""Value codec: hypothesis round trips, partial values, Status, numpy views, speed."""
from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pva_strategies import descs_and_values, structs_and_values, values_equal, values_for

import pva
from pva import (BitSet, DecodeError, FieldArrayType, FieldDesc, FieldType,
                 IntrospectionCache, LocalProtocolError, Status, StatusType,
                 Variant, Writer, nt)

ORDERS = ["<", ">"]


@settings(max_examples=300, deadline=None)
@given(dv=descs_and_values(), order=st.sampled_from(ORDERS), cached=st.booleans())
def test_round_trip_every_type(dv, order, cached):
    desc, value = dv
    send = IntrospectionCache() if cached else None
    recv = IntrospectionCache() if cached else None
    for _ in range(2):  # second pass uses cache references for variant types
        data = pva.encode_value(desc, value, order, send)
        back, off = pva.decode_value(desc, data, 0, order, recv)
        assert off == len(data)
        assert values_equal(back, value)
        # re-encoding what we decoded is byte-identical
        assert pva.encode_value(desc, back, order) == pva.encode_value(desc, value, order)


@settings(max_examples=200, deadline=None)
@given(dv=descs_and_values(), order=st.sampled_from(ORDERS), cached=st.booleans())
def test_round_trip_type_and_value(dv, order, cached):
    desc, value = dv
    send = IntrospectionCache() if cached else None
    recv = IntrospectionCache() if cached else None
    for _ in range(2):
        data = pva.encode_field_desc_and_data(desc, value, order, send)
        fd, off = pva.decode_field_desc_and_data(data, 0, order, recv)
        assert off == len(data)
        assert fd.interface == desc
        assert values_equal(fd.data, value)


@settings(max_examples=200, deadline=None)
@given(sv=structs_and_values(), order=st.sampled_from(ORDERS), data=st.data())
def test_partial_round_trip(sv, order, data):
    desc, value = sv
    bits = BitSet(data.draw(st.sets(st.integers(0, desc.num_bits - 1))))
    enc = pva.encode_partial(desc, value, bits, order)
    target = {}
    back, got_bits, off = pva.decode_partial(desc, enc, 0, order, target)
    assert off == len(enc) and back is target
    # what was sent: every selected field, each once
    assert got_bits.expand(desc) == bits.expand(desc)
    for bit in got_bits.expand(desc):
        path = "" if bit == 0 else desc.descendants[bit - 1][0]
        want, got = value, back
        for part in filter(None, path.split(".")):
            want, got = want[part], got[part]
        assert values_equal(got, want)
    assert pva.encode_partial(desc, back, got_bits, order) == enc


NTD = nt.NTScalar("d").type


def test_partial_update_in_place_and_parent_bit_skips_children():
    value = nt.NTScalar("d").wrap(1.0, timestamp=10.5)
    bit = NTD.bit_of
    # alarm bit and its children: pvxs sends alarm once
    enc = pva.encode_partial(NTD, value, BitSet({bit["alarm"], bit["alarm.severity"]}))
    assert enc[:2] == bytes([1, 1 << bit["alarm"]])
    target = {"value": 5.0, "alarm": {"severity": 3, "status": 1, "message": "x"}}
    back, bits, _ = pva.decode_partial(NTD, enc, 0, "<", target)
    assert back["value"] == 5.0 and back["alarm"] == value["alarm"]
    assert bits == {bit["alarm"]}
    # bit 0 means everything
    enc = pva.encode_partial(NTD, value, BitSet({0, 1, 5}))
    assert enc == pva.encode_bitset(1) + pva.encode_value(NTD, value)
    back, _, _ = pva.decode_partial(NTD, enc, 0, "<", {"junk": 1})
    assert back == value


def test_partial_decode_updates_target_in_place_creating_missing_parents():
    ts = NTD.bit_of["timeStamp.nanoseconds"]
    enc = pva.encode_partial(NTD, nt.NTScalar("d").wrap(1.0, timestamp=1.5), BitSet({ts}))
    # the target has siblings of the decoded field, and not its parent
    target = {"value": 7.0, "alarm": {"severity": 2}}
    back, bits, off = pva.decode_partial(NTD, enc, target=target)
    assert back is target and bits == {ts} and off == len(enc)
    assert target == {"value": 7.0, "alarm": {"severity": 2},
                      "timeStamp": {"nanoseconds": 500000000}}
    # an existing parent keeps its other members
    target = {"timeStamp": {"secondsPastEpoch": 9, "nanoseconds": 0, "userTag": 3}}
    pva.decode_partial(NTD, enc, target=target)
    assert target == {"timeStamp": {"secondsPastEpoch": 9, "nanoseconds": 500000000,
                                    "userTag": 3}}
    # what is not a structure where a structure goes is replaced by one
    target = {"timeStamp": 5}
    pva.decode_partial(NTD, enc, target=target)
    assert target == {"timeStamp": {"nanoseconds": 500000000}}
    # truncated input: an error, and nothing of it applied
    target = {"value": 7.0}
    with pytest.raises(DecodeError):
        pva.decode_partial(NTD, enc[:-1], target=target)
    assert target == {"value": 7.0}


def test_partial_decode_drops_bits_beyond_the_structure():
    # as pvxs trims them: bit 40 of a 10-bit structure, with bit 1 (value)
    data = pva.encode_bitset((1 << 40) | 2) + pva.encode_value(FieldDesc(FieldType.float64), 2.5)
    back, bits, off = pva.decode_partial(NTD, data)
    assert back == {"value": 2.5} and bits == {1} and off == len(data)


def test_union_and_variant_values():
    u = FieldDesc.union([("i", FieldDesc(FieldType.int32)), ("s", FieldDesc(FieldType.string))])
    assert pva.encode_value(u, None) == b"\xff"
    assert pva.encode_value(u, ("s", "ab")) == b"\x01\x02ab"
    assert pva.encode_value(u, {"i": 1}) == b"\x00\x01\x00\x00\x00"
    with pytest.raises(LocalProtocolError):
        pva.encode_value(u, ("nope", 1))
    with pytest.raises(DecodeError, match="selector 5"):
        pva.decode_value(u, b"\x05")
    anyd = FieldDesc.variant()
    assert pva.encode_value(anyd, None) == b"\xff"
    assert pva.encode_value(anyd, 1.5) == b"\x43" + np.float64(1.5).tobytes()
    assert pva.encode_value(anyd, "x") == b"\x60\x01x"
    v, _ = pva.decode_value(anyd, pva.encode_value(anyd, {"a": 1, "b": [1.0, 2.0]}))
    assert isinstance(v, Variant) and v.desc.children["b"] == FieldDesc.array(FieldType.float64)
    assert list(v.value["b"]) == [1.0, 2.0]


def test_status():
    assert Status().encode() == b"\xff"
    ok, off = Status.decode(b"\xff")
    assert ok.status == StatusType.OK and off == 1 and ok.is_successful
    for order in ORDERS:
        st_ = Status(StatusType.WARNING, "Low memory", "")
        data = st_.encode(order)
        assert data == b"\x01\x0aLow memory\x00"
        assert Status.decode(data, 0, order) == (st_, len(data))
        err = Status.create_error("bad" * 100, "trace")
        assert Status.decode(err.encode(order), 0, order)[0] == err
        assert not err.is_successful
    # OK with a message uses the long form
    assert Status(StatusType.OK, "hi").encode() == b"\x00\x02hi\x00"
    with pytest.raises(DecodeError):
        Status.decode(b"\x07\x00\x00")
    with pytest.raises(DecodeError):
        Status.decode(b"\x02\x05ab")


@pytest.mark.parametrize("order", ORDERS)
def test_numeric_arrays_are_views(order):
    desc = FieldDesc.array(FieldType.int32)
    data = pva.encode_value(desc, np.arange(10, dtype="i4"), order)
    arr, _ = pva.decode_value(desc, data, 0, order)
    assert arr.dtype == np.dtype(order + "i4")
    assert arr.base is not None and not arr.flags.owndata
    assert list(arr) == list(range(10))
    # lists and other dtypes are converted on encode
    assert pva.encode_value(desc, [0, 1, 2], order) == pva.encode_value(desc, np.arange(3, dtype="i8"), order)


def test_writer_keeps_large_arrays_by_reference():
    desc = FieldDesc.array(FieldType.float64)
    arr = np.arange(10000, dtype="<f8")
    w = Writer("<")
    pva.write_value(w, desc, arr)
    bufs = w.buffers()
    assert len(bufs) == 2 and bytes(bufs[0]) == b"\xfe\x10\x27\x00\x00"
    assert np.shares_memory(np.frombuffer(bufs[1], "<f8"), arr)
    assert w.getvalue() == bytes(bufs[0]) + arr.tobytes()


def test_fixed_and_bounded_arrays_and_strings():
    fixed = FieldDesc(FieldType.int16, FieldArrayType.fixed_array, 3)
    assert pva.encode_value(fixed, [1, 2, 3], ">") == b"\x00\x01\x00\x02\x00\x03"
    with pytest.raises(LocalProtocolError):
        pva.encode_value(fixed, [1, 2])
    bounded = FieldDesc(FieldType.uint8, FieldArrayType.bounded_array, 2)
    assert pva.encode_value(bounded, [1, 2]) == b"\x02\x01\x02"
    with pytest.raises(LocalProtocolError):
        pva.encode_value(bounded, [1, 2, 3])
    with pytest.raises(DecodeError, match="bound"):
        pva.decode_value(bounded, b"\x03\x01\x02\x03")
    bstr = FieldDesc(FieldType.bounded_string, size=3)
    assert pva.encode_value(bstr, "abc") == b"\x03abc"
    with pytest.raises(LocalProtocolError):
        pva.encode_value(bstr, "abcd")
    with pytest.raises(DecodeError, match="bound"):
        pva.decode_value(bstr, b"\x04abcd")


def test_encode_errors_are_local_protocol_errors():
    with pytest.raises(LocalProtocolError):
        pva.encode_value(FieldDesc(FieldType.int8), 300)
    with pytest.raises(LocalProtocolError):
        pva.encode_value(FieldDesc(FieldType.string), 5)
    with pytest.raises(LocalProtocolError):
        pva.encode_value(FieldDesc.array(FieldType.string), "abc")
    with pytest.raises(LocalProtocolError):
        pva.encode_partial(FieldDesc(FieldType.int8), 1, BitSet({0}))


def test_struct_encoding_uses_defaults_and_attributes():
    desc = nt.NTScalar("d").type
    assert pva.encode_value(desc, {"value": 2.0}) == pva.encode_value(desc, pva.default_value(desc) | {"value": 2.0})
    inst = nt.NTScalarFloat64Base(value=2.0)
    assert pva.encode_value(desc, inst) == pva.encode_value(desc, {"value": 2.0})


def test_compiled_codecs_are_reused():
    desc = nt.NTScalar("d").type
    assert pva.get_decoder(desc, "<") is pva.get_decoder(nt.NTScalar("d").type, "<")
    assert pva.get_encoder(desc, ">") is pva.get_encoder(desc, ">")




def test_million_doubles_decode_as_view_and_encode_without_copy():
    desc = FieldDesc.array(FieldType.float64)
    arr = np.arange(1e6)
    data = memoryview(pva.encode_value(desc, arr))
    out, _ = pva.decode_value(desc, data)
    assert np.array_equal(out, arr)
    # the decoded array is a view of the received bytes, not a copy
    assert np.shares_memory(out, np.frombuffer(data, dtype=np.uint8))
    w = Writer("<")
    pva.write_value(w, desc, arr)
    # the encoder hands the array's own memory to the transport
    assert any(np.shares_memory(np.frombuffer(b, dtype=np.uint8), arr)
               for b in w.buffers() if len(memoryview(b)) >= arr.nbytes)


def _field_at(desc, value, bit):
    """(FieldDesc, value) of bit ``bit`` of a structure value (a nested dict)."""
    if bit == 0:
        return desc, value
    path, sub = desc.descendants[bit - 1]
    for part in path.split("."):
        value = value[part]
    return sub, value


def _field_by_field(desc, value, bits, order):
    """A partial value as the BitSet (bits under a set parent dropped) and then
    each field's own full encoding (``encode_value``), in bit order."""
    spans = desc.spans
    sent = [b for b in sorted(bits)
            if not any(a < b < a + spans[a] for a in bits)]
    mask = sum(1 << b for b in sent)
    nbytes = (mask.bit_length() + 7) // 8
    raw = mask.to_bytes(nbytes, "little")
    if order == ">":            # 64-bit words, each big-endian
        raw = b"".join(raw[i:i + 8][::-1] if i + 8 <= nbytes else raw[i:]
                       for i in range(0, nbytes, 8))
    assert nbytes < 254         # its size is one byte
    out = bytes([nbytes]) + raw
    for b in sent:
        sub, v = _field_at(desc, value, b)
        out += pva.encode_value(sub, v, order)
    return out


_FIXED_SIZE = [FieldType.boolean, FieldType.int8, FieldType.int16, FieldType.int32,
               FieldType.int64, FieldType.uint8, FieldType.uint16, FieldType.uint32,
               FieldType.uint64, FieldType.float32, FieldType.float64]


def _mostly_scalar_structs():
    """Structures of fixed-size scalars (and a few strings, arrays), nested."""
    leaves = st.one_of(st.sampled_from(_FIXED_SIZE).map(FieldDesc.scalar),
                       st.sampled_from([FieldDesc.scalar(FieldType.string),
                                        FieldDesc.array(FieldDesc.scalar(FieldType.int16))]))
    names = st.text(alphabet="abcdefxyz", min_size=1, max_size=4)

    def members(children):
        return st.lists(st.tuples(names, children), min_size=1, max_size=5,
                        unique_by=lambda t: t[0]).map(lambda m: FieldDesc.struct(m, "s"))
    return st.recursive(leaves, members, max_leaves=10).filter(
        lambda d: d.field_type == FieldType.struct)


@st.composite
def _partial_cases(draw):
    if draw(st.booleans()):
        return draw(structs_and_values())
    desc = draw(_mostly_scalar_structs())
    return desc, draw(values_for(desc))


@settings(max_examples=300, deadline=None)
@given(sv=_partial_cases(), order=st.sampled_from(ORDERS), data=st.data())
def test_partial_write_is_each_selected_field_encoded_alone(sv, order, data):
    """The partial writer (one struct.Struct for a selection of fixed-size
    scalars, per-field encoders otherwise) writes the bytes of the BitSet and
    of each selected field's own encoding."""
    desc, value = sv
    scalars = [i for i, (_, d) in enumerate(desc.descendants, 1)
               if d.array_type == FieldArrayType.scalar
               and (d.field_type.is_numeric or d.field_type == FieldType.boolean)]
    if scalars and data.draw(st.booleans()):
        bits = data.draw(st.sets(st.sampled_from(scalars)))     # the one-struct path
    else:
        bits = data.draw(st.sets(st.integers(0, desc.num_bits - 1)))
    want = _field_by_field(desc, value, bits, order)
    for _ in range(2):          # planned, then from the plan kept for the mask
        assert pva.encode_partial(desc, value, BitSet(bits), order) == want


@pytest.mark.parametrize("order", ORDERS)
def test_partial_write_of_value_and_time_stamp(order):
    """A monitor update's usual fields (a double and two integers) as the
    fields' own encodings, from a nested dict and from a dataclass instance."""
    inst = nt.NTScalarFloat64Base(value=2.5)
    inst.timeStamp.secondsPastEpoch = 1234567890
    inst.timeStamp.nanoseconds = 987654321
    desc = nt.NTScalarFloat64Base._pva_struct_
    bits = {desc.bit_of[p] for p in ("value", "timeStamp.secondsPastEpoch",
                                     "timeStamp.nanoseconds")}
    as_dict = {"value": 2.5, "timeStamp": {"secondsPastEpoch": 1234567890,
                                           "nanoseconds": 987654321, "userTag": 0}}
    want = _field_by_field(desc, as_dict, bits, order)
    assert want == bytes([2, 0x82, 0x01]) + \
        pva.encode_value(FieldDesc.scalar(FieldType.float64), 2.5, order) + \
        pva.encode_value(FieldDesc.scalar(FieldType.int64), 1234567890, order) + \
        pva.encode_value(FieldDesc.scalar(FieldType.int32), 987654321, order)
    assert pva.encode_partial(desc, as_dict, BitSet(bits), order) == want
    assert pva.encode_partial(desc, inst, BitSet(bits), order) == want
    with pytest.raises(LocalProtocolError):
        pva.encode_partial(desc, {**as_dict, "value": "not a number"}, BitSet(bits), order)

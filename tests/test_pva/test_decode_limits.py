"""Decoding cost is bounded by the bytes received: type-cache fan-out.

A type-cache reference (``0xFE id``) is 3 bytes on the wire but stands for a
whole type; three levels of 400 references describe 6.4e7 structures in
9.3 KB.  These tests check that a type is counted at its expanded size
(:attr:`FieldDesc.node_count`) while it is decoded, against
``Limits.max_type_nodes``, and that every message has a node budget
(``Limits.max_message_nodes``) taken by the types and by the elements of
arrays of structures, unions and variants in it, before they are built.
"""
from __future__ import annotations

import struct
import time
import tracemalloc

import pytest

import pva
from pva import (DecodeError, FieldDesc, FieldType, IntrospectionCache, Limits,
                 MessageContext, Variant)
from pva._broadcaster import Broadcaster
from pva._header import Direction
from pva._messages import Beacon, ChannelRpcRequest, decode_message, encode_message
from pva._values import FieldDescAndData

F, T = FieldDesc, FieldType
EMPTY = F.struct([])


def laughs(levels: int, width: int, leaf: FieldDesc = EMPTY) -> FieldDesc:
    """``levels`` nested structures of ``width`` members, all the same object."""
    t = leaf
    for _ in range(levels):
        t = F.struct([(f"f{i}", t) for i in range(width)])
    return t


def cached_bytes(desc, order="<"):
    """The description as our encoder sends it through a type cache (0xFD, then 0xFE)."""
    return pva.encode_field_desc(desc, order, IntrospectionCache())


# ---------------------------------------------------------------- node_count
def test_num_bits_of_a_shared_member_type_is_counted_not_walked():
    # 64 million fields described by 1,201 objects: the count comes from the
    # members' own counts (a member-by-member walk would need gigabytes)
    assert laughs(3, 400).num_bits == 1 + 400 * (1 + 400 * (1 + 400))


def test_node_count_counts_every_place_a_member_appears():
    assert F(T.int32).node_count == 1
    assert EMPTY.node_count == 1
    point = F.struct([("x", F(T.float64)), ("y", F(T.float64))])
    assert point.node_count == 3
    assert F.array(point).node_count == 3                      # elements counted once
    assert F.struct([("a", point), ("b", point)]).node_count == 7
    assert laughs(1, 400).node_count == 401
    assert laughs(2, 400).node_count == 1 + 400 * 401
    assert laughs(3, 400).node_count == 1 + 400 * (1 + 400 * 401)


def test_node_count_adds_one_per_32_bytes_of_name_and_type_id():
    assert F.struct([("n" * 31, F(T.int8))]).node_count == 2
    assert F.struct([("n" * 64, F(T.int8))]).node_count == 4
    assert F.struct([], type_id="t" * 32).node_count == 2
    assert F.union([("u" * 96, F(T.int8))], type_id="x").node_count == 5


# ------------------------------------------------------- type descriptions
@pytest.mark.parametrize("order", "<>")
def test_billion_laughs_type_is_refused_while_counting(order):
    data = cached_bytes(laughs(3, 400), order)
    assert 9000 < len(data) < 9500          # the 9.3 KB pvRequest of the report
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(DecodeError, match="max_type_nodes"):
            pva.decode_field_desc(memoryview(data), 0, order, IntrospectionCache())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 0.5
    assert peak < 2 << 20


def test_type_limit_is_exact_and_counts_references_at_their_size():
    desc = laughs(2, 20)                                 # 1 + 20 * 21 = 421 nodes
    data = cached_bytes(desc)
    assert data.count(b"\xfe\x02\x00") == 19              # 19 references to the inner struct
    got, _ = pva.decode_field_desc(memoryview(data), 0, "<", IntrospectionCache(),
                                   Limits(max_type_nodes=421))
    assert got == desc
    with pytest.raises(DecodeError, match="more than 420 nodes"):
        pva.decode_field_desc(memoryview(data), 0, "<", IntrospectionCache(),
                              Limits(max_type_nodes=420))


def test_a_reference_to_a_type_defined_in_an_earlier_message_costs_its_size():
    cache = IntrospectionCache()
    big = laughs(1, 300)                                  # 301 nodes
    pva.decode_field_desc(memoryview(cached_bytes(big)), 0, "<", cache)
    ref = b"\xfe\x01\x00"
    assert pva.decode_field_desc(memoryview(ref), 0, "<", cache)[0] == big
    with pytest.raises(DecodeError, match="max_type_nodes"):
        pva.decode_field_desc(memoryview(ref), 0, "<", cache, Limits(max_type_nodes=300))


def test_long_member_names_count():
    desc = F.struct([("n" * 3200, F(T.int8)), ("m", F(T.int8))])   # 1 + 101 + 1 nodes
    data = pva.encode_field_desc(desc)
    pva.decode_field_desc(memoryview(data), 0, "<", None, Limits(max_type_nodes=103))
    with pytest.raises(DecodeError, match="max_type_nodes"):
        pva.decode_field_desc(memoryview(data), 0, "<", None, Limits(max_type_nodes=102))


def test_a_wide_member_list_is_refused_before_its_members_are_read():
    # 60,000 members declared, each at least 2 bytes: the count alone is refused
    data = b"\x80\x00\xfe" + (60000).to_bytes(4, "little") + b"\x01a\x22" * 60000
    with pytest.raises(DecodeError, match="max_type_nodes") as info:
        pva.decode_field_desc(memoryview(data), 0, "<", None, Limits(max_type_nodes=1000))
    assert info.value.offset == 0


# -------------------------------------------------------------------- values
def rpc_payload(desc, value, order="<"):
    ctx = MessageContext(send_cache=True)
    msg = ChannelRpcRequest(1, 2, 0x00).to_default(FieldDescAndData(desc, value))
    return b"".join(bytes(b) for b in encode_message(msg, order, ctx))[8:]


def decode_rpc(payload, nodes=None, order="<"):
    """Decode with a budget of ``nodes`` (max_message_nodes + one per byte)."""
    limits = pva.DEFAULT_LIMITS if nodes is None else Limits(max_message_nodes=nodes - len(payload))
    return decode_message(0x14, Direction.CLIENT, payload, order, MessageContext(limits=limits))


def test_structure_array_elements_are_charged_before_they_are_built():
    elem = laughs(1, 400)                                # 401 nodes, 0 bytes of value
    desc = F.struct([("a", F.array(elem))])
    payload = rpc_payload(desc, {"a": [{}] * 100})
    assert decode_rpc(payload, 402 + 100 * 401).pv_data.data["a"] == [
        {f"f{i}": {} for i in range(400)}] * 100
    tracemalloc.start()
    try:
        with pytest.raises(DecodeError, match="max_message_nodes"):
            decode_rpc(payload, 401 + 100 * 401)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20                                  # refused before any element


def test_default_budget_refuses_a_structure_array_fan_out():
    elem = laughs(2, 100)                                  # 10,101 nodes per element
    desc = F.struct([("a", F.array(elem))])
    # the value is one flag byte per element (all members are empty structures)
    data = pva.encode_field_desc(desc, "<", IntrospectionCache()) + b"\x30" + b"\x01" * 48
    payload = (1).to_bytes(4, "little") + (2).to_bytes(4, "little") + b"\x00" + data
    t0 = time.perf_counter()
    with pytest.raises(DecodeError, match="max_message_nodes"):
        decode_rpc(payload)
    assert time.perf_counter() - t0 < 0.5


def test_variant_elements_are_charged_their_type_as_read():
    big = laughs(1, 200)                                   # 201 nodes
    desc = F.struct([("v", F.array(F.variant()))])
    payload = rpc_payload(desc, {"v": [Variant(big, {})] * 50})
    assert payload.count(b"\xfe") >= 49                    # one definition, then references
    # budget: the outer type (2) + 50 elements (1 each) + 50 * 201 for their types
    assert len(decode_rpc(payload, 2 + 50 + 50 * 201).pv_data.data["v"]) == 50
    with pytest.raises(DecodeError, match="max_message_nodes"):
        decode_rpc(payload, 1 + 50 + 50 * 201)


def test_union_array_elements_are_charged_the_selected_member():
    small, big = F(T.int8), laughs(1, 100)                 # 1 and 101 nodes
    u = F.union([("s", small), ("b", big)])
    desc = F.struct([("u", F.array(u))])
    full = {f"f{i}": {} for i in range(100)}
    value = {"u": [("s", 1)] * 10 + [("b", full)] * 10}
    payload = rpc_payload(desc, value)
    # outer struct 1 + union array (1 + 1 + 101) = 104 for the type; 20 + 10 * 1 + 10 * 101
    need = 104 + 20 + 10 + 1010
    assert decode_rpc(payload, need).pv_data.data == value
    with pytest.raises(DecodeError, match="max_message_nodes"):
        decode_rpc(payload, need - 1)


def test_nested_variants_are_charged_at_every_level():
    big = laughs(1, 100)                                    # 101 nodes
    v = Variant(big, {f"f{i}": {} for i in range(100)})
    for _ in range(5):
        v = Variant(F.variant(), v)
    desc = F.struct([("v", F.variant())])
    payload = rpc_payload(desc, {"v": v})
    need = 2 + 5 + 101
    decode_rpc(payload, need)
    with pytest.raises(DecodeError, match="max_message_nodes"):
        decode_rpc(payload, need - 1)


def test_every_message_has_its_own_budget():
    elem = laughs(1, 50)
    desc = F.struct([("a", F.array(elem))])
    payload = rpc_payload(desc, {"a": [{}] * 10})
    limits = Limits(max_message_nodes=52 + 10 * 51 - len(payload))
    ctx = MessageContext(limits=limits)
    for _ in range(3):                   # each fits alone; together they would not
        decode_message(0x14, Direction.CLIENT, payload, "<", ctx)


# ------------------------------------------------------------- in messages
# The attacks below are a type description whose value is empty (every
# member an empty structure): the payload is the message's fixed part, the
# type as our encoder sends it through a type cache, and the value's bytes.
def framed(command, payload, sender, order="<"):
    flags = (0x40 if sender is Direction.SERVER else 0) | (0x80 if order == ">" else 0)
    return bytes((0xCA, 2, flags, command)) + len(payload).to_bytes(4, "big" if order == ">" else "little") + payload


def u32(n, order="<"):
    return n.to_bytes(4, "big" if order == ">" else "little")


@pytest.mark.parametrize("order", "<>")
def test_billion_laughs_pvrequest_is_refused(order):
    # GET INIT: server channel id, request id, subcommand, pvRequest (type + empty value)
    payload = u32(1, order) + u32(2, order) + b"\x08" + cached_bytes(laughs(3, 400), order)
    t0 = time.perf_counter()
    with pytest.raises(DecodeError, match="max_type_nodes"):
        decode_message(0x0A, Direction.CLIENT, payload, order, MessageContext())
    assert time.perf_counter() - t0 < 0.5


def test_fan_out_in_ca_authorization_is_refused():
    ca = F.struct([("user", F(T.string)), ("host", F(T.string)), ("x", laughs(3, 95))])
    payload = (struct.pack("<IHH", 0x10000, 0x7FFF, 0) + b"\x02ca" + cached_bytes(ca)
               + b"\x04user\x04host")
    assert len(payload) < 2200                                # the 2.1 KB of the report
    assert ca.node_count > 800_000
    with pytest.raises(DecodeError, match="max_type_nodes"):
        decode_message(0x01, Direction.CLIENT, payload, "<", MessageContext())
    small = F.struct([("user", F(T.string)), ("host", F(T.string))])
    ok = struct.pack("<IHH", 0x10000, 0x7FFF, 0) + b"\x02ca" + cached_bytes(small) + b"\x04user\x04host"
    assert decode_message(0x01, Direction.CLIENT, ok, "<", MessageContext()).data.data == {
        "user": "user", "host": "host"}


@pytest.mark.parametrize("order", "<>")
def test_fan_out_from_a_server_is_refused(order):
    # RPC reply: request id, subcommand, status OK, then type + empty value
    payload = u32(2, order) + b"\x00\xff" + cached_bytes(laughs(3, 400), order)
    with pytest.raises(DecodeError, match="max_type_nodes"):
        decode_message(0x14, Direction.SERVER, payload, order, MessageContext())


def test_beacon_types_are_bounded_and_not_kept_between_datagrams():
    ctx = MessageContext(send_cache=True)
    status = FieldDescAndData(F.struct([("a", laughs(1, 3))]), {"a": {}})
    datagram = b"".join(bytes(b) for b in encode_message(Beacon(server_status=status), "<", ctx))
    rx = Broadcaster("client")
    assert rx.recv(datagram)[0].server_status.interface == status.interface
    # a reference to the id the first datagram defined means nothing in the next one
    again = b"".join(bytes(b) for b in encode_message(Beacon(server_status=status), "<", ctx))
    assert b"\xfe" in again
    with pytest.raises(DecodeError, match="unknown type cache id"):
        rx.recv(again)
    fixed = datagram[8:datagram.index(b"\x03tcp") + 4]        # the beacon up to its status
    bomb = framed(0x00, fixed + cached_bytes(laughs(3, 400)), Direction.SERVER)
    with pytest.raises(DecodeError, match="max_type_nodes"):
        rx.recv(bomb)


def test_cached_pvrequest_with_nested_references_is_not_shared_between_connections():
    # the same INIT bytes name a different type on each connection: the
    # request decoded on one must not be served to the other from a cache
    inner_a = F.struct([("value", EMPTY)])
    inner_b = F.struct([("alarm", EMPTY)])
    init = bytes.fromhex("01000000" "02000000" "08") + b"\x80\x00\x01\x05field\xfe\x01\x00"
    results = []
    for inner in (inner_a, inner_b):
        ctx = MessageContext()
        pva.decode_field_desc(memoryview(b"\xfd\x01\x00" + pva.encode_field_desc(inner)), 0, "<",
                              ctx.cache)
        msg = decode_message(0x0A, Direction.CLIENT, init, "<", ctx)
        results.append(msg.request.fields)
    assert results == [["value"], ["alarm"]]


def test_classes_made_for_peer_types_are_bounded():
    # RPC arguments and authorization data become pva dataclasses of the
    # peer's type: a peer sending ever new types must not grow a cache forever
    from pva import _dataclass
    for i in range(_dataclass._GENERATED_MAX + 50):
        cls = pva.dataclass_from_field_desc(F.struct([(f"m{i}", F(T.int8))], type_id=f"t{i}"))
        assert cls(**{f"m{i}": 3}).__dict__[f"m{i}"] == 3
    assert len(_dataclass._generated) == _dataclass._GENERATED_MAX
    made = {f"t{i}" for i in range(_dataclass._GENERATED_MAX + 50)}
    assert not any(d.type_id in made for d in _dataclass._dataclass_cache)


def test_data_that_takes_its_bytes_is_not_held_back():
    # 100,000 points are 300,000 nodes, far over max_message_nodes alone, but
    # every element takes 17 bytes: the budget grows with the message
    point = F.struct([("x", F(T.float64)), ("y", F(T.float64))])
    desc = F.struct([("p", F.array(point))])
    value = {"p": [{"x": float(i), "y": -1.0} for i in range(100_000)]}
    got = decode_rpc(rpc_payload(desc, value)).pv_data.data
    assert len(got["p"]) == 100_000 and got["p"][-1] == {"x": 99999.0, "y": -1.0}


def test_a_refused_message_does_not_keep_what_was_decoded_before_the_fault():
    # the circuit keeps its error; the decoders' frames (and the values in
    # their locals) must not come with it
    big = laughs(1, 200)
    desc = F.struct([("v", F.array(F.variant()))])
    payload = rpc_payload(desc, {"v": [Variant(big, {})] * 50})
    with pytest.raises(DecodeError) as info:
        decode_rpc(payload, 2 + 50 + 20 * 201)
    names = []
    tb = info.value.__traceback__
    while tb is not None:
        names.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert "decode_message" in names and not any(n.startswith("dec_") for n in names), names

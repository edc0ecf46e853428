"""pva._messages: byte vectors, hypothesis round trips, segmentation, type cache."""
from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pva_strategies import names, structs_and_values, values_equal, values_for

from pva import BitSet, DecodeError, FieldDesc, FieldType, LocalProtocolError, PVRequest, Status, nt
from pva._framing import Deframer
from pva._header import Direction, SetByteOrder
from pva._messages import (MESSAGES, Beacon, ChannelArrayRequest, ChannelArrayResponse,
                           ChannelDestroyRequest, ChannelDestroyResponse,
                           ChannelFieldInfoRequest, ChannelFieldInfoResponse,
                           ChannelGetRequest, ChannelGetResponse, ChannelMessage,
                           ChannelMonitorRequest, ChannelMonitorResponse,
                           ChannelProcessRequest, ChannelProcessResponse,
                           ChannelPutGetRequest, ChannelPutGetResponse, ChannelPutRequest,
                           ChannelPutResponse, ChannelRequestCancel, ChannelRequestDestroy,
                           ChannelRpcRequest, ChannelRpcResponse, ConnectionValidatedResponse,
                           ConnectionValidationRequest, ConnectionValidationResponse,
                           CreateChannelRequest, CreateChannelResponse, Echo, EchoReply,
                           AuthNZ, AuthNZReply, AclChange, MultipleData,
                           MessageContext, OriginTag, RequestTypes, SearchRequest,
                           SearchResponse, Subcommand, decode_message, encode_message,
                           encode_payload)
from pva._values import DataWithBitSet, FieldDescAndData

ORDERS = ["<", ">"]
NTD = nt.NTScalar("d").type


def payload(msg, order="<", ctx=None) -> bytes:
    return b"".join(bytes(b) for b in encode_payload(msg, order, ctx or MessageContext()))


def roundtrip(msg, order, ctx=None, ctx2=None):
    """Encode, decode with a fresh peer context, re-encode: identical bytes."""
    ctx = ctx or MessageContext()
    data = payload(msg, order, ctx)
    ctx2 = ctx2 or MessageContext()
    ctx2.types.update(ctx.types)
    back = decode_message(msg.ID, msg.SENDER, data, order, ctx2)
    assert type(back) is type(msg)
    assert payload(back, order, MessageContext(ctx2.cache)) == data \
        if not ctx.send_cache else True
    return back, data


# ---------------------------------------------------------------- vectors
def test_every_command_both_directions_registered():
    # every application command of the protocol has a class for each
    # direction it travels in
    keys = set(MESSAGES)
    for cmd in (1, 2, 5, 7, 8, 10, 11, 12, 13, 14, 16, 17, 20):
        assert (cmd, Direction.CLIENT) in keys and (cmd, Direction.SERVER) in keys, cmd
    for cmd, d in ((0, Direction.SERVER), (3, Direction.CLIENT), (4, Direction.SERVER),
                   (9, Direction.SERVER), (15, Direction.CLIENT), (18, Direction.SERVER),
                   (21, Direction.CLIENT), (22, Direction.CLIENT), (6, Direction.SERVER),
                   (19, Direction.SERVER)):
        assert (cmd, d) in keys


def test_validation_request_vector():
    msg = ConnectionValidationRequest(0x10000, 0x7FFF, ["anonymous", "ca"])
    assert payload(msg) == bytes.fromhex("00000100ff7f0209616e6f6e796d6f7573026361")
    assert payload(msg, ">") == bytes.fromhex("00010000" "7fff" "0209616e6f6e796d6f7573026361")


def test_validation_response_ca_vector():
    msg = ConnectionValidationResponse.ca("root", "vm")
    assert payload(msg) == bytes.fromhex(
        "00000100ff7f0000026361800002047573657260046" "86f73746004726f6f7402766d")
    anon = ConnectionValidationResponse(auth_nz="anonymous")
    assert payload(anon) == bytes.fromhex("00000100ff7f000009616e6f6e796d6f7573ff")


def test_search_counts_are_uint16():
    msg = SearchRequest(0x66696E64, ("0.0.0.0", 0xDA17), [(0x12345678, "rec:struct")],
                        flags=0x80)
    data = payload(msg, ">")
    # protocols: size-encoded count 1; channels: uint16 count 0x0001
    assert data[26:31] == b"\x01\x03tcp"
    assert data[31:33] == b"\x00\x01"
    assert data[33:37] == bytes.fromhex("12345678")
    many = SearchRequest(1, ("::", 0), [(i, "x") for i in range(300)])
    d2 = payload(many, "<")
    assert struct.unpack_from("<H", d2, 31)[0] == 300
    back = decode_message(3, Direction.CLIENT, d2, "<")
    assert len(back.channels) == 300
    resp = SearchResponse(b"g" * 12, 5, ("10.0.0.1", 5075), list(range(300)))
    d3 = payload(resp, ">")
    assert decode_message(4, Direction.SERVER, d3, ">").search_instance_ids == list(range(300))


def test_addresses():
    for host in ("0.0.0.0", "10.1.2.3", "::", "fe80::1"):
        msg = SearchResponse(b"x" * 12, 1, (host, 1))
        back = decode_message(4, Direction.SERVER, payload(msg), "<")
        assert back.server_address == host
    with pytest.raises(LocalProtocolError):
        payload(SearchResponse(b"x" * 12, 1, ("not-an-ip", 1)))


def test_get_vectors_from_corpus():
    req = ChannelGetRequest(0x07050301, 0x10002000, Subcommand.INIT, "")
    assert payload(req) == bytes.fromhex("010305070020001008800001056669656c64800000")
    assert payload(ChannelGetRequest(0x07050301, 0x10002000).to_get()) == \
        bytes.fromhex("010305070020001000")
    ctx = MessageContext()
    init = ChannelGetResponse(0x10002000).to_init(NTD)
    data = payload(init, "<", ctx)
    assert data.startswith(bytes.fromhex("0020001008ff80"))
    ctx.types[0x10002000] = RequestTypes(10, NTD)
    v = {"value": 1.5}
    resp = ChannelGetResponse(0x10002000).to_get(DataWithBitSet(v, BitSet({1})))
    assert payload(resp, "<", ctx) == bytes.fromhex("0020001000ff0102000000000000f83f")


def test_error_status_has_no_body():
    ctx = MessageContext()
    m = ChannelGetResponse(1, Status.create_error("nope"), Subcommand.INIT)
    back = decode_message(10, Direction.SERVER, payload(m, "<", ctx), "<", ctx)
    assert back.status.message == "nope" and back.pv_structure_if is None


def test_monitor_update_and_pipeline():
    ctx = MessageContext()
    ctx.types[3] = RequestTypes(13, NTD)
    v = nt.NTScalar("d").wrap(2.5, timestamp=1.0)
    up = ChannelMonitorResponse(3, subcommand=0).to_default(
        DataWithBitSet(v, BitSet({1})), BitSet({1}))
    for order in ORDERS:
        back, data = roundtrip(up, order, ctx)
        assert back.pv_data.data == {"value": 2.5}
        assert back.overrun_bitset == BitSet({1})
        assert back.is_update
    ack = ChannelMonitorRequest(1, 3).to_pipeline(4)
    assert payload(ack) == bytes.fromhex("010000000300000080") + struct.pack("<I", 4)
    init = ChannelMonitorRequest(1, 3).to_init("field(value)", queue_size=8)
    back, data = roundtrip(init, ">")
    assert back.subcommand == 0x88 and back.nfree == 8
    assert back.request.fields == ["value"]
    assert payload(ChannelMonitorRequest(1, 3).to_start())[-1] == 0x44
    assert payload(ChannelMonitorRequest(1, 3).to_stop())[-1] == 0x04
    assert payload(ChannelMonitorRequest(1, 3, Subcommand.DESTROY))[-1] == 0x10
    fin = ChannelMonitorResponse(3, Status(), Subcommand.DESTROY)
    back, _ = roundtrip(fin, "<", ctx)
    assert back.status == Status() and back.pv_data is None


def test_data_message_without_type_keeps_raw():
    ctx = MessageContext()
    ctx.types[9] = RequestTypes(10, NTD)
    data = payload(ChannelGetResponse(9, subcommand=0).to_get(DataWithBitSet({"value": 1.0},
                                                                              BitSet({1}))),
                   "<", ctx)
    back = decode_message(10, Direction.SERVER, data, "<", MessageContext())
    assert back.pv_data is None and back.raw == data[6:]
    assert payload(back) == data  # re-encodes through raw


def test_no_type_for_data_is_local_error():
    with pytest.raises(LocalProtocolError):
        payload(ChannelPutRequest(1, 2, 0, put_data=DataWithBitSet({"value": 1}, BitSet({1}))))


def test_unknown_command_and_truncation():
    with pytest.raises(DecodeError):
        decode_message(99, Direction.CLIENT, b"", "<")
    full = payload(CreateChannelRequest([(1, "abc")]))
    for i in range(len(full)):
        with pytest.raises(DecodeError):
            decode_message(7, Direction.CLIENT, full[:i], "<")


def test_uint16_count_checked_against_input():
    # a count of 65535 channels with 2 bytes left is refused before looping
    with pytest.raises(DecodeError, match="channel list"):
        decode_message(7, Direction.CLIENT, b"\xff\xff\x00\x00", "<")


def test_segmentation_roundtrip():
    ctx = MessageContext()
    big = np.arange(10000, dtype="f8")
    desc = nt.NTScalar("ad").type
    ctx.types[1] = RequestTypes(10, desc)
    msg = ChannelGetResponse(1, subcommand=0).to_get(DataWithBitSet({"value": big}, BitSet({1})))
    for order in ORDERS:
        bufs = encode_message(msg, order, ctx, max_segment_size=1000)
        raw = b"".join(bytes(b) for b in bufs)
        frames = Deframer(direction=Direction.SERVER, reassemble=False).feed(raw)
        assert len(frames) > 50 and frames[0].flags & 0x30 == 0x10
        (frame,) = Deframer(direction=Direction.SERVER).feed(raw)
        back = decode_message(frame.command, Direction.SERVER, frame.payload, order, ctx)
        np.testing.assert_array_equal(back.pv_data.data["value"], big)
        # numpy view on the received payload, not a copy
        assert back.pv_data.data["value"].base is not None


def test_type_cache_on_encode_and_decode():
    tx = MessageContext(send_cache=True)
    rx = MessageContext()
    first = payload(ChannelGetResponse(1).to_init(NTD), "<", tx)
    second = payload(ChannelGetResponse(2).to_init(NTD), "<", tx)
    assert first[6] == 0xFD and second[6] == 0xFE and len(second) == 9
    a = decode_message(10, Direction.SERVER, first, "<", rx)
    b = decode_message(10, Direction.SERVER, second, "<", rx)
    assert a.pv_structure_if == b.pv_structure_if == NTD
    with pytest.raises(DecodeError, match="cache"):
        decode_message(10, Direction.SERVER, second, "<", MessageContext())


def test_big_payload_not_copied():
    arr = np.arange(100000, dtype="i4")
    ctx = MessageContext()
    desc = nt.NTScalar("ai").type
    ctx.types[1] = RequestTypes(13, desc)
    msg = ChannelMonitorResponse(1, subcommand=0).to_default(DataWithBitSet({"value": arr},
                                                                            BitSet({1})))
    bufs = encode_message(msg, "<", ctx)
    assert any(isinstance(b, memoryview) or (hasattr(b, "nbytes") and b.nbytes == arr.nbytes)
               or len(b) == arr.nbytes for b in bufs[1:])


# ---------------------------------------------------------------- hypothesis
u32 = st.integers(0, 0xFFFFFFFF)
u16 = st.integers(0, 0xFFFF)
u8 = st.integers(0, 0xFF)
text = st.text(max_size=40)
statuses = st.one_of(st.just(Status()), st.builds(Status, st.sampled_from([1, 2, 3]), text, text),
                     st.builds(Status, st.just(0), text.filter(bool), text))
ok_statuses = st.one_of(st.just(Status()), st.builds(Status, st.just(1), text, text))
hosts = st.one_of(st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).filter(
    lambda a: a.ipv4_mapped is None).map(str))
pvrequests = st.sampled_from(["", "field(value)", "field(value,alarm.severity)",
                              "record[queueSize=4]field()", "field(a.b.c)record[pipeline=true]"])
channel_lists = st.lists(st.tuples(u32, text), max_size=5)


@st.composite
def typed_values(draw):
    desc, value = draw(structs_and_values(max_leaves=6))
    return FieldDescAndData(desc, value)


@st.composite
def partial_data(draw):
    desc, value = draw(structs_and_values(max_leaves=6))
    bits = draw(st.sets(st.integers(0, desc.num_bits - 1), max_size=4))
    return desc, DataWithBitSet(value, BitSet(bits), desc)


def simple_messages():
    return st.one_of(
        st.builds(Beacon, st.binary(min_size=12, max_size=12), u8, st.tuples(hosts, u16),
                  flags=u8, change_count=u16, protocol=text,
                  server_status=st.one_of(st.just(None), typed_values())),
        st.builds(ConnectionValidationRequest, u32, u16, st.lists(text, max_size=4)),
        st.builds(ConnectionValidationResponse, u32, u16, u16, text,
                  st.one_of(st.just(None), typed_values())),
        st.builds(Echo, st.binary(max_size=40)),
        st.builds(EchoReply, st.binary(max_size=40)),
        st.builds(SearchRequest, u32, st.tuples(hosts, u16), channel_lists,
                  protocols=st.lists(text, max_size=3), flags=u8),
        st.builds(SearchResponse, st.binary(min_size=12, max_size=12), u32,
                  st.tuples(hosts, u16), st.lists(u32, max_size=8), found=st.booleans(),
                  protocol=text),
        st.builds(AuthNZ, st.one_of(st.just(None), typed_values())),
        st.builds(AuthNZReply, st.one_of(st.just(None), typed_values())),
        st.builds(AclChange, st.binary(max_size=10)),
        st.builds(MultipleData, st.binary(max_size=10)),
        st.builds(CreateChannelRequest, channel_lists),
        st.builds(CreateChannelResponse, u32, u32, statuses),
        st.builds(ChannelDestroyRequest, u32, u32),
        st.builds(ChannelDestroyResponse, u32, u32),
        st.builds(ConnectionValidatedResponse, statuses),
        st.builds(ChannelRequestDestroy, u32, u32),
        st.builds(ChannelRequestCancel, u32, u32),
        st.builds(ChannelFieldInfoRequest, u32, u32, text),
        st.builds(ChannelFieldInfoResponse, u32, st.one_of(st.none(), structs_and_values(4).map(
            lambda dv: dv[0])), ok_statuses),
        st.builds(ChannelFieldInfoResponse, u32, st.none(), statuses),
        st.builds(ChannelMessage, u32, st.integers(0, 3), text),
        st.builds(OriginTag, hosts),
        st.builds(ChannelGetRequest, u32, u32, st.just(Subcommand.INIT), pvrequests),
        st.builds(ChannelGetRequest, u32, u32, st.sampled_from([0, 0x10, 0x40, 0x50])),
        st.builds(ChannelPutRequest, u32, u32, st.just(Subcommand.INIT), pvrequests),
        st.builds(ChannelPutRequest, u32, u32, st.sampled_from([0x40, 0x50])),
        st.builds(ChannelPutGetRequest, u32, u32, st.sampled_from([0x40, 0x80, 0x50])),
        st.builds(ChannelProcessRequest, u32, u32, st.sampled_from([0x08, 0x00, 0x10]),
                  pvrequests),
        st.builds(ChannelRpcRequest, u32, u32, st.just(Subcommand.INIT), pvrequests),
        st.builds(ChannelRpcRequest, u32, u32, st.sampled_from([0, 0x10]),
                  pv_data=st.one_of(st.just(None), typed_values())),
        st.builds(ChannelRpcResponse, u32, statuses, st.just(0x08)),
        st.builds(ChannelRpcResponse, u32, ok_statuses, st.sampled_from([0, 0x10]),
                  pv_response=typed_values()),
        st.builds(ChannelProcessResponse, u32, statuses, st.sampled_from([0x08, 0x00, 0x10])),
        st.builds(ChannelMonitorRequest, u32, u32, st.sampled_from([0x44, 0x04, 0x10, 0x00]),
                  nfree=st.one_of(st.none(), u32)),
        st.builds(ChannelMonitorRequest, u32, u32, st.just(0x08), pvrequests,
                  nfree=st.one_of(st.none(), u32)),
        st.builds(ChannelArrayRequest, u32, u32, st.just(0x40), offset=u32, count=u32,
                  stride=u32),
        st.builds(ChannelArrayRequest, u32, u32, st.just(0x80), length=u32),
        st.builds(ChannelArrayRequest, u32, u32, st.just(0x04)),
        st.builds(ChannelArrayResponse, u32, ok_statuses, st.just(0x04), length=u32),
        st.builds(ChannelArrayResponse, u32, statuses, st.sampled_from([0x00, 0x80, 0x10])),
    )


@settings(max_examples=800, deadline=None, suppress_health_check=list(HealthCheck))
@given(msg=simple_messages(), order=st.sampled_from(ORDERS))
def test_hypothesis_roundtrip(msg, order):
    back, data = roundtrip(msg, order)
    assert back == msg


@st.composite
def data_messages(draw):
    """(message, RequestTypes) for the messages whose data need the INIT type."""
    ioid = draw(u32)
    desc, data = draw(partial_data())
    kind = draw(st.sampled_from(["get", "put_get", "put_req", "putget_req", "putget_get",
                                 "putget_put", "mon", "init_get", "init_put", "init_putget",
                                 "init_mon", "init_array", "array_get", "array_put"]))
    types = RequestTypes(10, desc, desc)
    if kind == "get":
        return ChannelGetResponse(ioid, draw(ok_statuses), 0).to_get(data), types
    if kind == "put_get":
        return ChannelPutResponse(ioid).to_get(data), types
    if kind == "put_req":
        return ChannelPutRequest(draw(u32), ioid).to_default(data), types
    if kind == "putget_req":
        return ChannelPutGetRequest(draw(u32), ioid, 0, put_data=data), types
    if kind == "putget_get":
        return ChannelPutGetResponse(ioid, Status(), 0x40, pv_data=data), types
    if kind == "putget_put":
        return ChannelPutGetResponse(ioid, Status(), 0x80, pv_data=data), types
    if kind == "mon":
        ob = BitSet(draw(st.sets(st.integers(0, 200), max_size=3)))
        return ChannelMonitorResponse(ioid, subcommand=0).to_default(data, ob), types
    if kind == "init_get":
        return ChannelGetResponse(ioid).to_init(desc), None
    if kind == "init_put":
        return ChannelPutResponse(ioid).to_init(desc), None
    if kind == "init_putget":
        return ChannelPutGetResponse(ioid, Status(), 0x08, desc, desc), None
    if kind == "init_mon":
        return ChannelMonitorResponse(ioid).to_init(draw(ok_statuses), desc), None
    adesc = FieldDesc.array(FieldDesc(draw(st.sampled_from([FieldType.int32, FieldType.float64,
                                                            FieldType.string]))))
    atypes = RequestTypes(14, adesc)
    value = draw(values_for(adesc))
    if kind == "init_array":
        return ChannelArrayResponse(ioid, Status(), 0x08, adesc), None
    if kind == "array_get":
        return ChannelArrayResponse(ioid, Status(), 0x40, array_data=value), atypes
    return ChannelArrayRequest(draw(u32), ioid, 0x00, offset=draw(u32), stride=draw(u32),
                               array_data=value), atypes


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(mt=data_messages(), order=st.sampled_from(ORDERS), cache=st.booleans())
def test_hypothesis_data_roundtrip(mt, order, cache):
    msg, types = mt
    tx = MessageContext(send_cache=cache)
    rx = MessageContext()
    if types is not None:
        tx.types[msg.ioid] = types
        rx.types[msg.ioid] = types
    data = payload(msg, order, tx)
    back = decode_message(msg.ID, msg.SENDER, data, order, rx)
    assert getattr(back, "raw", None) is None
    re = MessageContext(rx.cache)
    re.types.update(rx.types)
    again = payload(back, order, re)
    if not cache:
        assert again == data
    # and once more, stable
    back2 = decode_message(msg.ID, msg.SENDER, again, order, rx)
    assert payload(back2, order, re) == again
    pd = getattr(back, "pv_data", None) or getattr(back, "put_data", None)
    if isinstance(pd, DataWithBitSet):
        orig = getattr(msg, "pv_data", None) or getattr(msg, "put_data", None)
        # only the bits not covered by a set parent are sent (pvxs does the same)
        from pva._partial import normalize_mask
        assert pd.bitset.to_int() == normalize_mask(orig.bitset.to_int(), pd.interface)


@settings(max_examples=300, deadline=None)
@given(name=names, order=st.sampled_from(ORDERS))
def test_pvrequest_in_init(name, order):
    msg = ChannelGetRequest(1, 2, Subcommand.INIT, PVRequest.parse(f"field({name})"))
    back, _ = roundtrip(msg, order)
    assert back.request.fields == [name]


def test_control_messages_reexported():
    from pva import _messages
    sbo = _messages.SetByteOrder(0, Direction.SERVER, ">")
    assert encode_message(sbo) == [sbo.encode()]
    assert isinstance(SetByteOrder.decode(sbo.encode()), SetByteOrder)




# --- pvRequest decoding cache -------------------------------------------------
@pytest.mark.parametrize("order", ["<", ">"])
def test_pvrequest_decoded_once_per_content(order):
    """Clients repeat the same pvRequest with every INIT: the decoded form is
    shared, and equal to a fresh decode."""
    from pva._typecache import wire_requests
    text = "field(value,alarm.severity)record[queueSize=7]"
    data = payload(ChannelGetRequest(5, 77, Subcommand.INIT, PVRequest.parse(text)), order)
    a = decode_message(ChannelGetRequest.ID, Direction.CLIENT, data, order, MessageContext())
    b = decode_message(ChannelGetRequest.ID, Direction.CLIENT, data, order, MessageContext())
    assert a.request is b.request and str(a.request) == text
    assert a.pv_request is b.pv_request
    wire_requests.clear()
    c = decode_message(ChannelGetRequest.ID, Direction.CLIENT, data, order, MessageContext())
    assert c.request is not a.request and c.request == a.request
    assert c.pv_request.data == a.pv_request.data
    # the ids and the rest of the message are still read per message
    other = payload(ChannelGetRequest(6, 78, Subcommand.INIT, PVRequest.parse(text)), order)
    d = decode_message(ChannelGetRequest.ID, Direction.CLIENT, other, order, MessageContext())
    assert (d.server_chid, d.ioid) == (6, 78) and d.request is c.request


@pytest.mark.parametrize("make,read,at", [
    (lambda ioid: ChannelGetRequest(1, ioid, Subcommand.INIT, PVRequest.parse("field(value)")),
     lambda msg: msg.request, 9),
    (lambda ioid: ChannelGetResponse(ioid, Status(), Subcommand.INIT,
                                     pv_structure_if=nt.NTScalar("d").type),
     lambda msg: msg.pv_structure_if, 6),
], ids=["pvRequest", "INIT reply type"])
def test_through_the_type_cache_is_not_shared(make, read, at):
    """A pvRequest or type sent through the connection's type cache (0xFD
    defines an id, 0xFE refers to it) depends on that connection: decoded
    every time, and the definition registers the id."""
    sender = MessageContext(send_cache=True)
    first, second = payload(make(1), "<", sender), payload(make(2), "<", sender)
    assert first[at] == 0xFD and second[at] == 0xFE
    cls = type(make(1))
    receiver = MessageContext()
    a = decode_message(cls.ID, cls.SENDER, first, "<", receiver)
    b = decode_message(cls.ID, cls.SENDER, second, "<", receiver)
    assert read(a) == read(b) == read(make(1))
    with pytest.raises(DecodeError):   # another connection never saw the definition
        decode_message(cls.ID, cls.SENDER, second, "<", MessageContext())


# --- type descriptions decoded once per content -------------------------------------
@pytest.mark.parametrize("order", ["<", ">"])
def test_inline_type_decoded_once_per_content(order):
    """pvxs sends the whole type in every INIT reply: the same FieldDesc object
    comes back for the same bytes (its cached codecs serve every request),
    equal to a fresh decode; the rest of the message is still read."""
    from pva._typecache import wire_types
    from pva._wire import Limits
    desc, nti = nt.NTScalar("d").type, nt.NTScalar("i").type
    init = payload(ChannelPutGetResponse(3, Status(), Subcommand.INIT,
                                         put_structure_if=desc, get_structure_if=nti), order)
    ctx = MessageContext()
    a = decode_message(ChannelPutGetResponse.ID, Direction.SERVER, init, order, ctx)
    b = decode_message(ChannelPutGetResponse.ID, Direction.SERVER, init, order,
                       MessageContext())
    assert a.put_structure_if is b.put_structure_if and a.put_structure_if == desc
    assert a.get_structure_if is b.get_structure_if and a.get_structure_if == nti
    wire_types.clear()
    c = decode_message(ChannelPutGetResponse.ID, Direction.SERVER, init, order,
                       MessageContext())
    assert c.put_structure_if is not a.put_structure_if and c.put_structure_if == desc
    # the limits of the receiving connection still apply to a cached type
    strict = MessageContext(limits=Limits(max_fields=2))
    with pytest.raises(DecodeError):
        decode_message(ChannelPutGetResponse.ID, Direction.SERVER, init, order, strict)
    # a cut type is refused, then and later
    for _ in range(2):
        with pytest.raises(DecodeError):
            decode_message(ChannelPutGetResponse.ID, Direction.SERVER, init[:-3], order,
                           MessageContext())


# --- a monitor update encoded once for many connections ---------------------------
@pytest.mark.parametrize("order", ["<", ">"])
def test_shared_monitor_update_is_byte_identical(order):
    """The body encode_monitor_update() gives is what the connection's own
    encoding of the same update produces; a type with a variant union (its
    values may use a connection's type cache) is not shared."""
    from pva._fastpath import encode_monitor_update
    from pva._values import DataWithBitSet
    desc = nt.NTScalar("d").type
    value = {"value": 2.5, "timeStamp": {"secondsPastEpoch": 7, "nanoseconds": 9, "userTag": 0}}
    bits = BitSet({desc.bit_of["value"], desc.bit_of["timeStamp"]})
    overrun = BitSet({desc.bit_of["value"]})
    raw = encode_monitor_update(desc, DataWithBitSet(value, bits), overrun, order)
    plain = ChannelMonitorResponse(3, Status(), 0, pv_structure_if=desc,
                                   pv_data=DataWithBitSet(value, bits), overrun_bitset=overrun)
    shared = ChannelMonitorResponse(3, Status(), 0)
    shared.raw = raw
    assert payload(shared, order) == payload(plain, order)
    anydesc = FieldDesc.struct([("value", FieldDesc.scalar(FieldType.any))])
    assert encode_monitor_update(anydesc, DataWithBitSet({"value": 1.0}, BitSet({0})),
                                 None, order) is None


# --- partial values: the planned read (fixed fields in one unpack) -----------------
def _key_order(v):
    """The keys of nested dicts in insertion order (what == does not compare)."""
    if isinstance(v, dict):
        return [(k, _key_order(x)) for k, x in v.items()]
    return None


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(dv=structs_and_values(), order=st.sampled_from(ORDERS), data=st.data())
def test_monitor_update_read_as_the_field_by_field_decoder(dv, order, data):
    """A monitor update decodes as decode_partial (one field at a time) does:
    same values, key order and bits; every truncation is a DecodeError."""
    from pva._partial import decode_partial, encode_partial
    desc, value = dv
    nbits = desc.num_bits
    bits = data.draw(st.sets(st.integers(0, nbits - 1), max_size=nbits))
    body = encode_partial(desc, value, BitSet(bits), order)
    ref, ref_bits, end = decode_partial(desc, body, 0, order)
    assert end == len(body)
    ioid = struct.pack(order + "I", 5)
    msg = ioid + b"\x00" + body + b"\x00"
    for _ in range(2):          # planned the first time, then from the plan cache
        ctx = MessageContext()
        ctx.types[5] = RequestTypes(13, desc)
        back = decode_message(13, Direction.SERVER, msg, order, ctx)
        assert values_equal(back.pv_data.data, ref)
        assert _key_order(back.pv_data.data) == _key_order(ref)
        assert back.pv_data.bitset == ref_bits and type(back.pv_data.bitset) is BitSet
        assert back.overrun_bitset == BitSet()
    for cut in range(5, 5 + len(body)):
        with pytest.raises(DecodeError):
            decode_partial(desc, body[:cut - 5], 0, order)
        with pytest.raises(DecodeError):
            decode_message(13, Direction.SERVER, msg[:cut], order, ctx)


@pytest.mark.parametrize("order", ORDERS)
def test_monitor_update_truncated_in_fixed_fields(order):
    """The error for fixed fields cut short is the one of the field-by-field read."""
    desc = nt.NTScalar("d").type
    ts = desc.bit_of["timeStamp"]
    bits = BitSet({desc.bit_of["value"], ts + 1, ts + 2})      # three fixed fields
    value = {"value": 2.5, "timeStamp": {"secondsPastEpoch": 7, "nanoseconds": 9}}
    body = encode_partial_bytes(desc, value, bits, order)
    ctx = MessageContext()
    ctx.types[5] = RequestTypes(13, desc)
    head = struct.pack(order + "IB", 5, 0)
    back = decode_message(13, Direction.SERVER, head + body + b"\x02\x02\x02", order, ctx)
    assert back.pv_data.data == value and back.overrun_bitset == BitSet({1, 9})
    assert list(back.pv_data.data) == ["value", "timeStamp"]
    # the value was read; the seconds (8 bytes at 5 + 3 + 8) are cut short
    with pytest.raises(DecodeError, match="for unpacking 8 bytes at offset 16 "):
        decode_message(13, Direction.SERVER, head + body[:-9], order, ctx)
    with pytest.raises(DecodeError, match="BitSet of 2 bytes exceeds the input"):
        decode_message(13, Direction.SERVER, head + body + b"\x02\x02", order, ctx)


def encode_partial_bytes(desc, value, bits, order):
    from pva._partial import encode_partial
    return encode_partial(desc, value, bits, order)

"""Byte-for-byte agreement with pvxs (through p4p).

A p4p server (127.0.0.1, port 0) serves NTScalar of every type, NTScalarArray,
NTEnum, NTTable and NTNDArray (unions, variants, structure arrays); a raw
socket client captures the type (GET_FIELD, GET INIT) and value (GET) bytes.
Our decoder must read them into what p4p holds and our encoder must reproduce
them exactly.  The same checks run on the stored captures in
``tests/test_pva/data`` without sockets, and the stored captures must equal a
fresh capture (regenerate them with ``python tests/test_pva/p4p_capture.py``).
"""
from __future__ import annotations

import numpy as np
import pytest

import pva
from pva import PVRequest

from p4p_capture import (RawClient, assert_same, capture,
                          initial_values, load_fixtures, normalize, p4p_desc,
                          p4p_server)


@pytest.fixture(scope="module")
def live():
    return capture()


@pytest.fixture(scope="module")
def expected():
    return initial_values()


def check_capture(name, cap, p4p_value):
    want_desc = p4p_desc(p4p_value.type())
    # type description: decode == p4p's type, re-encode == pvxs bytes
    for key in ("type", "init_type"):
        desc, off = pva.decode_field_desc(memoryview(cap[key]), 0, "<")
        assert off == len(cap[key])
        assert desc == want_desc, name
        assert pva.encode_field_desc(desc, "<") == cap[key], name
    # value: BitSet + data
    data = cap["data"]
    value, bits, off = pva.decode_partial(want_desc, data, 0, "<")
    assert off == len(data), name
    assert bits, name
    assert_same(normalize(value), p4p_value.todict(), name)
    assert pva.encode_partial(want_desc, value, bits, "<") == data, name
    # numeric arrays are views of the received buffer, not copies
    v = value.get("value")
    if isinstance(v, np.ndarray) and v.size:
        assert not v.flags.owndata
    return want_desc, value


def test_live_captures(live, expected):
    assert set(live) == set(expected)
    for name, cap in live.items():
        check_capture(name, cap, expected[name])


def test_stored_captures_decode_and_reencode(expected):
    stored = load_fixtures()
    assert len(stored) >= 25
    for name, cap in stored.items():
        check_capture(name, cap, expected[name])


def test_stored_captures_are_current(live):
    stored = load_fixtures()
    for name, cap in stored.items():
        assert live[name] == cap, f"{name}: regenerate with python tests/test_pva/p4p_capture.py"


def test_big_array_is_a_view(live, expected):
    desc, value = check_capture("big_array_d", live["big_array_d"], expected["big_array_d"])
    assert value["value"].dtype == np.dtype("<f8") and value["value"].size == 100000


def test_full_encoding_of_every_type(live, expected):
    """Our full (non-partial) encoding decodes in pvxs's order too."""
    for name, p4p_value in expected.items():
        desc = p4p_desc(p4p_value.type())
        value, _, _ = pva.decode_partial(desc, live[name]["data"])
        for order in "<>":
            enc = pva.encode_value(desc, value, order)
            back, off = pva.decode_value(desc, enc, 0, order)
            assert off == len(enc)
            assert_same(normalize(back), p4p_value.todict(), name)


@pytest.mark.parametrize("order", ["<", ">"])
def test_pvxs_accepts_our_pvrequest(expected, order):
    """pvxs parses our pvRequest encoding (both byte orders) and honours it."""
    req = PVRequest.parse("field(value,alarm.severity)record[block=false,queueSize=2]")
    with p4p_server({"pv": expected["scalar_d"]}) as port, RawClient(port, order) as cli:
        sid = cli.create_channel("pv")
        type_bytes, data = cli.get(sid, req.encode(order))
        desc, _ = pva.decode_field_desc(memoryview(type_bytes), 0, cli.server_order)
        value, bits, _ = pva.decode_partial(desc, data, 0, cli.server_order)
        assert value["value"] == expected["scalar_d"].value
        assert bits <= req.to_bitset(desc).expand(desc) | {0}
        # the empty request, cached type ids (0xFD/0xFE) and a repeated request
        cache = pva.IntrospectionCache()
        empty = PVRequest().encode(order, cache)
        assert empty[0] == 0xFD
        type2, data2 = cli.get(sid, empty)
        type3, data3 = cli.get(sid, PVRequest().encode(order, cache))
        assert data2 == data3


def test_p4p_desc_helper_matches_nt_builders(expected):
    from pva import nt

    assert p4p_desc(expected["scalar_d"].type()) == nt.NTScalar("d").type
    assert p4p_desc(expected["array_s"].type()) == nt.NTScalarArray("s").type
    assert p4p_desc(expected["enum"].type()) == nt.NTEnum().type
    assert p4p_desc(expected["ndarray"].type()) == nt.NTNDArray().type
    assert p4p_desc(expected["table"].type()) == nt.NTTable([("a", "i"), ("b", "s"), ("c", "d")]).type
    assert p4p_desc(expected["scalar_full_d"].type()) == nt.NTScalar(
        "d", display=True, control=True, valueAlarm=True, form=True).type

"""pvRequest: grammar, errors with positions, wire structure, field selection."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pva
from pva import (FieldDesc, FieldType, LocalProtocolError, PVRequest,
                 PVRequestError, nt)


@pytest.mark.parametrize("text, canonical", [
    ("", "field()"),
    ("field()", "field()"),
    ("field(value)", "field(value)"),
    ("value", "field(value)"),
    ("value alarm", "field(value,alarm)"),
    ("  field( value , alarm.severity ) ", "field(value,alarm.severity)"),
    ("field(a,,b,)", "field(a,b)"),
    ("field(a)field(b)", "field(a,b)"),
    ("field(a.b,a.c)", "field(a.b,a.c)"),
    ("field(a{b,c})", "field(a.b,a.c)"),
    ("field(a{b{c,d},e})", "field(a.b.c,a.b.d,a.e)"),
    ("field(value[process=true])", "field(value[process=true])"),
    ("record[queueSize=4]", "field()record[queueSize=4]"),
    ("field(value)record[process=true,block=false]", "field(value)record[process=true,block=false]"),
    ("record[]field()", "field()"),
    ("record[ackAny=50%,pipeline=true]", "field()record[ackAny=50%,pipeline=true]"),
    # forms of pvDataCPP's createRequest
    ("record[]field()getField()putField()", "field()getField()putField()"),
    ("record[a=b,x=y]field(a) putField(a),getField(a)",
     "field(a)record[a=b,x=y]getField(a)putField(a)"),
    ("putField(value)getField(value,alarm)", "field()getField(value,alarm)putField(value)"),
    ("a{b{c{d}}}", "field(a.b.c.d)"),
    ("value[x=y],alarm", "field(value[x=y],alarm)"),
    ("field(a.b[x=y]{c.d[x=y]})", "field(a.b[x=y],a.b.c.d[x=y])"),
    ("record [ process = true ] field ( alarm , timeStamp [ shareData = true ] )",
     "field(alarm,timeStamp[shareData=true])record[process=true]"),
])
def test_parse_and_format(text, canonical):
    req = PVRequest.parse(text)
    assert str(req) == canonical
    assert PVRequest.parse(canonical) == req
    assert pva.parse_pvrequest(text) == req


@pytest.mark.parametrize("text, position, match", [
    ("field(value", 11, "expected ',' or '\\)', found end of input"),
    ("field(a b)", 8, "expected ',' or '\\)', found 'b'"),
    ("field value", 6, "expected '\\(' after 'field'"),
    ("record(x)", 6, "expected '\\[' after 'record'"),
    ("record[a]", 8, "expected '='"),
    ("record[a=]", 9, "expected an option value"),
    ("record[a=1 b=2]", 11, "expected ','"),
    ("x)", 1, "unexpected '\\)'"),
    ("field(a..b)", 6, "invalid field name"),
    ("field(a{b)", 9, "expected ',' or '}'"),
    ("field(#)", 6, "expected a field name"),
    ("getField value", 9, "expected '\\(' after 'getField'"),
    ("putField(a", 10, "expected ',' or '\\)'"),
    ("a{b", 3, "expected ',' or '}'"),
    # the member that carries options on the wire cannot be a field too: it
    # did not survive encode/decode (found by fuzzing)
    ("field(_options)", 6, "'_options' is reserved"),
    ("field(a{_options})", 8, "'_options' is reserved"),
    ("field(a._options)", 8, "'_options' is reserved"),
    # deeper than its encoding decodes (the decoder's max_depth; found by fuzzing)
    ("field(" + "a." * 17 + "b)", 6, "nested deeper than 17"),
    ("field(" + "a{" * 17 + "b" + "}" * 17 + ")", 40, "nested deeper than 17"),
])
def test_parse_errors_carry_position(text, position, match):
    with pytest.raises(PVRequestError, match=match) as info:
        PVRequest.parse(text)
    assert info.value.position == position
    assert isinstance(info.value, ValueError) and isinstance(info.value, LocalProtocolError)


def test_options():
    req = PVRequest.parse("record[queueSize=4,pipeline=true,process=passive]")
    assert req.int_option("queueSize") == 4 and req.bool_option("pipeline") is True
    assert req.option("process") == "passive" and req.int_option("nope", 7) == 7
    assert req.bool_option("block", True) is True
    with pytest.raises(LocalProtocolError):
        req.bool_option("process")
    with pytest.raises(LocalProtocolError):
        req.int_option("pipeline")
    assert PVRequest(["a"], {"b": True, "q": 3}).record_options == {"b": "true", "q": "3"}


def test_wire_structure_matches_pvxs_layout():
    desc, value = PVRequest.parse("field(value,alarm.severity)record[queueSize=4,block=true]").to_structure()
    empty = FieldDesc.struct()
    s = FieldDesc(FieldType.string)
    assert desc == FieldDesc.struct([
        ("field", FieldDesc.struct([("value", empty), ("alarm", FieldDesc.struct([("severity", empty)]))])),
        ("record", FieldDesc.struct([("_options", FieldDesc.struct([("block", s), ("queueSize", s)]))])),
    ])
    assert value["record"]["_options"] == {"block": "true", "queueSize": "4"}
    # the empty request is what pvxs sends for "no request"
    assert PVRequest().encode() == bytes.fromhex("8000010566696" "56c64800000")


@given(st.lists(st.sampled_from(["value", "alarm", "alarm.severity", "timeStamp.userTag", "a.b.c"]), max_size=4),
       st.dictionaries(st.sampled_from(["queueSize", "pipeline", "process"]),
                       st.sampled_from(["true", "false", "4"]), max_size=3),
       st.sampled_from("<>"))
def test_wire_round_trip(fields, options, order):
    req = PVRequest(fields, options)
    back, off = PVRequest.decode(req.encode(order), 0, order)
    assert back == req and off == len(req.encode(order))
    assert PVRequest.parse(str(req)) == req


def _paths(desc, prefix=""):
    for name, child in desc.fields:
        path = f"{prefix}.{name}" if prefix else name
        yield path
        yield from _paths(child, path)


def test_put_get_selections_on_the_wire():
    """The members pvDataCPP's createRequest builds for a put-get request."""
    text = ("record[process=true,xxx=yyy]putField(power.value)"
            "getField(alarm,timeStamp,power{value,alarm},ps0{alarm,current{value,alarm}})")
    req = PVRequest.parse(text)
    desc, value = req.to_structure()
    paths = set(_paths(desc))
    for path in ("record._options.process", "record._options.xxx", "putField.power.value",
                 "getField.alarm", "getField.timeStamp", "getField.power.value",
                 "getField.power.alarm", "getField.ps0.alarm", "getField.ps0.current.value",
                 "getField.ps0.current.alarm"):
        assert path in paths, path
    assert [n for n, _ in desc.fields] == ["field", "record", "getField", "putField"]
    assert not desc.children["field"].fields
    assert value["record"]["_options"] == {"process": "true", "xxx": "yyy"}
    for order in "<>":
        back, _ = PVRequest.decode(req.encode(order), 0, order)
        assert back == req and str(back) == str(req)
    assert req.for_get() is req.get_field and req.get_field.fields[:2] == ["alarm", "timeStamp"]
    assert req.put_field.fields == ["power.value"]
    plain = PVRequest.parse("field(value)")
    assert plain.for_get() is plain and plain.get_field is None and plain.put_field is None


def test_from_structure_is_lenient():
    # non-string option values (as some clients send) become strings
    desc = FieldDesc.struct([("field", FieldDesc.struct([("value", FieldDesc.struct())])),
                             ("record", FieldDesc.struct([("_options", FieldDesc.struct(
                                 [("queueSize", FieldDesc(FieldType.int32)),
                                  ("block", FieldDesc(FieldType.boolean))]))]))])
    req = PVRequest.from_structure(desc, {"field": {"value": {}},
                                          "record": {"_options": {"queueSize": 3, "block": False}}})
    assert req.fields == ["value"] and req.record_options == {"queueSize": "3", "block": "false"}
    assert str(PVRequest.from_structure(None, None)) == "field()"
    odd = FieldDesc.struct([("field", FieldDesc(FieldType.int32))])
    assert str(PVRequest.from_structure(odd, {"field": 1})) == "field()"


def test_per_field_options_on_the_wire():
    req = PVRequest.parse("field(value[process=true],alarm)")
    desc, value = req.to_structure()
    assert value["field"]["value"] == {"_options": {"process": "true"}}
    back = PVRequest.from_structure(desc, value)
    assert back == req and back.field_options == {"value": {"process": "true"}}


NTD = nt.NTScalar("d").type  # 0 struct, 1 value, 2 alarm(3,4,5), 6 timeStamp(7,8,9)


@pytest.mark.parametrize("text, bits", [
    ("field()", set(range(10))),
    ("", set(range(10))),
    ("field(value)", {0, 1}),
    ("field(alarm)", {0, 2, 3, 4, 5}),
    ("field(alarm.severity)", {0, 2, 3}),
    ("field(value,timeStamp,bogus)", {0, 1, 6, 7, 8, 9}),
])
def test_to_bitset_like_pvxs_request2mask(text, bits):
    assert PVRequest.parse(text).to_bitset(NTD) == bits


def test_to_bitset_requires_a_match():
    with pytest.raises(LocalProtocolError, match="at least one field"):
        PVRequest.parse("field(bogus)").to_bitset(NTD)


@pytest.mark.parametrize("text", ["field(a[])", "a[]b", "field(a[x=1],b[])",
                                  "field(" + ".".join("a" * 17) + "[x=1])"])
def test_empty_field_options_survive_the_wire(text):
    # found by fuzzing: "a[]" kept an empty options entry that encoding drops
    req = PVRequest.parse(text)
    assert PVRequest.decode(req.encode())[0] == req


def test_nodes_counts_names_and_options_of_every_part():
    # what a server's memory budget charges a request for (NODE_BYTES each)
    req = PVRequest.parse("field(a[x=1],b.c)record[q=1,block=false]")
    assert req.nodes == 3 + 1 + 2          # a, b, c; x; q, block
    req = PVRequest.parse("putField(value)getField(alarm.severity[y=2],value)")
    assert req.nodes == 1 + 3 + 1           # value; alarm, severity, value; y
    assert PVRequest.parse("").nodes == 0

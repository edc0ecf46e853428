"""Normative types match p4p's layouts; @pva_dataclass produces FieldDescs and values."""
from __future__ import annotations

import itertools
import typing

import numpy as np
import pytest
from p4p.nt import NTEnum as P4PEnum
from p4p.nt import NTNDArray as P4PNDArray
from p4p.nt import NTScalar as P4PScalar
from p4p.nt import NTTable as P4PTable
from p4p.nt import NTURI as P4PURI
from p4p_capture import p4p_desc

import pva
from pva import (FieldArrayType, FieldDesc, FieldType, Float64, Int32, String,
                 nt, pva_dataclass)

CODES = ["?", "b", "B", "h", "H", "i", "I", "l", "L", "f", "d", "s"]


@pytest.mark.parametrize("code", CODES)
def test_ntscalar_layouts_match_p4p(code):
    for array, display, control, value_alarm, form in itertools.product([False, True], repeat=5):
        spec = ("a" if array else "") + code
        kws = dict(display=display, control=control, valueAlarm=value_alarm, form=form)
        ours = (nt.NTScalarArray(code, **kws) if array else nt.NTScalar(code, **kws)).type
        assert ours == nt.NTScalar(spec, **kws).type
        assert ours == p4p_desc(P4PScalar(spec, **kws).type), (spec, kws)


def test_other_layouts_match_p4p():
    assert nt.NTEnum().type == p4p_desc(P4PEnum().type)
    cols = [("a", "i"), ("b", "s"), ("c", "d"), ("d", "?")]
    assert nt.NTTable(cols).type == p4p_desc(P4PTable(cols).type)
    assert nt.NTNDArray().type == p4p_desc(P4PNDArray().type)
    args = [("x", "I"), ("y", "s"), ("z", "ad")]
    assert nt.NTURI(args).type == p4p_desc(P4PURI(args).type)


def test_wrap_unwrap_and_encode():
    s = nt.NTScalar("d")
    v = s.wrap(2.5, timestamp=1.5, severity=2, message="bad")
    assert v["timeStamp"] == {"secondsPastEpoch": 1, "nanoseconds": 500000000, "userTag": 0}
    assert v["alarm"] == {"severity": 2, "status": 0, "message": "bad"}
    data = pva.encode_value(s.type, v)
    back, _ = pva.decode_value(s.type, data)
    assert nt.unwrap(s.type, back) == 2.5
    w = nt.NTScalar("d", display=True).wrap({"value": 1.0, "display.units": "mm"}, timestamp=0)
    assert w["value"] == 1.0 and w["display"]["units"] == "mm"
    with pytest.raises(KeyError):
        s.wrap({"display.units": "mm"})

    e = nt.NTEnum()
    assert nt.unwrap(e.type, e.wrap(1, ["a", "b"])) == {"index": 1, "choices": ["a", "b"]}
    t = nt.NTTable([("a", "i"), ("b", "s")])
    tv = t.wrap([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])
    assert tv["labels"] == ["a", "b"]
    cols = nt.unwrap(t.type, pva.decode_value(t.type, pva.encode_value(t.type, tv))[0])
    assert list(cols["a"]) == [1, 2] and cols["b"] == ["x", "y"]
    u = nt.NTURI([("x", "i")])
    assert nt.unwrap(u.type, u.wrap("rpc", {"x": 3})) == {"x": 3}
    with pytest.raises(KeyError):
        u.wrap("rpc", {"nope": 1})
    assert nt.unwrap(FieldDesc.struct([], "other"), {"a": 1}) == {"a": 1}
    assert nt.builder_for("epics:nt/NTScalarArray:1.0") is nt.NTScalarArray
    assert nt.builder_for("not a type id") is None


def test_ndarray_wrap_unwrap_round_trip():
    n = nt.NTNDArray()
    img = np.arange(24, dtype="u2").reshape(2, 3, 4)
    v = n.wrap(img, attributes={"ColorMode": 0, "exposure": 0.5, "name": "x"}, timestamp=3.0)
    assert v["value"][0] == "ushortValue" and [d["size"] for d in v["dimension"]] == [4, 3, 2]
    for order in "<>":
        back, _ = pva.decode_value(n.type, pva.encode_value(n.type, v, order), 0, order)
        out = nt.unwrap(n.type, back)
        assert out.shape == (2, 3, 4) and np.array_equal(out, img)
        assert [a["value"].value for a in back["attribute"]] == [0, 0.5, "x"]
    with pytest.raises(ValueError):
        n.wrap(np.zeros(2, dtype=complex))


@pytest.mark.parametrize("suffix, ft", [
    ("Boolean", FieldType.boolean), ("Int8", FieldType.int8), ("UInt64", FieldType.uint64),
    ("Float32", FieldType.float32), ("Float64", FieldType.float64), ("String", FieldType.string),
])
def test_caproto_style_dataclasses(suffix, ft):
    full = getattr(nt, "NTScalar" + suffix)
    base = getattr(nt, "NTScalar" + suffix + "Base")
    arr = getattr(nt, "NTScalarArray" + suffix)
    assert pva.get_pv_structure(base) == nt.NTScalar(ft).type
    assert pva.get_pv_structure(full) == nt.NTScalar(ft, display=True, control=True, valueAlarm=True).type
    assert pva.get_pv_structure(arr).children["value"] == FieldDesc.array(ft)
    inst = full()
    assert isinstance(inst, nt.NTScalarBase) and not isinstance(inst, nt.NTScalarArrayBase)
    assert isinstance(arr(), nt.NTScalarArrayBase)
    data = pva.encode_value(full._pva_struct_, inst)
    back = pva.from_value(full, pva.decode_value(full._pva_struct_, data)[0])
    assert back.alarm == inst.alarm and back.timeStamp == inst.timeStamp


def test_all_scalar_dataclasses_exist():
    for suffix in ["Boolean", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32",
                   "UInt64", "Float32", "Float64", "String"]:
        for prefix in ("NTScalar", "NTScalarArray"):
            assert pva.is_pva_dataclass(getattr(nt, prefix + suffix))
            assert prefix + suffix in nt.__all__


@pva_dataclass
class Point:
    x: Float64
    y: Float64


@pva_dataclass(name="my:Thing:1.0")
class Thing:
    count: Int32
    label: String
    points: typing.List[Point]
    samples: typing.List[Float64]
    names: typing.List[str]
    origin: Point
    either: typing.Union[Int32, String]
    anything: pva.Any
    flag: bool


def test_pva_dataclass_description():
    desc = pva.get_pv_structure(Thing)
    assert desc.type_id == "my:Thing:1.0"
    assert [n for n, _ in desc.fields] == ["count", "label", "points", "samples", "names",
                                           "origin", "either", "anything", "flag"]
    assert desc.children["points"] == FieldDesc.array(Point._pva_struct_)
    assert desc.children["samples"] == FieldDesc(FieldType.float64, FieldArrayType.variable_array)
    assert desc.children["either"] == FieldDesc.union(
        [("Int32", FieldDesc(FieldType.int32)), ("String", FieldDesc(FieldType.string))])
    assert desc.children["anything"] == FieldDesc.variant()
    assert desc.children["flag"] == FieldDesc(FieldType.boolean)


def test_pva_dataclass_values_round_trip():
    t = Thing(count=3, points=[Point(1, 2), Point(3, 4)], samples=np.array([1.0, 2.0]),
              either=("String", "s"), anything=5)
    assert t.origin == Point(0.0, 0.0) and t.names == []
    desc = Thing._pva_struct_
    for order in "<>":
        value, _ = pva.decode_value(desc, pva.encode_value(desc, t, order), 0, order)
        back = pva.from_value(Thing, value)
        assert back.points == t.points and back.either == ("String", "s")
        assert back.anything.value == 5 and list(back.samples) == [1.0, 2.0]
    bits = pva.fill_dataclass(t, {"count": 9, "origin": {"x": 1.5}})
    assert t.count == 9 and t.origin.x == 1.5
    assert bits == {desc.bit_of["count"], desc.bit_of["origin.x"]}
    assert pva.fields_to_bitset(t, {"label": 1, "origin": {"y": 1}}) == {2, desc.bit_of["origin.y"]}
    with pytest.raises(KeyError):
        pva.fill_dataclass(t, {"nope": 1})


def test_dataclass_from_field_desc():
    cls = pva.dataclass_from_field_desc(nt.NTScalar("i").type)
    assert pva.is_pva_dataclass(cls) and pva.get_pv_structure(cls) == nt.NTScalar("i").type
    assert pva.dataclass_from_field_desc(nt.NTScalar("i").type) is cls
    inst = cls(value=4)
    assert pva.is_pva_dataclass_instance(inst) and not pva.is_pva_dataclass_instance(cls)
    with pytest.raises(ValueError):
        pva.get_pv_structure(object())


def test_union_dataclass():
    @pva_dataclass(union=True)
    class Choice:
        a: Int32
        b: String

    assert Choice._pva_struct_.field_type == FieldType.union
    assert [n for n, _ in Choice._pva_struct_.fields] == ["a", "b"]

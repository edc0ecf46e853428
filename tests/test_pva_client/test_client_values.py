"""Put-value conversion and the Value type (no network)."""
from __future__ import annotations

import numpy as np
import pytest

from pva import BitSet, nt
from pva.client import Value
from pva.client.core import build_put

NTD = nt.NTScalar("d").type
NTI = nt.NTScalar("i").type
NTUB = nt.NTScalar("B").type
NTAD = nt.NTScalarArray("d").type
NTAS = nt.NTScalarArray("s").type
NTE = nt.NTEnum().type


def bits(desc, *paths):
    return BitSet({desc.bit_of[p] for p in paths})


@pytest.mark.parametrize("desc, value, expect", [
    (NTD, 1.5, 1.5), (NTD, "2.5", 2.5), (NTD, 3, 3.0), (NTD, np.float32(0.5), 0.5),
    (NTI, "12", 12), (NTI, "0x10", 16), (NTI, 7.0, 7), (NTI, "3e2", 300),
    (NTUB, 255, 255), (nt.NTScalar("s").type, 5, "5"),
    (nt.NTScalar("?").type, "true", True), (nt.NTScalar("?").type, 0, False),
])
def test_scalar_conversions(desc, value, expect):
    data, b, need = build_put(desc, value)
    assert data["value"] == expect and type(data["value"]) is type(expect)
    assert b == bits(desc, "value") and not need


@pytest.mark.parametrize("desc, value, match", [
    (NTD, "abc", "cannot convert 'abc' to float64"),
    (NTD, [1, 2], "cannot convert"),
    (NTI, 2**31, "out of range for int32"),
    (NTI, 1.5, "cannot convert 1.5 to int32"),
    (NTUB, -1, "out of range for uint8"),
    (nt.NTScalar("?").type, "maybe", "cannot convert 'maybe' to boolean"),
    (NTD, {"nope": 1}, "no field 'nope'"),
    (NTD, {"alarm": 3}, "is a structure"),
    (NTAD, "x y", "cannot convert 'x'"),
    (NTE, "zzz", None),
])
def test_bad_values(desc, value, match):
    if match is None:   # an enum by name needs the present choices first
        assert build_put(desc, value)[2] is True
        cur = {"value": {"index": 0, "choices": ["a", "b"]}}
        with pytest.raises(ValueError, match="not one of the choices"):
            build_put(desc, value, cur)
        return
    with pytest.raises(ValueError, match=match):
        build_put(desc, value)


def test_arrays_fields_and_enums():
    data, b, _ = build_put(NTAD, [1, 2, 3])
    assert data["value"].dtype == np.float64 and data["value"].tolist() == [1.0, 2.0, 3.0]
    data, _, _ = build_put(NTAD, "[1, 2.5]")
    assert data["value"].tolist() == [1.0, 2.5]
    data, _, _ = build_put(NTAS, ("a", 1))
    assert data["value"] == ["a", "1"]
    data, b, _ = build_put(NTD, {"value": 1, "alarm.severity": 2, "timeStamp": {"userTag": 3}})
    assert data["alarm"]["severity"] == 2 and data["timeStamp"]["userTag"] == 3
    assert b == bits(NTD, "value", "alarm.severity", "timeStamp.userTag")
    data, b, _ = build_put(NTE, 2)
    assert data["value"]["index"] == 2 and b == bits(NTE, "value.index")
    cur = {"value": {"index": 0, "choices": ["a", "b"]}, "alarm": {}, "timeStamp": {}}
    data, b, need = build_put(NTE, "b", cur)
    assert data["value"]["index"] == 1 and not need


def test_value_access_and_plain_dict():
    v = Value(nt.NTScalar("d").wrap(1.5), NTD, BitSet({1}))
    assert v.value == 1.5 and v["value"] == 1.5
    assert v.alarm.severity == 0 and v["alarm.severity"] == 0
    assert isinstance(v.alarm, Value) and v.alarm.type == NTD.children["alarm"]
    plain = v.todict()
    assert type(plain) is dict and type(plain["alarm"]) is dict and plain == dict(v)
    assert v.unwrap() == 1.5
    assert v.changed_fields == ["value"]
    with pytest.raises(AttributeError):
        v.nope
    import pickle
    w = pickle.loads(pickle.dumps(v))
    assert w == v and w.type == v.type


def test_changed_fields_as_p4p_lists_them(pva_server):
    """A full get and a monitor update that changes a whole structure: the
    names are those p4p's changedSet() gives for the same message."""
    import queue
    from p4p.client.thread import Context as P4PContext
    from pva.server import DataWrapperBase
    from pva.sync import Context as SyncContext
    wrapper = DataWrapperBase("v:x", nt.NTScalarFloat64(value=1.0))
    srv = pva_server({"v:x": wrapper})
    conf = srv.client_conf()
    ours = SyncContext(conf=conf, useenv=False)
    theirs = P4PContext("pva", conf=conf, useenv=False, nt=False)
    try:
        full = ours.get("v:x")
        ref = theirs.get("v:x")
        assert "" not in full.changed_fields and "alarm.severity" in full.changed_fields
        assert set(full.changed_fields) == ref.changedSet()
        q_ours, q_theirs = queue.Queue(), queue.Queue()
        s1 = ours.monitor("v:x", q_ours.put)
        s2 = theirs.monitor("v:x", q_theirs.put)
        try:
            q_ours.get(timeout=10)
            q_theirs.get(timeout=10)
            srv.call(lambda: wrapper.commit({"alarm": {"severity": 1, "status": 2,
                                                       "message": "m"}}))
            upd, ref_upd = q_ours.get(timeout=10), q_theirs.get(timeout=10)
            assert set(upd.changed_fields) == ref_upd.changedSet()
            assert "alarm.message" in upd.changed_fields
        finally:
            s1.close()
            s2.close()
    finally:
        ours.close()
        theirs.close()

"""PVAGroup with normative types, through p4p: putters reading NT sub-structures
(display, control, valueAlarm), handler errors in the server's log, time stamps
set when a value is created, put, committed or posted without one, RPC
arguments of an NTURI, array PVs from numpy arrays and lists."""
from __future__ import annotations

import logging
import os
import queue
import time

import numpy as np
import pytest
from p4p.client.thread import RemoteError

from pva import nt
from pva._bitset import BitSet
from pva.server import DatabaseDefinitionError, PVAGroup, pvaproperty


class Limited(PVAGroup):
    """A setpoint clipped to its control limits, read by attribute and by item."""

    setpoint = pvaproperty(value=nt.NTScalarFloat64(value=1.0))
    broken = pvaproperty(value=2.0)

    @setpoint.putter
    async def setpoint(self, instance, update):
        if "value" in update:
            low = instance.control.limitLow
            high = instance.control["limitHigh"]
            if low < high:
                instance.value = min(max(update.instance.value, low), high)

    @broken.putter
    async def broken(self, instance, update):
        raise ZeroDivisionError("putter bug")


@pytest.fixture
def limited(serve, p4p_client):
    ioc = Limited("lim:")
    srv = serve(ioc.pvdb)
    return ioc, p4p_client(srv)


def test_putter_reads_control_limits(limited):
    ioc, c = limited
    # the limits arrive in a put of their own (a nested change of a sub-structure)
    c.put("lim:setpoint", {"control.limitLow": -2.0, "control.limitHigh": 5.0}, timeout=5)
    got = c.get("lim:setpoint", timeout=5)
    assert (got.control.limitLow, got.control.limitHigh) == (-2.0, 5.0)
    c.put("lim:setpoint", 9.5, timeout=5)
    assert c.get("lim:setpoint", timeout=5).value == 5.0
    c.put("lim:setpoint", -7.0, timeout=5)
    assert c.get("lim:setpoint", timeout=5).value == -2.0
    c.put("lim:setpoint", 3.25, timeout=5)
    assert c.get("lim:setpoint", timeout=5).value == 3.25
    # the server's own instance holds the sub-structure as attributes too
    assert ioc.setpoint.data.control.limitHigh == 5.0


def test_nt_substructures_are_instances():
    x = nt.NTScalarFloat64()
    for member in ("display", "control", "valueAlarm"):
        sub = getattr(x, member)
        assert not isinstance(sub, dict)
        assert sub.limitLow == 0.0 if member != "valueAlarm" else sub.active is False


def test_handler_error_logged(limited, caplog):
    ioc, c = limited
    with caplog.at_level(logging.WARNING, logger="pva.server"):
        with pytest.raises(RemoteError, match="putter bug"):
            c.put("lim:broken", 3.0, timeout=5)
    records = [r for r in caplog.records if "lim:broken" in r.getMessage()]
    assert records, caplog.text
    assert records[0].levelno == logging.WARNING
    assert records[0].exc_info and records[0].exc_info[0] is ZeroDivisionError


def test_overlay_of_dict_substructure():
    """A sub-structure the user set to a plain dict reads and commits like an instance."""
    from pva._dataclass import fill_dataclass
    from pva.server.overlay import DataclassOverlayInstance, _prune
    x = nt.NTScalarFloat64(value=1.0)
    x.control = {"limitLow": -1.0, "limitHigh": 4.0, "minStep": 0.0}
    overlay = DataclassOverlayInstance(x)
    assert overlay.control.limitLow == -1.0
    assert overlay["control"]["limitHigh"] == 4.0
    overlay.control["minStep"] = 0.5
    overlay.value = 2.0
    changes = _prune(overlay._changes_)
    assert changes == {"control": {"minStep": 0.5}, "value": 2.0}
    bits = fill_dataclass(x, changes)
    assert x.control == {"limitLow": -1.0, "limitHigh": 4.0, "minStep": 0.5}
    desc = nt.NTScalarFloat64._pva_struct_
    assert set(bits) == {desc.bit_of["control.minStep"], desc.bit_of["value"]}
    with pytest.raises(KeyError):
        overlay["nonesuch"]


class Stamped(PVAGroup):
    """Time stamps: set at creation, refreshed by puts, commits and posts."""

    plain = pvaproperty(value=1.5)
    guarded = pvaproperty(value=nt.NTScalarInt32(value=1))
    fixed = pvaproperty(value=nt.NTScalarInt32(value=1))

    @guarded.putter
    async def guarded(self, instance, update):
        update.accept("value")


def _stamp(v) -> float:
    ts = v.timeStamp
    return ts.secondsPastEpoch + ts.nanoseconds * 1e-9


def _within(stamp: float, before: float, after: float) -> bool:
    # whole-nanosecond truncation: allow 1 us either side
    return before - 1e-6 <= stamp <= after + 1e-6


def test_time_stamps_start_at_creation(serve, p4p_client):
    before = time.time()
    ioc = Stamped("ts:")
    after = time.time()
    c = p4p_client(serve(ioc.pvdb))
    for name in ("ts:plain", "ts:guarded", "ts:fixed"):
        assert _within(_stamp(c.get(name, timeout=5)), before, after), name
    # a plain pvdb entry with an unset time stamp is stamped when wrapped
    data = nt.NTScalarFloat64(value=2.0)
    before = time.time()
    c2 = p4p_client(serve({"raw": data}))
    assert _within(_stamp(c2.get("raw", timeout=5)), before, time.time())


def test_puts_refresh_time_stamps(serve, p4p_client):
    ioc = Stamped("ts:")
    srv = serve(ioc.pvdb)
    c = p4p_client(srv)
    for name in ("ts:plain", "ts:guarded"):
        q = queue.Queue()
        sub = c.monitor(name, q.put)
        try:
            q.get(timeout=5)
            before = time.time()
            c.put(name, 3, timeout=5)       # without a putter, and through a putter
            after = time.time()
            upd = q.get(timeout=5)
            assert upd.value == 3
            assert {"timeStamp.secondsPastEpoch", "timeStamp.nanoseconds"} <= upd.changedSet()
            assert _within(_stamp(upd), before, after), name
        finally:
            sub.close()
    # a client that sends its own time stamp keeps it
    c.put("ts:plain", {"value": 4.0, "timeStamp.secondsPastEpoch": 1234,
                       "timeStamp.nanoseconds": 5}, timeout=5)
    assert _stamp(c.get("ts:plain", timeout=5)) == pytest.approx(1234 + 5e-9)


def test_commit_and_post_refresh_time_stamps(serve, p4p_client):
    ioc = Stamped("ts:")
    srv = serve(ioc.pvdb)
    c = p4p_client(srv)
    q = queue.Queue()
    sub = c.monitor("ts:fixed", q.put)
    try:
        q.get(timeout=5)

        async def commit_block():
            async with ioc.fixed as fixed:
                fixed.value = 10
        before = time.time()
        srv.call(commit_block)
        upd = q.get(timeout=5)
        assert upd.value == 10 and _within(_stamp(upd), before, time.time())

        async def commit_with_own_stamp():
            async with ioc.fixed as fixed:
                fixed.value = 11
                fixed.timeStamp.secondsPastEpoch = 99
                fixed.timeStamp.nanoseconds = 0
        srv.call(commit_with_own_stamp)
        upd = q.get(timeout=5)
        assert upd.value == 11 and _stamp(upd) == 99

        def post_in_place():
            wrapper = ioc.fixed
            wrapper.data.value = 12
            wrapper.post(BitSet({wrapper.structure.bit_of["value"]}))
        before = time.time()
        srv.call(post_in_place)
        upd = q.get(timeout=5)
        assert upd.value == 12 and _within(_stamp(upd), before, time.time())
    finally:
        sub.close()


def test_nturi_rpc_arguments():
    from pva._values import FieldDescAndData
    from pva.server.group import NTURIArguments, rpc_argument
    uri = nt.NTURI([("a", "s"), ("path", "d")])
    args = rpc_argument(FieldDescAndData(uri.type, uri.wrap("svc:add", {"a": "1", "path": 2.5})))
    assert isinstance(args, NTURIArguments)
    assert args.a == "1" and args["a"] == "1"
    assert args.path == "svc:add" and args["path"] == 2.5      # own field, then the argument
    assert args.scheme == "pva" and args.query.a == "1"
    assert dict(args) == {"a": "1", "path": 2.5}

    def handler(a, path):
        return a, path
    assert handler(**args) == ("1", 2.5)
    with pytest.raises(AttributeError, match="no argument 'b'.*a, path"):
        args.b
    # a plain structure stays a dataclass instance
    point = rpc_argument(FieldDescAndData(nt.NTScalar("d").type, nt.NTScalar("d").wrap(1.5)))
    assert point.value == 1.5 and not isinstance(point, NTURIArguments)


class Arrays(PVAGroup):
    """Array PVs from numpy arrays and lists."""

    ints = pvaproperty(value=np.arange(5, dtype=">i4"))     # any byte order
    flags = pvaproperty(value=np.array([True, False]))
    doubles = pvaproperty(value=[1.0, 2.0, 3.0])
    words = pvaproperty(value=["a", "b"])
    small = pvaproperty(value=nt.NTScalarArrayUInt8(value=[1, 2]))


def test_numpy_array_properties(serve, p4p_client):
    ioc = Arrays("arr:")
    c = p4p_client(serve(ioc.pvdb))
    ints = c.get("arr:ints", timeout=5)
    assert ints.type()["value"] == "ai" and ints.value.tolist() == [0, 1, 2, 3, 4]
    flags = c.get("arr:flags", timeout=5)
    assert flags.type()["value"] == "a?" and flags.value.tolist() == [True, False]
    assert c.get("arr:doubles", timeout=5).value.tolist() == [1.0, 2.0, 3.0]
    assert list(c.get("arr:words", timeout=5).value) == ["a", "b"]
    for bad in (np.zeros((2, 2)), np.array([object()])):
        class Bad(PVAGroup):
            x = pvaproperty(value=bad)
        with pytest.raises(DatabaseDefinitionError, match="one-dimensional numeric"):
            Bad("bad:")


def test_lists_are_converted_once_when_assigned(serve, p4p_client):
    ioc = Arrays("arr:")
    srv = serve(ioc.pvdb)
    c = p4p_client(srv)

    def stored(attr):
        return ioc.attr_pvdb[attr].data.value
    # at creation: a list becomes an array of the field's type
    assert isinstance(stored("doubles"), np.ndarray) and stored("doubles").dtype == np.float64
    assert stored("small").dtype == np.uint8
    assert isinstance(stored("words"), list)

    async def assign():
        async with ioc.doubles as doubles:
            doubles.value = [4, 5]
    srv.call(assign)
    assert stored("doubles").dtype == np.float64 and stored("doubles").tolist() == [4.0, 5.0]
    # a contiguous array of the right type is kept as it is (no copy)
    mine = np.arange(3, dtype=np.float64)
    srv.call(lambda: ioc.doubles.commit({"value": mine}))
    assert stored("doubles") is mine
    c.put("arr:small", [7, 8, 9], timeout=5)
    assert stored("small").dtype == np.uint8 and stored("small").tolist() == [7, 8, 9]
    # a value that does not fit the type is refused, the old one kept
    with pytest.raises(OverflowError):
        srv.call(lambda: ioc.small.commit({"value": [1, 300]}))
    assert c.get("arr:small", timeout=5).value.tolist() == [7, 8, 9]


def test_docs_limits_example(serve, p4p_client):
    """The example of 'Display and control limits' in docs/pva-server.rst."""
    doc = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "pva-server.rst")
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    section = text.split("Display and control limits\n", 1)[1]
    block = section.split("::\n\n", 1)[1].split("\n\nIn a handler", 1)[0]
    namespace: dict = {}
    exec(compile("\n".join(line[4:] for line in block.splitlines()), doc, "exec"), namespace)
    ioc = namespace["Motor"]("doc:")
    c = p4p_client(serve(ioc.pvdb))
    got = c.get("doc:position", timeout=5)
    assert (got.display.limitHigh, got.display.units, got.control.limitLow) == (10.0, "mm", -5.0)
    c.put("doc:position", 7.5, timeout=5)
    assert c.get("doc:position", timeout=5).value == 5.0
    c.put("doc:position", {"control.limitHigh": 8.0}, timeout=5)
    c.put("doc:position", 7.5, timeout=5)
    assert c.get("doc:position", timeout=5).value == 7.5


def test_nt_help_is_short():
    import pydoc
    text = pydoc.render_doc(nt.NTScalarFloat64, renderer=pydoc.plaintext)
    assert "FieldDesc(" not in text and len(text) < 3000
    assert "control: pva.nt.NTControlFloat64" in text and "value: pva._dataclass.Float64" in text
    # the named sub-structures keep p4p's layout (anonymous structures)
    assert nt.NTControlFloat64._pva_struct_ == nt.NTScalar("d", control=True).type["control"]
    assert nt.NTScalarFloat64._pva_struct_ == nt.NTScalar(
        "d", display=True, control=True, valueAlarm=True).type

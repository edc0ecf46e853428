"""create_subscription / clear_subscription: masks, types, counts, numpy."""
import time

import numpy
import pytest

from caffi import ca

from _ioc import Collector, ca_put


def _subscribe(chid, callback, **kwargs):
    status, evid = ca.create_subscription(chid, callback, **kwargs)
    assert status == ca.ECA.NORMAL, status
    assert evid is not None
    ca.flush_io()
    return evid


def test_subscription_basic(connect):
    chid = connect("counter")
    mon = Collector("monitor")
    evid = _subscribe(chid, mon)
    try:
        calls = mon.wait(3, 5)
        first = calls[0]
        assert set(first) == {"chid", "type", "count", "status", "value"}
        assert first["chid"] == chid
        assert first["type"] == ca.DBR.DOUBLE
        assert isinstance(first["type"], ca.DBR)
        assert first["count"] == 1
        assert first["status"] == ca.ECA.NORMAL
        assert isinstance(first["status"], ca.ECA)
        values = [c["value"] for c in calls]
        assert all(isinstance(v, float) for v in values)
        # the counter counts up (modulo wrap-around far away)
        assert values[1] != values[0]
    finally:
        assert ca.clear_subscription(evid) == ca.ECA.NORMAL


def test_evid_is_opaque(connect):
    from caffi._ffi import ffi
    chid = connect("ai")
    evid = _subscribe(chid, lambda a: None)
    try:
        assert not isinstance(evid, ffi.CData)
        assert evid == evid
        evid2 = _subscribe(chid, lambda a: None)
        assert evid2 != evid
        assert ca.clear_subscription(evid2) == ca.ECA.NORMAL
        assert len({evid, evid2}) == 2
    finally:
        assert ca.clear_subscription(evid) == ca.ECA.NORMAL


def _witness(chid, changes=3):
    """Subscribe a second callback to ``chid`` and wait until it has seen
    ``changes`` updates after its first: the record changed that often since,
    so a subscription still alive would have been called too."""
    witness = Collector("witness")
    evid = _subscribe(chid, witness)
    try:
        witness.wait(1 + changes, 5)
    finally:
        assert ca.clear_subscription(evid) == ca.ECA.NORMAL


def test_clear_subscription_stops_updates(connect):
    chid = connect("counter")
    mon = Collector("monitor")
    evid = _subscribe(chid, mon)
    mon.wait(2, 5)
    assert ca.clear_subscription(evid) == ca.ECA.NORMAL
    ca.flush_io()
    n = mon.n
    _witness(chid)          # the counter changed 3 times since (every 0.1 s)
    assert mon.n == n
    # clearing again is detected
    assert ca.clear_subscription(evid) == ca.ECA.BADMONID


def test_default_mask_value_and_alarm(connect, ioc):
    chid = connect("ai")
    mon = Collector("monitor")
    evid = _subscribe(chid, mon, chtype=ca.DBR.STS_DOUBLE)
    try:
        mon.wait(1, 5)
        ioc.dbpf(ioc.prefix + "ai", 85)  # HIGH alarm, MINOR
        calls = mon.wait(1, 5, predicate=lambda c: c["value"]["value"] == 85.0)
        assert calls[0]["value"]["severity"] == ca.AlarmSeverity.Minor
        assert calls[0]["value"]["status"] == ca.AlarmCondition.High
    finally:
        ioc.dbpf(ioc.prefix + "ai", 12.5)
        assert ca.clear_subscription(evid) == ca.ECA.NORMAL


def test_mask_value_only_vs_alarm_only(connect, ioc):
    chid = connect("scratch")
    # processed once: leaves the initial UDF alarm, so no alarm change follows
    assert ca_put(chid, 0.0)["status"] == ca.ECA.NORMAL
    values = Collector("value monitor")
    alarms = Collector("alarm monitor")
    ev1 = _subscribe(chid, values, mask=ca.DBE.VALUE)
    ev2 = _subscribe(chid, alarms, mask=ca.DBE.ALARM)
    try:
        values.wait(1, 5)
        alarms.wait(1, 5)
        for v in (1.0, 2.0, 3.0):
            assert ca_put(chid, v)["status"] == ca.ECA.NORMAL
        values.wait(1, 5, predicate=lambda c: c["value"] == 3.0)
        ca.pend_event(0.1)
        # no alarm change: only the initial update
        assert alarms.n == 1
    finally:
        assert ca.clear_subscription(ev1) == ca.ECA.NORMAL
        assert ca.clear_subscription(ev2) == ca.ECA.NORMAL


def test_mask_property(connect, ioc):
    chid = connect("ai")
    props = Collector("property monitor")
    evid = _subscribe(chid, props, chtype=ca.DBR.CTRL_DOUBLE, mask=ca.DBE.PROPERTY)
    try:
        props.wait(1, 5)
        ioc.dbpf(ioc.prefix + "ai.EGU", "cm")
        calls = props.wait(1, 5, predicate=lambda c: c["value"]["units"] == "cm")
        assert calls[0]["type"] == ca.DBR.CTRL_DOUBLE
    finally:
        ioc.dbpf(ioc.prefix + "ai.EGU", "mm")
        assert ca.clear_subscription(evid) == ca.ECA.NORMAL


def test_mask_int_accepted(connect):
    chid = connect("counter")
    mon = Collector("monitor")
    evid = _subscribe(chid, mon, mask=1 | 4)
    try:
        mon.wait(2, 5)
    finally:
        ca.clear_subscription(evid)


@pytest.mark.parametrize("dbr", [ca.DBR.TIME_DOUBLE, ca.DBR.STS_LONG, ca.DBR.STRING,
                                 ca.DBR.GR_DOUBLE, ca.DBR.CTRL_LONG])
def test_subscription_types(connect, dbr):
    chid = connect("counter")
    mon = Collector("monitor")
    evid = _subscribe(chid, mon, chtype=dbr)
    try:
        calls = mon.wait(2, 5)
        for c in calls:
            assert c["type"] == dbr
            value = c["value"]
            if dbr.isPlain():
                assert isinstance(value, str)
                float(value)
            else:
                assert isinstance(value, dict)
                if dbr.isTIME():
                    assert abs(value["stamp"]["timestamp"] - time.time()) < 5
    finally:
        assert ca.clear_subscription(evid) == ca.ECA.NORMAL


@pytest.mark.parametrize("use_numpy", [False, True])
def test_subscription_array_count(connect, ioc, use_numpy):
    chid = connect("wf:double")
    ioc.dbpf_array(ioc.prefix + "wf:double", [1.0, 2.0, 3.0, 4.0])
    full = Collector("full")
    three = Collector("three")
    dynamic = Collector("dynamic")
    evids = [_subscribe(chid, full, use_numpy=use_numpy),
             _subscribe(chid, three, count=3, use_numpy=use_numpy),
             _subscribe(chid, dynamic, count=0, use_numpy=use_numpy)]
    try:
        f = full.wait(1, 5)[0]
        t = three.wait(1, 5)[0]
        d = dynamic.wait(1, 5)[0]
        assert f["count"] == 16 and len(f["value"]) == 16
        assert t["count"] == 3 and list(t["value"]) == [1.0, 2.0, 3.0]
        assert d["count"] == 4 and list(d["value"]) == [1.0, 2.0, 3.0, 4.0]
        for c in (f, t, d):
            if use_numpy:
                assert isinstance(c["value"], numpy.ndarray)
                assert c["value"].dtype == numpy.float64
            else:
                assert isinstance(c["value"], list)
        assert ca_put(chid, [5.0, 6.0])["status"] == ca.ECA.NORMAL
        d = dynamic.wait(1, 5, predicate=lambda c: c["count"] == 2)[0]
        assert list(d["value"]) == [5.0, 6.0]
        f = full.wait(1, 5, predicate=lambda c: c["value"][0] == 5.0)[0]
        assert len(f["value"]) == 16
    finally:
        for evid in evids:
            assert ca.clear_subscription(evid) == ca.ECA.NORMAL


def test_numpy_values_are_independent(connect, ioc):
    """Each update gets its own array (libca reuses its buffer)."""
    chid = connect("wf:long")
    mon = Collector("monitor")
    evid = _subscribe(chid, mon, count=2, use_numpy=True)
    try:
        mon.wait(1, 5)
        for i in range(5):
            assert ca_put(chid, [i, i])["status"] == ca.ECA.NORMAL
        mon.wait(1, 5, predicate=lambda c: list(c["value"]) == [4, 4])
        seen = [list(c["value"]) for c in mon.calls[1:]]
        assert seen[-1] == [4, 4]
        assert [0, 0] in seen or len(seen) < 5
        assert len({tuple(s) for s in seen}) == len(seen)
    finally:
        assert ca.clear_subscription(evid) == ca.ECA.NORMAL


def test_subscribe_before_connect(ctx, ioc):
    conn = Collector("connection")
    mon = Collector("monitor")
    status, chid = ca.create_channel(ioc.prefix + "longin", callback=conn)
    assert status == ca.ECA.NORMAL
    try:
        # The channel is not connected yet: the native type is unknown, so give one.
        status, evid = ca.create_subscription(chid, mon, chtype=ca.DBR.LONG, count=1)
        assert status == ca.ECA.NORMAL
        ca.flush_io()
        conn.wait(1, 5)
        (arg,) = mon.wait(1, 5)
        assert arg["type"] == ca.DBR.LONG
        assert isinstance(arg["value"], int)
        assert ca.clear_subscription(evid) == ca.ECA.NORMAL
    finally:
        assert ca.clear_channel(chid) == ca.ECA.NORMAL


def test_clear_channel_clears_subscriptions(ctx, ioc):
    status, chid = ca.create_channel(ioc.prefix + "counter")
    assert ca.pend_io(5) == ca.ECA.NORMAL
    mon = Collector("monitor")
    evid = _subscribe(chid, mon)
    mon.wait(1, 5)
    assert ca.clear_channel(chid) == ca.ECA.NORMAL
    n = mon.n
    status, other = ca.create_channel(ioc.prefix + "counter")
    assert ca.pend_io(5) == ca.ECA.NORMAL
    try:
        _witness(other)     # the record changed 3 times since, on another channel
    finally:
        assert ca.clear_channel(other) == ca.ECA.NORMAL
    assert mon.n == n
    assert ca.clear_subscription(evid) in (ca.ECA.BADMONID, ca.ECA.BADCHID)


def test_many_subscriptions(connect):
    chid = connect("counter")
    mons = [Collector("monitor %d" % i) for i in range(50)]
    evids = [_subscribe(chid, m) for m in mons]
    try:
        for m in mons:
            m.wait(2, 5)
    finally:
        for evid in evids:
            assert ca.clear_subscription(evid) == ca.ECA.NORMAL


def test_subscription_bad_args(connect):
    chid = connect("ai")
    status, evid = ca.create_subscription(chid, lambda a: None, chtype=100)
    assert status == ca.ECA.BADTYPE and evid is None
    status, evid = ca.create_subscription(chid, lambda a: None, mask=0)
    if evid is not None:
        ca.clear_subscription(evid)
    assert status == ca.ECA.BADMASK
    try:
        status, evid = ca.create_subscription(chid, None)
    except TypeError:
        pass
    else:
        if evid is not None:
            ca.clear_subscription(evid)
        assert status in (ca.ECA.BADFUNCPTR, ca.ECA.BADTYPE)


def test_callback_can_call_ca(connect, ioc):
    """Reading from within a subscription callback (another get with callback) works."""
    chid = connect("counter")
    ai = connect("ai")
    results = Collector("inner get")
    errors = []

    issued = []

    def on_update(arg):
        if not issued:
            issued.append(True)
            try:
                status, _ = ca.get(ai, callback=results)
                if status != ca.ECA.NORMAL:
                    errors.append(status)
                ca.flush_io()
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

    evid = _subscribe(chid, on_update)
    try:
        results.wait(1, 5)
        assert not errors
        assert isinstance(results.calls[0]["value"], float)
    finally:
        assert ca.clear_subscription(evid) == ca.ECA.NORMAL

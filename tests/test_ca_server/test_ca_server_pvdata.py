"""caffi.server.pvdata: channel data <-> normative types, without I/O (the
layouts themselves are compared with qsrv's in test_ca_server_both.py)."""
import numpy as np
import pytest

import caffi.protocol as ca
from caffi.server.pvdata import (alarm_status, ca_state, channel_spec, nt_changes, nt_type,
                                 nt_value, value_from_put)
from pva import nt

DBE_VALUE, DBE_ALARM, DBE_PROPERTY = 1, 4, 8


def test_time_stamp_is_the_ca_one_on_the_posix_epoch():
    data = ca.ChannelDouble(value=1.0, timestamp=(100, 250))    # EPICS epoch
    assert nt_value(data)["timeStamp"] == {"secondsPastEpoch": 631152100,
                                           "nanoseconds": 250, "userTag": 0}


@pytest.mark.parametrize("status, code", [
    (ca.AlarmStatus.NO_ALARM, 0), (ca.AlarmStatus.HIHI, 1), (ca.AlarmStatus.STATE, 1),
    (ca.AlarmStatus.UDF, 2), (ca.AlarmStatus.TIMEOUT, 2), (ca.AlarmStatus.LINK, 3),
    (ca.AlarmStatus.DISABLE, 4)])
def test_alarm_status_codes(status, code):
    assert alarm_status(status) == code


def test_changes_follow_the_event_flags():
    data = ca.ChannelDouble(value=2.0, units="V")
    assert set(nt_changes(data, DBE_VALUE)) == {"value", "timeStamp"}
    assert set(nt_changes(data, DBE_ALARM)) == {"alarm", "timeStamp"}
    assert set(nt_changes(data, DBE_PROPERTY)) == {"display", "control", "valueAlarm",
                                                   "timeStamp"}
    enum = ca.ChannelEnum(value="b", enum_strings=("a", "b"))
    assert nt_changes(enum, DBE_PROPERTY)["value"] == {"index": 1, "choices": ["a", "b"]}


def test_types_by_native_type_and_length():
    def value_type(data):
        desc = nt_type(data).children["value"]
        return desc.type_id if desc.field_type == ca_struct else \
            (desc.field_type.name, desc.is_array)
    ca_struct = nt_type(ca.ChannelEnum(value="a", enum_strings=("a",))).children[
        "value"].field_type
    assert value_type(ca.ChannelDouble(value=1.0)) == ("float64", False)
    assert value_type(ca.ChannelFloat(value=1.0)) == ("float32", False)
    assert value_type(ca.ChannelInteger(value=[1, 2])) == ("int32", True)
    assert value_type(ca.ChannelShort(value=1)) == ("int16", False)
    assert value_type(ca.ChannelByte(value=b"ab")) == ("uint8", True)
    # text in a CHAR array: what qsrv gives a waveform of FTVL=CHAR, signed bytes
    assert value_type(ca.ChannelChar(value="text", max_length=40)) == ("int8", True)
    assert value_type(ca.ChannelChar(value="text", max_length=40,
                                     report_as_string=True)) == ("string", False)
    assert value_type(ca.ChannelString(value="s")) == ("string", False)
    assert value_type(ca.ChannelEnum(value="a", enum_strings=("a",))) == "enum_t"
    assert "valueAlarm" not in nt_type(ca.ChannelString(value="s")).children
    assert list(nt_value(ca.ChannelChar(value="tex\xe9", max_length=40))["value"]) == \
        [116, 101, 120, -23]
    assert nt_value(ca.ChannelChar(value="text", max_length=40,
                                   report_as_string=True))["value"] == "text"
    assert list(nt_value(ca.ChannelByte(value=b"ab"))["value"]) == [97, 98]


def test_only_value_is_written():
    enum = ca.ChannelEnum(value="a", enum_strings=("a", "b"))
    assert value_from_put(enum, {"value": {"index": 1}}) == 1
    for bad in ({"value": {"choices": ["x"]}}, {"value": {"index": 1, "choices": []}},
                {"alarm": {"severity": 2}}, {}):
        with pytest.raises(ValueError):
            value_from_put(enum, bad)
    data = ca.ChannelDouble(value=1.0)
    assert value_from_put(data, {"value": 2.5}) == 2.5
    with pytest.raises(ValueError, match="display"):
        value_from_put(data, {"value": 2.5, "display": {"units": "m"}})
    assert value_from_put(ca.ChannelByte(value=b"ab"),
                          {"value": np.array([1, 2], dtype=np.uint8)}) == b"\x01\x02"
    text = ca.ChannelChar(value="", max_length=8)
    assert value_from_put(text, {"value": np.array([104, -23, 0, 7], dtype=np.int8)}) == \
        b"h\xe9\x00\x07"


def test_pva_structures_as_channel_data():
    scalar = nt.NTScalar("d", display=True, control=True, valueAlarm=True)
    assert channel_spec(scalar.type)[0] is ca.ChannelDouble
    assert channel_spec(nt.NTScalar("i").type)[0] is ca.ChannelInteger
    # no 64-bit nor unsigned 32-bit CA integer: DOUBLE, as rsrv serves an int64in
    assert channel_spec(nt.NTScalar("l").type)[0] is ca.ChannelDouble
    assert channel_spec(nt.NTScalar("I").type)[0] is ca.ChannelDouble
    assert channel_spec(nt.NTScalar("H").type)[0] is ca.ChannelInteger
    assert channel_spec(nt.NTScalar("ab").type)[0] is ca.ChannelByte
    assert channel_spec(nt.NTScalar("as").type)[0] is ca.ChannelString
    assert channel_spec(nt.NTScalar("?").type) is None            # no CA boolean
    assert channel_spec(nt.NTEnum().type)[0] is ca.ChannelEnum
    assert channel_spec(nt.NTTable([("a", "d")]).type) is None
    value = scalar.wrap({"value": 4.5, "display.units": "mm", "display.limitHigh": 9.0,
                         "control.limitLow": -1.0, "valueAlarm.highAlarmLimit": 8.0},
                        timestamp=631152001.5)
    value["alarm"].update(severity=2, message="HIHI")
    state = ca_state(scalar.type, value)
    assert state["value"] == 4.5 and state["units"] == "mm"
    assert state["upper_disp_limit"] == 9.0 and state["lower_ctrl_limit"] == -1.0
    assert state["upper_alarm_limit"] == 8.0
    assert state["timestamp"] == (1, 500000000)
    assert (state["status"], state["severity"]) == (ca.AlarmStatus.HIHI,
                                                    ca.AlarmSeverity.MAJOR_ALARM)
    value["alarm"].update(severity=1, message="something else")
    assert ca_state(scalar.type, value)["status"] == ca.AlarmStatus.SOFT
    enum = nt.NTEnum().wrap(1, choices=["x", "y"])
    assert ca_state(nt.NTEnum().type, enum)["enum_strings"] == ("x", "y")


def test_wrapper_follows_the_channel_data_while_monitored():
    import asyncio

    from caffi.server.both import ChannelDataWrapper

    class Sub:
        def __init__(self):
            self.posts = []

        def post(self, snap, changed):
            self.posts.append(snap)

    async def main():
        data = ca.ChannelDouble(value=1.0)
        wrapper = ChannelDataWrapper("x", data)
        sub = Sub()
        await wrapper.subscribe(None, sub)
        await data.write(2.0)
        (snap,) = sub.posts
        seconds, nanoseconds = data.epics_timestamp
        assert snap["value"] == 2.0
        assert (snap["timeStamp"]["secondsPastEpoch"], snap["timeStamp"]["nanoseconds"]) == \
            (seconds + 631152000, nanoseconds)
        await wrapper.unsubscribe(None, sub)
        calls = []
        real = data.read_now
        data.read_now = lambda *args: calls.append(args) or real(*args)
        await data.write(3.0)
        assert sub.posts == [snap] and calls == []      # not followed without monitors
        assert (await wrapper.read(None)).value == 3.0  # but up to date when read
    asyncio.run(main())


def test_pvagroup_pvs_as_channel_data_without_io():
    import asyncio

    from pva.server import PVAGroup, pvaproperty, value_instance

    from caffi.server import PVGroup, pvproperty
    from caffi.server.both import split_pvdb

    class Ca(PVGroup):
        x = pvproperty(value=1.0)

    class Pva(PVAGroup):
        y = pvaproperty(value=nt.NTScalarFloat64(value=2.0))
        z = pvaproperty(value=value_instance(nt.NTTable([("a", "d")]).wrap({"a": [1.0]}),
                                             nt.NTTable([("a", "d")]).type))   # pva only

    pvdb = dict(Ca(prefix="c:").pvdb, **Pva(prefix="p:").pvdb)
    ca_db, pva_db = split_pvdb(pvdb, ("ca",))
    assert sorted(ca_db) == ["c:x", "p:y"] and pva_db == {}
    ca_db, pva_db = split_pvdb(pvdb, ("pva",))
    assert ca_db == {} and sorted(pva_db) == ["c:x", "p:y", "p:z"]

    async def main():
        ca_db, pva_db = split_pvdb(pvdb, ("ca", "pva"))
        y = ca_db["p:y"]
        assert isinstance(y, ca.ChannelDouble) and y.value == 2.0
        await pva_db["p:y"].subscribe(None, y.listener)
        await y.write(4.5)                          # to the pvaproperty, and back
        assert pva_db["p:y"].data.value == 4.5 and y.value == 4.5
        stamp = pva_db["p:y"].data.timeStamp
        assert tuple(y.epics_timestamp) == (stamp.secondsPastEpoch - 631152000,
                                            stamp.nanoseconds)
    asyncio.run(main())


def test_ca_values_of_pva_types():
    from caffi.server.pvdata import ca_value, pva_value
    int64 = nt.NTScalar("l").type
    assert ca_value(int64, 2 ** 40 + 1) == float(2 ** 40 + 1)
    assert pva_value(int64, 5.9) == 5 and pva_value(int64, -5.9) == -5      # C truncation
    assert pva_value(nt.NTScalar("b").type, 200) == -56                    # wraps
    assert pva_value(nt.NTScalar("I").type, -1.0) == 2 ** 32 - 1
    with pytest.raises(ValueError):
        pva_value(int64, float("nan"))
    bytes_t = nt.NTScalar("ab").type
    assert ca_value(bytes_t, np.array([1, -2], dtype=np.int8)) == b"\x01\xfe"
    got = pva_value(bytes_t, b"\x01\xfe")
    assert got.dtype == np.int8 and list(got) == [1, -2]
    longs = nt.NTScalar("al").type
    np.testing.assert_array_equal(ca_value(longs, [1, 2]), [1.0, 2.0])
    got = pva_value(longs, np.array([1.5, -2.5]))
    assert got.dtype == np.int64 and list(got) == [1, -2]
    assert pva_value(nt.NTScalar("as").type, [b"a", "b"]) == ["a", "b"]
    assert pva_value(nt.NTScalar("d").type, [2.5]) == 2.5


def test_pvagroup_arrays_and_int64_as_channel_data():
    import asyncio

    from pva.server import PVAGroup, pvaproperty, value_instance

    from caffi.server.both import split_pvdb

    class Pva(PVAGroup):
        big = pvaproperty(value=nt.NTScalarInt64(value=2 ** 40))
        longs = pvaproperty(value=[1, 2, 3])
        raw = pvaproperty(value=value_instance(nt.NTScalar("ab").wrap([1, -2]),
                                               nt.NTScalar("ab").type))
        words = pvaproperty(value=value_instance(nt.NTScalar("as").wrap(["a", "b"]),
                                                 nt.NTScalar("as").type))

    async def main():
        ca_db, pva_db = split_pvdb(Pva(prefix="p:").pvdb, ("ca", "pva"), array_length=8)
        for name, channel in ca_db.items():
            await pva_db[name].subscribe(None, channel.listener)
        big, longs, raw, words = (ca_db["p:" + n] for n in ("big", "longs", "raw", "words"))
        assert isinstance(big, ca.ChannelDouble) and big.value == 2.0 ** 40
        assert isinstance(longs, ca.ChannelDouble) and longs.max_length == 8
        assert list(longs.value) == [1.0, 2.0, 3.0]
        assert isinstance(raw, ca.ChannelByte) and raw.value == b"\x01\xfe"
        assert words.value == ["a", "b"]
        await big.write(7.9)
        assert pva_db["p:big"].data.value == 7 and big.value == 7.0
        await longs.write(np.array([4.0, 5.0]))
        assert list(pva_db["p:longs"].data.value) == [4, 5] and list(longs.value) == [4, 5]
        await raw.write(b"\xff")
        assert list(pva_db["p:raw"].data.value) == [-1] and raw.value == b"\xff"
        # a longer array from the pvAccess side: CA sees its first max_length
        await pva_db["p:longs"].commit({"value": list(range(20))})
        assert list(longs.value) == list(range(8))
    asyncio.run(main())


def test_record_fields_found_by_name_without_io():
    import asyncio

    from caffi.server import PVGroup, pvproperty
    from caffi.server.both import split_pvdb
    from caffi.server.pvfields import FieldDatabase

    class Rec(PVGroup):
        ai = pvproperty(value=1.5, record="ai", units="mm", precision=2,
                        upper_disp_limit=10.0, lower_disp_limit=-10.0)
        wf = pvproperty(value=[1.0, 2.0], max_length=8, record="waveform")
        plain = pvproperty(value=1)

    async def main():
        pvdb = Rec(prefix="r:").pvdb
        _, pva_db = split_pvdb(pvdb, ("pva",))
        db = FieldDatabase(pvdb, pva_db)
        assert db.get("r:ai.VAL") is db["r:ai"] is pva_db["r:ai"] and "r:ai." in db
        for missing in ("r:ai.NOPE", "r:nope.EGU", "r:plain.EGU", "r:ai.EGU$", "r:ai.EGU.X",
                        "nodot", 5):
            assert missing not in db and db.get(missing) is None
            with pytest.raises(KeyError):
                db[missing]
        assert db.fields == {}                  # nothing made for unknown names
        egu = db["r:ai.EGU"]
        assert db.get("r:ai.EGU") is egu and list(db.fields) == ["r:ai.EGU"]
        assert (egu.structure.type_id, egu.data.value) == ("epics:nt/NTScalar:1.0", "mm")

        def value_type(name):
            return db[name].structure.children["value"].field_type.name
        assert [value_type("r:ai." + f) for f in ("PREC", "HOPR", "PROC", "DESC")] == \
            ["int16", "float64", "uint8", "string"]
        assert [value_type("r:wf." + f) for f in ("NELM", "NORD")] == ["uint32", "uint32"]
        assert db["r:wf.NORD"].data.value == 2 and db["r:wf.NORD"].data.display.limitHigh == 8
        hopr = db["r:ai.HOPR"].data
        assert (hopr.value, hopr.display.units, hopr.display.precision) == (10.0, "mm", 2)
        assert (hopr.display.limitLow, hopr.display.limitHigh) == (-1e300, 1e300)
        assert db["r:ai.HIHI"].data.display.limitHigh == 10.0   # the record's HOPR
        prec = db["r:ai.PREC"].data
        assert (prec.display.units, prec.display.limitLow) == ("", -32768.0)
        stat = db["r:ai.STAT"]
        assert stat.structure.type_id == "epics:nt/NTEnum:1.0"
        assert len(stat.data.value.choices) == 22
        # a monitored field follows its data, with the record's alarm and time stamp
        posts = []

        class Sub:
            def post(self, snap, changed):
                posts.append(snap)
        await egu.subscribe(None, Sub())
        await pvdb["r:ai"].write_metadata(units="cm")
        assert posts[-1]["value"] == "cm"
        seconds, nanoseconds = pvdb["r:ai"].epics_timestamp
        assert posts[-1]["timeStamp"]["secondsPastEpoch"] == seconds + 631152000
        assert pvdb["r:ai"].units == "cm"
        db.close()
        assert db.fields == {}
    asyncio.run(main())

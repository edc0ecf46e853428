"""The data model (ChannelData family) and the PVGroup API, without a server."""
import asyncio
import subprocess
import sys

import numpy as np
import pytest

import caffi.protocol as ca
from caffi.protocol import AlarmSeverity, AlarmStatus, ChannelType
from caffi.server import PVGroup, SubGroup, get_pv_pair_wrapper, pvproperty


def run(coro):
    """The coroutines of plain ChannelData finish without an event loop."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the coroutine waited for something")


class Sub:
    """A subscriber as the server registers one."""

    def __init__(self, mask, data_type=ChannelType.TIME_DOUBLE, count=None):
        self.mask, self.data_type, self.data_count = mask, data_type, count
        self.posts = []

    def post(self, flags, data, metadata):
        self.posts.append((flags, data, metadata))

    def post_error(self, ex):
        self.posts.append(("error", ex))


def test_names_exported_by_caffi_protocol():
    for name in ("ChannelData", "ChannelDouble", "ChannelFloat", "ChannelInteger",
                 "ChannelShort", "ChannelByte", "ChannelChar", "ChannelEnum",
                 "ChannelString", "ChannelAlarm"):
        assert name in ca.__all__ and getattr(ca, name).__module__.startswith("caffi.protocol")


def test_read_converts_as_the_ioc():
    d = ca.ChannelDouble(value=1.5, precision=3, units="mm", upper_disp_limit=10.0)
    md, values = run(d.read(ChannelType.CTRL_DOUBLE))
    assert values.tolist() == [1.5] and md.units == b"mm" and md.precision == 3
    assert md.upper_disp_limit == 10.0
    assert run(d.read(ChannelType.STRING))[1] == [b"1.500"]
    md, values = run(d.read(ChannelType.CTRL_LONG))
    assert values.tolist() == [1] and md.upper_disp_limit == 10


def test_enum_reads_strings_and_accepts_index_or_string():
    e = ca.ChannelEnum(value="b", enum_strings=("a", "b", "c"))
    md, values = run(e.read(ChannelType.CTRL_ENUM))
    assert values.tolist() == [1] and md.strs == (b"a", b"b", b"c")
    run(e.write_from_dbr([b"c"], ChannelType.STRING, None))
    assert e.value == "c"
    run(e.write_from_dbr(np.array([0], ">u2"), ChannelType.ENUM, None))
    assert e.value == "a"
    with pytest.raises(ca.CaprotoConversionError):
        run(e.write_from_dbr([b"nope"], ChannelType.STRING, None))


def test_char_and_byte_data():
    c = ca.ChannelChar(value="hello", max_length=40)
    assert run(c.read(ChannelType.CHAR))[1].tobytes() == b"hello"
    run(c.write_from_dbr(np.frombuffer(b"bye\0\0", np.uint8), ChannelType.CHAR, None))
    assert c.value == "bye"
    s = ca.ChannelChar(value="text", max_length=40, report_as_string=True)
    assert s.max_length == 1 and run(s.read(ChannelType.STRING))[1] == [b"text"]
    b = ca.ChannelByte(value=b"\x01\x02", max_length=4)
    assert run(b.read(ChannelType.CHAR))[1].tolist() == [1, 2]


def test_control_limits_refuse_and_alarm_limits_set_the_alarm():
    d = ca.ChannelDouble(value=0.0, upper_ctrl_limit=50.0, lower_ctrl_limit=-50.0,
                         upper_alarm_limit=45.0, upper_warning_limit=40.0,
                         lower_warning_limit=-40.0, lower_alarm_limit=-45.0)
    with pytest.raises(ca.CannotExceedLimits):
        run(d.write(60.0))
    assert d.value == 0.0
    run(d.write(41.0))
    assert (d.alarm.status, d.alarm.severity) == (AlarmStatus.HIGH, AlarmSeverity.MINOR_ALARM)
    run(d.write(-46.0))
    assert (d.alarm.status, d.alarm.severity) == (AlarmStatus.LOLO, AlarmSeverity.MAJOR_ALARM)
    run(d.write(0.0))
    assert d.alarm.severity == AlarmSeverity.NO_ALARM


def test_acks_and_ackt_as_an_ioc():
    d = ca.ChannelDouble(value=0.0, upper_alarm_limit=10.0, lower_alarm_limit=-10.0)
    run(d.write(20.0))
    assert d.alarm.severity_to_acknowledge == AlarmSeverity.MAJOR_ALARM
    run(d.write(0.0))                       # transient: ACKS stays until acknowledged
    assert d.alarm.severity_to_acknowledge == AlarmSeverity.MAJOR_ALARM
    md, _ = run(d.read(ChannelType.STSACK_STRING))
    assert (md.ackt, md.acks) == (1, 2)
    run(d.write_from_dbr(np.array([2], ">u2"), ChannelType.PUT_ACKS, None))
    assert d.alarm.severity_to_acknowledge == 0
    run(d.write_from_dbr(np.array([0], ">u2"), ChannelType.PUT_ACKT, None))
    run(d.write(20.0))
    run(d.write(0.0))                       # ACKT off: ACKS follows the severity down
    assert d.alarm.severity_to_acknowledge == 0


def test_masks_and_deadbands():
    d = ca.ChannelDouble(value=0.0, value_atol=1.0, log_atol=5.0)
    value, log, alarm, prop = (Sub(ca.DBE_VALUE), Sub(ca.DBE_LOG), Sub(ca.DBE_ALARM),
                               Sub(ca.DBE_PROPERTY))
    for s in (value, log, alarm, prop):
        d.add_subscriber(s)
    for v in (0.5, 1.5, 2.0, 7.0):
        run(d.write(v))
    assert [p[1].tolist()[0] for p in value.posts] == [1.5, 7.0]
    assert [p[1].tolist()[0] for p in log.posts] == [7.0]
    assert alarm.posts == [] and prop.posts == []
    run(d.write_metadata(units="K"))
    assert len(prop.posts) == 1 and prop.posts[0][2].secondsSinceEpoch > 0
    run(d.alarm.write(status=AlarmStatus.STATE, severity=AlarmSeverity.MINOR_ALARM))
    assert len(alarm.posts) == 1 and alarm.posts[0][2].severity == 1


def test_a_failing_verify_sets_a_write_alarm_and_propagates():
    class Bad(ca.ChannelInteger):
        async def verify_value(self, data):
            raise ValueError("no")
    b = Bad(value=1)
    with pytest.raises(ValueError):
        run(b.write(2))
    assert b.value == 1 and b.alarm.status == AlarmStatus.WRITE


def test_shared_alarm_posts_to_every_pv_using_it():
    alarm = ca.ChannelAlarm()
    a, b = ca.ChannelDouble(value=0.0, alarm=alarm), ca.ChannelInteger(value=0, alarm=alarm)
    sa, sb = Sub(ca.DBE_ALARM), Sub(ca.DBE_ALARM, ChannelType.TIME_LONG)
    a.add_subscriber(sa)
    b.add_subscriber(sb)
    run(alarm.write(status=AlarmStatus.COMM, severity=AlarmSeverity.INVALID_ALARM))
    assert len(sa.posts) == 1 and len(sb.posts) == 1


class Inner(PVGroup):
    x = pvproperty(value=1.0)


class Demo(PVGroup):
    temperature = pvproperty(value=21.5, precision=1, units="C", record="ai")
    text = pvproperty(value="hi", dtype=str, max_length=40)
    flag = pvproperty(value=False)
    ro = pvproperty(value=3, read_only=True)
    inner = SubGroup(Inner, prefix="in:")
    pair = get_pv_pair_wrapper()(value=2)
    counted = pvproperty(value=0)
    log = []

    @temperature.putter
    async def temperature(self, instance, value):
        return min(value, 100.0)

    @counted.getter
    async def counted(self, instance):
        return instance.value + 1


def test_pvgroup_pvdb_and_types():
    g = Demo(prefix="d:")
    assert list(g.pvdb) == ["d:temperature", "d:text", "d:flag", "d:ro", "d:in:x", "d:pair",
                            "d:pair_RBV", "d:counted"]
    assert g.temperature.data_type == ChannelType.DOUBLE
    assert g.text.data_type == ChannelType.CHAR and g.flag.enum_strings == ("Off", "On")
    assert g.ro.check_access("h", "u") == ca.AccessRights.READ
    assert g.inner.x is g.pvdb["d:in:x"]


def test_pvgroup_hooks():
    g = Demo(prefix="d:")
    run(g.temperature.write(500.0))
    assert g.temperature.value == 100.0
    run(g.pair.setpoint.write(9))
    assert g.pair.readback.value == 9
    run(g.counted.read(ChannelType.LONG))
    run(g.counted.read(ChannelType.LONG))
    assert g.counted.value == 2


def test_record_fields_follow_the_record():
    g = Demo(prefix="d:")
    t = g.temperature
    assert t.fields["EGU"].value == "C" and t.fields["RTYP"].value == "ai"
    assert t.fields["NAME"].value == "d:temperature" and t.get_field("VAL") is t
    run(t.fields["EGU"].write("K"))
    assert t.units == "K"
    sub = Sub(ca.DBE_VALUE, ChannelType.STRING)
    t.fields["HOPR"].add_subscriber(sub)
    run(t.write_metadata(upper_disp_limit=50.0))
    assert t.fields["HOPR"].value == 50.0 and sub.posts[-1][1] == [b"50.0"]   # the record's PREC
    run(t.alarm.write(status=AlarmStatus.HIHI, severity=AlarmSeverity.MAJOR_ALARM))
    assert t.fields["SEVR"].value == "MAJOR"


def test_hooks_must_be_async_with_the_right_signature():
    from caffi.server.pvproperty import HookSignatureError
    with pytest.raises(HookSignatureError):
        class Wrong(PVGroup):
            x = pvproperty(value=1)

            @x.putter
            def x(self, instance, value):   # not async
                return value


def test_construction_needs_no_event_loop():
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    Demo(prefix="x:")
    ca.ChannelDouble(value=1.0)


def test_run_freezes_the_objects_made_before_it(tmp_path):
    # in a child process: gc.freeze would keep this session's objects forever
    code = ("import asyncio, gc\n"
            "from caffi.server import PVGroup, pvproperty, run\n"
            "class One(PVGroup):\n"
            "    x = pvproperty(value=1.0)\n"
            "def serve(coro):\n"
            "    coro.close()\n"
            "    print('frozen', gc.get_freeze_count())\n"
            "asyncio.run = serve\n"
            "print('frozen', gc.get_freeze_count())\n"
            "run(One(prefix='p:').pvdb)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=str(tmp_path))      # the installed package
    assert out.returncode == 0, out.stderr
    before, after = [int(line.split()[1]) for line in out.stdout.splitlines()]
    assert before == 0 and after > 10000


def test_int64_holds_what_a_64_bit_integer_holds_and_refuses_the_rest():
    data = ca.ChannelInt64(value=2 ** 62 + 3)
    assert data.value == 2 ** 62 + 3 and type(data.value) is int
    # DOUBLE over CA; the other types as the IOC converts an INT64 field
    assert data.data_type == ChannelType.DOUBLE
    assert data.read_now(ChannelType.STRING)[0] == [b"4611686018427387907"]
    assert list(data.read_now(ChannelType.LONG)[0]) == [3]
    assert list(data.read_now(ChannelType.INT)[0]) == [3]
    run(data.write(-12.75))                          # truncated, as the IOC converts it
    assert data.value == -12
    for bad in (float("nan"), float("inf"), 2 ** 63, -2 ** 63 - 1, "12"):
        with pytest.raises(ca.CaprotoValueError):
            run(data.write(bad))
        assert data.value == -12
    group = type("G", (PVGroup,), {"x": pvproperty(value=1, record="int64in"),
                                   "y": pvproperty(value=1, record="longin")})(prefix="p:")
    assert isinstance(group.x, ca.ChannelInt64) and not isinstance(group.y, ca.ChannelInt64)

"""caffi.dbr.format_dbr and DBRValue on DBR buffers built here (no server involved)."""
import numpy
import pytest

from caffi import dbr, macros
from caffi._ffi import ffi
from caffi.ca import DBR, AlarmCondition, AlarmSeverity, DBRValue

VALUE_TYPES = {0: "dbr_string_t", 1: "dbr_short_t", 2: "dbr_float_t", 3: "dbr_enum_t",
               4: "dbr_char_t", 5: "dbr_long_t", 6: "dbr_double_t"}
VALUE_SIZES = {0: 40, 1: 2, 2: 4, 3: 2, 4: 1, 5: 4, 6: 8}
EPOCH = 631152000


def _buffer(dbrtype, count):
    size = macros.dbr_size_n(dbrtype, count)
    buf = ffi.new("char[]", size)
    return buf


def _values_ptr(buf, dbrtype):
    kind = dbrtype % 7 if dbrtype <= 34 else 0
    offset = macros.dbr_size_n(dbrtype, 1) - VALUE_SIZES[kind]
    return ffi.cast(VALUE_TYPES[kind] + " *", buf + offset)


def _struct(buf, name):
    return ffi.cast("struct %s *" % name, buf)


def test_plain_scalars():
    for dbrtype, value, expected_type in ((DBR.DOUBLE, 2.5, float), (DBR.FLOAT, 0.25, float),
                                          (DBR.LONG, -7, int), (DBR.SHORT, -3, int),
                                          (DBR.ENUM, 3, int), (DBR.CHAR, 250, int)):
        buf = _buffer(dbrtype, 1)
        _values_ptr(buf, dbrtype)[0] = value
        out = dbr.format_dbr(dbrtype, 1, buf, False)
        assert out == value and type(out) is expected_type
        assert dbr.format_dbr(dbrtype, 1, buf, True) == value


def test_plain_string():
    buf = _buffer(DBR.STRING, 1)
    ffi.memmove(buf, b"hello\0", 6)
    assert dbr.format_dbr(DBR.STRING, 1, buf, False) == "hello"
    buf = _buffer(DBR.STRING, 3)
    for i, text in enumerate([b"a", "é".encode("utf-8"), b"x" * 39]):
        ffi.memmove(buf + 40 * i, text + b"\0", len(text) + 1)
    assert dbr.format_dbr(DBR.STRING, 3, buf, False) == ["a", "é", "x" * 39]
    assert dbr.format_dbr(DBR.STRING, 3, buf, True) == ["a", "é", "x" * 39]


@pytest.mark.parametrize("dbrtype,dtype", [
    (DBR.DOUBLE, numpy.float64), (DBR.FLOAT, numpy.float32), (DBR.LONG, numpy.int32),
    (DBR.SHORT, numpy.int16), (DBR.ENUM, numpy.uint16), (DBR.CHAR, numpy.uint8)])
def test_plain_arrays(dbrtype, dtype):
    values = [1, 2, 3, 4, 100]
    buf = _buffer(dbrtype, len(values))
    ptr = _values_ptr(buf, dbrtype)
    for i, v in enumerate(values):
        ptr[i] = v
    as_list = dbr.format_dbr(dbrtype, len(values), buf, False)
    assert as_list == values
    assert isinstance(as_list, list)
    as_array = dbr.format_dbr(dbrtype, len(values), buf, True)
    assert isinstance(as_array, numpy.ndarray)
    assert as_array.dtype == dtype
    assert list(as_array) == values


def test_sts_and_time():
    buf = _buffer(DBR.TIME_DOUBLE, 2)
    s = _struct(buf, "dbr_time_double")
    s.status = 3
    s.severity = 2
    s.stamp.secPastEpoch = 1000
    s.stamp.nsec = 500
    ptr = _values_ptr(buf, DBR.TIME_DOUBLE)
    ptr[0] = 1.5
    ptr[1] = 2.5
    out = dbr.format_dbr(DBR.TIME_DOUBLE, 2, buf, False)
    assert set(out) == {"status", "severity", "stamp", "value"}
    assert out["status"] == AlarmCondition.HiHi and isinstance(out["status"], AlarmCondition)
    assert out["severity"] == AlarmSeverity.Major and isinstance(out["severity"], AlarmSeverity)
    assert out["stamp"]["seconds"] == EPOCH + 1000
    assert out["stamp"]["nanoseconds"] == 500
    assert out["stamp"]["timestamp"] == pytest.approx(EPOCH + 1000 + 500e-9, abs=1e-7)
    assert out["value"] == [1.5, 2.5]
    out = dbr.format_dbr(DBR.TIME_DOUBLE, 1, buf, False)
    assert out["value"] == 1.5

    buf = _buffer(DBR.STS_CHAR, 1)
    s = _struct(buf, "dbr_sts_char")
    s.status = 17
    s.severity = 3
    s.value = 9
    out = dbr.format_dbr(DBR.STS_CHAR, 1, buf, False)
    assert out == {"status": AlarmCondition.UDF, "severity": AlarmSeverity.Invalid, "value": 9}


def test_ctrl_double():
    buf = _buffer(DBR.CTRL_DOUBLE, 1)
    s = _struct(buf, "dbr_ctrl_double")
    s.precision = 4
    ffi.memmove(s.units, b"mm\0", 3)
    (s.upper_disp_limit, s.lower_disp_limit, s.upper_alarm_limit, s.upper_warning_limit,
     s.lower_warning_limit, s.lower_alarm_limit, s.upper_ctrl_limit, s.lower_ctrl_limit,
     s.value) = (10.0, -10.0, 9.0, 8.0, -8.0, -9.0, 5.0, -5.0, 1.25)
    out = dbr.format_dbr(DBR.CTRL_DOUBLE, 1, buf, False)
    assert out == {
        "status": 0, "severity": 0, "precision": 4, "units": "mm",
        "upper_disp_limit": 10.0, "lower_disp_limit": -10.0, "upper_alarm_limit": 9.0,
        "upper_warning_limit": 8.0, "lower_warning_limit": -8.0, "lower_alarm_limit": -9.0,
        "upper_ctrl_limit": 5.0, "lower_ctrl_limit": -5.0, "value": 1.25,
    }
    gr = dbr.format_dbr(DBR.GR_DOUBLE, 1, _buffer(DBR.GR_DOUBLE, 1), False)
    assert "upper_ctrl_limit" not in gr and "precision" in gr


def test_gr_long_no_precision():
    buf = _buffer(DBR.GR_LONG, 1)
    s = _struct(buf, "dbr_gr_long")
    s.upper_disp_limit = 100
    s.value = -4
    out = dbr.format_dbr(DBR.GR_LONG, 1, buf, False)
    assert "precision" not in out
    assert out["upper_disp_limit"] == 100 and out["value"] == -4
    assert out["units"] == ""


@pytest.mark.parametrize("dbrtype,name", [(DBR.GR_ENUM, "dbr_gr_enum"),
                                          (DBR.CTRL_ENUM, "dbr_ctrl_enum")])
def test_enum_strings(dbrtype, name):
    buf = _buffer(dbrtype, 1)
    s = _struct(buf, name)
    s.no_str = 3
    for i, text in enumerate([b"zero", b"one", b"x" * 25]):
        ffi.memmove(s.strs[i], text + b"\0", len(text) + 1)
    s.value = 1
    out = dbr.format_dbr(dbrtype, 1, buf, False)
    assert out == {"status": 0, "severity": 0, "no_str": 3,
                   "strs": ("zero", "one", "x" * 25), "value": 1}


def test_stsack_and_class_name():
    buf = _buffer(DBR.STSACK_STRING, 1)
    s = _struct(buf, "dbr_stsack_string")
    s.status = 3
    s.severity = 2
    s.ackt = 1
    s.acks = 2
    ffi.memmove(s.value, b"95\0", 3)
    out = dbr.format_dbr(DBR.STSACK_STRING, 1, buf, False)
    assert out == {"status": AlarmCondition.HiHi, "severity": AlarmSeverity.Major,
                   "ackt": 1, "acks": AlarmSeverity.Major, "value": "95"}
    buf = _buffer(DBR.CLASS_NAME, 1)
    ffi.memmove(buf, b"waveform\0", 9)
    assert dbr.format_dbr(DBR.CLASS_NAME, 1, buf, False) == "waveform"


def test_dbrvalue():
    buf = _buffer(DBR.DOUBLE, 3)
    ptr = _values_ptr(buf, DBR.DOUBLE)
    for i in range(3):
        ptr[i] = i + 0.5
    v = DBRValue(DBR.DOUBLE, 3, buf)
    assert v.get() == [0.5, 1.5, 2.5]
    v = DBRValue(DBR.DOUBLE, 3, buf, True)
    assert list(v.get()) == [0.5, 1.5, 2.5]
    assert v.get().dtype == numpy.float64
    assert DBRValue().get() is None
    assert isinstance(repr(DBRValue(DBR.DOUBLE, 3, buf)), str)


def test_format_dbr_bad_input():
    buf = _buffer(DBR.DOUBLE, 1)
    for bad in (DBR.PUT_ACKT, DBR.PUT_ACKS, -1, 99):
        assert dbr.format_dbr(bad, 1, buf, False) is None
    assert dbr.format_dbr(DBR.DOUBLE, 1, ffi.NULL, False) is None


def test_undecodable_string_does_not_raise():
    buf = _buffer(DBR.STRING, 1)
    ffi.memmove(buf, b"\xff\xfeab\0", 5)
    out = dbr.format_dbr(DBR.STRING, 1, buf, False)
    assert isinstance(out, str)
    assert out.endswith("ab")

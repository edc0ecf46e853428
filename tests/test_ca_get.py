"""ca.get (with and without callback) and DBRValue for every native type and DBR class."""
import math
import time

import numpy
import pytest

from caffi import ca

from _ioc import ca_get, ca_get_cb

# --------------------------------------------------------------------------- #
# Values put into the session IOC (with dbpf) before the tests of this module.

SCALARS = {
    "ai": 12.5, "longout": 123, "stringin": "hello world", "bo": 1, "mbbi": 2,
    "short": -1234, "float": 2.5, "char": 200,
}
ARRAYS = {
    "wf:double": [1.5, -2.25, 3e10],
    "wf:float": [0.5, 1.25, -8.0, 100.0],
    "wf:long": [1, -2, 2147483647, -2147483648],
    "wf:short": [1, -2, 32767, -32768, 5],
    "wf:enum": [0, 1, 65535],
    # CHAR arrays are set with dbpf from a string (the IOC shell cannot give
    # numbers for them): "Hi!" and "abc" with their terminating NUL.
    "wf:char": [72, 105, 33, 0],
    "wf:uchar": [97, 98, 99, 0],
    "wf:string": ["a", "b c", "x" * 39],
}
NPTYPES = {
    "wf:double": numpy.float64, "wf:float": numpy.float32, "wf:long": numpy.int32,
    "wf:short": numpy.int16, "wf:enum": numpy.uint16, "wf:char": numpy.uint8,
    "wf:uchar": numpy.uint8,
}
NATIVE = {
    "ai": ca.DBF.DOUBLE, "longout": ca.DBF.LONG, "stringin": ca.DBF.STRING, "bo": ca.DBF.ENUM,
    "mbbi": ca.DBF.ENUM, "short": ca.DBF.SHORT, "float": ca.DBF.FLOAT, "char": ca.DBF.CHAR,
}
PY_TYPES = {
    ca.DBF.DOUBLE: float, ca.DBF.FLOAT: float, ca.DBF.LONG: int, ca.DBF.SHORT: int,
    ca.DBF.ENUM: int, ca.DBF.CHAR: int, ca.DBF.STRING: str,
}


@pytest.fixture(scope="module", autouse=True)
def known_values(ioc):
    p = ioc.prefix
    for suffix, value in SCALARS.items():
        ioc.dbpf(p + suffix, value)
    for suffix, values in ARRAYS.items():
        if suffix in ("wf:char", "wf:uchar"):
            ioc.dbpf(p + suffix, bytes(values[:-1]).decode())
        else:
            ioc.dbpf_array(p + suffix, values)
    # Take the alarm record back to its initial state (other modules may ack it).
    ioc.dbpf(p + "alarm", 95)
    return True


def _expected_array(suffix, count):
    values = list(ARRAYS[suffix])
    if suffix == "wf:string":
        return values + [""] * (count - len(values))
    return values + [0] * (count - len(values))


def _same(a, b, suffix):
    if suffix == "wf:float" or suffix == "float":
        return numpy.allclose(numpy.asarray(a, dtype=float), numpy.asarray(b, dtype=float))
    return list(a) == list(b) if isinstance(b, list) else a == b


# --------------------------------------------------------------------------- #
# Plain types, native requests


@pytest.mark.parametrize("suffix", sorted(SCALARS))
@pytest.mark.parametrize("with_callback", [False, True])
def test_plain_scalar(connect, suffix, with_callback):
    chid = connect(suffix)
    dbf = NATIVE[suffix]
    if with_callback:
        arg = ca_get_cb(chid)
        assert set(arg) == {"chid", "type", "count", "status", "value"}
        assert arg["chid"] == chid
        assert arg["type"] == ca.DBR(int(dbf))
        assert isinstance(arg["type"], ca.DBR)
        assert arg["count"] == 1
        assert arg["status"] == ca.ECA.NORMAL
        assert isinstance(arg["status"], ca.ECA)
        value = arg["value"]
    else:
        value = ca_get(chid)
    assert type(value) is PY_TYPES[dbf], (suffix, value)
    assert value == SCALARS[suffix]


@pytest.mark.parametrize("suffix", sorted(ARRAYS))
@pytest.mark.parametrize("use_numpy", [False, True])
def test_plain_array_pend_io(connect, suffix, use_numpy):
    chid = connect(suffix)
    value = ca_get(chid, use_numpy=use_numpy)
    expected = _expected_array(suffix, 16)
    if use_numpy and suffix != "wf:string":
        assert isinstance(value, numpy.ndarray)
        assert value.dtype == NPTYPES[suffix]
        assert value.shape == (16,)
    else:
        assert isinstance(value, list)
        assert len(value) == 16
    assert _same(value, expected, suffix)


@pytest.mark.parametrize("suffix", sorted(ARRAYS))
@pytest.mark.parametrize("use_numpy", [False, True])
def test_plain_array_callback(connect, suffix, use_numpy):
    chid = connect(suffix)
    arg = ca_get_cb(chid, use_numpy=use_numpy)
    assert arg["status"] == ca.ECA.NORMAL
    assert arg["count"] == 16
    value = arg["value"]
    if use_numpy and suffix != "wf:string":
        assert isinstance(value, numpy.ndarray)
        assert value.dtype == NPTYPES[suffix]
    else:
        assert isinstance(value, list)
    assert _same(value, _expected_array(suffix, 16), suffix)


def test_numpy_value_survives_buffer_reuse(connect, ioc):
    """Arrays given to callbacks stay valid after the callback returns."""
    chid = connect("wf:double")
    arg1 = ca_get_cb(chid, use_numpy=True)
    kept = arg1["value"]
    ioc.dbpf_array(ioc.prefix + "wf:double", [9.0] * 16)
    try:
        arg2 = ca_get_cb(chid, use_numpy=True)
        assert list(arg2["value"]) == [9.0] * 16
        assert list(kept) == _expected_array("wf:double", 16)
    finally:
        ioc.dbpf_array(ioc.prefix + "wf:double", ARRAYS["wf:double"])


# --------------------------------------------------------------------------- #
# Counts


@pytest.mark.parametrize("use_numpy", [False, True])
def test_count_n(connect, use_numpy):
    chid = connect("wf:long")
    value = ca_get(chid, count=3, use_numpy=use_numpy)
    assert list(value) == ARRAYS["wf:long"][:3]
    assert len(value) == 3
    arg = ca_get_cb(chid, count=2, use_numpy=use_numpy)
    assert arg["count"] == 2
    assert list(arg["value"]) == ARRAYS["wf:long"][:2]


def test_count_one_of_array_is_scalar(connect):
    chid = connect("wf:double")
    value = ca_get(chid, count=1)
    assert value == 1.5
    assert isinstance(value, float)
    assert ca_get(chid, count=1, use_numpy=True) == 1.5


def test_count_none_is_native(connect):
    chid = connect("wf:short")
    assert len(ca_get(chid, count=None)) == 16
    assert ca_get_cb(chid, count=None)["count"] == 16


def test_count_zero_with_callback_is_current_length(connect):
    chid = connect("wf:short")
    arg = ca_get_cb(chid, count=0)
    assert arg["status"] == ca.ECA.NORMAL
    assert arg["count"] == len(ARRAYS["wf:short"])
    assert list(arg["value"]) == ARRAYS["wf:short"]
    arg = ca_get_cb(chid, count=0, use_numpy=True)
    assert arg["value"].dtype == numpy.int16
    assert list(arg["value"]) == ARRAYS["wf:short"]


def test_count_zero_without_callback_is_native(connect):
    chid = connect("wf:short")
    value = ca_get(chid, count=0)
    assert len(value) == 16
    assert list(value[:5]) == ARRAYS["wf:short"]


@pytest.mark.parametrize("count", [17, 1000])
def test_count_too_large_is_clamped(connect, count):
    """As caffi 1.0.4: a count above the element count reads the element count."""
    chid = connect("wf:double")
    value = ca_get(chid, count=count)
    assert len(value) == 16
    assert list(value[:3]) == ARRAYS["wf:double"]
    arg = ca_get_cb(chid, count=count)
    assert arg["count"] == 16
    assert list(arg["value"][:3]) == ARRAYS["wf:double"]
    scalar = connect("ai")
    assert ca_get(scalar, count=2) == SCALARS["ai"]


def test_negative_count(connect):
    chid = connect("wf:double")
    status, value = ca.get(chid, count=-1)
    assert status == ca.ECA.NORMAL
    assert ca.pend_io(5) == ca.ECA.NORMAL
    assert len(value.get()) == 16


# --------------------------------------------------------------------------- #
# Conversions in the server


def test_request_other_types(connect):
    ai = connect("ai")
    assert ca_get(ai, chtype=ca.DBR.STRING) == "12.500"  # PREC 3
    assert ca_get(ai, chtype=ca.DBR.LONG) == 12 or ca_get(ai, chtype=ca.DBR.LONG) == 13
    assert ca_get(ai, chtype=ca.DBR.FLOAT) == 12.5
    assert ca_get(ai, chtype=ca.DBR.SHORT) in (12, 13)
    bo = connect("bo")
    assert ca_get(bo, chtype=ca.DBR.STRING) == "On"
    assert ca_get(bo, chtype=ca.DBR.DOUBLE) == 1.0
    mbbi = connect("mbbi")
    assert ca_get(mbbi, chtype=ca.DBR.STRING) == "two"
    lo = connect("longout")
    assert ca_get(lo, chtype=ca.DBR.DOUBLE) == 123.0
    assert type(ca_get(lo, chtype=ca.DBR.DOUBLE)) is float
    assert ca_get(lo, chtype=ca.DBR.STRING) == "123"
    assert ca_get(lo, chtype=ca.DBR.CHAR) == 123
    # An int (not a DBR member) is accepted as type.
    assert ca_get(lo, chtype=6) == 123.0
    wf = connect("wf:long")
    assert ca_get(wf, chtype=ca.DBR.DOUBLE, count=4) == [1.0, -2.0, 2147483647.0, -2147483648.0]
    assert ca_get(wf, chtype=ca.DBR.STRING, count=2) == ["1", "-2"]


def test_callback_reports_requested_type(connect):
    lo = connect("longout")
    arg = ca_get_cb(lo, chtype=ca.DBR.TIME_DOUBLE)
    assert arg["type"] == ca.DBR.TIME_DOUBLE
    assert arg["value"]["value"] == 123.0


@pytest.mark.parametrize("bad", [39, 100, -2, ca.DBR.INVALID])
def test_bad_type(connect, bad):
    chid = connect("ai")
    status, value = ca.get(chid, chtype=bad)
    assert status == ca.ECA.BADTYPE
    status, value = ca.get(chid, chtype=bad, callback=lambda a: None)
    assert status == ca.ECA.BADTYPE


# --------------------------------------------------------------------------- #
# Metadata (STS / TIME / GR / CTRL)

STS_KEYS = {"status", "severity", "value"}
TIME_KEYS = STS_KEYS | {"stamp"}
GR_KEYS = STS_KEYS | {"units", "upper_disp_limit", "lower_disp_limit", "upper_alarm_limit",
                      "upper_warning_limit", "lower_alarm_limit", "lower_warning_limit"}
CTRL_KEYS = GR_KEYS | {"upper_ctrl_limit", "lower_ctrl_limit"}
ENUM_GR_KEYS = STS_KEYS | {"no_str", "strs"}


def _kind(dbf):
    return dbf.name


@pytest.mark.parametrize("suffix", sorted(SCALARS))
@pytest.mark.parametrize("group", ["STS", "TIME", "GR", "CTRL"])
@pytest.mark.parametrize("with_callback", [False, True])
def test_metadata_keys(connect, suffix, group, with_callback):
    chid = connect(suffix)
    dbf = NATIVE[suffix]
    dbr = getattr(dbf, "to" + group)()
    assert dbr == ca.DBR[group + "_" + dbf.name]
    if with_callback:
        arg = ca_get_cb(chid, chtype=dbr)
        assert arg["type"] == dbr
        value = arg["value"]
    else:
        value = ca_get(chid, chtype=dbr)
    assert isinstance(value, dict)
    if group == "STS":
        keys = STS_KEYS
    elif group == "TIME":
        keys = TIME_KEYS
    elif dbf == ca.DBF.STRING:
        keys = STS_KEYS
    elif dbf == ca.DBF.ENUM:
        keys = ENUM_GR_KEYS
    else:
        keys = GR_KEYS if group == "GR" else CTRL_KEYS
        if dbf in (ca.DBF.FLOAT, ca.DBF.DOUBLE):
            keys = keys | {"precision"}
    assert set(value) == keys
    assert isinstance(value["status"], ca.AlarmCondition)
    assert isinstance(value["severity"], ca.AlarmSeverity)
    assert value["status"] == ca.AlarmCondition.No
    assert value["severity"] == ca.AlarmSeverity.No
    assert type(value["value"]) is PY_TYPES[dbf]
    assert value["value"] == SCALARS[suffix]


def test_time_stamp(connect):
    chid = connect("counter")
    now = time.time()
    for value in (ca_get(chid, chtype=ca.DBR.TIME_DOUBLE),
                  ca_get_cb(chid, chtype=ca.DBR.TIME_DOUBLE)["value"]):
        stamp = value["stamp"]
        assert set(stamp) == {"seconds", "nanoseconds", "timestamp"}
        assert isinstance(stamp["seconds"], int)
        assert isinstance(stamp["nanoseconds"], int)
        assert isinstance(stamp["timestamp"], float)
        assert 0 <= stamp["nanoseconds"] < 1000000000
        assert abs(stamp["timestamp"] - (stamp["seconds"] + stamp["nanoseconds"] / 1e9)) < 1e-6
        assert abs(stamp["timestamp"] - now) < 5.0
        assert abs(stamp["seconds"] - int(now)) <= 5


def test_time_stamp_of_put(connect):
    chid = connect("ao")
    before = time.time()
    from _ioc import ca_put
    assert ca_put(chid, 3.25)["status"] == ca.ECA.NORMAL
    after = time.time()
    value = ca_get(chid, chtype=ca.DBR.TIME_DOUBLE)
    assert value["value"] == 3.25
    assert before - 0.5 <= value["stamp"]["timestamp"] <= after + 0.5


def test_gr_ctrl_double(connect):
    chid = connect("ai")
    gr = ca_get(chid, chtype=ca.DBR.GR_DOUBLE)
    assert gr["units"] == "mm"
    assert isinstance(gr["units"], str)
    assert gr["precision"] == 3
    assert (gr["upper_disp_limit"], gr["lower_disp_limit"]) == (100.0, -100.0)
    assert (gr["upper_alarm_limit"], gr["upper_warning_limit"]) == (90.0, 80.0)
    assert (gr["lower_warning_limit"], gr["lower_alarm_limit"]) == (-80.0, -90.0)
    assert isinstance(gr["upper_disp_limit"], float)
    ctrl = ca_get(chid, chtype=ca.DBR.CTRL_DOUBLE)
    assert (ctrl["upper_ctrl_limit"], ctrl["lower_ctrl_limit"]) == (100.0, -100.0)
    ao = connect("ao")
    ctrl = ca_get_cb(ao, chtype=ca.DBR.CTRL_DOUBLE)["value"]
    assert ctrl["units"] == "V"
    assert ctrl["precision"] == 2
    assert (ctrl["upper_ctrl_limit"], ctrl["lower_ctrl_limit"]) == (50.0, -50.0)
    assert (ctrl["upper_alarm_limit"], ctrl["lower_alarm_limit"]) == (45.0, -45.0)


def test_gr_ctrl_long(connect):
    chid = connect("longout")
    ctrl = ca_get(chid, chtype=ca.DBR.CTRL_LONG)
    assert ctrl["units"] == "cnt"
    assert (ctrl["upper_disp_limit"], ctrl["lower_disp_limit"]) == (1000, -1000)
    assert (ctrl["upper_alarm_limit"], ctrl["upper_warning_limit"]) == (450, 400)
    assert (ctrl["lower_warning_limit"], ctrl["lower_alarm_limit"]) == (-400, -450)
    assert (ctrl["upper_ctrl_limit"], ctrl["lower_ctrl_limit"]) == (500, -500)
    assert isinstance(ctrl["upper_ctrl_limit"], int)
    # Requested as DOUBLE, the limits come as floats with a precision.
    ctrl = ca_get(chid, chtype=ca.DBR.CTRL_DOUBLE)
    assert ctrl["upper_ctrl_limit"] == 500.0
    assert isinstance(ctrl["upper_ctrl_limit"], float)
    assert "precision" in ctrl


def test_gr_ctrl_short_float_char(connect):
    short = ca_get(connect("short"), chtype=ca.DBR.CTRL_SHORT)
    assert short["units"] == "s"
    assert (short["upper_disp_limit"], short["lower_disp_limit"]) == (30000, -30000)
    assert (short["upper_ctrl_limit"], short["lower_ctrl_limit"]) == (30000, -30000)
    assert short["value"] == -1234
    flt = ca_get(connect("float"), chtype=ca.DBR.CTRL_FLOAT)
    assert flt["units"] == "f"
    assert flt["precision"] == 4
    assert (flt["upper_disp_limit"], flt["lower_disp_limit"]) == (10.0, -10.0)
    assert isinstance(flt["upper_disp_limit"], float)
    assert flt["value"] == 2.5
    char = ca_get(connect("char"), chtype=ca.DBR.GR_CHAR)
    assert char["units"] == "c"
    assert (char["upper_disp_limit"], char["lower_disp_limit"]) == (255, 0)
    assert char["value"] == 200


@pytest.mark.parametrize("group", ["GR", "CTRL"])
def test_enum_strings(connect, group):
    bo = ca_get(connect("bo"), chtype=ca.DBR[group + "_ENUM"])
    assert bo["no_str"] == 2
    assert bo["strs"] == ("Off", "On")
    assert isinstance(bo["strs"], tuple)
    assert bo["value"] == 1
    mbbi = ca_get_cb(connect("mbbi"), chtype=ca.DBR[group + "_ENUM"])["value"]
    assert mbbi["no_str"] == 3
    assert mbbi["strs"] == ("zero", "one", "two")
    assert mbbi["value"] == 2


def test_alarm_status(connect):
    chid = connect("alarm")
    sts = ca_get(chid, chtype=ca.DBR.STS_DOUBLE)
    assert sts["status"] == ca.AlarmCondition.HiHi
    assert sts["severity"] == ca.AlarmSeverity.Major
    assert sts["value"] == 95.0
    tm = ca_get_cb(chid, chtype=ca.DBR.TIME_STRING)["value"]
    assert tm["severity"] == ca.AlarmSeverity.Major
    assert isinstance(tm["value"], str)


def test_stsack_string(connect):
    chid = connect("alarm")
    value = ca_get(chid, chtype=ca.DBR.STSACK_STRING)
    assert set(value) == {"status", "severity", "ackt", "acks", "value"}
    assert value["status"] == ca.AlarmCondition.HiHi
    assert value["severity"] == ca.AlarmSeverity.Major
    assert value["ackt"] in (0, 1)
    assert isinstance(value["acks"], ca.AlarmSeverity)
    assert isinstance(value["value"], str)
    assert float(value["value"]) == 95.0


def test_class_name(connect):
    for suffix, rtype in (("ai", "ai"), ("wf:double", "waveform"), ("counter", "calc"),
                          ("mbbi", "mbbi")):
        chid = connect(suffix)
        # one element: the default count is the channel's element count
        assert ca_get(chid, chtype=ca.DBR.CLASS_NAME, count=1) == rtype
        assert ca_get_cb(chid, chtype=ca.DBR.CLASS_NAME, count=1)["value"] == rtype


@pytest.mark.parametrize("group", ["STS", "TIME", "GR", "CTRL"])
@pytest.mark.parametrize("use_numpy", [False, True])
def test_metadata_arrays(connect, group, use_numpy):
    chid = connect("wf:double")
    value = ca_get(chid, chtype=ca.DBR[group + "_DOUBLE"], use_numpy=use_numpy)
    assert len(value["value"]) == 16
    if use_numpy:
        assert isinstance(value["value"], numpy.ndarray)
        assert value["value"].dtype == numpy.float64
    else:
        assert isinstance(value["value"], list)
    assert list(value["value"]) == _expected_array("wf:double", 16)
    if group in ("GR", "CTRL"):
        assert value["units"] == "A"
        assert value["precision"] == 5
        assert (value["upper_disp_limit"], value["lower_disp_limit"]) == (1000.0, -1000.0)
    strings = ca_get(connect("wf:string"), chtype=ca.DBR[group + "_STRING"], count=3)
    assert strings["value"] == ARRAYS["wf:string"]


@pytest.mark.parametrize("suffix", sorted(NPTYPES))
def test_metadata_array_types(connect, suffix):
    chid = connect(suffix)
    dbf = ca.field_type(chid)
    value = ca_get_cb(chid, chtype=dbf.toTIME(), count=0, use_numpy=True)["value"]
    assert value["value"].dtype == NPTYPES[suffix]
    assert _same(value["value"], ARRAYS[suffix], suffix)
    value = ca_get(chid, chtype=dbf.toCTRL(), count=len(ARRAYS[suffix]))
    assert _same(value["value"], ARRAYS[suffix], suffix)


# --------------------------------------------------------------------------- #
# DBRValue


def test_dbrvalue(connect):
    chid = connect("wf:double")
    status, dbrvalue = ca.get(chid, ca.DBR.TIME_DOUBLE, 3)
    assert status == ca.ECA.NORMAL
    assert isinstance(dbrvalue, ca.DBRValue)
    assert ca.pend_io(5) == ca.ECA.NORMAL
    first = dbrvalue.get()
    second = dbrvalue.get()
    assert first["value"] == second["value"] == ARRAYS["wf:double"]
    assert dbrvalue.dbrtype == ca.DBR.TIME_DOUBLE
    assert dbrvalue.count == 3


@pytest.mark.parametrize("suffix", sorted(SCALARS))
def test_native_scalar_dbrvalue(connect, suffix):
    # One element of a plain native type takes ca.get's one-call path: the
    # same DBRValue as the general path (explicit type and count) gives.
    chid = connect(suffix)
    status, dbrvalue = ca.get(chid)
    assert status == ca.ECA.NORMAL
    assert isinstance(dbrvalue, ca.DBRValue)
    assert dbrvalue.dbrtype == ca.DBR(int(NATIVE[suffix]))
    assert isinstance(dbrvalue.dbrtype, ca.DBR)
    assert dbrvalue.count == 1 and dbrvalue.use_numpy is False
    assert repr(dbrvalue).startswith("DBRValue(")
    status, general = ca.get(chid, dbrvalue.dbrtype, 1)
    assert status == ca.ECA.NORMAL
    assert ca.pend_io(5) == ca.ECA.NORMAL
    assert dbrvalue.get() == general.get() == SCALARS[suffix]
    assert type(dbrvalue.get()) is type(general.get())
    assert ca.get(chid, use_numpy=True)[1].use_numpy is True
    assert ca.pend_io(5) == ca.ECA.NORMAL


def test_many_outstanding_gets(connect):
    chids = [connect(s) for s in ("ai", "longout", "stringin", "bo", "wf:double")]
    pending = []
    for chid in chids * 10:
        status, value = ca.get(chid)
        assert status == ca.ECA.NORMAL
        pending.append(value)
    assert ca.pend_io(5) == ca.ECA.NORMAL
    results = [v.get() for v in pending]
    assert results[0] == 12.5 and results[1] == 123 and results[2] == "hello world"
    assert results[-1][:3] == ARRAYS["wf:double"]
    assert results[5:10] == results[:5]


def test_nan_and_inf(connect, ioc):
    chid = connect("scratch")
    from _ioc import ca_put
    try:
        ca_put(chid, float("nan"))
        assert math.isnan(ca_get(chid))
        ca_put(chid, float("-inf"))
        assert ca_get(chid) == float("-inf")
    finally:
        ioc.dbpf(ioc.prefix + "scratch", 0)


def test_utf8_strings(connect, ioc):
    chid = connect("stringout")
    from _ioc import ca_put
    try:
        assert ca_put(chid, "µm–ü")["status"] == ca.ECA.NORMAL
        assert ca_get(chid) == "µm–ü"
    finally:
        ioc.dbpf(ioc.prefix + "stringout", "world")

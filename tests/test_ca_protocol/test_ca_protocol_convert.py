"""DBR conversions checked against the soft IOC's own answers.

For records of each native type, set to values that exercise the
conversion rules (wrapping, truncation, saturation, precision, parsing,
enum strings), every DBR type 0-34, 37 and 38 is read with caffi's
``ca.get`` from the IOC, and compared with :func:`read_dbr` applied to the
record's native value and metadata (read once as TIME_<native> and
CTRL_DOUBLE, i.e. as the record support gives them).  Puts go the other
way: a value written with each plain type through libca must leave the
record with what :func:`write_value` computes.
"""
import math
import os

import numpy as np
import pytest

import caffi.protocol as cp
from caffi import ca
from caffi.protocol._convert import (NativeMetadata, format_double, format_float,
                                     parse_float, parse_integer, read_dbr, write_value)
import _ioc

TYPES = list(range(35)) + [37, 38]

#: record suffix -> values set with dbpf (as typed in the IOC shell)
VALUES = {
    "ai": ["1.5", "-2.71828", "123456789.5", "1e20", "-0.0004", "70000.7", "1e-40",
           "-1.5", "3e9", "nan", "99999.9996"],
    "longin": ["42", "100000", "-1", "2147483647", "-2147483648", "65536"],
    "stringin": ["hello", "12.5", "  -7abc", "", "-1", "1e3", "300", "0x10", "inf",
                 "1e39", "-65536"],
    "mbbi": ["0", "2", "5", "20"],
    "short": ["-5", "32767", "-32768"],
    "float": ["2.5", "-1234567.8", "3.4e38", "0.001", "12345678", "-0.00005"],
    "char": ["200", "65", "0"],
}


@pytest.fixture(scope="module")
def conv_ioc(ca_context, ports):
    """A private IOC (its own records) for this module, on the last of the
    ports the suite reserves for private IOCs (libca searches them; the
    per-test ``private_ioc`` factory hands them out from the first)."""
    server = _ioc.IOC(macros="P=conv:", env=os.environ, ca_port=ports.private[-1],
                      name="convert-ioc")
    server.prefix = "conv:"
    server.start()
    try:
        yield server
    finally:
        server.stop()


class _Channels(dict):
    """Channels to the module's IOC, made on first use and cleared after
    each test (the suite checks that no test leaves one behind)."""

    def __init__(self, prefix):
        super().__init__()
        self.prefix = prefix

    def __missing__(self, suffix):
        status, chid = ca.create_channel(self.prefix + suffix)
        assert status == ca.ECA.NORMAL
        assert ca.pend_io(10.0) == ca.ECA.NORMAL
        self[suffix] = chid
        return chid


@pytest.fixture
def channels(conv_ioc, ctx):
    chids = _Channels(conv_ioc.prefix)
    yield chids
    for chid in chids.values():
        ca.clear_channel(chid)
    ca.flush_io()


def _get(chid, t, count=None):
    arg = _ioc.ca_get_cb(chid, chtype=t, count=count, use_numpy=True)
    return arg["status"], arg.get("value")


def _native_info(chid):
    native = ca.field_type(chid)
    status, timed = _get(chid, 14 + native)
    assert status == ca.ECA.NORMAL
    status, ctrl = _get(chid, 34, 1)                 # limits as the record gives them
    info = NativeMetadata(status=int(timed["status"]), severity=int(timed["severity"]),
                          timestamp=(timed["stamp"]["seconds"] - cp.EPICS2UNIX_EPOCH,
                                     timed["stamp"]["nanoseconds"]))
    if status == ca.ECA.NORMAL:
        for key in ("units", "precision", "upper_disp_limit", "lower_disp_limit",
                    "upper_alarm_limit", "upper_warning_limit", "lower_warning_limit",
                    "lower_alarm_limit", "upper_ctrl_limit", "lower_ctrl_limit"):
            value = ctrl[key]
            setattr(info, key, value.encode() if isinstance(value, str) else value)
    if native == 3:
        info.enum_strings = [s.encode() for s in _get(chid, 31, 1)[1]["strs"]]
    status, ack = _get(chid, 37, 1)
    if status == ca.ECA.NORMAL:
        info.ackt, info.acks = int(ack["ackt"]), int(ack["acks"])
    info.class_name = _get(chid, 38, 1)[1].encode()
    value = timed["value"]
    if native == 0:
        values = [value.encode()] if isinstance(value, str) else [v.encode() for v in value]
    else:
        values = np.atleast_1d(value)
    return native, values, info


def _same_value(ours, theirs, t):
    native = cp.DBR_LAYOUTS[t].native
    if native is cp.ChannelType.STRING:
        theirs = [theirs] if isinstance(theirs, str) else list(theirs)
        return [s.decode("latin-1") for s in ours] == theirs
    ours = np.asarray(ours)
    theirs = np.atleast_1d(np.asarray(theirs))
    if native in (cp.ChannelType.FLOAT, cp.ChannelType.DOUBLE):
        return np.array_equal(ours.astype(float), theirs.astype(float), equal_nan=True)
    return ours.astype(np.int64).tolist() == theirs.astype(np.int64).tolist()


def _same_metadata(ours, theirs):
    for key, value in theirs.items():
        if key in ("value",):
            continue
        if key == "stamp":
            assert (ours.secondsSinceEpoch + cp.EPICS2UNIX_EPOCH, ours.nanoSeconds) == (
                value["seconds"], value["nanoseconds"])
        elif key == "strs":
            assert [s.decode() for s in ours.enum_strings] == list(value)
        elif key == "units":
            assert ours.units.decode() == value
        else:
            mine = getattr(ours, key)
            if isinstance(value, float) and math.isnan(value):
                assert math.isnan(mine), key
            else:
                assert mine == value, (key, mine, value)


@pytest.mark.parametrize("suffix,text", [(s, v) for s, vs in VALUES.items() for v in vs])
def test_reads_as_the_ioc_answers(conv_ioc, channels, suffix, text):
    chid = channels[suffix]
    if suffix == "mbbi":    # a state beyond the strings cannot be typed in
        assert _ioc.ca_put(chid, int(text), chtype=5)["status"] == ca.ECA.NORMAL
    else:
        conv_ioc.dbpf(conv_ioc.prefix + suffix, text)
    native, values, info = _native_info(chid)
    failures = []
    for t in TYPES:
        status, theirs = _get(chid, t)
        try:
            data, md = read_dbr(native, values, info, t, data_count=1)
        except cp.CaprotoConversionError:
            if status != ca.ECA.GETFAIL:
                failures.append((t, "we refused; IOC gave %r" % (theirs,)))
            continue
        if status != ca.ECA.NORMAL:
            failures.append((t, "IOC failed (%s); we gave %r" % (status, data)))
            continue
        value = theirs["value"] if isinstance(theirs, dict) else theirs
        if not _same_value(data, value, t):
            failures.append((t, "value %r, IOC %r" % (data, value)))
        if isinstance(theirs, dict):
            try:
                _same_metadata(md, theirs)
            except AssertionError as exc:
                failures.append((t, "metadata %s" % exc))
    assert not failures, failures


ARRAYS = {"wf:string": ["1", "0x10", " -3 ", "077", "", "2e2"],
          "wf:double": [1.5, -2.5, 1e10, -0.25, 70000.5],
          "wf:float": [0.1, -3.75, 3e38], "wf:enum": [0, 1, 65535, 7],
          "wf:short": [-1, 5, 32767], "wf:long": [100000, -1, -2147483648],
          "wf:uchar": [0, 200, 255]}


@pytest.mark.parametrize("suffix", sorted(ARRAYS))
def test_arrays_read_as_the_ioc_answers(conv_ioc, channels, suffix):
    conv_ioc.dbpf_array(conv_ioc.prefix + suffix, ARRAYS[suffix])
    chid = channels[suffix]
    native, values, info = _native_info(chid)
    # the server converts the elements it has (NORD) and zero-fills the rest
    nord = int(_get(channels[suffix + ".NORD"], 5)[1])
    values = values[:nord]
    failures = []
    for t in range(21):
        arg = _ioc.ca_get_cb(chid, chtype=t, count=16, use_numpy=True)
        try:
            data, _ = read_dbr(native, values, info, t, data_count=16)
        except cp.CaprotoConversionError:
            if arg["status"] != ca.ECA.GETFAIL:
                failures.append((t, "we refused; IOC gave %r" % (arg.get("value"),)))
            continue
        if arg["status"] != ca.ECA.NORMAL:
            failures.append((t, "IOC failed; we gave %r" % (data,)))
            continue
        theirs = arg["value"]["value"] if isinstance(arg["value"], dict) else arg["value"]
        if not _same_value(data, theirs, t):
            failures.append((t, "value %r, IOC %r" % (data, theirs)))
    assert not failures, failures


#: (record, put type, value written, what the record must hold afterwards)
PUTS = [("ai", 0, "12.25xyz", None), ("ai", 1, -3, None), ("ai", 2, 0.1, None),
        ("ai", 3, 7, None), ("ai", 4, 250, None), ("ai", 5, -100000, None),
        ("longin", 6, 3.99, None), ("longin", 6, -3.99, None), ("longin", 0, "077", None),
        ("longin", 2, 1e10, None), ("short", 5, 100000, None), ("short", 0, "-1", None),
        ("char", 1, -1, None), ("char", 0, "-1", None), ("char", 6, 300.7, None),
        ("stringin", 6, math.pi, None), ("stringin", 2, 2.5, None), ("stringin", 1, -7, None),
        ("stringin", 3, 2, None), ("mbbi", 0, "two", None), ("mbbi", 0, "1", None),
        ("mbbi", 6, 2.9, None), ("float", 6, 1e300, None), ("float", 0, "1e-3", None)]


@pytest.mark.parametrize("suffix,t,value,_", PUTS)
def test_puts_store_what_the_ioc_stores(conv_ioc, channels, suffix, t, value, _):
    chid = channels[suffix]
    native, _, info = _native_info(chid)
    arg = _ioc.ca_put(chid, value, chtype=t)
    assert arg["status"] == ca.ECA.NORMAL, arg
    stored = _native_info(chid)[1]
    data = [value] if t == 0 else np.array([value], dtype=cp.DBR_LAYOUTS[t].value_dtype)
    ours = write_value(native, t, data, enum_strings=info.enum_strings)
    if native == 0:
        assert [s.decode() for s in ours] == [s.decode() for s in stored]
    else:
        assert np.array_equal(np.asarray(ours, dtype=float), np.asarray(stored, dtype=float))


def test_put_refusals_match():
    with pytest.raises(cp.CaprotoConversionError):
        write_value(3, 0, [b"no such state"], enum_strings=[b"zero", b"one"])
    with pytest.raises(cp.CaprotoConversionError):
        write_value(3, 0, [b"7"], enum_strings=[b"zero", b"one"])
    with pytest.raises(cp.CaprotoConversionError):
        write_value(1, 0, [b"70000"])
    with pytest.raises(cp.CaprotoConversionError):
        write_value(6, 0, [b""], scalar=False)    # dbConvert's array rule


@pytest.mark.parametrize("value,precision,expected", [
    (1.5, 3, b"1.500"), (-0.0004, 3, b"-0.000"), (123456789.5, 3, b"123456789.500"),
    (1e20, 3, b" 1.000e+20"), (1e20, 9, b" 1.000000000e+20"),
    (0.5, 0, b"1"), (2.5, 0, b"3"), (float("nan"), 2, b"nan"),
    (99999.9996, 3, b"100000.000"), (1.0, -1, b" 1.00000000000000000e+00")])
def test_format_double(value, precision, expected):
    assert format_double(value, precision) == expected


@pytest.mark.parametrize("prec", ["0", "8", "9", "20", "-1"])
@pytest.mark.parametrize("value", ["0.3", "-12345.678", "2e15", "3e17", "-7e-9"])
def test_precision_extremes_as_the_ioc(conv_ioc, channels, prec, value):
    """DOUBLE and FLOAT read as DBR_STRING at every precision regime."""
    for suffix in ("ai", "float"):
        conv_ioc.dbpf(conv_ioc.prefix + suffix + ".PREC", prec)
        conv_ioc.dbpf(conv_ioc.prefix + suffix, value)
        chid = channels[suffix]
        native, values, info = _native_info(chid)
        assert info.precision == int(prec)
        status, theirs = _get(chid, 0)
        assert status == ca.ECA.NORMAL
        data, _ = read_dbr(native, values, info, 0)
        assert data == [theirs.encode()], (suffix, prec, value)
    conv_ioc.dbpf(conv_ioc.prefix + "ai.PREC", "3")
    conv_ioc.dbpf(conv_ioc.prefix + "float.PREC", "4")


def test_format_float_uses_float_arithmetic():
    assert format_float(0.1, 8) == b"0.10000000"
    assert format_float(3.4e38, 4) == b"3.4000e+38"


def test_parsers():
    assert parse_integer(b"  -7abc", 16, True) == -7
    assert parse_integer(b"-1", 8, False) == 255
    with pytest.raises(cp.CaprotoConversionError):
        parse_integer(b"-256", 8, False)
    with pytest.raises(cp.CaprotoConversionError):
        parse_integer(b"x", 32, True)
    assert parse_float(b"0x10") == 16.0
    assert parse_float(b" 1e3 volts") == 1000.0
    assert math.isinf(parse_float(b"-Infinity"))
    with pytest.raises(cp.CaprotoConversionError):
        parse_float(b"1e400")
    with pytest.raises(cp.CaprotoConversionError):
        parse_float(b"1e39", single=True)

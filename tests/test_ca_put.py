"""ca.put with and without callback: conversions, counts, numpy, alarm acknowledgement."""
import numpy
import pytest

from caffi import ca

from _ioc import Collector, ca_get, ca_get_cb, ca_put


def test_put_without_callback(connect, ioc):
    chid = connect("scratch")
    assert ca.put(chid, 7.25) == ca.ECA.NORMAL
    assert ca.flush_io() == ca.ECA.NORMAL
    # Requests on one circuit are served in order: the get sees the put.
    assert ca_get(chid) == 7.25
    assert "7.25" in ioc.dbgf(ioc.prefix + "scratch")


def test_put_with_callback(connect, ioc):
    chid = connect("scratch")
    arg = ca_put(chid, -3.5)
    assert set(arg) == {"chid", "type", "count", "status"}
    assert arg["chid"] == chid
    assert arg["status"] == ca.ECA.NORMAL
    assert isinstance(arg["status"], ca.ECA)
    assert isinstance(arg["type"], ca.DBR)
    assert "-3.5" in ioc.dbgf(ioc.prefix + "scratch")


def test_put_float_to_double_paths_agree(connect, ioc):
    # A float to a connected DOUBLE channel takes put's one-call path; with
    # an explicit type it takes the general one: same result, same callback.
    chid = connect("scratch")
    fast = ca_put(chid, 2.75)
    assert ca_get(chid) == 2.75
    general = ca_put(chid, 2.5, chtype=ca.DBR.DOUBLE)
    assert ca_get(chid) == 2.5
    assert fast == general
    assert ca.put(chid, 1.25, callback="not callable") == ca.ECA.NORMAL
    assert ca_get(chid) == 1.25


def test_put_callback_order(connect):
    chid = connect("scratch")
    cb = Collector("put")
    for i in range(20):
        assert ca.put(chid, float(i), callback=cb) == ca.ECA.NORMAL
    ca.flush_io()
    calls = cb.wait(20, 10)
    assert all(c["status"] == ca.ECA.NORMAL for c in calls)
    assert ca_get(chid) == 19.0


@pytest.mark.parametrize("suffix,value,expected", [
    ("longout", 77, 77),
    ("longout", -5, -5),
    ("longout", 12.0, 12),
    ("stringout", "some text", "some text"),
    ("stringout", b"bytes text", "bytes text"),
    ("bo", 1, 1),
    ("bo", 0, 0),
    ("mbbo", 3, 3),
    ("short", -300, -300),
    ("float", 0.25, 0.25),
    ("char", 250, 250),
    ("ao", 4, 4.0),
    ("ao", numpy.float64(1.5), 1.5),
    ("longout", numpy.int32(9), 9),
    ("bo", True, 1),
])
def test_put_scalar(connect, suffix, value, expected):
    chid = connect(suffix)
    assert ca_put(chid, value)["status"] == ca.ECA.NORMAL
    got = ca_get(chid)
    assert got == expected
    assert type(got) is type(expected)


def test_put_str_to_enum_sends_string(connect):
    chid = connect("mbbo")
    assert ca_put(chid, "two")["status"] == ca.ECA.NORMAL
    assert ca_get(chid) == 2
    assert ca_get(chid, chtype=ca.DBR.STRING) == "two"
    assert ca.put(chid, "zero") == ca.ECA.NORMAL
    assert ca_get(chid) == 0
    bo = connect("bo")
    assert ca_put(bo, "On")["status"] == ca.ECA.NORMAL
    assert ca_get(bo) == 1
    assert ca_put(bo, b"Off")["status"] == ca.ECA.NORMAL
    assert ca_get(bo) == 0


def test_put_bad_enum_string(connect):
    chid = connect("bo")
    assert ca_put(chid, "Off")["status"] == ca.ECA.NORMAL
    arg = ca_put(chid, "NotAState")
    assert arg["status"] != ca.ECA.NORMAL
    assert ca_get(chid) == 0


def test_put_str_to_char_waveform(connect, ioc):
    chid = connect("longstr")
    text = "a long string that does not fit into 40 characters of DBR_STRING!"
    assert len(text) > 40
    assert ca_put(chid, text)["status"] == ca.ECA.NORMAL
    arg = ca_get_cb(chid, count=0)
    data = bytes(arg["value"])
    assert data.rstrip(b"\0") == text.encode()
    assert arg["count"] in (len(text), len(text) + 1)
    assert text in ioc.dbgf(ioc.prefix + "longstr")
    # bytes work the same way
    assert ca_put(chid, b"short")["status"] == ca.ECA.NORMAL
    data = bytes(ca_get_cb(chid, count=0)["value"])
    assert data.rstrip(b"\0") == b"short"
    # as numpy uint8
    value = ca_get_cb(chid, count=0, use_numpy=True)["value"]
    assert value.dtype == numpy.uint8
    assert value.tobytes().rstrip(b"\0") == b"short"


def test_put_utf8_to_char_waveform(connect):
    chid = connect("longstr")
    text = "Grüße"
    assert ca_put(chid, text)["status"] == ca.ECA.NORMAL
    data = bytes(ca_get_cb(chid, count=0)["value"]).rstrip(b"\0")
    assert data.decode("utf-8") == text


def test_put_str_to_double_converts(connect):
    chid = connect("scratch")
    assert ca_put(chid, "3.75")["status"] == ca.ECA.NORMAL
    assert ca_get(chid) == 3.75
    assert ca_put(chid, " -1e3 ")["status"] == ca.ECA.NORMAL
    assert ca_get(chid) == -1000.0
    lo = connect("longout")
    assert ca_put(lo, "42")["status"] == ca.ECA.NORMAL
    assert ca_get(lo) == 42


def test_put_unconvertible_string(connect):
    chid = connect("scratch")
    assert ca_put(chid, 1.0)["status"] == ca.ECA.NORMAL
    try:
        status = ca.put(chid, "not a number")
    except (ValueError, TypeError):
        status = ca.ECA.BADTYPE
    assert status == ca.ECA.BADTYPE
    assert ca_get(chid) == 1.0


def test_string_39_chars_round_trip(connect):
    chid = connect("stringout")
    text = "".join(chr(ord("a") + i % 26) for i in range(39))
    assert ca_put(chid, text)["status"] == ca.ECA.NORMAL
    assert ca_get(chid) == text
    assert ca_get_cb(chid)["value"] == text


@pytest.mark.parametrize("length", [40, 41, 100])
def test_string_too_long(connect, length):
    """Deliberate difference: 40 bytes or more give ECA.STRTOBIG (not truncated)."""
    chid = connect("stringout")
    assert ca_put(chid, "before")["status"] == ca.ECA.NORMAL
    text = "x" * length
    assert ca.put(chid, text) == ca.ECA.STRTOBIG
    assert ca.put(chid, text, callback=lambda a: None) == ca.ECA.STRTOBIG
    assert ca.put(chid, text.encode()) == ca.ECA.STRTOBIG
    # Multi-byte characters count as bytes: 20 x 2 bytes = 40.
    assert ca.put(chid, "é" * 20) == ca.ECA.STRTOBIG
    assert ca_get(chid) == "before"


def test_string_array_too_long_element(connect):
    chid = connect("wf:string")
    assert ca.put(chid, ["ok", "y" * 40]) == ca.ECA.STRTOBIG


def test_put_string_array(connect, ioc):
    chid = connect("wf:string")
    values = ["one", "two", "three", "z" * 39]
    assert ca_put(chid, values)["status"] == ca.ECA.NORMAL
    assert ca_get(chid, count=4) == values
    assert ca_get_cb(chid, count=0)["value"] == values
    assert '"three"' in ioc.dbgf(ioc.prefix + "wf:string")


@pytest.mark.parametrize("suffix,values", [
    ("wf:double", [1.0, 2.5, -3.25]),
    ("wf:float", [0.5, 1.5]),
    ("wf:long", [100000, -100000, 7, 8, 9]),
    ("wf:short", [-1, 2, -3]),
    ("wf:enum", [1, 2, 3, 4]),
    ("wf:char", [65, 66, 67]),
    ("wf:uchar", [0, 255]),
])
@pytest.mark.parametrize("kind", ["list", "tuple", "numpy"])
def test_put_array_shorter_than_native(connect, suffix, values, kind):
    chid = connect(suffix)
    if kind == "tuple":
        data = tuple(values)
    elif kind == "numpy":
        dtype = {"wf:double": numpy.float64, "wf:float": numpy.float32, "wf:long": numpy.int32,
                 "wf:short": numpy.int16, "wf:enum": numpy.uint16, "wf:char": numpy.uint8,
                 "wf:uchar": numpy.uint8}[suffix]
        data = numpy.array(values, dtype=dtype)
    else:
        data = list(values)
    assert ca_put(chid, data)["status"] == ca.ECA.NORMAL
    arg = ca_get_cb(chid, count=0)
    assert arg["count"] == len(values)
    assert list(arg["value"]) == values
    full = ca_get(chid)
    assert list(full[:len(values)]) == values
    assert len(full) == 16


def test_put_numpy_other_dtypes(connect):
    chid = connect("wf:double")
    # int64 array to a DOUBLE waveform, non-contiguous float array, 0-d array
    assert ca_put(chid, numpy.arange(5, dtype=numpy.int64))["status"] == ca.ECA.NORMAL
    assert ca_get_cb(chid, count=0)["value"] == [0.0, 1.0, 2.0, 3.0, 4.0]
    strided = numpy.arange(20, dtype=numpy.float64)[::4]
    assert not strided.flags["C_CONTIGUOUS"]
    assert ca_put(chid, strided)["status"] == ca.ECA.NORMAL
    assert ca_get_cb(chid, count=0)["value"] == [0.0, 4.0, 8.0, 12.0, 16.0]
    big_endian = numpy.array([1.5, 2.5], dtype=">f8")
    assert ca_put(chid, big_endian)["status"] == ca.ECA.NORMAL
    assert ca_get_cb(chid, count=0)["value"] == [1.5, 2.5]
    lo = connect("wf:long")
    assert ca_put(lo, numpy.array([1.0, 2.0, 3.0]))["status"] == ca.ECA.NORMAL
    assert ca_get_cb(lo, count=0)["value"] == [1, 2, 3]


def test_put_array_longer_than_native(connect):
    chid = connect("wf:long")
    values = list(range(100, 120))
    assert ca_put(chid, values)["status"] == ca.ECA.NORMAL
    arg = ca_get_cb(chid, count=0)
    assert arg["count"] == 16
    assert arg["value"] == values[:16]


def test_put_array_longer_than_count(connect):
    chid = connect("wf:long")
    assert ca_put(chid, list(range(10)), count=5)["status"] == ca.ECA.NORMAL
    assert ca_get_cb(chid, count=0)["value"] == [0, 1, 2, 3, 4]
    assert ca_put(chid, numpy.arange(10, dtype=numpy.int32), count=3)["status"] == ca.ECA.NORMAL
    assert ca_get_cb(chid, count=0)["value"] == [0, 1, 2]


def test_put_array_shorter_than_count(connect):
    chid = connect("wf:long")
    assert ca_put(chid, [5, 6], count=10)["status"] == ca.ECA.NORMAL
    assert ca_get_cb(chid, count=0)["value"] == [5, 6]


def test_put_scalar_to_array(connect):
    chid = connect("wf:double")
    assert ca_put(chid, 8.5)["status"] == ca.ECA.NORMAL
    arg = ca_get_cb(chid, count=0)
    assert arg["count"] == 1
    assert arg["value"] == 8.5


@pytest.mark.parametrize("count", [17, 100])
def test_put_count_too_large_is_clamped(connect, count):
    """As caffi 1.0.4: a count above the element count writes the element count."""
    chid = connect("wf:double")
    values = [float(i) for i in range(count)]
    assert ca_put(chid, values, count=count)["status"] == ca.ECA.NORMAL
    assert list(ca_get(chid)) == values[:16]
    assert ca.put(chid, values[::-1], count=count) == ca.ECA.NORMAL
    assert list(ca_get(chid)) == values[::-1][:16]
    scalar = connect("scratch")
    assert ca_put(scalar, [4.0, 2.0], count=2)["status"] == ca.ECA.NORMAL
    assert ca_get(scalar) == 4.0


def test_put_with_type_conversion(connect):
    lo = connect("longout")
    assert ca_put(lo, 15.0, chtype=ca.DBR.DOUBLE)["status"] == ca.ECA.NORMAL
    assert ca_get(lo) == 15
    assert ca_put(lo, "16", chtype=ca.DBR.STRING)["status"] == ca.ECA.NORMAL
    assert ca_get(lo) == 16
    ao = connect("scratch")
    assert ca_put(ao, 3, chtype=ca.DBR.LONG)["status"] == ca.ECA.NORMAL
    assert ca_get(ao) == 3.0
    assert ca_put(ao, 2, chtype=ca.DBR.SHORT)["status"] == ca.ECA.NORMAL
    assert ca_get(ao) == 2.0


def test_put_drive_limits(connect):
    chid = connect("ao")
    assert ca_put(chid, 1000.0)["status"] == ca.ECA.NORMAL
    assert ca_get(chid) == 50.0  # clamped by DRVH in the record
    assert ca_put(chid, 2.25)["status"] == ca.ECA.NORMAL


@pytest.mark.parametrize("value", [None, object(), {"a": 1}, [1.0, object()], {1.0, 2.0}])
def test_put_unsupported_python_types(connect, value):
    chid = connect("scratch")
    try:
        status = ca.put(chid, value)
    except (TypeError, ValueError):
        return
    assert status == ca.ECA.BADTYPE


@pytest.mark.parametrize("chtype", [39, 100, -1, -2])
def test_put_bad_type(connect, chtype):
    chid = connect("scratch")
    assert ca.put(chid, 1.0, chtype=chtype) == ca.ECA.BADTYPE


def test_put_empty_sequence(connect):
    """libca (CA 4.13) accepts an empty array: the waveform becomes empty."""
    chid = connect("wf:double")
    assert ca_put(chid, [1.0, 2.0])["status"] == ca.ECA.NORMAL
    assert ca_put(chid, [])["status"] == ca.ECA.NORMAL
    arg = ca_get_cb(chid, count=0)
    assert arg["count"] == 0
    assert len(arg["value"]) == 0
    assert len(ca_get_cb(chid, count=0, use_numpy=True)["value"]) == 0
    assert ca_put(chid, numpy.array([], dtype=numpy.float64))["status"] == ca.ECA.NORMAL


def test_put_ackt_acks(connect, ioc):
    chid = connect("alarm")
    assert ca_put(chid, 1, chtype=ca.DBR.PUT_ACKT)["status"] == ca.ECA.NORMAL
    ioc.dbpf(ioc.prefix + "alarm", 10)  # out of alarm ...
    ioc.dbpf(ioc.prefix + "alarm", 95)  # ... and back in: unacknowledged MAJOR
    try:
        value = ca_get(chid, chtype=ca.DBR.STSACK_STRING)
        assert value["severity"] == ca.AlarmSeverity.Major
        assert value["acks"] == ca.AlarmSeverity.Major
        assert value["ackt"] == 1
        # acknowledge the MAJOR alarm
        assert ca_put(chid, int(ca.AlarmSeverity.Major), chtype=ca.DBR.PUT_ACKS)["status"] \
            == ca.ECA.NORMAL
        value = ca_get(chid, chtype=ca.DBR.STSACK_STRING)
        assert value["acks"] == ca.AlarmSeverity.No
        # transient alarms need no acknowledgement any more
        assert ca.put(chid, 0, chtype=ca.DBR.PUT_ACKT) == ca.ECA.NORMAL
        ca.flush_io()
        value = ca_get(chid, chtype=ca.DBR.STSACK_STRING)
        assert value["ackt"] == 0
    finally:
        ca_put(chid, 1, chtype=ca.DBR.PUT_ACKT)


def test_sequence_of_strings_to_numeric(connect):
    chid = connect("wf:double")
    try:
        status = ca.put(chid, ["1.5", "2.5"])
    except (TypeError, ValueError):
        return
    if status == ca.ECA.NORMAL:
        ca.flush_io()
        assert ca_get_cb(chid, count=0)["value"] == [1.5, 2.5]
    else:
        assert status == ca.ECA.BADTYPE


# --------------------------------------------------------------------------- #
# Property-based round trips

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_SETTINGS = settings(max_examples=40, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])


@_SETTINGS
@given(text=st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                           blacklist_characters="\0"),
                    max_size=39).filter(lambda t: len(t.encode("utf-8")) <= 39))
def test_string_round_trip_property(connect, text):
    chid = connect("stringout")
    assert ca_put(chid, text)["status"] == ca.ECA.NORMAL
    assert ca_get(chid) == text


@_SETTINGS
@given(values=st.lists(st.floats(allow_nan=False), min_size=1, max_size=16),
       use_numpy=st.booleans())
def test_double_array_round_trip_property(connect, values, use_numpy):
    chid = connect("wf:double")
    data = numpy.array(values) if use_numpy else values
    assert ca_put(chid, data)["status"] == ca.ECA.NORMAL
    arg = ca_get_cb(chid, count=0, use_numpy=use_numpy)
    assert arg["count"] == len(values)
    got = arg["value"]
    if len(values) == 1:
        assert got == values[0]
    else:
        assert list(got) == values


@_SETTINGS
@given(values=st.lists(st.integers(-2 ** 31, 2 ** 31 - 1), min_size=2, max_size=16))
def test_long_array_round_trip_property(connect, values):
    chid = connect("wf:long")
    assert ca_put(chid, values)["status"] == ca.ECA.NORMAL
    assert ca_get_cb(chid, count=0)["value"] == values

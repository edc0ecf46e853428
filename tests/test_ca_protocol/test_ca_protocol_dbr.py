"""DBR layouts and payload round trips.

The sizes and value offsets of all 39 DBR types are checked against libca's
own tables (``dbr_size``, ``dbr_value_size``, ``dbr_value_offset``, read
through caffi's binding), so the layouts cannot drift from ``db_access.h``.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import caffi.protocol as ca
from caffi._ffi import lib


@pytest.mark.parametrize("t", range(39))
def test_layout_matches_libca(t):
    layout = ca.DBR_LAYOUTS[t]
    assert layout.size == lib.dbr_size[t]
    assert layout.value_size == lib.dbr_value_size[t]
    assert layout.metadata_size == lib.dbr_value_offset[t]


def test_metadata_classes_named_as_in_c():
    assert ca.DBR_TIME_DOUBLE._fields[:4] == ("status", "severity", "secondsSinceEpoch",
                                              "nanoSeconds")
    md = ca.DBR_TIME_DOUBLE(1, 2, 3, 5)
    assert (md.status, md.severity, md.secondsSinceEpoch, md.nanoSeconds) == (1, 2, 3, 5)
    assert md.timestamp == pytest.approx(ca.EPICS2UNIX_EPOCH + 3 + 5e-9)
    assert ca.DBR_CTRL_SHORT is ca.DBR_CTRL_INT
    assert ca.DBR_TYPES[ca.ChannelType.CTRL_ENUM] is ca.DBR_CTRL_ENUM
    assert ca.DBR_TYPES[ca.ChannelType.DOUBLE] is None


def test_enum_strings():
    md = ca.DBR_CTRL_ENUM(status=0, severity=0, no_str=2, strs=(b"Off", b"On"))
    payload = b"".join(bytes(b) for b in ca.encode_payload(31, [1], metadata=md)[0])
    md2, data = ca.decode_payload(31, 1, memoryview(payload))
    assert md2.enum_strings == [b"Off", b"On"]
    assert md2.strs[2:] == (b"",) * 14
    assert list(data) == [1]


def test_bare_string_is_strlen_plus_nul_padded():
    buffers, size, count = ca.encode_payload(0, ["hello"], bare_string=True)
    assert b"".join(bytes(b) for b in buffers) == b"hello\x00\x00\x00"
    assert (size, count) == (6, 1)
    assert len(b"".join(bytes(b) for b in ca.encode_payload(0, ["hello"])[0])) == 40
    # a payload shorter than 40 bytes decodes for DBR_STRING count 1 only
    assert ca.decode_payload(0, 1, memoryview(b"hello\x00\x00\x00")) == (None, [b"hello"])
    with pytest.raises(ca.RemoteProtocolError):
        ca.decode_payload(7, 1, memoryview(b"\x00" * 16))
    with pytest.raises(ca.RemoteProtocolError):
        ca.decode_payload(0, 2, memoryview(b"a\x00" + b"\x00" * 6))


def test_values_decode_as_views():
    raw = np.arange(5, dtype=">f8").tobytes()
    _, data = ca.decode_payload(6, 5, memoryview(raw))
    assert data.base is not None and not data.flags.writeable
    assert np.shares_memory(data, np.frombuffer(raw, dtype=">f8"))


def test_count_beyond_payload_refused():
    with pytest.raises(ca.RemoteProtocolError):
        ca.decode_payload(6, 1000, memoryview(b"\x00" * 8))
    with pytest.raises(ca.RemoteProtocolError):
        ca.decode_payload(39, 1, memoryview(b"\x00" * 8))


def test_encode_refuses_bad_values():
    with pytest.raises(ca.CaprotoValueError):
        ca.encode_payload(1, [70000])            # does not fit a DBR_INT
    with pytest.raises(ca.CaprotoValueError):
        ca.encode_payload(0, ["x" * 40])         # no room for the NUL
    with pytest.raises(ca.CaprotoValueError):
        ca.encode_payload(6, [1.0, 2.0], data_count=1)


_NATIVE_VALUES = {
    0: st.lists(st.binary(max_size=39).filter(lambda b: b"\x00" not in b), min_size=1,
                max_size=4),
    1: st.lists(st.integers(-2**15, 2**15 - 1), min_size=1, max_size=8),
    2: st.lists(st.floats(width=32, allow_nan=False), min_size=1, max_size=8),
    3: st.lists(st.integers(0, 2**16 - 1), min_size=1, max_size=8),
    4: st.lists(st.integers(0, 255), min_size=1, max_size=8),
    5: st.lists(st.integers(-2**31, 2**31 - 1), min_size=1, max_size=8),
    6: st.lists(st.floats(allow_nan=False), min_size=1, max_size=8),
}


@st.composite
def _payloads(draw):
    t = draw(st.integers(0, 38))
    layout = ca.DBR_LAYOUTS[t]
    native = int(layout.native)
    values = draw(_NATIVE_VALUES[native])
    metadata = None
    if layout.metadata_class is not None:
        fields = layout.metadata_class._fields
        kwargs = {}
        for name in fields:
            if name in ("status", "severity", "no_str", "precision", "ackt", "acks"):
                kwargs[name] = draw(st.integers(0, 16 if name == "no_str" else 3))
            elif name == "units":
                kwargs[name] = draw(st.binary(max_size=7).filter(lambda b: b"\x00" not in b))
            elif name == "strs":
                kwargs[name] = tuple(draw(st.lists(
                    st.binary(max_size=25).filter(lambda b: b"\x00" not in b),
                    min_size=16, max_size=16)))
            elif name in ("secondsSinceEpoch", "nanoSeconds"):
                kwargs[name] = draw(st.integers(0, 2**32 - 1))
        metadata = layout.metadata_class(**kwargs)
    return t, values, metadata


@given(_payloads())
def test_payload_round_trip(case):
    t, values, metadata = case
    buffers, size, count = ca.encode_payload(t, values, metadata=metadata)
    raw = b"".join(bytes(b) for b in buffers)
    assert len(raw) % 8 == 0 and len(raw) - size < 8
    md, data = ca.decode_payload(t, count, memoryview(raw))
    assert md == metadata
    if ca.DBR_LAYOUTS[t].native is ca.ChannelType.STRING:
        assert data == list(values)
    else:
        np.testing.assert_array_equal(data, np.array(values, dtype=data.dtype))
    again = b"".join(bytes(b) for b in ca.encode_payload(t, data, metadata=md)[0])
    assert again == raw


@given(_payloads())
def test_scalar_fast_path_matches_the_general_one(case):
    """One Python number is packed by one precompiled struct; a numpy array
    of the same value goes the general way: the bytes must be the same."""
    t, values, metadata = case
    layout = ca.DBR_LAYOUTS[t]
    if layout._scalar is None:
        return
    value = values[0]
    fast = ca.encode_payload(t, (value,), metadata=metadata)
    general = ca.encode_payload(t, np.array([value], dtype=layout.value_dtype),
                                metadata=metadata)
    assert len(fast[0]) == 1     # one buffer: the fast path was taken
    assert b"".join(bytes(b) for b in fast[0]) == b"".join(bytes(b) for b in general[0])
    assert fast[1:] == general[1:]


def test_fast_path_refusals_fall_back():
    # a float for an integer type, and an out-of-range value, take the general
    # path, which converts or refuses as before
    assert ca.encode_payload(1, (1.7,))[0] == ca.encode_payload(1, [1.7, ][:1])[0]
    with pytest.raises(ca.CaprotoValueError):
        ca.encode_payload(4, (256,))

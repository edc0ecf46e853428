"""DBR payloads: the layout of every DBR type 0-38, packed and unpacked.

Theory of operation
-------------------
A DBR payload is an optional metadata structure (alarm, time stamp, limits,
units, precision, enum strings, as in ``db_access.h``) followed by
``data_count`` values of the type's *native* value type, all big endian and
padded by the message to a multiple of 8 bytes.  Each DBR type gets one
:class:`DbrLayout`, built once at import: a compiled :class:`struct.Struct`
for the metadata (the ``RISC_pad`` alignment fields included, so a decoded
payload re-encodes byte for byte), a big-endian numpy dtype for the values,
and a metadata class named as in C (``DBR_TIME_DOUBLE`` ...).

Metadata objects are named tuples: positional construction follows the C
field order (``DBR_TIME_DOUBLE(status, severity, secondsSinceEpoch,
nanoSeconds)``), every field defaults to zero, and they are immutable.

Values decode as read-only numpy views of the received bytes (no copy); the
string types decode to a list of ``bytes`` (each cut at its NUL).  Encoding
accepts a sequence, a numpy array (converted to the big-endian dtype; no copy
when it already is one) or a bytes-like object holding the big-endian values.

Size checks happen before anything is built: ``data_count`` values must fit
in the payload received (a bare DBR_STRING is the exception: libca sends
one string to put as its characters and NUL only).
"""
import array
import collections
import struct
import time
from typing import Any, List, NamedTuple, Optional, Tuple

import numpy as np

from ._constants import (EPICS2UNIX_EPOCH, MAX_ENUM_STATES, MAX_ENUM_STRING_SIZE,
                         MAX_STRING_SIZE, AlarmSeverity, AlarmStatus, ChannelType)
from ._errors import CaprotoValueError, RemoteProtocolError

__all__ = [
    "DbrLayout", "DBR_LAYOUTS", "DBR_TYPES", "TimeStamp", "native_type", "native_types",
    "status_types", "time_types", "graphical_types", "control_types", "string_types",
    "int_types", "float_types", "enum_types", "char_types", "special_types",
    "dbr_size", "dbr_size_n", "decode_payload", "encode_payload", "pad8",
    "epics_timestamp_to_unix", "timestamp_to_epics",
]

_T = ChannelType

native_types = (_T.STRING, _T.INT, _T.FLOAT, _T.ENUM, _T.CHAR, _T.LONG, _T.DOUBLE)
status_types = tuple(_T(t) for t in range(7, 14))
time_types = tuple(_T(t) for t in range(14, 21))
graphical_types = tuple(_T(t) for t in range(21, 28))
control_types = tuple(_T(t) for t in range(28, 35))
special_types = (_T.PUT_ACKT, _T.PUT_ACKS, _T.STSACK_STRING, _T.CLASS_NAME)

#: the native value type of each DBR type (PUT_ACKT/PUT_ACKS carry an ENUM-sized value)
_NATIVE = {t: native_types[t % 7] for t in range(35)}
_NATIVE.update({35: _T.ENUM, 36: _T.ENUM, 37: _T.STRING, 38: _T.STRING})

string_types = tuple(t for t in _T if _NATIVE[t] is _T.STRING)
int_types = tuple(t for t in _T if _NATIVE[t] in (_T.INT, _T.LONG))
float_types = tuple(t for t in _T if _NATIVE[t] in (_T.FLOAT, _T.DOUBLE))
enum_types = tuple(t for t in _T if _NATIVE[t] is _T.ENUM and t < 35)
char_types = tuple(t for t in _T if _NATIVE[t] is _T.CHAR)

#: big-endian numpy dtype of one value, per native type (STRING: 40 bytes)
_VALUE_DTYPE = {
    _T.STRING: np.dtype("S40"), _T.INT: np.dtype(">i2"), _T.FLOAT: np.dtype(">f4"),
    _T.ENUM: np.dtype(">u2"), _T.CHAR: np.dtype("u1"), _T.LONG: np.dtype(">i4"),
    _T.DOUBLE: np.dtype(">f8"),
}


def native_type(data_type: int) -> ChannelType:
    """The native type whose values a DBR type carries (``TIME_DOUBLE`` -> ``DOUBLE``)."""
    try:
        return _NATIVE[data_type]
    except KeyError:
        raise CaprotoValueError("no DBR type %r" % (data_type,)) from None


def epics_timestamp_to_unix(seconds_since_epoch: int, nano_seconds: int) -> float:
    """An EPICS time stamp (seconds since 1990, ns) as a POSIX time stamp."""
    return EPICS2UNIX_EPOCH + seconds_since_epoch + 1e-9 * nano_seconds


def timestamp_to_epics(ts: float) -> Tuple[int, int]:
    """A POSIX time stamp as ``(secondsSinceEpoch, nanoSeconds)``."""
    sec = int(ts)
    nano = int(round((ts - sec) * 1e9))
    if nano >= 1000000000:
        sec, nano = sec + 1, nano - 1000000000
    return sec - EPICS2UNIX_EPOCH, nano


class TimeStamp(NamedTuple):
    """An EPICS time stamp: seconds since 1990-01-01 UTC and nanoseconds."""
    secondsSinceEpoch: int = 0
    nanoSeconds: int = 0

    @property
    def timestamp(self) -> float:
        """POSIX time stamp (seconds since 1970)."""
        return epics_timestamp_to_unix(self.secondsSinceEpoch, self.nanoSeconds)

    @classmethod
    def from_unix_timestamp(cls, ts: float) -> "TimeStamp":
        return cls(*timestamp_to_epics(ts))

    @classmethod
    def now(cls) -> "TimeStamp":
        return cls.from_unix_timestamp(time.time())


# --------------------------------------------------------------------------- #
# Metadata layouts (db_access.h), as (field name, struct code) in wire order

_STS = [("status", "h"), ("severity", "h")]
_STAMP = [("secondsSinceEpoch", "I"), ("nanoSeconds", "I")]
_LIMIT_NAMES = ["upper_disp_limit", "lower_disp_limit", "upper_alarm_limit",
                "upper_warning_limit", "lower_warning_limit", "lower_alarm_limit"]
_CTRL_NAMES = ["upper_ctrl_limit", "lower_ctrl_limit"]
_UNITS = [("units", "8s")]
_ENUM_STRS = [("no_str", "h"), ("strs", "%ds" % MAX_ENUM_STRING_SIZE)]


def _limits(code, ctrl):
    names = _LIMIT_NAMES + (_CTRL_NAMES if ctrl else [])
    return [(name, code) for name in names]


def _gr_fields(native, ctrl):
    if native is _T.STRING:
        return list(_STS)
    if native is _T.ENUM:
        return _STS + _ENUM_STRS
    if native is _T.INT:
        return _STS + _UNITS + _limits("h", ctrl)
    if native is _T.LONG:
        return _STS + _UNITS + _limits("i", ctrl)
    if native is _T.CHAR:
        return _STS + _UNITS + _limits("B", ctrl) + [("RISC_pad", "B")]
    code = "f" if native is _T.FLOAT else "d"
    pad = "RISC_pad" if (ctrl and native is _T.FLOAT) else "RISC_pad0"
    return _STS + [("precision", "h"), (pad, "h")] + _UNITS + _limits(code, ctrl)


_STS_PAD = {_T.CHAR: [("RISC_pad", "B")], _T.DOUBLE: [("RISC_pad", "i")]}
_TIME_PAD = {_T.INT: [("RISC_pad", "h")], _T.ENUM: [("RISC_pad", "h")],
             _T.CHAR: [("RISC_pad0", "h"), ("RISC_pad1", "B")], _T.DOUBLE: [("RISC_pad", "i")]}


def _meta_fields(t: ChannelType):
    native = _NATIVE[t]
    if t < 7 or t in (_T.PUT_ACKT, _T.PUT_ACKS, _T.CLASS_NAME):
        return []
    if t < 14:
        return _STS + _STS_PAD.get(native, [])
    if t < 21:
        return _STS + _STAMP + _TIME_PAD.get(native, [])
    if t < 28:
        return _gr_fields(native, ctrl=False)
    if t < 35:
        return _gr_fields(native, ctrl=True)
    # STSACK_STRING: all unsigned
    return [("status", "H"), ("severity", "H"), ("ackt", "H"), ("acks", "H")]


class _MetadataMixin:
    """Conveniences shared by every metadata class."""
    __slots__ = ()
    DBR_ID: ChannelType

    @property
    def timestamp(self) -> float:
        """POSIX time stamp of a TIME type."""
        return epics_timestamp_to_unix(self.secondsSinceEpoch, self.nanoSeconds)

    @property
    def stamp(self) -> TimeStamp:
        return TimeStamp(self.secondsSinceEpoch, self.nanoSeconds)

    @property
    def enum_strings(self) -> List[bytes]:
        """The ``no_str`` first enum strings of a GR/CTRL ENUM type."""
        return list(self.strs[:max(0, min(self.no_str, MAX_ENUM_STATES))])

    def to_dict(self) -> dict:
        d = {k: v for k, v in zip(self._fields, self) if not k.startswith("RISC_pad")}
        for key, enum in (("status", AlarmStatus), ("severity", AlarmSeverity)):
            if key in d:
                try:
                    d[key] = enum(d[key])
                except ValueError:
                    pass
        return d

    def __bytes__(self) -> bytes:
        return DBR_LAYOUTS[self.DBR_ID].pack_metadata(self)


class DbrLayout:
    """Everything about one DBR type that the codec needs, computed once.

    Attributes
    ----------
    type : ChannelType
    native : ChannelType
        The type of the values.
    metadata_class : type or None
        Named tuple of the metadata fields (None for the plain types).
    metadata_size : int
        Byte offset of the first value (``dbr_value_offset``).
    value_size : int
        Bytes per value (``dbr_value_size``).
    value_dtype : numpy.dtype
        Big-endian dtype of a value.
    size : int
        ``dbr_size``: metadata and one value.
    """

    __slots__ = ("type", "native", "metadata_class", "metadata_size", "value_size",
                 "value_dtype", "size", "_struct", "_enum", "_units", "_scalar")

    def __init__(self, t: ChannelType):
        self.type = t
        self.native = _NATIVE[t]
        fields = _meta_fields(t)
        self._enum = any(name == "strs" for name, _ in fields)
        names = [name for name, _ in fields]
        self._units = names.index("units") if "units" in names else None
        if fields:
            codes = []
            for name, code in fields:
                codes.append(code * MAX_ENUM_STATES if name == "strs" else code)
            self._struct = struct.Struct(">" + "".join(codes))
            names = [name for name, _ in fields]
            defaults = [(b"",) * MAX_ENUM_STATES if name == "strs" else
                        (b"" if code.endswith("s") else 0) for name, code in fields]
            base = collections.namedtuple("DBR_" + t.name, names, defaults=defaults)
            self.metadata_class = type("DBR_" + t.name, (_MetadataMixin, base),
                                       {"__slots__": (), "DBR_ID": t,
                                        "__module__": "caffi.protocol"})
            self.metadata_size = self._struct.size
        else:
            self._struct = None
            self.metadata_class = None
            self.metadata_size = 0
        self.value_dtype = _VALUE_DTYPE[self.native]
        self.value_size = self.value_dtype.itemsize
        self.size = self.metadata_size + self.value_size
        # one value with its metadata and padding in one pack (the hot path of
        # a server's subscription updates); not for strings or enum strings
        self._scalar = None
        if self.native is not _T.STRING and not self._enum:
            meta = self._struct.format[1:] if self._struct is not None else ""
            code = self.value_dtype.str[1:].replace("i2", "h").replace("u2", "H") \
                .replace("f4", "f").replace("u1", "B").replace("i4", "i").replace("f8", "d")
            self._scalar = struct.Struct(">" + meta + code + "x" * (-self.size % 8))

    def __repr__(self):
        return "<DbrLayout %s: metadata %d bytes, %d bytes per value>" % (
            self.type.name, self.metadata_size, self.value_size)

    def payload_size(self, data_count: int) -> int:
        """Unpadded bytes of ``data_count`` values with metadata (``dbr_size_n``)."""
        return self.metadata_size + data_count * self.value_size

    # -- metadata ----------------------------------------------------------- #
    def unpack_metadata(self, buf, offset: int = 0):
        """The metadata at ``offset`` (strings cut at their NUL, as C reads them)."""
        values = self._struct.unpack_from(buf, offset)
        if self._enum:
            strs = tuple(v.split(b"\x00", 1)[0] for v in values[3:3 + MAX_ENUM_STATES])
            values = values[:3] + (strs,) + values[3 + MAX_ENUM_STATES:]
        elif self._units is not None:
            i = self._units
            values = values[:i] + (values[i].split(b"\x00", 1)[0],) + values[i + 1:]
        return self.metadata_class._make(values)

    def pack_metadata(self, metadata) -> bytes:
        if self._enum:
            strs = tuple(metadata.strs) + (b"",) * MAX_ENUM_STATES
            return self._struct.pack(*metadata[:3], *strs[:MAX_ENUM_STATES], *metadata[4:])
        return self._struct.pack(*metadata)

    def make_metadata(self, metadata):
        """A metadata object from an instance, a tuple, a mapping or None (zeros)."""
        cls = self.metadata_class
        if metadata is None:
            return cls()
        if isinstance(metadata, cls):
            return metadata
        if isinstance(metadata, dict):
            return cls(**metadata)
        if isinstance(metadata, _MetadataMixin):
            # another DBR type's metadata: take the fields this type has
            return cls(**{k: v for k, v in zip(metadata._fields, metadata)
                          if k in cls._fields})
        return cls(*metadata)


#: one :class:`DbrLayout` per DBR type 0-38, indexed by type code
DBR_LAYOUTS: Tuple[DbrLayout, ...] = tuple(DbrLayout(_T(t)) for t in range(39))
#: metadata classes by type (None for the plain types)
DBR_TYPES = {layout.type: layout.metadata_class for layout in DBR_LAYOUTS}
for _layout in DBR_LAYOUTS:
    if _layout.metadata_class is not None:
        globals()[_layout.metadata_class.__name__] = _layout.metadata_class
        __all__.append(_layout.metadata_class.__name__)
# the C names DBR_STS_SHORT... for the INT types
for _short in ("STS", "TIME", "GR", "CTRL"):
    _cls = DBR_TYPES[_T[_short + "_INT"]]
    globals()["DBR_%s_SHORT" % _short] = _cls
    __all__.append("DBR_%s_SHORT" % _short)
del _layout, _short, _cls


def dbr_size(data_type: int) -> int:
    return DBR_LAYOUTS[data_type].size


def dbr_size_n(data_type: int, count: int) -> int:
    return DBR_LAYOUTS[data_type].payload_size(count)


def pad8(n: int) -> int:
    """Bytes of padding after ``n`` bytes of payload (CA pads to 8)."""
    return -n % 8


_PADDING = b"\x00" * 8


# --------------------------------------------------------------------------- #
# Payloads

def _split_strings(buf, count: int) -> List[bytes]:
    raw = bytes(buf)
    out = []
    for i in range(0, MAX_STRING_SIZE * count, MAX_STRING_SIZE):
        item = raw[i:i + MAX_STRING_SIZE]
        nul = item.find(b"\x00")
        out.append(item if nul < 0 else item[:nul])
    return out


def decode_payload(data_type: int, data_count: int, payload) -> Tuple[Any, Any]:
    """``(metadata, data)`` from a received payload.

    Parameters
    ----------
    data_type, data_count : int
        From the message header.
    payload : memoryview
        The payload as received (padding included).

    Raises
    ------
    RemoteProtocolError
        Unknown type, or ``data_count`` values that do not fit.
    """
    if not 0 <= data_type <= 38:
        raise RemoteProtocolError("unknown DBR type %d" % data_type)
    layout = DBR_LAYOUTS[data_type]
    size = len(payload)
    need = layout.metadata_size + data_count * layout.value_size
    if size < need:
        # one bare DBR_STRING travels as its characters and NUL only (libca's puts)
        if not (data_type == 0 and data_count == 1 and size > 0):
            raise RemoteProtocolError(
                "%d %s values need %d bytes of payload, got %d"
                % (data_count, layout.type.name, need, size))
        return None, _split_strings(payload, 1)
    metadata = layout.unpack_metadata(payload) if layout.metadata_class is not None else None
    start = layout.metadata_size
    if layout.native is _T.STRING:
        data = _split_strings(payload[start:start + MAX_STRING_SIZE * data_count], data_count)
    else:
        data = np.frombuffer(payload, dtype=layout.value_dtype, count=data_count, offset=start)
    return metadata, data


def _encode_strings(data, count: int, bare: bool) -> bytes:
    parts = []
    for item in data:
        if isinstance(item, str):
            item = item.encode("latin-1")
        elif isinstance(item, np.bytes_):
            item = bytes(item)
        elif not isinstance(item, (bytes, bytearray)):
            raise CaprotoValueError("string values must be str or bytes, not %r" % (item,))
        if len(item) >= MAX_STRING_SIZE:
            raise CaprotoValueError("string value %r longer than %d bytes"
                                    % (item, MAX_STRING_SIZE - 1))
        parts.append(item)
    if len(parts) > count:
        raise CaprotoValueError("%d strings given for data_count %d" % (len(parts), count))
    if bare and count == 1:
        return (parts[0] if parts else b"") + b"\x00"
    return b"".join(p.ljust(MAX_STRING_SIZE, b"\x00") for p in parts).ljust(
        MAX_STRING_SIZE * count, b"\x00")


_NUMBER = (int, float)


def _one_number(data):
    """The value of ``data`` if it is one plain Python number (else None)."""
    kind = type(data)
    if kind is tuple or kind is list:
        if len(data) == 1 and type(data[0]) in _NUMBER:
            return data[0]
        return None
    return data if kind in _NUMBER else None


def _is_string_data(data) -> bool:
    return isinstance(data, (str, bytes)) and not isinstance(data, (bytearray, memoryview))


def encode_payload(data_type: int, data, data_count: Optional[int] = None,
                   metadata=None, bare_string: bool = False) -> Tuple[List[Any], int, int]:
    """Buffers of a payload: ``(buffers, unpadded size, data_count)``.

    ``buffers`` (metadata bytes, values, padding) join to a multiple of 8
    bytes.  ``data`` is a sequence, a numpy array, or a bytes-like object of
    big-endian values; for the string types a sequence of ``str``/``bytes``.
    ``data_count`` defaults to the number of values; fewer values than
    ``data_count`` are padded with zeros.  With ``bare_string``, one
    DBR_STRING is sent as its characters and NUL only (libca's puts and
    rsrv's answer to the deprecated READ do this; rsrv's READ_NOTIFY and
    subscription answers send all 40 bytes).
    """
    layout = DBR_LAYOUTS[data_type]
    if layout._scalar is not None and (data_count is None or data_count == 1):
        value = _one_number(data)
        if value is not None:
            try:
                if layout.metadata_class is None:
                    if metadata is None:
                        return [layout._scalar.pack(value)], layout.size, 1
                else:
                    md = layout.make_metadata(metadata)
                    return [layout._scalar.pack(*md, value)], layout.size, 1
            except (struct.error, OverflowError, TypeError):
                pass   # the general path below converts or refuses it
    buffers: List[Any] = []
    if layout.metadata_class is not None:
        buffers.append(layout.pack_metadata(layout.make_metadata(metadata)))
    elif metadata is not None:
        raise CaprotoValueError("DBR type %s has no metadata" % layout.type.name)
    if layout.native is _T.STRING:
        if _is_string_data(data):
            data = [data]
        elif isinstance(data, np.ndarray):
            data = data.tolist()
        if data_count is None:
            data_count = len(data)
        values = _encode_strings(data, data_count, bare=(bare_string and data_type == 0))
    else:
        dtype = layout.value_dtype
        if isinstance(data, np.ndarray):
            arr = data.astype(dtype, copy=False) if data.dtype != dtype else data
            values = memoryview(np.ascontiguousarray(arr).reshape(-1)).cast("B")
        elif isinstance(data, (bytes, bytearray, memoryview, array.array)):
            values = memoryview(data).cast("B")
            if len(values) % dtype.itemsize:
                raise CaprotoValueError("%d bytes are not whole %s values"
                                        % (len(values), layout.native.name))
        else:
            if not isinstance(data, (list, tuple)):
                data = list(data) if hasattr(data, "__iter__") else [data]
            try:
                arr = np.array(data)
                if arr.dtype.kind in "iu" and dtype.kind in "iu" and arr.size:
                    # numpy 1 wraps out-of-range Python ints, numpy 2 refuses them
                    info = np.iinfo(dtype)
                    if arr.min() < info.min or arr.max() > info.max:
                        raise OverflowError("out of range")
                values = memoryview(arr.astype(dtype).reshape(-1)).cast("B")
            except (OverflowError, ValueError, TypeError) as exc:
                raise CaprotoValueError("cannot encode %r as %s: %s"
                                        % (data, layout.native.name, exc)) from None
        n = len(values) // dtype.itemsize
        if data_count is None:
            data_count = n
        elif n > data_count:
            raise CaprotoValueError("%d values given for data_count %d" % (n, data_count))
        elif n < data_count:
            values = bytes(values) + b"\x00" * ((data_count - n) * dtype.itemsize)
    if len(values):
        buffers.append(values)
    size = layout.metadata_size + len(values)
    pad = -size % 8
    if pad:
        buffers.append(_PADDING[:pad])
    return buffers, size, data_count

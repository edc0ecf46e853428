"""Conversions between DBR types, as an EPICS IOC (rsrv over the database) does them.

Theory of operation
-------------------
A server keeps each channel's value in its *native* type (one of the seven
plain DBR types) with its metadata (:class:`NativeMetadata`).  A client may
read it as any DBR type 0-38 and write it from any type: :func:`read_dbr`
gives ``(data, metadata)`` for a requested type, ready for a
ReadNotifyResponse or EventAddResponse, and :func:`write_value` turns a
received put payload into native values.  Both raise
:class:`CaprotoConversionError` where the IOC fails the request (rsrv then
answers ECA_GETFAIL or ECA_PUTFAIL).

The rules are those of ``db_access.c``, ``dbConvert.c`` (arrays),
``dbFastLinkConv.c`` (single values) and ``cvtFast.c`` of EPICS base:

* integers to narrower integers wrap (C conversion); floating point to an
  integer truncates toward zero through a 32-bit integer, so NaN and values
  beyond +-2**31 become -2**31 before wrapping (what x86-64 does);
* DOUBLE to FLOAT saturates at +-FLT_MAX and keeps tiny values at +-FLT_MIN
  (``epicsConvertDoubleToFloat``);
* FLOAT and DOUBLE to STRING use the channel's precision through
  ``cvtFloatToString``/``cvtDoubleToString`` (fixed point up to 1e7, then
  ``%e``); integers print in decimal; an ENUM prints its state string (as
  an mbbi: empty for a state without one, "Illegal Value" from 16 on; as a
  bi/bo with ``enum_states=2``: "Illegal_Value" from 2 on);
* STRING to a number parses like ``strtol``/``strtod`` (``0x`` hex and
  leading-zero octal accepted, leading blanks skipped, trailing text ignored), fails on overflow, and an empty
  string is 0; ``"-1"`` becomes 255 or 65535 for the unsigned types
  (``epicsParseUInt8``/``UInt16`` accept it);
* STRING to ENUM on a put matches the enum strings, then a number below the
  number of strings;
* the GR/CTRL limits come from double limits: through a 32-bit integer for
  the integer types, saturated for FLOAT; units are cut to 7 characters.

``scalar`` (a channel of one element) selects the single-value rules where
they differ from the array ones: reading a scalar STRING as ENUM fails (the
record has no enum strings) while an array of strings parses as numbers,
reading an ENUM array as STRING fails (no record support gives it strings),
and putting an empty string into an array element fails while a scalar
takes 0.
"""
import math
import re
import struct
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from ._constants import MAX_ENUM_STATES, ChannelType
from ._dbr import DBR_LAYOUTS, TimeStamp, timestamp_to_epics
from ._errors import CaprotoConversionError

__all__ = ["NativeMetadata", "convert_values", "read_dbr", "write_value",
           "format_float", "format_double", "parse_integer", "parse_float"]

_T = ChannelType
STRING, INT, FLOAT, ENUM, CHAR, LONG, DOUBLE = (_T.STRING, _T.INT, _T.FLOAT, _T.ENUM,
                                               _T.CHAR, _T.LONG, _T.DOUBLE)
_DTYPE = {INT: np.dtype(">i2"), FLOAT: np.dtype(">f4"), ENUM: np.dtype(">u2"),
          CHAR: np.dtype("u1"), LONG: np.dtype(">i4"), DOUBLE: np.dtype(">f8")}
_FLT_MAX = float(np.finfo(np.float32).max)
_FLT_MIN = float(np.finfo(np.float32).tiny)
_DBL_MIN = float(np.finfo(np.float64).tiny)
_INT32_MIN = -2 ** 31
ILLEGAL_ENUM = b"Illegal Value"


@dataclass
class NativeMetadata:
    """What a server knows about a channel besides its values.

    The limits are given as floats (records keep them as doubles); the IOC
    converts them to the requested type.  ``timestamp`` is a POSIX time stamp,
    a :class:`TimeStamp` or ``(secondsSinceEpoch, nanoSeconds)``.
    """
    status: int = 0
    severity: int = 0
    timestamp: Any = (0, 0)
    units: bytes = b""
    precision: int = 0
    upper_disp_limit: float = 0.0
    lower_disp_limit: float = 0.0
    upper_alarm_limit: float = 0.0
    upper_warning_limit: float = 0.0
    lower_warning_limit: float = 0.0
    lower_alarm_limit: float = 0.0
    upper_ctrl_limit: float = 0.0
    lower_ctrl_limit: float = 0.0
    enum_strings: Sequence[bytes] = field(default_factory=tuple)
    #: an ENUM record's states and what one beyond them reads as (mbbi/mbbo)
    enum_states: int = MAX_ENUM_STATES
    illegal_string: bytes = ILLEGAL_ENUM
    ackt: int = 0
    acks: int = 0
    class_name: bytes = b""

    def stamp(self) -> Tuple[int, int]:
        ts = self.timestamp
        if isinstance(ts, (int, float)) and not isinstance(ts, bool):
            return timestamp_to_epics(ts)
        return tuple(TimeStamp(*ts))


# --------------------------------------------------------------------------- #
# Numbers to numbers

def _float_to_int(values: np.ndarray, dtype) -> np.ndarray:
    """C conversion of floats to an integer type on x86-64: truncate through
    int32 (NaN and out of range give INT32_MIN), then wrap."""
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        t = np.trunc(v)
        bad = ~((t >= -2.0 ** 31) & (t < 2.0 ** 31))
    i32 = np.where(bad, _INT32_MIN, np.where(bad, 0, t)).astype(np.int64).astype(np.int32)
    return i32.astype(dtype)


def _double_to_float(values: np.ndarray) -> np.ndarray:
    """``epicsConvertDoubleToFloat``: saturate, keep tiny values at FLT_MIN."""
    v = np.asarray(values, dtype=np.float64)
    a = np.abs(v)
    with np.errstate(invalid="ignore", over="ignore"):
        out = v.astype(np.float32)
        finite_nonzero = np.isfinite(v) & (v != 0)
        out = np.where(finite_nonzero & (a >= _FLT_MAX), np.sign(v) * _FLT_MAX, out)
        out = np.where(finite_nonzero & (a <= _FLT_MIN), np.sign(v) * _FLT_MIN, out)
    return out.astype(np.float32)


def _numeric(values: np.ndarray, src: ChannelType, dst: ChannelType) -> np.ndarray:
    dtype = _DTYPE[dst]
    if src is dst:
        return values
    if src in (FLOAT, DOUBLE):
        if dst is DOUBLE:
            return values.astype(dtype)
        if dst is FLOAT:
            return _double_to_float(values).astype(dtype)
        return _float_to_int(values, dtype)
    # integer sources: C conversion (wraps into narrower integers)
    return np.asarray(values).astype(np.int64).astype(dtype)


# --------------------------------------------------------------------------- #
# Numbers to strings (cvtFast.c)

_FRAC = (1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000)


def _nan_text(value) -> str:
    return "-nan" if math.copysign(1.0, value) < 0 else "nan"


def _fixed(whole: int, fraction10: int, precision: int, negative: bool) -> bytes:
    """The fixed-point text of cvtFast.c from the whole part and ten times
    the fraction (rounded here, carrying into the whole part)."""
    fplace = _FRAC[precision]
    fraction = (fraction10 + 5) // 10
    if fraction // fplace >= 1:
        whole += 1
        fraction -= fplace
    text = "%d" % whole
    if precision > 0:
        text += ".%0*d" % (precision, fraction)
    return (("-" if negative else "") + text).encode()


def _c_printf(fmt: str, width: int, precision: int, value: float) -> str:
    if math.isnan(value):
        text = _nan_text(value)
        return text.rjust(width) if "e" in fmt else text
    if "e" in fmt:
        return "%*.*e" % (width, precision, value)
    return "%.*f" % (precision, value)


def format_float(value, precision: int) -> bytes:
    """``cvtFloatToString``: a FLOAT as the IOC prints it."""
    precision &= 0xFFFF
    f = np.float32(value)
    fv = float(f)
    if math.isnan(fv) or precision > 8 or fv > 1e7 or fv < -1e7:
        if precision > 8 or fv >= 1e8 or fv <= -1e8:
            p = min(precision, 12)
            return _c_printf("e", p + 6, p, fv).encode()
        return _c_printf("f", 0, min(precision, 3), fv).encode()
    negative = fv < 0
    if negative:
        f = -f
    whole = int(f)
    ftemp = np.float32(f - np.float32(whole))
    fplace = _FRAC[precision]
    fraction = int(np.float32(np.float32(ftemp * np.float32(fplace)) * np.float32(10)))
    return _fixed(whole, fraction, precision, negative)


def format_double(value, precision: int) -> bytes:
    """``cvtDoubleToString``: a DOUBLE as the IOC prints it."""
    precision &= 0xFFFF
    v = float(value)
    if math.isnan(v) or precision > 8 or v > 1e7 or v < -1e7:
        if precision > 8 or v > 1e16 or v < -1e16:
            p = min(precision, 17)
            return _c_printf("e", p + 7, p, v).encode()
        return _c_printf("f", 0, min(precision, 3), v).encode()
    negative = v < 0
    if negative:
        v = -v
    whole = int(v)
    ftemp = v - whole
    fplace = _FRAC[precision]
    fraction = int(ftemp * fplace * 10)
    return _fixed(whole, fraction, precision, negative)


def _enum_string(index: int, enum_strings, states: int = MAX_ENUM_STATES,
                 illegal: bytes = ILLEGAL_ENUM) -> bytes:
    """An mbbi/mbbo's answer: its state string, empty for one of the 16
    states without a string, "Illegal Value" beyond (a bi/bo has 2 states
    and says "Illegal_Value")."""
    if 0 <= index < len(enum_strings):
        s = enum_strings[index]
        return _text(s)
    if index < states:
        return b""
    return illegal


def _to_strings(values, src: ChannelType, precision: int, enum_strings,
                enum_states: int = MAX_ENUM_STATES,
                illegal: bytes = ILLEGAL_ENUM) -> list:
    if src is FLOAT:
        return [format_float(v, precision) for v in values]
    if src is DOUBLE:
        return [format_double(v, precision) for v in values]
    if src is ENUM and enum_strings is not None:
        return [_enum_string(int(v), enum_strings, enum_states, illegal)
                for v in values]
    return [b"%d" % int(v) for v in values]


# --------------------------------------------------------------------------- #
# Strings to numbers (epicsStdlib.c over strtol/strtod)

_SPACE = b" \t\n\v\f\r"
# strtol with base 0 (the IOC parses "0x10" as 16 and "077" as 63)
_INT_RE = re.compile(rb"(?P<sign>[+-]?)(?:0[xX](?P<hex>[0-9a-fA-F]+)|(?P<oct>0[0-7]*)|(?P<dec>[1-9][0-9]*))")
_FLOAT_RE = re.compile(
    rb"[+-]?(?:(?P<hex>0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?)"
    rb"|(?P<dec>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    rb"|(?P<inf>[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)"
    rb"|(?P<nan>[nN][aA][nN](?:\([0-9A-Za-z_]*\))?))")


def _text(raw) -> bytes:
    raw = raw.encode("latin-1") if isinstance(raw, str) else bytes(raw)
    nul = raw.find(b"\x00")
    return raw if nul < 0 else raw[:nul]


def parse_integer(raw, bits: int, signed: bool) -> int:
    """``epicsParseInt8/16/32`` and ``UInt8/16`` (base 0: ``0x`` hex and
    leading-zero octal, as the IOC parses; trailing text allowed)."""
    text = _text(raw).lstrip(_SPACE)
    m = _INT_RE.match(text)
    if m is None:
        raise CaprotoConversionError("no number in %r" % (raw,))
    if m.group("hex"):
        value = int(m.group("hex"), 16)
    elif m.group("oct") is not None:
        value = int(m.group("oct"), 8)
    else:
        value = int(m.group("dec"))
    if m.group("sign") == b"-":
        value = -value
    if signed:
        if not -2 ** 63 <= value < 2 ** 63:
            raise CaprotoConversionError("%r overflows" % (raw,))
        if not -2 ** (bits - 1) <= value < 2 ** (bits - 1):
            raise CaprotoConversionError("%r does not fit %d bits" % (raw, bits))
        return value
    # strtoul: a leading '-' negates modulo 2**64
    if abs(value) >= 2 ** 64:
        raise CaprotoConversionError("%r overflows" % (raw,))
    value %= 2 ** 64
    mask = (1 << bits) - 1
    if mask < value <= (2 ** 64 - 1) ^ mask:
        raise CaprotoConversionError("%r does not fit %d bits" % (raw, bits))
    return value & mask


def parse_float(raw, single: bool = False) -> float:
    """``epicsParseFloat64``/``Float32`` over ``strtod`` (trailing text allowed)."""
    text = _text(raw).lstrip(_SPACE)
    m = _FLOAT_RE.match(text)
    if m is None:
        raise CaprotoConversionError("no number in %r" % (raw,))
    token = m.group()
    negative = token.startswith(b"-")
    if m.group("hex"):
        value = float.fromhex(token.decode())
    elif m.group("inf"):
        value = -math.inf if negative else math.inf
    elif m.group("nan"):
        value = -math.nan if negative else math.nan
    else:
        value = float(token)
        digits = m.group("dec").split(b"e")[0].split(b"E")[0]
        if math.isinf(value) or (value == 0 and digits.strip(b"0.")) \
                or 0 < abs(value) < _DBL_MIN:
            raise CaprotoConversionError("%r is out of range" % (raw,))
    if single and not math.isnan(value):
        if value > 0 and abs(value) <= _FLT_MIN:
            raise CaprotoConversionError("%r underflows a FLOAT" % (raw,))
        if math.isfinite(value) and abs(value) >= _FLT_MAX:
            raise CaprotoConversionError("%r overflows a FLOAT" % (raw,))
    return value


_INT_PARSE = {INT: (16, True), LONG: (32, True), CHAR: (8, False), ENUM: (16, False)}


def _from_strings(strings, dst: ChannelType, empty_is_zero: bool) -> np.ndarray:
    out = []
    for s in strings:
        if not _text(s):
            if not empty_is_zero:
                raise CaprotoConversionError("empty string")
            out.append(0)
        elif dst in (FLOAT, DOUBLE):
            out.append(parse_float(s, single=dst is FLOAT))
        else:
            out.append(parse_integer(s, *_INT_PARSE[dst]))
    return np.array(out, dtype=_DTYPE[dst])


def _match_enum(s, enum_strings) -> int:
    text = _text(s)
    for i, candidate in enumerate(enum_strings):
        if _text(candidate) == text:
            return i
    try:
        index = parse_integer(text, 16, False)
    except CaprotoConversionError:
        index = None
    if index is not None and index < len(enum_strings):
        return index
    raise CaprotoConversionError("%r is not one of the enum strings" % (text,))


# --------------------------------------------------------------------------- #
# Public functions

def convert_values(values, from_type: int, to_type: int, *, precision: int = 6,
                   enum_strings: Optional[Sequence[bytes]] = None, put: bool = False,
                   scalar: bool = True, enum_states: int = MAX_ENUM_STATES,
                   illegal_string: bytes = ILLEGAL_ENUM):
    """Convert values between two native types as the IOC does.

    Parameters
    ----------
    values : sequence or numpy array
        Values of ``from_type`` (bytes or str for STRING).
    from_type, to_type : int
        Native types 0-6.
    precision : int
        Precision of FLOAT/DOUBLE when printed (the channel's, on a get;
        6 on a put into a STRING, where the target has none).
    enum_strings : sequence of bytes, optional
        The ENUM channel's strings (ENUM -> STRING on a get, STRING -> ENUM
        on a put).
    put : bool
        Convert a written value into the channel's type (else a read).
    enum_states, illegal_string : int, bytes
        The ENUM record's number of states and the string of a state beyond
        them (16 and "Illegal Value" for an mbbi/mbbo; 2 and
        "Illegal_Value" for a bi/bo).
    scalar : bool
        The channel holds one element (see the module doc).

    Returns
    -------
    list of bytes (STRING) or numpy array (big endian)
    """
    src = _T(from_type)
    dst = _T(to_type)
    if src is STRING:
        strings = [_text(s) for s in values]
        if dst is STRING:
            return [s[:39] for s in strings]
        if dst is ENUM:
            if put:
                if enum_strings is None:
                    enum_strings = ()
                return np.array([_match_enum(s, enum_strings) for s in strings],
                                dtype=_DTYPE[ENUM])
            if scalar:
                raise CaprotoConversionError("a STRING channel has no enum strings")
        return _from_strings(strings, dst, empty_is_zero=scalar or not put)
    with np.errstate(over="ignore"):        # 1e40 as FLOAT is inf, as in C
        values = np.asarray(values, dtype=_DTYPE[src])
    if dst is STRING and src is ENUM and not put and not scalar:
        # only records (one element) have enum strings: an ENUM array has none
        raise CaprotoConversionError("an ENUM array has no enum strings")
    if dst is STRING:
        return _to_strings(values, src, precision if not put else 6,
                           None if put else (enum_strings or ()), enum_states, illegal_string)
    return _numeric(values, src, dst)


def _limit(value: float, native: ChannelType, alarm: bool):
    if native is FLOAT:
        return float(_double_to_float(np.array([value]))[0])
    if native is DOUBLE:
        return float(value)
    if alarm and not math.isfinite(value):
        return 0    # get_alarm: records without alarm limits give NaN, integers 0
    as_long = int(_float_to_int(np.array([value]), np.int32)[0])
    return int(np.array([as_long], dtype=np.int64).astype(_DTYPE[native])[0])


def _metadata(layout, info: NativeMetadata):
    cls = layout.metadata_class
    names = cls._fields
    kwargs = {"status": info.status, "severity": info.severity}
    if "secondsSinceEpoch" in names:
        kwargs["secondsSinceEpoch"], kwargs["nanoSeconds"] = info.stamp()
    if "units" in names:
        kwargs["units"] = _text(info.units)[:7]
    if "precision" in names:
        kwargs["precision"] = struct.unpack("<h", struct.pack("<H", int(info.precision) & 0xFFFF))[0]
    if "no_str" in names:
        strs = [_text(s)[:25] for s in list(info.enum_strings)[:MAX_ENUM_STATES]]
        kwargs["no_str"] = len(strs)
        kwargs["strs"] = tuple(strs)
    if "ackt" in names:
        kwargs["ackt"], kwargs["acks"] = info.ackt, info.acks
    for name in names:
        if name.endswith("_limit"):
            kwargs[name] = _limit(getattr(info, name), layout.native,
                                  alarm=("alarm" in name or "warning" in name))
    if "status" in names and layout.type is _T.STSACK_STRING:
        kwargs["status"] &= 0xFFFF
        kwargs["severity"] &= 0xFFFF
    return cls(**kwargs)


def read_dbr(native_type: int, values, info: NativeMetadata, data_type: int,
             data_count: Optional[int] = None):
    """``(data, metadata)`` of a channel read as ``data_type``.

    ``values`` are the channel's native values; ``data_count`` truncates or
    pads with zeros (empty strings) as rsrv does (``None``: all values).
    Raises :class:`CaprotoConversionError` where the IOC answers ECA_GETFAIL.
    """
    native = _T(native_type)
    layout = DBR_LAYOUTS[data_type]
    if layout.type is _T.CLASS_NAME:
        return [_text(info.class_name)[:39]], None
    if layout.type in (_T.PUT_ACKT, _T.PUT_ACKS):
        raise CaprotoConversionError("%s can only be written" % layout.type.name)
    n = len(values)
    if data_count is not None and data_count < n:
        values = values[:data_count]
    data = convert_values(values, native, layout.native, precision=info.precision,
                          enum_strings=info.enum_strings, scalar=(n == 1),
                          enum_states=info.enum_states, illegal_string=info.illegal_string)
    if data_count is not None and data_count > len(data):
        missing = data_count - len(data)
        if layout.native is STRING:
            data = list(data) + [b""] * missing
        else:
            data = np.concatenate([data, np.zeros(missing, dtype=data.dtype)])
    metadata = _metadata(layout, info) if layout.metadata_class is not None else None
    return data, metadata


def write_value(native_type: int, data_type: int, data, *, enum_strings=None,
                scalar: bool = True):
    """The native values a put of ``data`` (as ``data_type``) stores.

    The metadata of a compound put type is ignored, as ``dbChannel_put``
    does.  PUT_ACKT/PUT_ACKS values are returned as they are (they go to
    the alarm acknowledgement, not the value).  Raises
    :class:`CaprotoConversionError` where the IOC answers ECA_PUTFAIL.
    """
    layout = DBR_LAYOUTS[data_type]
    if layout.type in (_T.PUT_ACKT, _T.PUT_ACKS):
        return np.asarray(data, dtype=">u2")
    if layout.type is _T.CLASS_NAME:
        raise CaprotoConversionError("CLASS_NAME cannot be written")
    return convert_values(data, layout.native, native_type, enum_strings=enum_strings,
                          put=True, scalar=scalar)

"""Python values to DBR buffers for puts: :func:`prepare_put` (re-exported by
:mod:`caffi.dbr`).

It applies the conversions caffi 1.0 documents (str to ENUM sends DBR_STRING,
str to CHAR becomes NUL-terminated bytes, other strings become floats) and
returns a contiguous C buffer for libca.
"""
import numbers
from collections.abc import Sequence

import numpy

from . import macros as _m
from ._dbr_types import _DTYPE, _PTR, _STRING_SIZE, _VALUE_CTYPE
from ._ffi import ffi
from .constants import ECA


class PutRefused(Exception):
    """A put value that maps to an ECA status instead of a buffer."""

    def __init__(self, status):
        Exception.__init__(self, status)
        self.status = status


_INT_TYPES = (_m.DBR_SHORT, _m.DBR_ENUM, _m.DBR_CHAR, _m.DBR_LONG,
              _m.DBR_PUT_ACKT, _m.DBR_PUT_ACKS)
WRITABLE_TYPES = frozenset(_VALUE_CTYPE)


def _encode_string(item):
    if isinstance(item, str):
        raw = item.encode("utf-8")
    elif isinstance(item, (bytes, bytearray)):
        raw = bytes(item)
    else:
        raw = str(item).encode("utf-8")
    if len(raw) >= _STRING_SIZE:
        # dbr_string_t holds 39 characters and the terminating NUL.
        raise PutRefused(ECA.STRTOBIG)
    return raw


def _string_buffer(items):
    return b"".join(_encode_string(item).ljust(_STRING_SIZE, b"\0") for item in items)


def _numeric_array(values, vtype):
    """A contiguous numpy array of *values* in the dtype of *vtype*, checked."""
    dtype = _DTYPE[vtype]
    try:
        arr = numpy.asarray(values)
    except (TypeError, ValueError) as exc:
        raise TypeError("cannot convert put value to %s: %s" % (dtype, exc)) from None
    if arr.dtype.kind in "US":
        try:
            arr = arr.astype(numpy.float64)
        except ValueError as exc:
            raise ValueError("cannot convert put value to a number: %s" % exc) from None
    if arr.dtype.kind not in "biuf":
        raise TypeError("cannot convert put value of dtype %s to %s" % (arr.dtype, dtype))
    arr = arr.reshape(-1)
    if vtype in _INT_TYPES and arr.size:
        if arr.dtype.kind == "f" and not numpy.all(numpy.mod(arr, 1) == 0):
            raise TypeError("non-integral value for an integer DBR type %s"
                            % _m.dbr_type_to_text(vtype))
        low, high = (-128, 255) if vtype == _m.DBR_CHAR else (
            numpy.iinfo(dtype).min, numpy.iinfo(dtype).max)
        if arr.min() < low or arr.max() > high:
            raise ValueError("put value out of range for %s" % _m.dbr_type_to_text(vtype))
        if vtype == _m.DBR_CHAR:
            return numpy.ascontiguousarray(arr.astype(numpy.int16).astype(numpy.uint8))
    return numpy.ascontiguousarray(arr, dtype=dtype)


def _scalar(value, vtype):
    """C buffer of one numeric *value* of plain type *vtype*."""
    if vtype in _INT_TYPES:
        if isinstance(value, numbers.Integral):
            ivalue = int(value)
        elif isinstance(value, numbers.Real) and float(value).is_integer():
            ivalue = int(value)
        else:
            raise TypeError("non-integral value %r for %s" % (value, _m.dbr_type_to_text(vtype)))
        if vtype == _m.DBR_CHAR and -128 <= ivalue < 0:
            ivalue &= 0xFF
        try:
            return ffi.new(_PTR[vtype], ivalue)
        except OverflowError:
            raise ValueError("put value %r out of range for %s"
                             % (value, _m.dbr_type_to_text(vtype))) from None
    if not isinstance(value, numbers.Real):
        raise TypeError("cannot put %r as %s" % (value, _m.dbr_type_to_text(vtype)))
    return ffi.new(_PTR[vtype], float(value))


def prepare_put(value, chtype, count, native_type):
    """Convert a put *value* to ``(chtype, count, cbuffer)``.

    Parameters
    ----------
    value : object
        Number, str/bytes, sequence or numpy array.
    chtype : int or None
        Requested DBR type; None picks one from the native type and the value.
    count : int
        Maximum element count (already checked against the native count).
    native_type : int
        The channel's DBF type.

    Raises
    ------
    PutRefused
        With ECA.BADTYPE or ECA.STRTOBIG.
    TypeError, ValueError
        For values that cannot be represented in the type.
    """
    defaulted = chtype is None
    if defaulted:
        chtype = native_type
    if chtype not in WRITABLE_TYPES:
        raise PutRefused(ECA.BADTYPE)

    if isinstance(value, (str, bytes, bytearray)):
        if chtype in (_m.DBR_STRING, _m.DBR_ENUM):
            return _m.DBR_STRING, 1, _string_buffer([value])
        raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        if chtype == _m.DBR_CHAR:
            data = numpy.frombuffer(raw + b"\0", dtype=numpy.uint8)
            return chtype, min(count, data.size), data
        try:
            number = float(value)
        except ValueError:
            raise ValueError("cannot convert %r to a number for %s"
                             % (value, _m.dbr_type_to_text(chtype))) from None
        value = number

    if isinstance(value, numpy.ndarray) and value.ndim == 0:
        value = value[()]

    if isinstance(value, numbers.Number):
        if chtype == _m.DBR_STRING:
            return chtype, 1, _string_buffer([value])
        if defaulted and chtype in _INT_TYPES and not isinstance(value, numbers.Integral) \
                and not float(value).is_integer():
            # Let the server convert, as for ca_put(DBR_DOUBLE, ...) in C.
            chtype = _m.DBR_DOUBLE
        return chtype, 1, _scalar(value, chtype)

    if isinstance(value, (numpy.ndarray, Sequence)) and not isinstance(value, (str, bytes)):
        if chtype == _m.DBR_STRING or (chtype == _m.DBR_ENUM and len(value)
                                       and isinstance(value[0], (str, bytes))):
            items = list(value)[:count]
            return _m.DBR_STRING, len(items), _string_buffer(items)
        arr = value if isinstance(value, numpy.ndarray) else numpy.asarray(value)
        if defaulted and chtype in _INT_TYPES and arr.dtype.kind == "f" and arr.size \
                and not numpy.all(numpy.mod(arr, 1) == 0):
            chtype = _m.DBR_DOUBLE
        data = _numeric_array(arr, chtype)
        return chtype, min(count, data.size), data

    raise PutRefused(ECA.BADTYPE)

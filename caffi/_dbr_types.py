"""The plain DBR value types of libca: C type names, numpy dtypes and C pointer
types, for the conversions of :mod:`caffi.dbr` (reads) and :mod:`caffi._dbr_put`
(writes).
"""
import numpy

from . import macros as _m
from ._ffi import ffi

_VALUE_CTYPE = {
    _m.DBR_STRING: "dbr_string_t",
    _m.DBR_SHORT: "dbr_short_t",
    _m.DBR_FLOAT: "dbr_float_t",
    _m.DBR_ENUM: "dbr_enum_t",
    _m.DBR_CHAR: "dbr_char_t",
    _m.DBR_LONG: "dbr_long_t",
    _m.DBR_DOUBLE: "dbr_double_t",
    _m.DBR_PUT_ACKT: "dbr_put_ackt_t",
    _m.DBR_PUT_ACKS: "dbr_put_acks_t",
}
_DTYPE = {
    _m.DBR_SHORT: numpy.dtype(numpy.int16),
    _m.DBR_FLOAT: numpy.dtype(numpy.float32),
    _m.DBR_ENUM: numpy.dtype(numpy.uint16),
    _m.DBR_CHAR: numpy.dtype(numpy.uint8),
    _m.DBR_LONG: numpy.dtype(numpy.int32),
    _m.DBR_DOUBLE: numpy.dtype(numpy.float64),
    _m.DBR_PUT_ACKT: numpy.dtype(numpy.uint16),
    _m.DBR_PUT_ACKS: numpy.dtype(numpy.uint16),
}
_PTR = {t: ffi.typeof(name + " *") for t, name in _VALUE_CTYPE.items()}
_STRING_PTR = _PTR[_m.DBR_STRING]
_STRING_SIZE = _m.MAX_STRING_SIZE

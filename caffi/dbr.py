"""DBR buffers to Python values and Python values to DBR buffers.

Reading: one converter per DBR type is built at import time (the struct
pointer type, the value offset from ``dbr_value_offset`` and a metadata
extractor), so converting an update costs a table look-up and the field reads.
Plain scalars become Python scalars, arrays become lists, or numpy arrays with
``use_numpy``; the STS/TIME/GR/CTRL types become dicts with the keys of
caffi 1.0.  A buffer that caffi allocated for a get is exposed as a numpy view
(no copy); memory that libca owns (callbacks) is copied once.

Writing: :func:`prepare_put` (in :mod:`caffi._dbr_put`, re-exported here)
applies the conversions caffi 1.0 documents (str to ENUM sends DBR_STRING, str
to CHAR becomes NUL-terminated bytes, other strings become floats) and returns
a contiguous C buffer for libca.
"""
from enum import IntEnum  # noqa: F401  (caffi 1.0.4 showed it: ``dbr.IntEnum``)

import numpy

from . import macros as _m
from ._dbr_put import WRITABLE_TYPES, PutRefused, prepare_put  # noqa: F401
from ._dbr_types import _DTYPE, _PTR, _VALUE_CTYPE
from ._ffi import ffi, lib
from .constants import ECA, AlarmCondition, AlarmSeverity, NamedIntEnum

__all__ = ["DBF", "DBR", "DBRValue", "format_dbr"]


class DBR(NamedIntEnum):
    """Enum of the ``DBR_XXX`` request types."""
    INVALID = _m.TYPENOTCONN
    STRING = _m.DBR_STRING
    INT = _m.DBR_INT
    SHORT = _m.DBR_SHORT
    FLOAT = _m.DBR_FLOAT
    ENUM = _m.DBR_ENUM
    CHAR = _m.DBR_CHAR
    LONG = _m.DBR_LONG
    DOUBLE = _m.DBR_DOUBLE
    STS_STRING = _m.DBR_STS_STRING
    STS_SHORT = _m.DBR_STS_SHORT
    STS_INT = _m.DBR_STS_INT
    STS_FLOAT = _m.DBR_STS_FLOAT
    STS_ENUM = _m.DBR_STS_ENUM
    STS_CHAR = _m.DBR_STS_CHAR
    STS_LONG = _m.DBR_STS_LONG
    STS_DOUBLE = _m.DBR_STS_DOUBLE
    TIME_STRING = _m.DBR_TIME_STRING
    TIME_INT = _m.DBR_TIME_INT
    TIME_SHORT = _m.DBR_TIME_SHORT
    TIME_FLOAT = _m.DBR_TIME_FLOAT
    TIME_ENUM = _m.DBR_TIME_ENUM
    TIME_CHAR = _m.DBR_TIME_CHAR
    TIME_LONG = _m.DBR_TIME_LONG
    TIME_DOUBLE = _m.DBR_TIME_DOUBLE
    GR_STRING = _m.DBR_GR_STRING
    GR_SHORT = _m.DBR_GR_SHORT
    GR_INT = _m.DBR_GR_INT
    GR_FLOAT = _m.DBR_GR_FLOAT
    GR_ENUM = _m.DBR_GR_ENUM
    GR_CHAR = _m.DBR_GR_CHAR
    GR_LONG = _m.DBR_GR_LONG
    GR_DOUBLE = _m.DBR_GR_DOUBLE
    CTRL_STRING = _m.DBR_CTRL_STRING
    CTRL_SHORT = _m.DBR_CTRL_SHORT
    CTRL_INT = _m.DBR_CTRL_INT
    CTRL_FLOAT = _m.DBR_CTRL_FLOAT
    CTRL_ENUM = _m.DBR_CTRL_ENUM
    CTRL_CHAR = _m.DBR_CTRL_CHAR
    CTRL_LONG = _m.DBR_CTRL_LONG
    CTRL_DOUBLE = _m.DBR_CTRL_DOUBLE
    PUT_ACKT = _m.DBR_PUT_ACKT
    PUT_ACKS = _m.DBR_PUT_ACKS
    STSACK_STRING = _m.DBR_STSACK_STRING
    CLASS_NAME = _m.DBR_CLASS_NAME

    def isSTRING(self):
        """True if the type is STRING or one of XXX_STRING."""
        return _m.dbr_type_is_STRING(self.value)

    def isSHORT(self):
        """True if the type is SHORT or one of XXX_SHORT."""
        return _m.dbr_type_is_SHORT(self.value)

    def isFLOAT(self):
        """True if the type is FLOAT or one of XXX_FLOAT."""
        return _m.dbr_type_is_FLOAT(self.value)

    def isENUM(self):
        """True if the type is ENUM or one of XXX_ENUM."""
        return _m.dbr_type_is_ENUM(self.value)

    def isCHAR(self):
        """True if the type is CHAR or one of XXX_CHAR."""
        return _m.dbr_type_is_CHAR(self.value)

    def isLONG(self):
        """True if the type is LONG or one of XXX_LONG."""
        return _m.dbr_type_is_LONG(self.value)

    def isDOUBLE(self):
        """True if the type is DOUBLE or one of XXX_DOUBLE."""
        return _m.dbr_type_is_DOUBLE(self.value)

    def isPlain(self):
        """True if the type is one of STRING, SHORT, FLOAT, ENUM, CHAR, LONG, DOUBLE."""
        return _m.dbr_type_is_plain(self.value)

    def isSTS(self):
        """True if the type is one of STS_XXX."""
        return _m.dbr_type_is_STS(self.value)

    def isTIME(self):
        """True if the type is one of TIME_XXX."""
        return _m.dbr_type_is_TIME(self.value)

    def isGR(self):
        """True if the type is one of GR_XXX."""
        return _m.dbr_type_is_GR(self.value)

    def isCTRL(self):
        """True if the type is one of CTRL_XXX."""
        return _m.dbr_type_is_CTRL(self.value)


class DBF(NamedIntEnum):
    """Enum of the ``DBF_XXX`` native field types."""
    INVALID = _m.TYPENOTCONN  #: the channel's native type when disconnected
    STRING = _m.DBF_STRING  #: array of 40 characters
    SHORT = _m.DBF_SHORT  #: int16
    INT = _m.DBF_INT  #: int16, synonym of SHORT
    FLOAT = _m.DBF_FLOAT  #: float32
    ENUM = _m.DBF_ENUM  #: uint16
    CHAR = _m.DBF_CHAR  #: uint8
    LONG = _m.DBF_LONG  #: int32
    DOUBLE = _m.DBF_DOUBLE  #: float64

    def toSTS(self):
        """The matching DBR.STS_XXX type."""
        return DBR(_m.dbf_type_to_DBR_STS(self.value))

    def toTIME(self):
        """The matching DBR.TIME_XXX type."""
        return DBR(_m.dbf_type_to_DBR_TIME(self.value))

    def toGR(self):
        """The matching DBR.GR_XXX type."""
        return DBR(_m.dbf_type_to_DBR_GR(self.value))

    def toCTRL(self):
        """The matching DBR.CTRL_XXX type."""
        return DBR(_m.dbf_type_to_DBR_CTRL(self.value))


def _members(enum):
    """value -> member, for converting codes from C without Enum.__call__."""
    return {member.value: member for member in enum}


_DBR_BY_VALUE = _members(DBR)
_ECA_BY_VALUE = _members(ECA)
_CONDITION = _members(AlarmCondition)
_SEVERITY = _members(AlarmSeverity)


def dbr_enum(code):
    """``DBR(code)`` for codes from libca; unknown codes stay plain ints."""
    return _DBR_BY_VALUE.get(code, code)


def eca_enum(code):
    """``ECA(code)`` for codes from libca; unknown codes stay plain ints."""
    return _ECA_BY_VALUE.get(code, code)


def decode_text(raw):
    """CA strings are bytes of no declared encoding: UTF-8, else Latin-1."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


# Value types ---------------------------------------------------------------
_STRING_PTR = _PTR[_m.DBR_STRING]


def _value_type(dbrtype):
    """The plain DBR type of the value part of *dbrtype*."""
    if dbrtype in (_m.DBR_STSACK_STRING, _m.DBR_CLASS_NAME):
        return _m.DBR_STRING
    return dbrtype % (_m.LAST_TYPE + 1)


def _strings(ptr, count, use_numpy=False):
    arr = ffi.cast(_STRING_PTR, ptr)
    if count == 1:
        return decode_text(ffi.string(arr[0]))
    return [decode_text(ffi.string(arr[i])) for i in range(count)]


def _make_value_reader(vtype):
    """Reader of *count* values of plain type *vtype* at a C pointer."""
    if vtype == _m.DBR_STRING:
        return _strings
    ptr_type = _PTR[vtype]
    dtype = _DTYPE[vtype]
    itemsize = dtype.itemsize
    cast = ffi.cast
    unpack = ffi.unpack
    buffer = ffi.buffer
    frombuffer = numpy.frombuffer

    def read(ptr, count, use_numpy=False):
        if count == 1:
            return cast(ptr_type, ptr)[0]
        if use_numpy:
            # libca owns this memory only for the duration of the callback.
            return frombuffer(buffer(ptr, count * itemsize), dtype).copy()
        return unpack(cast(ptr_type, ptr), count)

    return read


_READ_VALUES = {t: _make_value_reader(t) for t in _VALUE_CTYPE}
#: plain numeric DBR type -> C pointer type: one element is ``cast(ptr, p)[0]``
SCALAR_POINTERS = {t: _PTR[t] for t in (_m.DBR_SHORT, _m.DBR_FLOAT, _m.DBR_ENUM, _m.DBR_CHAR,
                                         _m.DBR_LONG, _m.DBR_DOUBLE)}


# Metadata ------------------------------------------------------------------
def _sts(s, out):
    out["status"] = _CONDITION.get(s.status, s.status)
    out["severity"] = _SEVERITY.get(s.severity, s.severity)


def _time(s, out):
    _sts(s, out)
    seconds = s.stamp.secPastEpoch + _m.POSIX_TIME_AT_EPICS_EPOCH
    nsec = s.stamp.nsec
    out["stamp"] = {"seconds": seconds, "nanoseconds": nsec,
                    "timestamp": seconds + nsec / 1e9}


def _gr(s, out):
    _sts(s, out)
    out["units"] = decode_text(ffi.string(s.units))
    out["upper_disp_limit"] = s.upper_disp_limit
    out["lower_disp_limit"] = s.lower_disp_limit
    out["upper_alarm_limit"] = s.upper_alarm_limit
    out["upper_warning_limit"] = s.upper_warning_limit
    out["lower_warning_limit"] = s.lower_warning_limit
    out["lower_alarm_limit"] = s.lower_alarm_limit


def _gr_precision(s, out):
    _gr(s, out)
    out["precision"] = s.precision


def _ctrl(s, out):
    _gr(s, out)
    out["upper_ctrl_limit"] = s.upper_ctrl_limit
    out["lower_ctrl_limit"] = s.lower_ctrl_limit


def _ctrl_precision(s, out):
    _gr_precision(s, out)
    out["upper_ctrl_limit"] = s.upper_ctrl_limit
    out["lower_ctrl_limit"] = s.lower_ctrl_limit


def _enum(s, out):
    _sts(s, out)
    no_str = max(0, min(s.no_str, _m.MAX_ENUM_STATES))
    out["no_str"] = s.no_str
    out["strs"] = tuple(decode_text(ffi.string(s.strs[i])) for i in range(no_str))


def _stsack(s, out):
    _sts(s, out)
    out["ackt"] = s.ackt
    out["acks"] = _SEVERITY.get(s.acks, s.acks)


_NAMES = {
    _m.DBR_STRING: "string", _m.DBR_SHORT: "short", _m.DBR_FLOAT: "float",
    _m.DBR_ENUM: "enum", _m.DBR_CHAR: "char", _m.DBR_LONG: "long",
    _m.DBR_DOUBLE: "double",
}


def _struct_and_meta(dbrtype):
    """C struct name and metadata extractor of a non-plain DBR type."""
    if dbrtype == _m.DBR_STSACK_STRING:
        return "dbr_stsack_string", _stsack
    vtype = _value_type(dbrtype)
    name = _NAMES[vtype]
    precision = vtype in (_m.DBR_FLOAT, _m.DBR_DOUBLE)
    if _m.dbr_type_is_STS(dbrtype):
        return "dbr_sts_" + name, _sts
    if _m.dbr_type_is_TIME(dbrtype):
        return "dbr_time_" + name, _time
    kind = "gr" if _m.dbr_type_is_GR(dbrtype) else "ctrl"
    if vtype == _m.DBR_STRING:  # GR/CTRL strings are STS strings
        return "dbr_sts_string", _sts
    if vtype == _m.DBR_ENUM:
        return "dbr_%s_enum" % kind, _enum
    if kind == "gr":
        return "dbr_gr_" + name, _gr_precision if precision else _gr
    return "dbr_ctrl_" + name, _ctrl_precision if precision else _ctrl


class _Converter:
    """Reads one DBR type: value offset, value reader and metadata."""

    __slots__ = ("dbrtype", "vtype", "offset", "read_values", "struct_ptr",
                 "meta", "dtype", "read")

    def __init__(self, dbrtype):
        self.dbrtype = dbrtype
        self.vtype = _value_type(dbrtype)
        self.offset = lib.dbr_value_offset[dbrtype]
        self.read_values = _READ_VALUES[self.vtype]
        self.dtype = _DTYPE.get(self.vtype)
        if _m.dbr_type_is_plain(dbrtype) or dbrtype == _m.DBR_CLASS_NAME:
            self.struct_ptr = None
            self.meta = None
            #: ``read(ptr, count, use_numpy)`` for memory libca owns (callbacks).
            self.read = self.read_values
        else:
            struct, self.meta = _struct_and_meta(dbrtype)
            self.struct_ptr = ffi.typeof("struct %s *" % struct)
            self.read = self.__call__

    def __call__(self, ptr, count, use_numpy=False, owner=None):
        """Convert *count* elements at C pointer *ptr*.

        *owner* is a numpy uint8 array that holds the whole DBR buffer when
        caffi allocated it; numeric arrays are then views into it.
        """
        if owner is not None and use_numpy and count != 1 and self.dtype is not None:
            nbytes = count * self.dtype.itemsize
            value = owner[self.offset:self.offset + nbytes].view(self.dtype)
        else:
            value = None
        if self.meta is None:
            if value is None:
                value = self.read_values(ptr, count, use_numpy)
            return value
        out = {}
        self.meta(ffi.cast(self.struct_ptr, ptr), out)
        if value is None:
            value = self.read_values(ffi.cast("char *", ptr) + self.offset, count, use_numpy)
        out["value"] = value
        return out


#: Converter per readable DBR type (everything but PUT_ACKT/PUT_ACKS).
CONVERTERS = {
    t: _Converter(t) for t in range(_m.LAST_BUFFER_TYPE + 1)
    if t not in (_m.DBR_PUT_ACKT, _m.DBR_PUT_ACKS)
}


def format_dbr(dbrType, count, dbrValue, use_numpy=False):
    """Convert a DBR structure to a Python value.

    Parameters
    ----------
    dbrType : int or DBR
        The data type, ``DBR_XXX``.
    count : int
        The array element count.
    dbrValue : cdata
        Pointer to the data of the given type and count.
    use_numpy : bool
        Numeric arrays as numpy arrays instead of lists.

    Returns
    -------
    The value for plain types, a dict with the metadata fields and ``value``
    for the others, or None for an unreadable type or a NULL pointer.
    """
    converter = CONVERTERS.get(dbrType)
    if converter is None or dbrValue == ffi.NULL:
        return None
    return converter(dbrValue, count, use_numpy)


class DBRValue(object):
    """The buffer of a get without callback (:func:`caffi.ca.get`, :func:`caffi.ca.sg_get`).

    Parameters
    ----------
    dbrtype : DBR
        The type of the supplied *cvalue*.
    count : int
        Element count of the supplied *cvalue*.
    cvalue : cdata
        Pointer to the structure of *dbrtype* with *count* elements.
    use_numpy : bool
        Numeric arrays as numpy arrays (views of this buffer, no copy).

    Notes
    -----
    Call :meth:`get` only after :func:`caffi.ca.pend_io` (or ``sg_block``)
    returned ``ECA.NORMAL``: until then libca may still be writing.
    """

    __slots__ = ("dbrtype", "count", "cvalue", "use_numpy", "_owner")

    def __init__(self, dbrtype=DBR.INVALID, count=0, cvalue=ffi.NULL, use_numpy=False,
                 _owner=None):
        self.dbrtype = dbrtype
        self.count = count
        self.cvalue = cvalue
        self.use_numpy = use_numpy
        self._owner = _owner

    def get(self):
        """The value for a plain DBR type, or a dict for DBR_STS_XXX and the others."""
        converter = CONVERTERS.get(self.dbrtype)
        if converter is None or self.cvalue == ffi.NULL:
            return None
        return converter(self.cvalue, self.count, self.use_numpy, self._owner)

    def __repr__(self):
        return "DBRValue(%s, count=%d)" % (dbr_enum(self.dbrtype), self.count)


class _PlainScalar(DBRValue):
    """One element of a plain type in a ``union caffi_plain`` (``ca.get``'s fast path).

    A subclass per type reads its union member directly; everything else is
    a :class:`DBRValue`.
    """

    __slots__ = ()

    def __init__(self, dbrtype, cvalue, use_numpy):
        self.dbrtype = dbrtype
        self.count = 1
        self.cvalue = cvalue
        self.use_numpy = use_numpy
        self._owner = None


def _plain_scalar_class(dbrtype, member):
    if dbrtype == _m.DBR_STRING:
        string = ffi.string

        def get(self):
            """The value of the one-element DBR_STRING get."""
            return decode_text(string(self.cvalue.s))
    else:
        def get(self):
            """The value of the one-element plain get."""
            return getattr(self.cvalue, member)
    name = "_Plain" + _NAMES[dbrtype].capitalize()
    return type(name, (_PlainScalar,), {"__slots__": (), "get": get, "__module__": __name__})


#: plain DBR type -> (DBR member, value class) of the one-element fast path
PLAIN_SCALARS = {
    t: (_DBR_BY_VALUE[t], _plain_scalar_class(t, member))
    for t, member in ((_m.DBR_STRING, "s"), (_m.DBR_SHORT, "h"), (_m.DBR_FLOAT, "f"),
                      (_m.DBR_ENUM, "e"), (_m.DBR_CHAR, "c"), (_m.DBR_LONG, "l"),
                      (_m.DBR_DOUBLE, "d"))
}
PLAIN_PTR = ffi.typeof("union caffi_plain *")


_DBR_SIZE = [lib.dbr_size[t] for t in range(_m.LAST_BUFFER_TYPE + 1)]
_DBR_VALUE_SIZE = [lib.dbr_value_size[t] for t in range(_m.LAST_BUFFER_TYPE + 1)]
_new = ffi.new
_CHAR_ARRAY = ffi.typeof("char[]")


def allocate(dbrtype, count, use_numpy):
    """A zeroed buffer for a get: ``(cdata, numpy owner or None)``."""
    size = _DBR_SIZE[dbrtype] + (count - 1) * _DBR_VALUE_SIZE[dbrtype] if count > 1 \
        else _DBR_SIZE[dbrtype]
    if use_numpy and count > 1:
        owner = numpy.zeros(size, dtype=numpy.uint8)
        return ffi.from_buffer(owner), owner
    return _new(_CHAR_ARRAY, size), None


# caffi 1.0 helpers ------------------------------------------------------------
# caffi 1.0's ``caffi.dbr`` exposed its conversion steps and, through star
# imports, the macros; they stay available with the same behaviour.
from .compat import to_string  # noqa: E402

libca = lib
has_numpy = True
ctype2dtype = {
    "dbr_int_t": numpy.int16, "dbr_float_t": numpy.float32, "dbr_char_t": numpy.uint8,
    "dbr_enum_t": numpy.uint16, "dbr_long_t": numpy.int32, "dbr_double_t": numpy.float64,
}
#: DBR type -> C value type name, as caffi 1.0's ``ca.DBR_TYPE_STRING``.
DBR_TYPE_STRING = {
    DBR.STRING: "dbr_string_t", DBR.INT: "dbr_int_t", DBR.FLOAT: "dbr_float_t",
    DBR.CHAR: "dbr_char_t", DBR.ENUM: "dbr_enum_t", DBR.LONG: "dbr_long_t",
    DBR.DOUBLE: "dbr_double_t", DBR.PUT_ACKT: "dbr_put_ackt_t", DBR.PUT_ACKS: "dbr_put_acks_t",
}
_CTYPE_TO_DBR = {name: int(t) for t, name in DBR_TYPE_STRING.items()}


def dbr_value_ptr(PDBR, DBR_TYPE):
    """Pointer to the value part of a DBR structure (the C macro)."""
    return ffi.cast("char *", PDBR) + lib.dbr_value_offset[DBR_TYPE]


def format_dbr_sts(cvalue, value):
    """Add status and severity of a DBR struct to dict *value*."""
    _sts(cvalue, value)


def format_dbr_time(cvalue, value):
    """Add the time stamp of a DBR_TIME struct to dict *value*."""
    seconds = cvalue.stamp.secPastEpoch + _m.POSIX_TIME_AT_EPICS_EPOCH
    value["stamp"] = {"seconds": seconds, "nanoseconds": cvalue.stamp.nsec,
                      "timestamp": seconds + cvalue.stamp.nsec / 1e9}


def format_dbr_gr(cvalue, value):
    """Add units and display/alarm limits of a DBR_GR/CTRL struct to *value*."""
    sts = {}
    _gr(cvalue, sts)
    del sts["status"], sts["severity"]
    value.update(sts)


def format_dbr_ctrl(cvalue, value):
    """Add the control limits of a DBR_CTRL struct to *value*."""
    value["upper_ctrl_limit"] = cvalue.upper_ctrl_limit
    value["lower_ctrl_limit"] = cvalue.lower_ctrl_limit


def format_dbr_enum(cvalue, value):
    """Add ``no_str`` and ``strs`` of a DBR_GR/CTRL_ENUM struct to *value*."""
    sts = {}
    _enum(cvalue, sts)
    value["no_str"] = sts["no_str"]
    value["strs"] = sts["strs"]


def format_plain_value(valueType, count, cvalue, use_numpy):
    """*count* values of C type name *valueType* (``'dbr_double_t'``) at *cvalue*."""
    return _READ_VALUES[_CTYPE_TO_DBR[valueType]](cvalue, count, use_numpy)


def format_string_value(count, dbrValue):
    """*count* DBR strings at *dbrValue*."""
    return _strings(dbrValue, count)


_m.export_into(globals())

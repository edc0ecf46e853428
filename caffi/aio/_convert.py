"""aioca's data conventions: request types, augmented values, put buffers.

Reading
-------
:func:`read_plan` turns a request (``datatype``, ``format``) for a connected
channel into the DBR code to ask libca for and a converter
``dbr_to_value(raw_dbr, dbrcode, count)`` that builds the augmented value
inside libca's callback.  Values are the classes aioca returns, from
``epicscorelibs.ca.dbr``: ``ca_int``/``ca_float``/``ca_str``/``ca_bytes`` for
a channel of one element, ``ca_array`` (a numpy array, copied out of libca's
buffer) otherwise, each carrying ``name``, ``ok``, ``datatype``,
``element_count`` and the fields of the format (``status``, ``severity``,
``timestamp``, ``raw_stamp``; ``units``, limits, ``precision`` or ``enums``).
A converter is built once per channel connection and request, so an update
costs the field reads and the value object only.

Writing
-------
:func:`put_buffer` encodes a Python value as aioca does: strings go as
``DBR_STRING`` unless a datatype says otherwise (the server converts), other
values as the channel's native type through numpy.  Unlike aioca, a string
that does not fit in ``DBR_STRING``'s 40 bytes is refused (``ECA_STRTOBIG``)
rather than cut.
"""
import numpy
from epicscorelibs.ca import dbr as _edbr

from .. import macros as _m
from .._ffi import ffi, lib
from ._errors import CAException

__all__ = ["read_plan", "put_buffer", "FORMAT_RAW", "FORMAT_TIME", "FORMAT_CTRL",
           "DBR_CHAR_STR", "DBR_CHAR_BYTES", "DBR_CHAR_UNICODE", "DBR_ENUM_STR",
           "InvalidDatatype"]

FORMAT_RAW, FORMAT_TIME, FORMAT_CTRL = _edbr.FORMAT_RAW, _edbr.FORMAT_TIME, _edbr.FORMAT_CTRL
DBR_ENUM_STR = _edbr.DBR_ENUM_STR
DBR_CHAR_BYTES = _edbr.DBR_CHAR_BYTES
DBR_CHAR_UNICODE = _edbr.DBR_CHAR_UNICODE
DBR_CHAR_STR = _edbr.DBR_CHAR_STR
InvalidDatatype = _edbr.InvalidDatatype

ca_int, ca_float, ca_str, ca_bytes, ca_array = (
    _edbr.ca_int, _edbr.ca_float, _edbr.ca_str, _edbr.ca_bytes, _edbr.ca_array)

STRING, SHORT, FLOAT, ENUM, CHAR, LONG, DOUBLE = range(7)
_BASIC = frozenset(range(7))
_CHAR_TEXT = (DBR_CHAR_STR, DBR_CHAR_BYTES, DBR_CHAR_UNICODE)
_STSACK_STRING = _m.DBR_STSACK_STRING
_CLASS_NAME = _m.DBR_CLASS_NAME
_PUT_ACKS = (_m.DBR_PUT_ACKT, _m.DBR_PUT_ACKS)
_EPICS_EPOCH = _m.POSIX_TIME_AT_EPICS_EPOCH
_STRING_SIZE = _m.MAX_STRING_SIZE

#: numpy type character -> DBR type of a requested datatype (as aioca maps them)
_NUMPY_TO_DBR = {
    "b": CHAR, "h": SHORT, "i": LONG, "f": FLOAT, "d": DOUBLE, "S": STRING,
    "?": CHAR, "B": CHAR, "H": SHORT, "I": LONG, "U": STRING, "l": LONG, "L": LONG,
}
_DTYPE = {SHORT: numpy.dtype(numpy.int16), FLOAT: numpy.dtype(numpy.float32),
          ENUM: numpy.dtype(numpy.uint16), CHAR: numpy.dtype(numpy.uint8),
          LONG: numpy.dtype(numpy.int32), DOUBLE: numpy.dtype(numpy.float64)}
_SCALAR = {SHORT: ca_int, FLOAT: ca_float, ENUM: ca_int, CHAR: ca_int, LONG: ca_int,
           DOUBLE: ca_float}
_CTYPE = {STRING: "dbr_string_t", SHORT: "dbr_short_t", FLOAT: "dbr_float_t",
          ENUM: "dbr_enum_t", CHAR: "dbr_char_t", LONG: "dbr_long_t",
          DOUBLE: "dbr_double_t"}
_POINTER = {t: ffi.typeof(name + " *") for t, name in _CTYPE.items()}
_NAMES = ("string", "short", "float", "enum", "char", "long", "double")
_LIMITS = ("upper_disp_limit", "lower_disp_limit", "upper_alarm_limit",
           "upper_warning_limit", "lower_warning_limit", "lower_alarm_limit",
           "upper_ctrl_limit", "lower_ctrl_limit")
_CHARP = ffi.typeof("char *")
_cast = ffi.cast
_string = ffi.string
_memmove = ffi.memmove


def _decode(raw):
    return raw.decode("utf-8", "replace")


def _numpy_dbr(datatype):
    try:
        return _NUMPY_TO_DBR[numpy.dtype(datatype).char]
    except Exception as exc:
        raise InvalidDatatype('Datatype "%s" not supported for channel access'
                              % (datatype,)) from exc


def request_codes(datatype, format):
    """``(dbrcode, base)``: the DBR type to request and the plain type it carries.

    *datatype* is a plain DBR code, a special code (``DBR_CHAR_STR``, ...,
    ``DBR_STSACK_STRING``, ``DBR_CLASS_NAME``) or anything numpy makes a dtype
    of; *format* one of ``FORMAT_RAW``, ``FORMAT_TIME``, ``FORMAT_CTRL``.
    """
    if datatype in _CHAR_TEXT:
        base = CHAR
    elif datatype in (_STSACK_STRING, _CLASS_NAME):
        return datatype, datatype
    elif datatype in _BASIC:
        base = datatype
    else:
        base = _numpy_dbr(datatype)
    if format == FORMAT_RAW:
        return base, base
    if format == FORMAT_TIME:
        return base + 14, base
    if format == FORMAT_CTRL:
        return (_m.DBR_TIME_STRING if base == STRING else base + 28), base
    raise InvalidDatatype("Format not recognised")


# Value readers: (pointer to the first element, count) -> value ------------------
def _value_reader(base, datatype, element_count):
    if datatype in _CHAR_TEXT:
        if datatype == DBR_CHAR_BYTES:
            return lambda p, n: ca_bytes(_string(_cast(_CHARP, p), n))
        if datatype == DBR_CHAR_UNICODE:
            return lambda p, n: ca_str(_string(_cast(_CHARP, p), n).decode("utf-8"))
        return lambda p, n: ca_str(_decode(_string(_cast(_CHARP, p), n)))
    if base == STRING:
        return _string_reader(datatype, element_count)
    pointer = _POINTER[base]
    if element_count == 1:
        scalar = _SCALAR[base]
        return lambda p, n: scalar(_cast(pointer, p)[0])
    dtype = _DTYPE[base]
    itemsize = dtype.itemsize

    def array(p, n):
        value = ca_array((n,), dtype)
        _memmove(value, p, n * itemsize)
        return value
    return array


def _string_reader(datatype, element_count):
    if isinstance(datatype, type) and issubclass(datatype, bytes):
        decode, one, kind = bytes, ca_bytes, "S"
    elif isinstance(datatype, type) and issubclass(datatype, str):
        decode, one, kind = (lambda raw: raw.decode("utf-8")), ca_str, "U"
    else:
        decode, one, kind = _decode, ca_str, "U"
    pointer = _POINTER[STRING]

    def strings(p, n):
        array = _cast(pointer, p)
        return [decode(_string(array[i], _STRING_SIZE)) for i in range(n)]

    if element_count == 1:
        return lambda p, n: one(strings(p, 1)[0])

    def string_array(p, n):
        items = strings(p, n)
        width = max([len(s) for s in items] + [1])
        value = ca_array((n,), "%s%d" % (kind, width))
        value[:] = items
        return value
    return string_array


# Metadata: (struct pointer, value) -> None ---------------------------------------
def _time(s, value):
    value.status = s.status
    value.severity = s.severity
    stamp = s.stamp
    secs = stamp.secPastEpoch + _EPICS_EPOCH
    nsec = stamp.nsec
    value.raw_stamp = (secs, nsec)
    value.timestamp = round(secs + nsec * 1e-9, 6)


def _ctrl_maker(base):
    precision = base in (FLOAT, DOUBLE)

    def ctrl(s, value):
        value.status = s.status
        value.severity = s.severity
        value.units = _decode(_string(s.units, _m.MAX_UNITS_SIZE))
        for name in _LIMITS:
            setattr(value, name, getattr(s, name))
        if precision:
            value.precision = s.precision
    return ctrl


def _ctrl_enum(s, value):
    value.status = s.status
    value.severity = s.severity
    count = max(0, min(s.no_str, _m.MAX_ENUM_STATES))
    value.enums = [_decode(_string(s.strs[i], _m.MAX_ENUM_STRING_SIZE))
                   for i in range(count)]


def _stsack(s, value):
    value.status = s.status
    value.severity = s.severity
    value.ackt = s.ackt
    value.acks = s.acks


def _metadata(dbrcode, base):
    """``(struct pointer type, filler)`` of a non-plain DBR code."""
    if dbrcode == _STSACK_STRING:
        return ffi.typeof("struct dbr_stsack_string *"), _stsack
    if _m.dbr_type_is_TIME(dbrcode):
        return ffi.typeof("struct dbr_time_%s *" % _NAMES[base]), _time
    if base == ENUM:
        return ffi.typeof("struct dbr_ctrl_enum *"), _ctrl_enum
    return ffi.typeof("struct dbr_ctrl_%s *" % _NAMES[base]), _ctrl_maker(base)


def make_converter(name, dbrcode, base, datatype, element_count):
    """The ``dbr_to_value(raw_dbr, dbrcode, count)`` of one request."""
    if dbrcode in (_STSACK_STRING, _CLASS_NAME):
        read = _value_reader(STRING, None, element_count)
    else:
        read = _value_reader(base, datatype, element_count)
    if dbrcode in _BASIC or dbrcode == _CLASS_NAME:
        struct = fill = None
        offset = 0
    else:
        struct, fill = _metadata(dbrcode, base)
        offset = lib.dbr_value_offset[dbrcode]

    def dbr_to_value(raw_dbr, code, count):
        if code != dbrcode:
            raise ValueError("DBR type %d delivered for a request of %d" % (code, dbrcode))
        if struct is None:
            value = read(raw_dbr, count)
        else:
            value = read(_cast(_CHARP, raw_dbr) + offset, count)
            fill(_cast(struct, raw_dbr), value)
        value.name = name
        value.ok = True
        value.element_count = element_count
        value.datatype = base
        return value
    return dbr_to_value


def read_plan(name, field_type, element_count, datatype, format):
    """``(dbrcode, dbr_to_value)`` of a read of a connected channel.

    *field_type* and *element_count* are the channel's native ones.
    ``datatype=None`` reads the native type (a CHAR array whose name ends in
    ``$`` as a string); ``DBR_ENUM_STR`` reads enums as their labels.
    """
    if datatype is None:
        datatype = field_type
        if datatype == CHAR and name.endswith("$"):
            datatype = DBR_CHAR_STR
    elif datatype == DBR_ENUM_STR:
        datatype = STRING if field_type == ENUM else field_type
    dbrcode, base = request_codes(datatype, format)
    return dbrcode, make_converter(name, dbrcode, base, datatype, element_count)


# Writing ---------------------------------------------------------------------------
def put_buffer(name, field_type, datatype, value):
    """``(dbrcode, count, buffer)`` of a put of *value*; *buffer* is C-contiguous.

    Raises
    ------
    InvalidDatatype
        For a datatype without a CA equivalent.
    CAException
        ``ECA_STRTOBIG`` for a string longer than ``DBR_STRING`` holds.
    ValueError
        For a value of more than one dimension.
    """
    if datatype is None:
        if isinstance(value, (str, bytes)):
            datatype = STRING     # the server converts the text to its type
        else:
            datatype = field_type
            if datatype == CHAR and name.endswith("$"):
                datatype = DBR_CHAR_STR
    if datatype in _CHAR_TEXT:
        raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        array = numpy.frombuffer(raw, dtype=numpy.uint8)
        return CHAR, len(array), array
    if datatype in _PUT_ACKS:
        return datatype, 1, numpy.array([value], dtype=numpy.uint16)
    dbrcode = datatype if datatype in _BASIC else _numpy_dbr(datatype)
    if dbrcode == STRING:
        array = _string_array(value)
    else:
        array = numpy.require(value, dtype=_DTYPE[dbrcode], requirements="C")
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise ValueError("%s: cannot put an array of %d dimensions" % (name, array.ndim))
    return dbrcode, len(array), array


def _string_array(value):
    items = numpy.require(value, requirements="C")
    flat = items.reshape(-1) if items.ndim else items.reshape(1)
    encoded = [item if isinstance(item, bytes) else str(item).encode("utf-8")
               for item in flat.tolist()]
    for raw in encoded:
        if len(raw) >= _STRING_SIZE:
            raise CAException(lib.ECA_STRTOBIG, "ca_array_put")
    array = numpy.array(encoded, dtype="S%d" % _STRING_SIZE)
    return array.reshape(items.shape) if items.ndim else array.reshape(())

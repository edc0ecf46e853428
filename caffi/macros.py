"""C macro names of cadef.h, caerr.h, caeventmask.h, db_access.h and alarm.h.

The numeric values are read from the compiled headers (``lib``), so they
always match the libca that caffi was built against.  Functions named like
the C macros (``dbf_type_to_DBR_TIME``, ``dbr_size_n``, ...) behave like them.
"""
from ._ffi import ffi as _ffi
from ._ffi import lib as _lib

# cadef.h -------------------------------------------------------------------
cs_never_conn = _lib.cs_never_conn
cs_prev_conn = _lib.cs_prev_conn
cs_conn = _lib.cs_conn
cs_closed = _lib.cs_closed
#: Not a C enumerator: caffi 1.0 reports it for a channel that was never created.
cs_never_search = 4

CA_OP_GET = _lib.CA_OP_GET
CA_OP_PUT = _lib.CA_OP_PUT
CA_OP_CREATE_CHANNEL = _lib.CA_OP_CREATE_CHANNEL
CA_OP_ADD_EVENT = _lib.CA_OP_ADD_EVENT
CA_OP_CLEAR_EVENT = _lib.CA_OP_CLEAR_EVENT
CA_OP_OTHER = _lib.CA_OP_OTHER
CA_OP_CONN_UP = _lib.CA_OP_CONN_UP
CA_OP_CONN_DOWN = _lib.CA_OP_CONN_DOWN
CA_PRIORITY_MAX = _lib.CA_PRIORITY_MAX
CA_PRIORITY_MIN = _lib.CA_PRIORITY_MIN
CA_PRIORITY_DEFAULT = _lib.CA_PRIORITY_DEFAULT
CA_PRIORITY_DB_LINKS = _lib.CA_PRIORITY_DB_LINKS
CA_PRIORITY_ARCHIVE = _lib.CA_PRIORITY_ARCHIVE
CA_PRIORITY_OPI = _lib.CA_PRIORITY_OPI
DBE_VALUE = _lib.DBE_VALUE
DBE_ARCHIVE = _lib.DBE_ARCHIVE
DBE_LOG = _lib.DBE_LOG
DBE_ALARM = _lib.DBE_ALARM
DBE_PROPERTY = _lib.DBE_PROPERTY

# db_access.h ---------------------------------------------------------------
TYPENOTCONN = -1  #: the channel's native type when disconnected

DBF_STRING = 0
DBF_INT = 1
DBF_SHORT = 1
DBF_FLOAT = 2
DBF_ENUM = 3
DBF_CHAR = 4
DBF_LONG = 5
DBF_DOUBLE = 6
DBF_NO_ACCESS = 7
LAST_TYPE = _lib.LAST_TYPE

DBR_STRING = DBF_STRING
DBR_INT = DBF_INT
DBR_SHORT = DBF_INT
DBR_FLOAT = DBF_FLOAT
DBR_ENUM = DBF_ENUM
DBR_CHAR = DBF_CHAR
DBR_LONG = DBF_LONG
DBR_DOUBLE = DBF_DOUBLE
DBR_STS_STRING = 7
DBR_STS_SHORT = 8
DBR_STS_INT = DBR_STS_SHORT
DBR_STS_FLOAT = 9
DBR_STS_ENUM = 10
DBR_STS_CHAR = 11
DBR_STS_LONG = 12
DBR_STS_DOUBLE = 13
DBR_TIME_STRING = 14
DBR_TIME_INT = 15
DBR_TIME_SHORT = 15
DBR_TIME_FLOAT = 16
DBR_TIME_ENUM = 17
DBR_TIME_CHAR = 18
DBR_TIME_LONG = 19
DBR_TIME_DOUBLE = 20
DBR_GR_STRING = 21
DBR_GR_SHORT = 22
DBR_GR_INT = DBR_GR_SHORT
DBR_GR_FLOAT = 23
DBR_GR_ENUM = 24
DBR_GR_CHAR = 25
DBR_GR_LONG = 26
DBR_GR_DOUBLE = 27
DBR_CTRL_STRING = 28
DBR_CTRL_SHORT = 29
DBR_CTRL_INT = DBR_CTRL_SHORT
DBR_CTRL_FLOAT = 30
DBR_CTRL_ENUM = 31
DBR_CTRL_CHAR = 32
DBR_CTRL_LONG = 33
DBR_CTRL_DOUBLE = 34
DBR_PUT_ACKT = DBR_CTRL_DOUBLE + 1
DBR_PUT_ACKS = DBR_PUT_ACKT + 1
DBR_STSACK_STRING = DBR_PUT_ACKS + 1
DBR_CLASS_NAME = DBR_STSACK_STRING + 1
LAST_BUFFER_TYPE = _lib.LAST_BUFFER_TYPE
assert LAST_BUFFER_TYPE == DBR_CLASS_NAME, "db_access.h changed its type codes"

MAX_STRING_SIZE = _lib.MAX_STRING_SIZE
MAX_UNITS_SIZE = _lib.MAX_UNITS_SIZE
MAX_ENUM_STRING_SIZE = _lib.MAX_ENUM_STRING_SIZE
MAX_ENUM_STATES = _lib.MAX_ENUM_STATES


#: ``dbr_size[type]``: bytes of a DBR structure of one element (C table).
dbr_size = tuple(_lib.dbr_size[t] for t in range(LAST_BUFFER_TYPE + 1))
#: ``dbr_value_size[type]``: bytes of one more element (C table).
dbr_value_size = tuple(_lib.dbr_value_size[t] for t in range(LAST_BUFFER_TYPE + 1))
#: ``dbr_value_offset[type]``: offset of the value in the DBR structure (C table).
dbr_value_offset = tuple(_lib.dbr_value_offset[t] for t in range(LAST_BUFFER_TYPE + 1))
dbr_class_int = _lib.dbr_class_int
dbr_class_float = _lib.dbr_class_float
dbr_class_string = _lib.dbr_class_string
dbr_class_max = _lib.dbr_class_max
#: ``dbr_value_class[type]``: ``dbr_class_int``, ``_float`` or ``_string`` (C table).
dbr_value_class = tuple(_lib.dbr_value_class[t] for t in range(LAST_BUFFER_TYPE + 1))
#: Dimensions of the C text tables behind ``dbf_type_to_text`` and ``dbr_type_to_text``.
dbf_text_dim = _lib.dbf_text_dim
dbr_text_dim = _lib.dbr_text_dim
#: What ``dbf_type_to_text``/``dbr_type_to_text`` give for an invalid type.
dbf_text_invalid = _ffi.string(_lib.dbf_text_invalid).decode()
dbr_text_invalid = _ffi.string(_lib.dbr_text_invalid).decode()


def dbf_type_is_valid(dbftype):
    return 0 <= dbftype <= LAST_TYPE


def dbr_type_is_valid(dbrtype):
    return 0 <= dbrtype <= LAST_BUFFER_TYPE


def dbr_type_is_plain(dbrtype):
    return DBR_STRING <= dbrtype <= DBR_DOUBLE


def dbr_type_is_STS(dbrtype):
    return DBR_STS_STRING <= dbrtype <= DBR_STS_DOUBLE


def dbr_type_is_TIME(dbrtype):
    return DBR_TIME_STRING <= dbrtype <= DBR_TIME_DOUBLE


def dbr_type_is_GR(dbrtype):
    return DBR_GR_STRING <= dbrtype <= DBR_GR_DOUBLE


def dbr_type_is_CTRL(dbrtype):
    return DBR_CTRL_STRING <= dbrtype <= DBR_CTRL_DOUBLE


def _is_value_type(dbrtype, base):
    return dbr_type_is_valid(dbrtype) and dbrtype % (LAST_TYPE + 1) == base


def dbr_type_is_STRING(dbrtype):
    return _is_value_type(dbrtype, DBR_STRING)


def dbr_type_is_SHORT(dbrtype):
    return _is_value_type(dbrtype, DBR_SHORT)


def dbr_type_is_FLOAT(dbrtype):
    return _is_value_type(dbrtype, DBR_FLOAT)


def dbr_type_is_ENUM(dbrtype):
    return _is_value_type(dbrtype, DBR_ENUM)


def dbr_type_is_CHAR(dbrtype):
    return _is_value_type(dbrtype, DBR_CHAR)


def dbr_type_is_LONG(dbrtype):
    return _is_value_type(dbrtype, DBR_LONG)


def dbr_type_is_DOUBLE(dbrtype):
    return _is_value_type(dbrtype, DBR_DOUBLE)


def dbr_size_n(TYPE, COUNT):
    """Size in bytes of a DBR structure of *TYPE* holding *COUNT* elements."""
    if not dbr_type_is_valid(TYPE):
        raise ValueError("invalid DBR type %r" % (TYPE,))
    if COUNT <= 0:
        return _lib.dbr_size[TYPE]
    return _lib.dbr_size[TYPE] + (COUNT - 1) * _lib.dbr_value_size[TYPE]


def _dbf_to(dbftype, block):
    return dbftype + block * (LAST_TYPE + 1) if dbf_type_is_valid(dbftype) else -1


def dbf_type_to_DBR(dbftype):
    return _dbf_to(dbftype, 0)


def dbf_type_to_DBR_STS(dbftype):
    return _dbf_to(dbftype, 1)


def dbf_type_to_DBR_TIME(dbftype):
    return _dbf_to(dbftype, 2)


def dbf_type_to_DBR_GR(dbftype):
    return _dbf_to(dbftype, 3)


def dbf_type_to_DBR_CTRL(dbftype):
    return _dbf_to(dbftype, 4)


def dbf_type_to_text(dbftype):
    """Text name of a DBF type (``"DBF_DOUBLE"``), as the C macro."""
    if -1 <= dbftype <= LAST_TYPE + 1:
        text = _lib.dbf_text[dbftype + 1]
    else:
        text = _lib.dbf_text_invalid
    return _ffi.string(text).decode()


dbf_text = dbf_type_to_text


def dbf_text_to_type(text):
    """DBF type code for its text name, or -1."""
    if isinstance(text, bytes):
        text = text.decode()
    for dbftype in range(0, LAST_TYPE + 2):
        if _ffi.string(_lib.dbf_text[dbftype + 1]).decode() == text:
            return dbftype
    return -1


def dbr_type_to_text(dbrtype):
    """Text name of a DBR type (``"DBR_TIME_DOUBLE"``), as the C macro."""
    if 0 <= dbrtype <= LAST_BUFFER_TYPE:
        text = _lib.dbr_text[dbrtype]
    else:
        text = _lib.dbr_text_invalid
    return _ffi.string(text).decode()


dbr_text = dbr_type_to_text


def dbr_text_to_type(text):
    """DBR type code for its text name, or -1."""
    if isinstance(text, bytes):
        text = text.decode()
    for dbrtype in range(0, LAST_BUFFER_TYPE + 1):
        if _ffi.string(_lib.dbr_text[dbrtype]).decode() == text:
            return dbrtype
    return -1


# caerr.h -------------------------------------------------------------------
CA_K_INFO = _lib.CA_K_INFO
CA_K_ERROR = _lib.CA_K_ERROR
CA_K_SUCCESS = _lib.CA_K_SUCCESS
CA_K_WARNING = _lib.CA_K_WARNING
CA_K_SEVERE = _lib.CA_K_SEVERE
CA_K_FATAL = _lib.CA_K_FATAL

CA_M_MSG_NO = 0x0000FFF8
CA_M_SEVERITY = 0x00000007
CA_M_LEVEL = 0x00000003
CA_M_SUCCESS = 0x00000001
CA_M_ERROR = 0x00000002
CA_M_SEVERE = 0x00000004

CA_V_MSG_NO = 0x03
CA_V_SEVERITY = 0x00
CA_V_SUCCESS = 0x00


def CA_EXTRACT_MSG_NO(code):
    return (code & CA_M_MSG_NO) >> CA_V_MSG_NO


def CA_EXTRACT_MSG_SEVERITY(code):
    return (code & CA_M_SEVERITY) >> CA_V_SEVERITY


def CA_EXTRACT_SEVERITY(code):
    return CA_EXTRACT_MSG_SEVERITY(code)


def CA_EXTRACT_SUCCESS(code):
    return (code & CA_M_SUCCESS) >> CA_V_SUCCESS


#: ECA names without the prefix, as in caerr.h (``16KARRAYCLIENT`` included).
ECA_NAMES = (
    "NORMAL", "MAXIOC", "UKNHOST", "UKNSERV", "SOCK", "CONN", "ALLOCMEM",
    "UKNCHAN", "UKNFIELD", "TOLARGE", "TIMEOUT", "NOSUPPORT", "STRTOBIG",
    "DISCONNCHID", "BADTYPE", "CHIDNOTFND", "CHIDRETRY", "INTERNAL",
    "DBLCLFAIL", "GETFAIL", "PUTFAIL", "ADDFAIL", "BADCOUNT", "BADSTR",
    "DISCONN", "DBLCHNL", "EVDISALLOW", "BUILDGET", "NEEDSFP", "OVEVFAIL",
    "BADMONID", "NEWADDR", "NEWCONN", "NOCACTX", "DEFUNCT", "EMPTYSTR",
    "NOREPEATER", "NOCHANMSG", "DLCKREST", "SERVBEHIND", "NOCAST", "BADMASK",
    "IODONE", "IOINPROGRESS", "BADSYNCGRP", "PUTCBINPROG", "NORDACCESS",
    "NOWTACCESS", "ANACHRONISM", "NOSEARCHADDR", "NOCONVERT", "BADCHID",
    "BADFUNCPTR", "ISATTACHED", "UNAVAILINSERV", "CHANDESTROY", "BADPRIORITY",
    "NOTTHREADED", "16KARRAYCLIENT", "CONNSEQTMO", "UNRESPTMO",
)
ECA_NORMAL = _lib.ECA_NORMAL
ECA_MAXIOC = _lib.ECA_MAXIOC
ECA_UKNHOST = _lib.ECA_UKNHOST
ECA_UKNSERV = _lib.ECA_UKNSERV
ECA_SOCK = _lib.ECA_SOCK
ECA_CONN = _lib.ECA_CONN
ECA_ALLOCMEM = _lib.ECA_ALLOCMEM
ECA_UKNCHAN = _lib.ECA_UKNCHAN
ECA_UKNFIELD = _lib.ECA_UKNFIELD
ECA_TOLARGE = _lib.ECA_TOLARGE
ECA_TIMEOUT = _lib.ECA_TIMEOUT
ECA_NOSUPPORT = _lib.ECA_NOSUPPORT
ECA_STRTOBIG = _lib.ECA_STRTOBIG
ECA_DISCONNCHID = _lib.ECA_DISCONNCHID
ECA_BADTYPE = _lib.ECA_BADTYPE
ECA_CHIDNOTFND = _lib.ECA_CHIDNOTFND
ECA_CHIDRETRY = _lib.ECA_CHIDRETRY
ECA_INTERNAL = _lib.ECA_INTERNAL
ECA_DBLCLFAIL = _lib.ECA_DBLCLFAIL
ECA_GETFAIL = _lib.ECA_GETFAIL
ECA_PUTFAIL = _lib.ECA_PUTFAIL
ECA_ADDFAIL = _lib.ECA_ADDFAIL
ECA_BADCOUNT = _lib.ECA_BADCOUNT
ECA_BADSTR = _lib.ECA_BADSTR
ECA_DISCONN = _lib.ECA_DISCONN
ECA_DBLCHNL = _lib.ECA_DBLCHNL
ECA_EVDISALLOW = _lib.ECA_EVDISALLOW
ECA_BUILDGET = _lib.ECA_BUILDGET
ECA_NEEDSFP = _lib.ECA_NEEDSFP
ECA_OVEVFAIL = _lib.ECA_OVEVFAIL
ECA_BADMONID = _lib.ECA_BADMONID
ECA_NEWADDR = _lib.ECA_NEWADDR
ECA_NEWCONN = _lib.ECA_NEWCONN
ECA_NOCACTX = _lib.ECA_NOCACTX
ECA_DEFUNCT = _lib.ECA_DEFUNCT
ECA_EMPTYSTR = _lib.ECA_EMPTYSTR
ECA_NOREPEATER = _lib.ECA_NOREPEATER
ECA_NOCHANMSG = _lib.ECA_NOCHANMSG
ECA_DLCKREST = _lib.ECA_DLCKREST
ECA_SERVBEHIND = _lib.ECA_SERVBEHIND
ECA_NOCAST = _lib.ECA_NOCAST
ECA_BADMASK = _lib.ECA_BADMASK
ECA_IODONE = _lib.ECA_IODONE
ECA_IOINPROGRESS = _lib.ECA_IOINPROGRESS
ECA_BADSYNCGRP = _lib.ECA_BADSYNCGRP
ECA_PUTCBINPROG = _lib.ECA_PUTCBINPROG
ECA_NORDACCESS = _lib.ECA_NORDACCESS
ECA_NOWTACCESS = _lib.ECA_NOWTACCESS
ECA_ANACHRONISM = _lib.ECA_ANACHRONISM
ECA_NOSEARCHADDR = _lib.ECA_NOSEARCHADDR
ECA_NOCONVERT = _lib.ECA_NOCONVERT
ECA_BADCHID = _lib.ECA_BADCHID
ECA_BADFUNCPTR = _lib.ECA_BADFUNCPTR
ECA_ISATTACHED = _lib.ECA_ISATTACHED
ECA_UNAVAILINSERV = _lib.ECA_UNAVAILINSERV
ECA_CHANDESTROY = _lib.ECA_CHANDESTROY
ECA_BADPRIORITY = _lib.ECA_BADPRIORITY
ECA_NOTTHREADED = _lib.ECA_NOTTHREADED
ECA_16KARRAYCLIENT = _lib.ECA_16KARRAYCLIENT
ECA_CONNSEQTMO = _lib.ECA_CONNSEQTMO
ECA_UNRESPTMO = _lib.ECA_UNRESPTMO
#: caffi 1.0 spelled ECA_CHIDNOTFND this way.
ECA_CHIDNOTFOUND = ECA_CHIDNOTFND

# epicsTime.h -----------------------------------------------------------------
POSIX_TIME_AT_EPICS_EPOCH = _lib.POSIX_TIME_AT_EPICS_EPOCH

# alarm.h -------------------------------------------------------------------
NO_ALARM = _lib.epicsSevNone
MINOR_ALARM = _lib.epicsSevMinor
MAJOR_ALARM = _lib.epicsSevMajor
INVALID_ALARM = _lib.epicsSevInvalid

READ_ALARM = _lib.epicsAlarmRead
WRITE_ALARM = _lib.epicsAlarmWrite
HIHI_ALARM = _lib.epicsAlarmHiHi
HIGH_ALARM = _lib.epicsAlarmHigh
LOLO_ALARM = _lib.epicsAlarmLoLo
LOW_ALARM = _lib.epicsAlarmLow
STATE_ALARM = _lib.epicsAlarmState
COS_ALARM = _lib.epicsAlarmCos
COMM_ALARM = _lib.epicsAlarmComm
TIMEOUT_ALARM = _lib.epicsAlarmTimeout
HW_LIMIT_ALARM = _lib.epicsAlarmHwLimit
CALC_ALARM = _lib.epicsAlarmCalc
SCAN_ALARM = _lib.epicsAlarmScan
LINK_ALARM = _lib.epicsAlarmLink
SOFT_ALARM = _lib.epicsAlarmSoft
BAD_SUB_ALARM = _lib.epicsAlarmBadSub
UDF_ALARM = _lib.epicsAlarmUDF
DISABLE_ALARM = _lib.epicsAlarmDisable
SIMM_ALARM = _lib.epicsAlarmSimm
READ_ACCESS_ALARM = _lib.epicsAlarmReadAccess
WRITE_ACCESS_ALARM = _lib.epicsAlarmWriteAccess

_SEVERITY_STRINGS = ("NO_ALARM", "MINOR", "MAJOR", "INVALID")
_CONDITION_STRINGS = (
    "NO_ALARM", "READ", "WRITE", "HIHI", "HIGH", "LOLO", "LOW", "STATE", "COS",
    "COMM", "TIMEOUT", "HWLIMIT", "CALC", "SCAN", "LINK", "SOFT", "BAD_SUB",
    "UDF", "DISABLE", "SIMM", "READ_ACCESS", "WRITE_ACCESS",
)


def epicsAlarmSeverityStrings(severity):
    """Name of an alarm severity, as the C array ``epicsAlarmSeverityStrings``."""
    return _SEVERITY_STRINGS[severity]


alarmSeverityString = epicsAlarmSeverityStrings


def epicsAlarmConditionStrings(status):
    """Name of an alarm condition, as the C array ``epicsAlarmConditionStrings``."""
    return _CONDITION_STRINGS[status]


alarmStatusString = epicsAlarmConditionStrings

__all__ = [
    name for name in globals()
    if not name.startswith("_") and name not in ("ECA_NAMES",)
]


def export_into(namespace):
    """Add every macro name to *namespace* where it is not defined yet.

    caffi 1.0 star-imported this module into ``caffi.ca``, ``caffi.dbr`` and
    ``caffi.constants``, so scripts use names like ``ca.DBR_DOUBLE``; this
    keeps those names where they were.
    """
    module = globals()
    for name in __all__:
        namespace.setdefault(name, module[name])

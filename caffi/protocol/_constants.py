"""Numbers and names of the Channel Access protocol (CA 4.13).

Everything here is data: sizes and limits from ``caProto.h`` and
``db_access.h``, the DBR type codes (:class:`ChannelType`), subscription
masks, access rights and the alarm enums of ``alarm.h``.
"""
import enum

__all__ = [
    "DEFAULT_PROTOCOL_VERSION", "SERVER_MIN_PROTOCOL_VERSION", "MAX_STRING_SIZE",
    "MAX_UNITS_SIZE", "MAX_ENUM_STRING_SIZE", "MAX_ENUM_STATES", "MAX_RECORD_LENGTH",
    "EPICS_EPOCH", "EPICS2UNIX_EPOCH", "MAX_UDP_RECV", "MAX_UDP_SEND", "MAX_TCP",
    "DEFAULT_MAX_ARRAY_BYTES", "MAX_NAME_LENGTH", "DO_REPLY", "NO_REPLY",
    "CA_SERVER_PORT", "CA_REPEATER_PORT", "PRIORITY_MIN", "PRIORITY_MAX",
    "ChannelType", "SubscriptionType", "AccessRights", "AlarmSeverity", "AlarmStatus",
    "ConnStatus",
]

#: the minor protocol version we speak (CA 4.13)
DEFAULT_PROTOCOL_VERSION = 13
#: rsrv ignores clients older than CA 4.4 (``CA_MINIMUM_SUPPORTED_VERSION``)
SERVER_MIN_PROTOCOL_VERSION = 4

MAX_STRING_SIZE = 40
MAX_UNITS_SIZE = 8
MAX_ENUM_STRING_SIZE = 26
MAX_ENUM_STATES = 16
MAX_RECORD_LENGTH = 60
#: names longer than this are refused (``unreasonablePVNameSize``)
MAX_NAME_LENGTH = 500

#: 1990-01-01 00:00:00 UTC as a POSIX time stamp
EPICS2UNIX_EPOCH = 631152000
EPICS_EPOCH = EPICS2UNIX_EPOCH

MAX_UDP_RECV = 0xFFFF + 16
MAX_UDP_SEND = 1024
#: the largest message without the extended header, and the default
#: EPICS_CA_MAX_ARRAY_BYTES
MAX_TCP = 16 * 1024
DEFAULT_MAX_ARRAY_BYTES = MAX_TCP

#: SearchRequest reply flags (``DOREPLY``/``DONTREPLY``)
DO_REPLY = 10
NO_REPLY = 5

CA_SERVER_PORT = 5064
CA_REPEATER_PORT = 5065

PRIORITY_MIN = 0
PRIORITY_MAX = 99


class ChannelType(enum.IntEnum):
    """The DBR type codes 0-38 of ``db_access.h``.

    The first seven are the *native* types a server may give a channel; the
    others add metadata (STS: alarm; TIME: alarm and time stamp; GR: display
    limits, units, precision or enum strings; CTRL: GR plus control limits).
    """
    STRING = 0
    INT = 1
    FLOAT = 2
    ENUM = 3
    CHAR = 4
    LONG = 5
    DOUBLE = 6

    STS_STRING = 7
    STS_INT = 8
    STS_FLOAT = 9
    STS_ENUM = 10
    STS_CHAR = 11
    STS_LONG = 12
    STS_DOUBLE = 13

    TIME_STRING = 14
    TIME_INT = 15
    TIME_FLOAT = 16
    TIME_ENUM = 17
    TIME_CHAR = 18
    TIME_LONG = 19
    TIME_DOUBLE = 20

    GR_STRING = 21
    GR_INT = 22
    GR_FLOAT = 23
    GR_ENUM = 24
    GR_CHAR = 25
    GR_LONG = 26
    GR_DOUBLE = 27

    CTRL_STRING = 28
    CTRL_INT = 29
    CTRL_FLOAT = 30
    CTRL_ENUM = 31
    CTRL_CHAR = 32
    CTRL_LONG = 33
    CTRL_DOUBLE = 34

    PUT_ACKT = 35
    PUT_ACKS = 36
    STSACK_STRING = 37
    CLASS_NAME = 38

    # The C names DBR_SHORT... are aliases of DBR_INT...
    SHORT = 1
    STS_SHORT = 8
    TIME_SHORT = 15
    GR_SHORT = 22
    CTRL_SHORT = 29


class SubscriptionType(enum.IntFlag):
    """Event masks of an :class:`EventAddRequest` (``DBE_*``)."""
    DBE_VALUE = 1
    DBE_LOG = 2
    DBE_ALARM = 4
    DBE_PROPERTY = 8
    DBE_ARCHIVE = 2


class AccessRights(enum.IntFlag):
    """Access rights of a channel (``CA_PROTO_ACCESS_RIGHT_*``)."""
    NO_ACCESS = 0
    READ = 1
    WRITE = 2


class AlarmSeverity(enum.IntEnum):
    NO_ALARM = 0
    MINOR_ALARM = 1
    MAJOR_ALARM = 2
    INVALID_ALARM = 3


class AlarmStatus(enum.IntEnum):
    NO_ALARM = 0
    READ = 1
    WRITE = 2
    HIHI = 3
    HIGH = 4
    LOLO = 5
    LOW = 6
    STATE = 7
    COS = 8
    COMM = 9
    TIMEOUT = 10
    HWLIMIT = 11
    CALC = 12
    SCAN = 13
    LINK = 14
    SOFT = 15
    BAD_SUB = 16
    UDF = 17
    DISABLE = 18
    SIMM = 19
    READ_ACCESS = 20
    WRITE_ACCESS = 21


class ConnStatus(enum.IntEnum):
    """Channel connection states as libca reports them (``ca_state``)."""
    CS_NEVER_CONN = 0
    CS_PREV_CONN = 1
    CS_CONN = 2
    CS_CLOSED = 3

"""The C status and state macros as :class:`enum.IntEnum` types.

Members carry the values of the compiled headers (see :mod:`caffi.macros`).
``ECA``, ``ChannelState`` and the other enums are also re-exported from
:mod:`caffi.ca`, as in caffi 1.0.
"""
from enum import IntEnum

from . import macros as _m
from ._ffi import ffi as _ffi
from ._ffi import lib as _lib
from .compat import to_string

__all__ = ["ChannelState", "CA_OP", "CA_PRIORITY", "CA_K", "ECA", "DBE",
           "AlarmSeverity", "AlarmCondition", "NamedIntEnum"]


class NamedIntEnum(IntEnum):
    """An :class:`enum.IntEnum` that prints as ``Class.NAME`` on every Python.

    Python 3.11 made ``str()`` and ``format()`` of an IntEnum print the number;
    caffi 1.0.4 (on the Pythons it supported) and scripts ported from it print
    the name: ``str(ECA.TIMEOUT)`` and ``f"{ECA.TIMEOUT}"`` give
    ``'ECA.TIMEOUT'``.  A format spec formats the number (``f"{x:d}"``);
    ``int(x)`` is the number.
    """

    def __str__(self):
        return "%s.%s" % (type(self).__name__, self._name_)

    def __format__(self, spec):
        if spec:
            return format(self._value_, spec)
        return str(self)


class ChannelState(NamedIntEnum):
    """Enum of the C ``enum channel_state``."""
    NEVER_CONN = _m.cs_never_conn  #: valid chid, IOC not found
    PREV_CONN = _m.cs_prev_conn  #: valid chid, IOC was found, but unavailable
    CONN = _m.cs_conn  #: valid chid, IOC was found, still available
    CLOSED = _m.cs_closed  #: channel deleted
    NEVER_SEARCH = _m.cs_never_search  #: invalid chid


class CA_OP(NamedIntEnum):
    """Enum of the ``CA_OP_XXX`` macros."""
    GET = _m.CA_OP_GET
    PUT = _m.CA_OP_PUT
    CREATE_CHANNEL = _m.CA_OP_CREATE_CHANNEL
    ADD_EVENT = _m.CA_OP_ADD_EVENT
    CLEAR_EVENT = _m.CA_OP_CLEAR_EVENT
    OTHER = _m.CA_OP_OTHER
    CONN_UP = _m.CA_OP_CONN_UP
    CONN_DOWN = _m.CA_OP_CONN_DOWN


class CA_PRIORITY(NamedIntEnum):
    """Enum of the ``CA_PRIORITY_XXX`` macros."""
    MAX = _m.CA_PRIORITY_MAX
    MIN = _m.CA_PRIORITY_MIN
    DEFAULT = _m.CA_PRIORITY_DEFAULT
    DB_LINKS = _m.CA_PRIORITY_DB_LINKS
    ARCHIVE = _m.CA_PRIORITY_ARCHIVE
    OPI = _m.CA_PRIORITY_OPI


class DBE(NamedIntEnum):
    """Enum of the ``DBE_XXX`` event mask bits."""
    VALUE = _m.DBE_VALUE  #: significant change of the value (monitor deadband)
    ARCHIVE = _m.DBE_ARCHIVE  #: archive-significant change (archive deadband)
    ALARM = _m.DBE_ALARM  #: alarm state change
    PROPERTY = _m.DBE_PROPERTY  #: property (limits, enum strings ...) change


class CA_K(NamedIntEnum):
    """Severity of a CA status code (``CA_K_XXX``)."""
    INFO = _m.CA_K_INFO
    ERROR = _m.CA_K_ERROR
    SUCCESS = _m.CA_K_SUCCESS
    WARNING = _m.CA_K_WARNING
    SEVERE = _m.CA_K_SEVERE
    FATAL = _m.CA_K_FATAL


def _eca_members():
    members = {}
    for name in _m.ECA_NAMES:
        key = {"16KARRAYCLIENT": "ARRAY16KCLIENT",
               "CHIDNOTFND": "CHIDNOTFOUND"}.get(name, name)
        members[key] = getattr(_m, "ECA_" + name)
    return members


class _ECABase(NamedIntEnum):
    def severity(self):
        """Severity of the status code, a :class:`CA_K`."""
        return CA_K(_m.CA_EXTRACT_MSG_SEVERITY(self.value))

    def message(self):
        """Text of the status code, from ``ca_message``."""
        return _ffi.string(_lib.ca_message(self.value)).decode()


#: Channel Access status codes (``ECA_XXX``).  ``ECA_16KARRAYCLIENT`` is
#: spelled ``ARRAY16KCLIENT`` and ``ECA_CHIDNOTFND`` ``CHIDNOTFOUND``, as in
#: caffi 1.0.
ECA = _ECABase("ECA", _eca_members(), module=__name__, qualname="ECA")


class AlarmSeverity(NamedIntEnum):
    """Enum of ``epicsAlarmSeverity``; ``No`` stands for ``epicsSevNone``."""
    No = _m.NO_ALARM
    Minor = _m.MINOR_ALARM
    Major = _m.MAJOR_ALARM
    Invalid = _m.INVALID_ALARM


class AlarmCondition(NamedIntEnum):
    """Enum of ``epicsAlarmCondition``; ``No`` stands for ``epicsAlarmNone``."""
    No = _m.NO_ALARM
    Read = _m.READ_ALARM
    Write = _m.WRITE_ALARM
    HiHi = _m.HIHI_ALARM
    High = _m.HIGH_ALARM
    LoLo = _m.LOLO_ALARM
    Low = _m.LOW_ALARM
    State = _m.STATE_ALARM
    Cos = _m.COS_ALARM
    Comm = _m.COMM_ALARM
    Timeout = _m.TIMEOUT_ALARM
    HwLimit = _m.HW_LIMIT_ALARM
    Calc = _m.CALC_ALARM
    Scan = _m.SCAN_ALARM
    Link = _m.LINK_ALARM
    Soft = _m.SOFT_ALARM
    BadSub = _m.BAD_SUB_ALARM
    UDF = _m.UDF_ALARM
    Disable = _m.DISABLE_ALARM
    Simm = _m.SIMM_ALARM
    ReadAccess = _m.READ_ACCESS_ALARM
    WriteAccess = _m.WRITE_ACCESS_ALARM


# caffi 1.0 names that reached this module through star imports.
ffi = _ffi
libca = _lib
_m.export_into(globals())

"""The CA status codes (``caerr.h``): a message catalogue.

A status travels on the wire as ``code << 3 | severity``
(``code_with_severity``).  :class:`CAStatus` names every code; its members'
values are :class:`CAStatusCode` tuples with the texts libca's
``ca_message`` gives.
"""
import enum
from typing import NamedTuple, Union

__all__ = ["CASeverity", "CAStatusCode", "CAStatus", "eca_value", "status_from_wire"]


class CASeverity(enum.IntEnum):
    WARNING = 0
    SUCCESS = 1
    ERROR = 2
    INFO = 3
    SEVERE = 4
    FATAL = 6


class CAStatusCode(NamedTuple):
    name: str
    code: int
    code_with_severity: int
    severity: CASeverity
    success: int
    defunct: bool
    description: str


WARNING, SUCCESS, ERROR, INFO, SEVERE, FATAL = (
    CASeverity.WARNING, CASeverity.SUCCESS, CASeverity.ERROR, CASeverity.INFO,
    CASeverity.SEVERE, CASeverity.FATAL)

# (name, message number, severity, defunct, text of ca_message)
_CODES = [
    ('ECA_NORMAL', 0, SUCCESS, False, 'Normal successful completion'),
    ('ECA_MAXIOC', 1, ERROR, True, 'Maximum simultaneous IOC connections exceeded'),
    ('ECA_UKNHOST', 2, ERROR, True, 'Unknown internet host'),
    ('ECA_UKNSERV', 3, ERROR, True, 'Unknown internet service'),
    ('ECA_SOCK', 4, ERROR, True, 'Unable to allocate a new socket'),
    ('ECA_CONN', 5, WARNING, True, 'Unable to connect to internet host or service'),
    ('ECA_ALLOCMEM', 6, WARNING, False, 'Unable to allocate additional dynamic memory'),
    ('ECA_UKNCHAN', 7, WARNING, True, 'Unknown IO channel'),
    ('ECA_UKNFIELD', 8, WARNING, True, 'Record field specified inappropriate for channel specified'),
    ('ECA_TOLARGE', 9, WARNING, False, 'The requested data transfer is greater than available memory or EPICS_CA_MAX_ARRAY_BYTES'),
    ('ECA_TIMEOUT', 10, WARNING, False, 'User specified timeout on IO operation expired'),
    ('ECA_NOSUPPORT', 11, WARNING, True, 'Sorry, that feature is planned but not supported at this time'),
    ('ECA_STRTOBIG', 12, WARNING, True, 'The supplied string is unusually large'),
    ('ECA_DISCONNCHID', 13, ERROR, True, 'The request was ignored because the specified channel is disconnected'),
    ('ECA_BADTYPE', 14, ERROR, False, 'The data type specified is invalid'),
    ('ECA_CHIDNOTFND', 15, INFO, True, 'Remote Channel not found'),
    ('ECA_CHIDRETRY', 16, INFO, True, 'Unable to locate all user specified channels'),
    ('ECA_INTERNAL', 17, FATAL, False, 'Channel Access Internal Failure'),
    ('ECA_DBLCLFAIL', 18, WARNING, True, 'The requested local DB operation failed'),
    ('ECA_GETFAIL', 19, WARNING, False, 'Channel read request failed'),
    ('ECA_PUTFAIL', 20, WARNING, False, 'Channel write request failed'),
    ('ECA_ADDFAIL', 21, WARNING, True, 'Channel subscription request failed'),
    ('ECA_BADCOUNT', 22, WARNING, False, 'Invalid element count requested'),
    ('ECA_BADSTR', 23, ERROR, False, 'Invalid string'),
    ('ECA_DISCONN', 24, WARNING, False, 'Virtual circuit disconnect'),
    ('ECA_DBLCHNL', 25, WARNING, False, 'Identical process variable names on multiple servers'),
    ('ECA_EVDISALLOW', 26, ERROR, False, 'Request inappropriate within subscription (monitor) update callback'),
    ('ECA_BUILDGET', 27, WARNING, True, 'Database value get for that channel failed during channel search'),
    ('ECA_NEEDSFP', 28, WARNING, True, 'Unable to initialize without the vxWorks VX_FP_TASK task option set'),
    ('ECA_OVEVFAIL', 29, WARNING, True, 'Event queue overflow has prevented first pass event after event add'),
    ('ECA_BADMONID', 30, ERROR, False, 'Bad event subscription (monitor) identifier'),
    ('ECA_NEWADDR', 31, WARNING, True, 'Remote channel has new network address'),
    ('ECA_NEWCONN', 32, INFO, True, 'New or resumed network connection'),
    ('ECA_NOCACTX', 33, WARNING, True, "Specified task isn't a member of a CA context"),
    ('ECA_DEFUNCT', 34, FATAL, True, 'Attempt to use defunct CA feature failed'),
    ('ECA_EMPTYSTR', 35, WARNING, True, 'The supplied string is empty'),
    ('ECA_NOREPEATER', 36, WARNING, True, 'Unable to spawn the CA repeater thread- auto reconnect will fail'),
    ('ECA_NOCHANMSG', 37, WARNING, True, 'No channel id match for search reply- search reply ignored'),
    ('ECA_DLCKREST', 38, WARNING, True, 'Resetting dead connection- will try to reconnect'),
    ('ECA_SERVBEHIND', 39, WARNING, True, 'Server (IOC) has fallen behind or is not responding- still waiting'),
    ('ECA_NOCAST', 40, WARNING, True, 'No internet interface with broadcast available'),
    ('ECA_BADMASK', 41, ERROR, False, 'Invalid event selection mask'),
    ('ECA_IODONE', 42, INFO, False, 'IO operations have completed'),
    ('ECA_IOINPROGRESS', 43, INFO, False, 'IO operations are in progress'),
    ('ECA_BADSYNCGRP', 44, ERROR, False, 'Invalid synchronous group identifier'),
    ('ECA_PUTCBINPROG', 45, ERROR, False, 'Put callback timed out'),
    ('ECA_NORDACCESS', 46, WARNING, False, 'Read access denied'),
    ('ECA_NOWTACCESS', 47, WARNING, False, 'Write access denied'),
    ('ECA_ANACHRONISM', 48, ERROR, False, 'Requested feature is no longer supported'),
    ('ECA_NOSEARCHADDR', 49, WARNING, False, 'Empty PV search address list'),
    ('ECA_NOCONVERT', 50, WARNING, False, 'No reasonable data conversion between client and server types'),
    ('ECA_BADCHID', 51, ERROR, False, 'Invalid channel identifier'),
    ('ECA_BADFUNCPTR', 52, ERROR, False, 'Invalid function pointer'),
    ('ECA_ISATTACHED', 53, WARNING, False, 'Thread is already attached to a client context'),
    ('ECA_UNAVAILINSERV', 54, WARNING, False, 'Not supported by attached service'),
    ('ECA_CHANDESTROY', 55, WARNING, False, 'User destroyed channel'),
    ('ECA_BADPRIORITY', 56, ERROR, False, 'Invalid channel priority'),
    ('ECA_NOTTHREADED', 57, ERROR, False, 'Preemptive callback not enabled - additional threads may not join context'),
    ('ECA_16KARRAYCLIENT', 58, WARNING, False, "Client's protocol revision does not support transfers exceeding 16k bytes"),
    ('ECA_CONNSEQTMO', 59, WARNING, False, 'Virtual circuit connection sequence aborted'),
    ('ECA_UNRESPTMO', 60, WARNING, False, 'Virtual circuit unresponsive'),
]


def _status_code(name, number, severity, defunct, text):
    return CAStatusCode(name=name, code=number, code_with_severity=(number << 3) | severity,
                        severity=severity, success=int(severity) & 1, defunct=defunct,
                        description=text)


#: every CA status code, by name (``CAStatus.ECA_NORMAL.value.code_with_severity == 1``)
CAStatus = enum.Enum("CAStatus", [(row[0], _status_code(*row)) for row in _CODES],
                     module=__name__)
CAStatus.__doc__ = "The CA status codes; each value is a :class:`CAStatusCode`."

_BY_WIRE = {member.value.code_with_severity: member.value for member in CAStatus}


def eca_value(status: Union["CAStatus", CAStatusCode, int]) -> int:
    """The wire value (``code_with_severity``) of a status given as a
    :class:`CAStatus` member, a :class:`CAStatusCode` or an int."""
    if type(status) is int:
        return status
    if isinstance(status, CAStatus):
        return status.value.code_with_severity
    if isinstance(status, CAStatusCode):
        return status.code_with_severity
    return int(status)


def status_from_wire(value: int) -> Union[CAStatusCode, int]:
    """The :class:`CAStatusCode` for a wire value; unknown values stay ints."""
    return _BY_WIRE.get(value, value)

"""One-to-one wrappers of libca's ``ca_*`` functions, with caffi 1.0's API.

Example
-------
>>> from caffi import ca
>>> ca.create_context(True)
<ECA.NORMAL: 1>
>>> status, chid = ca.create_channel('catest')
>>> ca.pend_io(2)
<ECA.NORMAL: 1>
>>> status, dbrvalue = ca.get(chid)
>>> ca.pend_io(2)
<ECA.NORMAL: 1>
>>> dbrvalue.get()
10.0

Differences from the C API
--------------------------
- The ``ca_`` prefix is dropped (``ca_create_channel`` -> :func:`create_channel`);
  ``ca_context_create``/``ca_context_destroy`` are :func:`create_context` and
  :func:`destroy_context`; ``ca_client_status`` and ``ca_context_status`` are
  both :func:`show_context`; ``ca_array_get[_callback]`` is :func:`get`,
  ``ca_array_put[_callback]`` is :func:`put`, ``ca_sg_array_get/put`` are
  :func:`sg_get`/:func:`sg_put`, ``ca_get_host_name`` is :func:`host_name`.
- Status functions return an :class:`ECA` member; creators return
  ``(ECA, identifier)``; gets return ``(ECA, DBRValue)``.
- Callbacks receive one dict converted from the C ``*_handler_args``.
- Channel, subscription and context identifiers are Python objects.  A cleared,
  destroyed or foreign identifier is refused here (``ECA.BADCHID``,
  ``ECA.BADMONID``, ``ECA.NOCACTX``; ``TypeError``/``ValueError`` from the
  functions that return information) and never reaches libca.
- A count above the channel's element count is clamped to it (as caffi 1.0.4
  did; libca would return ``ECA.BADCOUNT``); a string of 40 bytes or more for
  ``DBR_STRING`` is ``ECA.STRTOBIG``.
"""
import atexit
import numbers  # noqa: F401  (caffi 1.0.4 showed it: ``ca.numbers``)

from . import macros as _m
# The wrappers by area (argument checks in caffi._ca_checks): channels and
# their information, contexts and waits, synchronous groups, reads, writes and
# subscriptions.
from ._ca_channel import (beacon_anomaly_count, beacon_period, change_connection_event,
                          clear_channel, create_channel, element_count, field_type,
                          get_ioc_connection_count, host_name, message, name, read_access,
                          receive_watchdog_delay, replace_access_rights_event,
                          search_attempts, state, version, write_access)
from ._ca_context import (add_exception_event, attach_context, create_context,
                          current_context, destroy_context, detach_context, flush_io, pend,
                          pend_event, pend_io, poll, show_context, test_io)
from ._ca_groups import sg_block, sg_create, sg_delete, sg_get, sg_put, sg_reset, sg_test
from ._ca_io import clear_subscription, create_subscription, get, put
from ._callbacks import clear_registry
from ._ffi import ffi, lib
from ._ids import current
from .constants import (CA_K, CA_OP, CA_PRIORITY, DBE, ECA, AlarmCondition, AlarmSeverity,
                        ChannelState)
from ._errors import SEVCHK, CAError, signal
from .compat import basestring, to_bytes, to_string
from .dbr import DBF, DBR, DBR_TYPE_STRING, DBRValue, format_dbr
# The C macro names (cadef.h, caerr.h, db_access.h, alarm.h), named one by one
# so that tools see them; caffi 1.0 star-imported them into this module.
from .macros import (  # noqa: F401
    alarmSeverityString, alarmStatusString, BAD_SUB_ALARM, CA_EXTRACT_MSG_NO,
    CA_EXTRACT_MSG_SEVERITY, CA_EXTRACT_SEVERITY, CA_EXTRACT_SUCCESS, CA_K_ERROR, CA_K_FATAL,
    CA_K_INFO, CA_K_SEVERE, CA_K_SUCCESS, CA_K_WARNING, CA_M_ERROR, CA_M_LEVEL, CA_M_MSG_NO,
    CA_M_SEVERE, CA_M_SEVERITY, CA_M_SUCCESS, CA_OP_ADD_EVENT, CA_OP_CLEAR_EVENT,
    CA_OP_CONN_DOWN, CA_OP_CONN_UP, CA_OP_CREATE_CHANNEL, CA_OP_GET, CA_OP_OTHER, CA_OP_PUT,
    CA_PRIORITY_ARCHIVE, CA_PRIORITY_DB_LINKS, CA_PRIORITY_DEFAULT, CA_PRIORITY_MAX,
    CA_PRIORITY_MIN, CA_PRIORITY_OPI, CA_V_MSG_NO, CA_V_SEVERITY, CA_V_SUCCESS, CALC_ALARM,
    COMM_ALARM, COS_ALARM, cs_closed, cs_conn, cs_never_conn, cs_never_search, cs_prev_conn,
    DBE_ALARM, DBE_ARCHIVE, DBE_LOG, DBE_PROPERTY, DBE_VALUE, DBF_CHAR, DBF_DOUBLE, DBF_ENUM,
    DBF_FLOAT, DBF_INT, DBF_LONG, DBF_NO_ACCESS, DBF_SHORT, DBF_STRING, dbf_text, dbf_text_dim,
    dbf_text_invalid, dbf_text_to_type, dbf_type_is_valid, dbf_type_to_DBR,
    dbf_type_to_DBR_CTRL, dbf_type_to_DBR_GR, dbf_type_to_DBR_STS, dbf_type_to_DBR_TIME,
    dbf_type_to_text, DBR_CHAR, dbr_class_float, dbr_class_int, dbr_class_max, DBR_CLASS_NAME,
    dbr_class_string, DBR_CTRL_CHAR, DBR_CTRL_DOUBLE, DBR_CTRL_ENUM, DBR_CTRL_FLOAT,
    DBR_CTRL_INT, DBR_CTRL_LONG, DBR_CTRL_SHORT, DBR_CTRL_STRING, DBR_DOUBLE, DBR_ENUM,
    DBR_FLOAT, DBR_GR_CHAR, DBR_GR_DOUBLE, DBR_GR_ENUM, DBR_GR_FLOAT, DBR_GR_INT, DBR_GR_LONG,
    DBR_GR_SHORT, DBR_GR_STRING, DBR_INT, DBR_LONG, DBR_PUT_ACKS, DBR_PUT_ACKT, DBR_SHORT,
    dbr_size, dbr_size_n, DBR_STRING, DBR_STS_CHAR, DBR_STS_DOUBLE, DBR_STS_ENUM,
    DBR_STS_FLOAT, DBR_STS_INT, DBR_STS_LONG, DBR_STS_SHORT, DBR_STS_STRING, DBR_STSACK_STRING,
    dbr_text, dbr_text_dim, dbr_text_invalid, dbr_text_to_type, DBR_TIME_CHAR, DBR_TIME_DOUBLE,
    DBR_TIME_ENUM, DBR_TIME_FLOAT, DBR_TIME_INT, DBR_TIME_LONG, DBR_TIME_SHORT,
    DBR_TIME_STRING, dbr_type_is_CHAR, dbr_type_is_CTRL, dbr_type_is_DOUBLE, dbr_type_is_ENUM,
    dbr_type_is_FLOAT, dbr_type_is_GR, dbr_type_is_LONG, dbr_type_is_plain, dbr_type_is_SHORT,
    dbr_type_is_STRING, dbr_type_is_STS, dbr_type_is_TIME, dbr_type_is_valid, dbr_type_to_text,
    dbr_value_class, dbr_value_offset, dbr_value_size, DISABLE_ALARM, ECA_16KARRAYCLIENT,
    ECA_ADDFAIL, ECA_ALLOCMEM, ECA_ANACHRONISM, ECA_BADCHID, ECA_BADCOUNT, ECA_BADFUNCPTR,
    ECA_BADMASK, ECA_BADMONID, ECA_BADPRIORITY, ECA_BADSTR, ECA_BADSYNCGRP, ECA_BADTYPE,
    ECA_BUILDGET, ECA_CHANDESTROY, ECA_CHIDNOTFND, ECA_CHIDNOTFOUND, ECA_CHIDRETRY, ECA_CONN,
    ECA_CONNSEQTMO, ECA_DBLCHNL, ECA_DBLCLFAIL, ECA_DEFUNCT, ECA_DISCONN, ECA_DISCONNCHID,
    ECA_DLCKREST, ECA_EMPTYSTR, ECA_EVDISALLOW, ECA_GETFAIL, ECA_INTERNAL, ECA_IODONE,
    ECA_IOINPROGRESS, ECA_ISATTACHED, ECA_MAXIOC, ECA_NEEDSFP, ECA_NEWADDR, ECA_NEWCONN,
    ECA_NOCACTX, ECA_NOCAST, ECA_NOCHANMSG, ECA_NOCONVERT, ECA_NORDACCESS, ECA_NOREPEATER,
    ECA_NORMAL, ECA_NOSEARCHADDR, ECA_NOSUPPORT, ECA_NOTTHREADED, ECA_NOWTACCESS, ECA_OVEVFAIL,
    ECA_PUTCBINPROG, ECA_PUTFAIL, ECA_SERVBEHIND, ECA_SOCK, ECA_STRTOBIG, ECA_TIMEOUT,
    ECA_TOLARGE, ECA_UKNCHAN, ECA_UKNFIELD, ECA_UKNHOST, ECA_UKNSERV, ECA_UNAVAILINSERV,
    ECA_UNRESPTMO, epicsAlarmConditionStrings, epicsAlarmSeverityStrings, HIGH_ALARM,
    HIHI_ALARM, HW_LIMIT_ALARM, INVALID_ALARM, LAST_BUFFER_TYPE, LAST_TYPE, LINK_ALARM,
    LOLO_ALARM, LOW_ALARM, MAJOR_ALARM, MAX_ENUM_STATES, MAX_ENUM_STRING_SIZE, MAX_STRING_SIZE,
    MAX_UNITS_SIZE, MINOR_ALARM, NO_ALARM, POSIX_TIME_AT_EPICS_EPOCH, READ_ACCESS_ALARM,
    READ_ALARM, SCAN_ALARM, SIMM_ALARM, SOFT_ALARM, STATE_ALARM, TIMEOUT_ALARM, TYPENOTCONN,
    UDF_ALARM, WRITE_ACCESS_ALARM, WRITE_ALARM)

__all__ = ['create_context', 'current_context', 'attach_context', 'detach_context',
           'destroy_context', 'show_context',
           'add_exception_event', 'replace_access_rights_event', 'change_connection_event',
           'create_channel', 'clear_channel', 'get', 'put', 'create_subscription',
           'clear_subscription',
           'field_type', 'element_count', 'name', 'state', 'host_name', 'read_access',
           'write_access',
           'pend_event', 'pend_io', 'poll', 'pend', 'flush_io', 'test_io', 'message',
           'sg_create', 'sg_delete', 'sg_get', 'sg_put', 'sg_reset', 'sg_block', 'sg_test',
           'version', 'search_attempts', 'beacon_period', 'receive_watchdog_delay',
           'get_ioc_connection_count', 'beacon_anomaly_count', 'SEVCHK', 'CAError']

# caffi 1.0 exposed these through star imports; scripts use ``ca.ECA`` etc.
libca = lib
_COMPAT_NAMES = (ffi, libca, CA_K, CA_OP, CA_PRIORITY, DBE, ECA, AlarmCondition,
                 AlarmSeverity, ChannelState, DBF, DBR, DBRValue, format_dbr, DBR_TYPE_STRING,
                 basestring, to_bytes, to_string)


# What dir() and tab completion show: the API, the C macro names and what
# caffi 1.0.4's module showed; the helpers imported above stay reachable but
# out of sight.
_SHOWN = frozenset(__all__) | frozenset(_m.__all__) | frozenset((
    "AlarmCondition", "AlarmSeverity", "CA_K", "CA_OP", "CA_PRIORITY", "ChannelState", "DBE",
    "DBF", "DBR", "DBRValue", "DBR_TYPE_STRING", "ECA", "basestring", "ffi", "format_dbr",
    "libca", "numbers", "to_bytes", "to_string", "signal"))


# The wrappers live in caffi._ca_*; they are caffi.ca's functions for
# help(), repr() and pickling, as in caffi 1.0.4.
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("caffi._ca_"):
        _obj.__module__ = __name__
del _name, _obj


def __dir__():
    return sorted(_SHOWN)


@atexit.register
def _shutdown():
    # Interpreter exit: no user callback may run from libca's threads while
    # Python finalizes, and the main thread's context is released in order.
    clear_registry()
    if current() is not None:
        destroy_context()

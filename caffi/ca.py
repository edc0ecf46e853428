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
import numbers
import threading

from . import _sg, _wait
from . import macros as _m
from ._callbacks import clear_registry, in_callback, logger, unregister
from ._ffi import ffi, lib
from ._ids import (Channel, Context, ExceptionHandler, Request, Subscription, current)
from .constants import (CA_K, CA_OP, CA_PRIORITY, DBE, ECA, AlarmCondition, AlarmSeverity,
                        ChannelState)
from ._errors import SEVCHK, CAError, signal
from .compat import basestring, to_bytes, to_string
from .dbr import (CONVERTERS, DBF, DBR, DBR_TYPE_STRING, PLAIN_PTR, PLAIN_SCALARS, DBRValue,
                  PutRefused, allocate, dbr_enum, decode_text, eca_enum, format_dbr,
                  prepare_put)
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


_NORMAL = lib.ECA_NORMAL
_TIMEOUT = lib.ECA_TIMEOUT
_ECA_NORMAL = ECA.NORMAL
_CS_CONN = lib.cs_conn
_new = ffi.new
_NULL = ffi.NULL
_get_plain = lib.caffi_get_plain
_REQUEST_PTR = _sg.REQUEST_PTR
_put_double = lib.caffi_put_double
_REQUEST_CB = lib._caffi_request_cb
_DBF_BY_VALUE = {member.value: member for member in DBF}
_STATE_BY_VALUE = {member.value: member for member in ChannelState}


class _Refused(Exception):
    """Raised internally for arguments refused with an ECA status."""

    def __init__(self, status):
        Exception.__init__(self, status)
        self.status = status


# Argument checks ---------------------------------------------------------------
def _live(chid):
    """The live :class:`Channel` for *chid*, or raise ``_Refused(BADCHID)``."""
    if type(chid) is Channel and chid.ptr is not None:
        return chid
    raise _Refused(ECA.BADCHID)


def _info_channel(chid):
    """The libca pointer of *chid* for the information functions."""
    if type(chid) is not Channel:
        raise TypeError("expected a channel identifier from create_channel(), got %r"
                        % (chid,))
    if chid.ptr is None:
        raise ValueError("channel %r has been cleared" % (chid.name,))
    return chid.ptr


def _integer(value, what):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError("%s must be an integer, got %r" % (what, value))
    return int(value)


def _timeout(timeout):
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
        raise TypeError("timeout must be a number of seconds, got %r" % (timeout,))
    return float(timeout)


def _dbr_type(chtype):
    return _integer(chtype, "chtype")


def _gid(gid):
    gid = _integer(gid, "gid")
    if not 0 <= gid <= 0xFFFFFFFF:
        raise _Refused(ECA.BADSYNCGRP)
    return gid


def _connected(ptr):
    if lib.ca_state(ptr) != _CS_CONN:
        raise _Refused(ECA.DISCONN)


def _read_request(ptr, chtype, count, zero_is_dynamic):
    """Checked ``(chtype, count)`` of a read of channel *ptr*.

    A disconnected channel has no native type and count; the connection state
    is only looked at when a check fails, to report DISCONN instead.
    """
    if chtype is None:
        chtype = lib.ca_field_type(ptr)
    elif type(chtype) is not int:
        chtype = _dbr_type(chtype)
    if chtype not in CONVERTERS:
        _connected(ptr)
        raise _Refused(ECA.BADTYPE)
    native = lib.ca_element_count(ptr)
    if count is None:
        count = native
    else:
        if type(count) is not int:
            count = _integer(count, "count")
        if count < 0 or (count == 0 and not zero_is_dynamic):
            count = native
        elif count > native:
            _connected(ptr)
            count = native  # clamped, as caffi 1.0.4 did
    if count == 0 and not zero_is_dynamic:
        _connected(ptr)  # never connected: no native count to read
    return chtype, count


def _write_request(ptr, value, chtype, count):
    """Checked ``(chtype, count, cdata)`` of a write to channel *ptr*."""
    _connected(ptr)
    native = lib.ca_element_count(ptr)
    count = native if count is None else _integer(count, "count")
    if count <= 0 or count > native:
        count = native  # a larger count is clamped, as caffi 1.0.4 did
    if chtype is not None:
        chtype = _dbr_type(chtype)
    try:
        chtype, count, buf = prepare_put(value, chtype, count, lib.ca_field_type(ptr))
    except PutRefused as exc:
        raise _Refused(exc.status)
    if not isinstance(buf, ffi.CData):
        buf = ffi.from_buffer(buf)
    return chtype, count, buf


def _context(context):
    if type(context) is not Context or not context.alive:
        raise _Refused(ECA.NOCACTX)
    return context._ptr


def _sync_group(gid):
    """Checked gid and its :class:`caffi._sg.Group` in the current context."""
    gid = _gid(gid)
    context = current()
    if context is None or gid not in context.groups:
        raise _Refused(ECA.BADSYNCGRP)
    return gid, context.groups[gid]


# Contexts ----------------------------------------------------------------------
def create_context(preemptive_callback=True):
    """Create a CA client context for the calling thread (``ca_context_create``).

    Parameters
    ----------
    preemptive_callback : bool
        Let libca's threads run callbacks at any time (True), or only while
        this thread is inside a CA call (False).

    Returns
    -------
    ECA
        NORMAL, ALLOCMEM, or NOTTHREADED if the thread already has a
        non-preemptive context.
    """
    select = (lib.ca_enable_preemptive_callback if preemptive_callback
              else lib.ca_disable_preemptive_callback)
    current()  # forgets a destroyed context this thread was attached to
    status = lib.ca_context_create(select)
    if status == _NORMAL:
        current().threads.add(threading.get_ident())
    return eca_enum(status)


def destroy_context():
    """Shut down the calling thread's context (``ca_context_destroy``).

    Every channel, subscription and callback of the context is released; their
    identifiers are refused from then on.  The waits (``pend_*``, ``sg_block``)
    other threads are in end first, returning ``ECA.NOCACTX``; threads still
    attached to the context are detached from it at their next call.

    Returns
    -------
    ECA
        NORMAL, or EVDISALLOW inside a callback: a callback runs in a thread of
        the context, which cannot be destroyed from there (libca would crash);
        the call is refused and the context stays usable.
    """
    if in_callback():
        logger.warning("destroy_context() inside a CA callback is refused (ECA.EVDISALLOW); "
                       "destroy the context after the callback returned")
        return ECA.EVDISALLOW
    context = current()
    if context is not None:
        context.end_waits()
    lib.ca_context_destroy()
    if context is not None:
        context.invalidate()
    return ECA.NORMAL


def attach_context(context):
    """Join the calling thread to a preemptive *context* (``ca_attach_context``).

    Returns
    -------
    ECA
        NORMAL, NOTTHREADED (context is not preemptive), ISATTACHED, or NOCACTX
        for something that is not a live context.
    """
    try:
        ptr = _context(context)
    except _Refused as exc:
        return exc.status
    current()  # forgets a destroyed context this thread was attached to
    status = lib.ca_attach_context(ptr)
    if status == _NORMAL:
        context.threads.add(threading.get_ident())
    return eca_enum(status)


def detach_context():
    """Detach the calling thread from its CA context (``ca_detach_context``).

    Returns
    -------
    ECA
        NORMAL, or EVDISALLOW inside a callback (the thread is libca's own: it
        stays attached).
    """
    if in_callback():
        logger.warning("detach_context() inside a CA callback is refused (ECA.EVDISALLOW)")
        return ECA.EVDISALLOW
    context = current()  # (forgets a destroyed context)
    if context is not None:
        context.threads.discard(threading.get_ident())
    lib.ca_detach_context()
    return ECA.NORMAL


def current_context():
    """The calling thread's context, or None."""
    return current()


def show_context(context=None, level=0):
    """Print information about a context (``ca_client_status``/``ca_context_status``).

    Parameters
    ----------
    context : context or None
        The context to show; None for the calling thread's.
    level : int
        Interest level; higher shows more.
    """
    level = _integer(level, "level")
    if context is None:
        current()  # forgets a destroyed context
        status = lib.ca_client_status(level)
    else:
        try:
            ptr = _context(context)
        except _Refused as exc:
            return exc.status
        status = lib.ca_context_status(ptr, level)
    lib.fflush(ffi.NULL)
    return eca_enum(status)


def add_exception_event(callback=None):
    """Replace the context's exception handler (``ca_add_exception_event``).

    The callback receives a dict with keys chid, type, count, addr, stat, op,
    ctx, file and lineNo.  None reinstalls caffi's default handler, which logs
    the exception on the ``caffi`` logger with the PV name (libca's own
    prints it, and aborts the program for an error status).
    """
    current()  # forgets a destroyed context
    if callable(callback):
        handler = ExceptionHandler(callback)
        status = lib.ca_add_exception_event(lib._caffi_exception_cb, handler.usr)
    else:
        handler = None
        status = lib.ca_add_exception_event(lib._caffi_default_exception_cb, ffi.NULL)
    context = current()
    if status != _NORMAL or context is None:
        if handler is not None:
            unregister(handler.usr)
        return eca_enum(status)
    if context.exception_handler is not None:
        unregister(context.exception_handler.usr)
    context.exception_handler = handler
    return eca_enum(status)


# Channels ----------------------------------------------------------------------
def create_channel(name, callback=None, priority=CA_PRIORITY.DEFAULT):
    """Create a channel (``ca_create_channel``).

    Parameters
    ----------
    name : str
        Process variable name.
    callback : callable or None
        Called with ``{'chid': chid, 'op': CA_OP.CONN_UP or CA_OP.CONN_DOWN}``
        on each connection change.  Without it, :func:`pend_io` waits for the
        first connection.
    priority : int
        Dispatch priority, 0 to 99.

    Returns
    -------
    (ECA, chid or None)
    """
    if isinstance(name, str):
        raw = name.encode("utf-8")
    elif isinstance(name, (bytes, bytearray)):
        raw = bytes(name)
    else:
        raise TypeError("channel name must be str or bytes, got %r" % (name,))
    if b"\0" in raw:
        return ECA.BADSTR, None
    priority = _integer(priority, "priority")
    if not _m.CA_PRIORITY_MIN <= priority <= _m.CA_PRIORITY_MAX:
        return ECA.BADPRIORITY, None
    current()  # forgets a destroyed context
    channel = Channel(decode_text(raw), callback if callable(callback) else None)
    pchid = ffi.new("chid *")
    connect = (lib._caffi_connection_cb if channel.connection_callback is not None
               else ffi.NULL)
    status = lib.ca_create_channel(raw, connect, channel.usr, priority, pchid)
    if status != _NORMAL:
        channel.invalidate()
        return eca_enum(status), None
    channel.ptr = pchid[0]
    context = current()
    channel.context = context
    if context is not None:
        context.channels.add(channel)
    return ECA.NORMAL, channel


def clear_channel(chid):
    """Release a channel and its subscriptions (``ca_clear_channel``).

    Returns
    -------
    ECA
        NORMAL, or BADCHID for a cleared or foreign identifier.
    """
    try:
        channel = _live(chid)
    except _Refused as exc:
        return exc.status
    ptr = channel.ptr
    channel.ptr = None
    status = lib.ca_clear_channel(ptr)
    channel.invalidate()
    return eca_enum(status)


def change_connection_event(chid, callback=None):
    """Replace the connection callback of a channel (``ca_change_connection_event``)."""
    try:
        channel = _live(chid)
    except _Refused as exc:
        return exc.status
    if callable(callback):
        channel.connection_callback = callback
        status = lib.ca_change_connection_event(channel.ptr, lib._caffi_connection_cb)
    else:
        channel.connection_callback = None
        status = lib.ca_change_connection_event(channel.ptr, ffi.NULL)
    return eca_enum(status)


def replace_access_rights_event(chid, callback=None):
    """Install or remove an access rights callback (``ca_replace_access_rights_event``).

    The callback receives ``{'chid', 'read_access', 'write_access'}``; it is
    called once at once if the channel is connected.
    """
    try:
        channel = _live(chid)
    except _Refused as exc:
        return exc.status
    if callable(callback):
        channel.access_rights_callback = callback
        status = lib.ca_replace_access_rights_event(channel.ptr, lib._caffi_access_rights_cb)
    else:
        channel.access_rights_callback = None
        status = lib.ca_replace_access_rights_event(channel.ptr, ffi.NULL)
    return eca_enum(status)


# Operations --------------------------------------------------------------------
def get(chid, chtype=None, count=None, callback=None, use_numpy=False):
    """Read a value (``ca_array_get`` / ``ca_array_get_callback``).

    Parameters
    ----------
    chid : chid
        Channel identifier.
    chtype : DBR or int or None
        Requested type; default the native type.
    count : int or None
        Element count; default (None, 0 or negative) the native count, and a
        larger count is clamped to it.  With a callback, 0 asks for the
        server's current length.
    callback : callable or None
        Called with ``{'chid', 'type', 'count', 'status', 'value'}``.  Without
        it, read the value with ``DBRValue.get()`` after :func:`pend_io`
        returned ``ECA.NORMAL``.
    use_numpy : bool
        Numeric arrays as numpy arrays.

    Returns
    -------
    (ECA, DBRValue or None)
        NORMAL, BADCHID, BADTYPE, DISCONN, NORDACCESS, ...
    """
    if type(chid) is not Channel or chid.ptr is None:
        return ECA.BADCHID, None
    ptr = chid.ptr
    if chtype is None and count is None and callback is None:
        # The common case, one element of a plain native type, in one C call
        # (type and count checks and the request); -1: take the general path.
        context = chid.context
        group = context.io_group or context.make_io_group()
        buf = _new(PLAIN_PTR)
        request = _new(_REQUEST_PTR)
        code = _get_plain(ptr, buf, group._ptr, request)
        if code >= 0:
            member, value_class = PLAIN_SCALARS[code & 15]
            status = code >> 4
            if status == _NORMAL:
                group._requests.append((chid, request, buf))  # see Group.add
                return _ECA_NORMAL, value_class(member, buf, use_numpy)
            return eca_enum(status), value_class(member, buf, use_numpy)
    with_callback = callable(callback)
    try:
        chtype, count = _read_request(ptr, chtype, count, with_callback)
    except _Refused as exc:
        return exc.status, None
    channel = chid
    if with_callback:
        request = Request(channel, callback, use_numpy, True)
        status = lib.ca_array_get_callback(chtype, count, ptr, lib._caffi_request_cb,
                                           request.usr)
        if status != _NORMAL:
            request.cancel()
        return eca_enum(status), None
    cvalue, owner = allocate(chtype, count, use_numpy)
    context = channel.context
    group = context.io_group or context.make_io_group()
    status = group.get(channel, chtype, count, cvalue, _m.dbr_size_n(chtype, count))
    return eca_enum(status), DBRValue(dbr_enum(chtype), count, cvalue, use_numpy, owner)


def put(chid, value, chtype=None, count=None, callback=None):
    """Write a value (``ca_array_put`` / ``ca_array_put_callback``).

    Parameters
    ----------
    chid : chid
        Channel identifier.
    value : number, str, bytes, sequence or numpy array
        A str is sent as DBR_STRING to STRING and ENUM channels, as
        NUL-terminated bytes to CHAR channels and as a number otherwise.
    chtype : DBR or int or None
        Type of the written value; default the native type.
    count : int or None
        Element count; default (None, 0 or negative) the native count; a
        larger count is clamped to it, and the count is reduced to the length
        of *value*.
    callback : callable or None
        Called with ``{'chid', 'type', 'count', 'status'}`` when the put and
        all the processing it causes completed.

    Returns
    -------
    ECA
        NORMAL, BADCHID, BADTYPE, STRTOBIG, NOWTACCESS, DISCONN, ...
    """
    if type(value) is float and chtype is None and count is None \
            and type(chid) is Channel and chid.ptr is not None:
        # The common case, a float to a connected DOUBLE channel, in one C
        # call (state and type checks with the put); -1: the general path.
        if callable(callback):
            request = Request(chid, callback, False, False)
            status = _put_double(chid.ptr, value, _REQUEST_CB, request.usr)
            if status >= 0:
                if status != _NORMAL:
                    request.cancel()
                return eca_enum(status)
            request.cancel()
        else:
            status = _put_double(chid.ptr, value, _NULL, _NULL)
            if status >= 0:
                return eca_enum(status)
    try:
        channel = _live(chid)
        ptr = channel.ptr
        chtype, count, buf = _write_request(ptr, value, chtype, count)
    except _Refused as exc:
        return exc.status
    if not callable(callback):
        return eca_enum(lib.ca_array_put(chtype, count, ptr, buf))
    request = Request(channel, callback, False, False)
    status = lib.ca_array_put_callback(chtype, count, ptr, buf, lib._caffi_request_cb,
                                       request.usr)
    if status != _NORMAL:
        request.cancel()
    return eca_enum(status)


def create_subscription(chid, callback, chtype=None, count=None, mask=None, use_numpy=False):
    """Subscribe to changes (``ca_create_subscription``).

    Parameters
    ----------
    chid : chid
        Channel identifier; it may be disconnected.
    callback : callable
        Called with ``{'chid', 'type', 'count', 'status', 'value'}`` for the
        current state and each change.
    chtype : DBR or int or None
        Requested type; default the native type.
    count : int or None
        Element count; default the native count, 0 for the server's current
        length; a larger count is clamped to the native count (of a connected
        channel).
    mask : DBE or int or None
        Trigger mask; default ``DBE.VALUE | DBE.ALARM``.
    use_numpy : bool
        Numeric arrays as numpy arrays.

    Returns
    -------
    (ECA, evid or None)
    """
    try:
        channel = _live(chid)
    except _Refused as exc:
        return exc.status, None
    if not callable(callback):
        return ECA.BADFUNCPTR, None
    ptr = channel.ptr
    connected = lib.ca_state(ptr) == _CS_CONN
    if chtype is None:
        if not connected:
            return ECA.BADTYPE, None
        chtype = lib.ca_field_type(ptr)
    else:
        chtype = _dbr_type(chtype)
    if chtype not in CONVERTERS:
        return ECA.BADTYPE, None
    native = lib.ca_element_count(ptr)
    count = native if count is None else _integer(count, "count")
    if count < 0 or (connected and count > native):
        count = native  # a larger count is clamped, as caffi 1.0.4 did
    mask = _m.DBE_VALUE | _m.DBE_ALARM if mask is None else _integer(mask, "mask")
    subscription = Subscription(channel, callback, use_numpy)
    pevid = ffi.new("evid *")
    status = lib.ca_create_subscription(chtype, count, ptr, mask, lib._caffi_event_cb,
                                        subscription.usr, pevid)
    if status != _NORMAL:
        subscription.invalidate()
        return eca_enum(status), None
    subscription.ptr = pevid[0]
    channel.subscriptions.add(subscription)
    return ECA.NORMAL, subscription


def clear_subscription(evid):
    """Cancel a subscription (``ca_clear_subscription``).

    Returns
    -------
    ECA
        NORMAL, or BADMONID for a cleared or foreign identifier.
    """
    if type(evid) is not Subscription or evid.ptr is None:
        return ECA.BADMONID
    ptr = evid.ptr
    evid.ptr = None
    status = lib.ca_clear_subscription(ptr)
    evid.invalidate()
    return eca_enum(status)


# Execution ---------------------------------------------------------------------
def pend_event(timeout):
    """Process CA activity for *timeout* seconds, 0 for ever (``ca_pend_event``).

    Returns ``ECA.TIMEOUT`` on success, as in C.  Ctrl-C interrupts it
    (KeyboardInterrupt), as every blocking call of this module.
    """
    timeout = _timeout(timeout)
    context = current()
    if context is None:
        return eca_enum(_wait.pend_event(timeout))
    if not context.enter_wait():
        return ECA.NOCACTX
    status = None
    try:
        status = _wait.pend_event(timeout, context)
    finally:
        context.leave_wait(status)
    return eca_enum(status)


def poll():
    """Flush and process outstanding CA activity without blocking (``ca_poll``)."""
    current()  # forgets a destroyed context
    return eca_enum(lib.ca_poll())


def _pend_for_io(finish, timeout):
    """Wait as ca_pend_io (or ca_pend early), *finish* being that libca function.

    The gets of the context's pend_io group are forgotten when it returns
    (their buffers may go: a late reply writes nowhere); an interrupted
    (KeyboardInterrupt) or refused (EVDISALLOW) wait keeps them.
    """
    timeout = _timeout(timeout)
    context = current()
    if context is None:
        return eca_enum(_wait.pend_io(timeout, None, finish)[0])
    if not context.enter_wait():
        return ECA.NOCACTX
    status = None
    try:
        status, failures = _wait.pend_io(timeout, context.io_group, finish, context)
    finally:
        context.leave_wait(status)
    if failures:
        _sg.report_failures(context, failures)
    return eca_enum(status)


def pend_io(timeout):
    """Flush and wait for gets without callback and first connections (``ca_pend_io``).

    0 waits for ever, as in C.

    Returns
    -------
    ECA
        NORMAL, TIMEOUT or EVDISALLOW.
    """
    return _pend_for_io(lib.ca_pend_io, timeout)


def pend(timeout, early):
    """:func:`pend_io` if *early* else :func:`pend_event` (``ca_pend``)."""
    if early:
        return _pend_for_io(lambda t: lib.ca_pend(t, 1), timeout)
    return pend_event(timeout)


def test_io():
    """Whether the gets and connections :func:`pend_io` waits for are done (``ca_test_io``).

    Returns ``ECA.IODONE`` or ``ECA.IOINPROGRESS``.
    """
    context = current()
    group = context.io_group if context is not None else None
    if group is not None and group.test() != lib.ECA_IODONE:
        return ECA.IOINPROGRESS
    return eca_enum(lib.ca_test_io())


def flush_io():
    """Send buffered requests to the servers (``ca_flush_io``)."""
    current()  # forgets a destroyed context
    return eca_enum(lib.ca_flush_io())


# Information -------------------------------------------------------------------
def field_type(chid):
    """Native type of the channel, a :class:`DBF` (``INVALID`` while disconnected)."""
    code = lib.ca_field_type(_info_channel(chid))
    return _DBF_BY_VALUE.get(code, code)


def element_count(chid):
    """Native element count of the channel (0 while never connected)."""
    return lib.ca_element_count(_info_channel(chid))


def name(chid):
    """The name the channel was created with."""
    _info_channel(chid)
    return chid.name


def state(chid):
    """Connection state, a :class:`ChannelState`.

    ``CLOSED`` for a cleared channel, ``NEVER_SEARCH`` for None.
    """
    if chid is None:
        return ChannelState.NEVER_SEARCH
    if type(chid) is not Channel:
        raise TypeError("expected a channel identifier from create_channel(), got %r"
                        % (chid,))
    if chid.ptr is None:
        return ChannelState.CLOSED
    code = lib.ca_state(chid.ptr)
    return _STATE_BY_VALUE.get(code, code)


def message(status):
    """The text of a CA status code (``ca_message``)."""
    return decode_text(ffi.string(lib.ca_message(_integer(status, "status"))))


def host_name(chid):
    """``host:port`` of the server the channel is connected to (``ca_get_host_name``)."""
    ptr = _info_channel(chid)
    buf = ffi.new("char[]", 256)
    lib.ca_get_host_name(ptr, buf, 256)
    return decode_text(ffi.string(buf))


def read_access(chid):
    """True if the client may read the channel."""
    return lib.ca_read_access(_info_channel(chid)) == 1


def write_access(chid):
    """True if the client may write the channel."""
    return lib.ca_write_access(_info_channel(chid)) == 1


def version():
    """The CA protocol version string (``ca_version``)."""
    return decode_text(ffi.string(lib.ca_version()))


def search_attempts(chid):
    """Search requests sent for the channel so far (``ca_search_attempts``)."""
    return lib.ca_search_attempts(_info_channel(chid))


def beacon_period(chid):
    """Seconds between the beacons of the channel's server, measured; -1 if
    unknown (``ca_beacon_period``)."""
    return lib.ca_beacon_period(_info_channel(chid))


def receive_watchdog_delay(chid):
    """Seconds since the channel's circuit last received something
    (``ca_receive_watchdog_delay``)."""
    return lib.ca_receive_watchdog_delay(_info_channel(chid))


def get_ioc_connection_count():
    """Number of servers (IOCs) the calling thread's context is connected to
    (``ca_get_ioc_connection_count``)."""
    current()  # forgets a destroyed context
    return lib.ca_get_ioc_connection_count()


def beacon_anomaly_count():
    """Beacon anomalies seen since the program started (``ca_beacon_anomaly_count``)."""
    current()  # forgets a destroyed context
    return lib.ca_beacon_anomaly_count()


# Synchronous groups ------------------------------------------------------------
# caffi keeps the groups itself (see caffi._sg): libca's ca_sg_test can
# deadlock against libca's own threads, and ca_sg_block ignores Ctrl-C.
def sg_create():
    """Create a synchronous group (``ca_sg_create``); return ``(ECA, gid or None)``."""
    context = current()
    if context is None:
        lib.ca_poll()  # a thread's first CA call creates its context, as in C
        context = current()
        if context is None:
            return ECA.NOCACTX, None
    try:
        group = _sg.Group()
    except MemoryError:
        return ECA.ALLOCMEM, None
    context.groups[group.gid] = group
    return ECA.NORMAL, group.gid


def sg_delete(gid):
    """Delete a synchronous group (``ca_sg_delete``): NORMAL or BADSYNCGRP."""
    try:
        gid, group = _sync_group(gid)
    except _Refused as exc:
        return exc.status
    context = current()
    del context.groups[gid]
    _sg.report_failures(context, group.free())
    return ECA.NORMAL


def sg_get(gid, chid, chtype=None, count=None, use_numpy=False):
    """Read a value within a synchronous group (``ca_sg_array_get``).

    Returns
    -------
    (ECA, DBRValue or None)
        Read the value after :func:`sg_block` returned ``ECA.NORMAL``.
    """
    try:
        channel = _live(chid)
        gid, group = _sync_group(gid)
        chtype, count = _read_request(channel.ptr, chtype, count, False)
    except _Refused as exc:
        return exc.status, None
    cvalue, owner = allocate(chtype, count, use_numpy)
    status = group.get(channel, chtype, count, cvalue, _m.dbr_size_n(chtype, count))
    if status != _NORMAL:
        return eca_enum(status), None
    return ECA.NORMAL, DBRValue(dbr_enum(chtype), count, cvalue, use_numpy, owner)


def sg_put(gid, chid, value, chtype=None, count=None):
    """Write a value within a synchronous group (``ca_sg_array_put``)."""
    try:
        channel = _live(chid)
        gid, group = _sync_group(gid)
        chtype, count, buf = _write_request(channel.ptr, value, chtype, count)
    except _Refused as exc:
        return exc.status
    return eca_enum(group.put(channel, chtype, count, buf))


def sg_block(gid, timeout):
    """Flush and wait for the group's requests, then reset it (``ca_sg_block``).

    A *timeout* of 0 or less does not wait.  Ctrl-C interrupts the wait
    (KeyboardInterrupt; the requests stay in the group).

    Returns
    -------
    ECA
        NORMAL, TIMEOUT, EVDISALLOW (inside a callback) or BADSYNCGRP.
    """
    try:
        gid, group = _sync_group(gid)
    except _Refused as exc:
        return exc.status
    timeout = _timeout(timeout)
    context = current()
    if not context.enter_wait():
        return ECA.NOCACTX
    status = None
    try:
        status = lib.ca_poll()  # flushes; EVDISALLOW inside a callback, as ca_sg_block
        if status == _TIMEOUT and timeout >= 0:
            status = group.wait(timeout, context)
            if status in (lib.ECA_IODONE, _TIMEOUT):
                status = _NORMAL if status == lib.ECA_IODONE else _TIMEOUT
    finally:
        context.leave_wait(status)
    if status != lib.ECA_NOCACTX:
        _sg.report_failures(context, group.reset())
    return eca_enum(status)


def sg_test(gid):
    """``ECA.IODONE`` if the group's requests completed, else ``ECA.IOINPROGRESS``."""
    try:
        gid, group = _sync_group(gid)
    except _Refused as exc:
        return exc.status
    return eca_enum(group.test())


def sg_reset(gid):
    """Forget the group's outstanding requests (``ca_sg_reset``)."""
    try:
        gid, group = _sync_group(gid)
    except _Refused as exc:
        return exc.status
    _sg.report_failures(current(), group.reset())
    return ECA.NORMAL


# What dir() and tab completion show: the API, the C macro names and what
# caffi 1.0.4's module showed; the helpers imported above stay reachable but
# out of sight.
_SHOWN = frozenset(__all__) | frozenset(_m.__all__) | frozenset((
    "AlarmCondition", "AlarmSeverity", "CA_K", "CA_OP", "CA_PRIORITY", "ChannelState", "DBE",
    "DBF", "DBR", "DBRValue", "DBR_TYPE_STRING", "ECA", "basestring", "ffi", "format_dbr",
    "libca", "numbers", "to_bytes", "to_string", "signal"))


def __dir__():
    return sorted(_SHOWN)


@atexit.register
def _shutdown():
    # Interpreter exit: no user callback may run from libca's threads while
    # Python finalizes, and the main thread's context is released in order.
    clear_registry()
    if current() is not None:
        destroy_context()

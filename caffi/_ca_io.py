"""Reads, writes and subscriptions of :mod:`caffi.ca` (``ca_array_get``,
``ca_array_put``, their ``_callback`` forms, ``ca_create_subscription``).

:func:`get` and :func:`put` are the hot paths: what they use per call is bound
in this module's globals.
"""
from . import _sg
from . import macros as _m
from ._ca_checks import _Refused, _dbr_type, _integer, _live, _read_request, _write_request
from ._ffi import ffi, lib
from ._ids import Channel, Request, Subscription
from .constants import ECA
from .dbr import (CONVERTERS, PLAIN_PTR, PLAIN_SCALARS, DBRValue, allocate, dbr_enum,
                  eca_enum)

_NORMAL = lib.ECA_NORMAL
_ECA_NORMAL = ECA.NORMAL
_CS_CONN = lib.cs_conn
_new = ffi.new
_NULL = ffi.NULL
_get_plain = lib.caffi_get_plain
_REQUEST_PTR = _sg.REQUEST_PTR
_put_double = lib.caffi_put_double
_REQUEST_CB = lib._caffi_request_cb


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

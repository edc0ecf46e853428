"""Channels of :mod:`caffi.ca`: creating and clearing them, their connection and
access rights callbacks, and the information functions (``ca_field_type``,
``ca_state``, ``ca_host_name``, ...).
"""
from . import macros as _m
from ._ca_checks import _Refused, _info_channel, _integer, _live
from ._ffi import ffi, lib
from ._ids import Channel, current
from .constants import CA_PRIORITY, ECA, ChannelState
from .dbr import DBF, decode_text, eca_enum

_NORMAL = lib.ECA_NORMAL
_DBF_BY_VALUE = {member.value: member for member in DBF}
_STATE_BY_VALUE = {member.value: member for member in ChannelState}


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
    return _replace_callback(chid, callback, "connection_callback",
                             lib.ca_change_connection_event, lib._caffi_connection_cb)


def replace_access_rights_event(chid, callback=None):
    """Install or remove an access rights callback (``ca_replace_access_rights_event``).

    The callback receives ``{'chid', 'read_access', 'write_access'}``; it is
    called once at once if the channel is connected.
    """
    return _replace_callback(chid, callback, "access_rights_callback",
                             lib.ca_replace_access_rights_event, lib._caffi_access_rights_cb)


def _replace_callback(chid, callback, attr, install, trampoline):
    """Keep ``callback`` (None unless callable) as the channel's ``attr`` and
    install libca's ``trampoline`` for it, or none, with ``install``."""
    try:
        channel = _live(chid)
    except _Refused as exc:
        return exc.status
    callback = callback if callable(callback) else None
    setattr(channel, attr, callback)
    return eca_enum(install(channel.ptr, trampoline if callback is not None else ffi.NULL))


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

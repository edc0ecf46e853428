"""Argument checks shared by the ``ca_*`` wrappers of :mod:`caffi.ca`.

Each check returns the checked value or raises :class:`_Refused` carrying the
``ECA`` status the wrapper returns (TypeError/ValueError for what is not a
status in C).
"""
import numbers

from ._ffi import ffi, lib
from ._ids import Channel, Context, current
from .constants import ECA
from .dbr import CONVERTERS, PutRefused, prepare_put

_CS_CONN = lib.cs_conn


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

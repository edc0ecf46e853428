"""Synchronous groups of :mod:`caffi.ca` (``ca_sg_*``).

caffi keeps the groups itself (see :mod:`caffi._sg`): libca's ``ca_sg_test``
can deadlock against libca's own threads, and ``ca_sg_block`` ignores Ctrl-C.
"""
from . import _sg
from . import macros as _m
from ._ca_checks import _Refused, _live, _read_request, _sync_group, _timeout, _write_request
from ._ffi import lib
from ._ids import current
from .constants import ECA
from .dbr import DBRValue, allocate, dbr_enum, eca_enum

_NORMAL = lib.ECA_NORMAL
_TIMEOUT = lib.ECA_TIMEOUT


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

"""Synchronous groups (``ca_sg_*``) and pend_io's gets, kept by caffi.

Theory of operation
-------------------
libca's own groups cannot be used safely: ``ca_sg_test`` locks the context
mutex before the callback mutex, the reverse of libca's receive threads, so a
test while replies arrive deadlocks (with libca's priority-inheriting mutexes
the C library aborts the process); and ``ca_sg_block`` waits on a condition
variable that Ctrl-C does not interrupt.

A :class:`Group` issues each request as ``ca_array_get_callback`` or
``ca_array_put_callback`` with a C completion function (``caffi_group_done``,
no Python on that path) that copies a read value into its buffer and counts
the group down; a waiter wakes when the count reaches zero.  As in libca, a
request that fails (its completion carries an error status) is reported to
the context's exception handler and stays pending, so ``sg_block`` times out;
and a group is reset (its requests forgotten) when ``sg_block`` returns,
whatever it returns.

Each context also has one group for the gets without callback that
``pend_io`` waits for (besides the first connections libca counts), so that
``pend_io`` wakes as soon as the last reply came and a late reply after a
timeout writes nowhere.

Lifetimes: a request record (``struct caffi_request``) is Python memory.  A
forgotten request that may still complete stays alive with its channel (in
``Channel.late_requests``) until the channel is cleared, because libca may still
call back with it; its completion then copies and counts nothing, so read
buffers can go at once.  The C group (event and counter) is freed by
:meth:`Group.free` after every request was forgotten.
"""
import itertools
import threading

from ._callbacks import logger, report_error
from ._ffi import ffi, lib
from ._wait import SLICE
from .constants import CA_OP, ECA

__all__ = ["Group", "REQUEST_PTR", "report_failures"]

if lib.caffi_groups_init() != 0:  # pragma: no cover - out of memory at import
    raise MemoryError("cannot create the lock of caffi's synchronous groups")

_gids = itertools.count(1)
REQUEST_PTR = ffi.typeof("struct caffi_request *")
_new = ffi.new
_NORMAL = lib.ECA_NORMAL
_IODONE = lib.ECA_IODONE
_BADSYNCGRP = lib.ECA_BADSYNCGRP
_now = lib.caffi_monotonic
#: A channel's list of forgotten requests is pruned of completed ones when it
#: grows past this many.
_PRUNE_AT = 64


class Group(object):
    """One synchronous group of a context (what ``sg_create`` makes).

    Any thread may use it; :meth:`free` while another thread waits on it
    ends that wait (``ECA_BADSYNCGRP``) and releases the C group after it.
    """

    __slots__ = ("gid", "_ptr", "_requests", "_lock", "_waiters", "_dead")

    def __init__(self):
        self._ptr = lib.caffi_group_new()
        if self._ptr == ffi.NULL:
            raise MemoryError("cannot create a synchronous group")
        self.gid = next(_gids)
        # (channel, record, buffer or None) issued since the last reset
        self._requests = []
        self._lock = threading.Lock()
        self._waiters = 0
        self._dead = False

    def get(self, channel, chtype, count, cvalue, size):
        """Issue a read of *count* elements of *chtype* into *cvalue* (*size* bytes)."""
        request = _new(REQUEST_PTR)
        with self._lock:
            if self._dead:
                return _BADSYNCGRP
            status = lib.caffi_group_get(self._ptr, request, chtype, count, channel.ptr,
                                         cvalue, size)
            if status == _NORMAL:
                self._requests.append((channel, request, cvalue))
        return status

    def put(self, channel, chtype, count, buf):
        """Issue a write (libca copies *buf* during the call)."""
        request = _new(REQUEST_PTR)
        with self._lock:
            if self._dead:
                return _BADSYNCGRP
            status = lib.caffi_group_put(self._ptr, request, chtype, count, channel.ptr,
                                         buf)
            if status == _NORMAL:
                self._requests.append((channel, request, None))
        return status

    def add(self, channel, request, buf):
        """Remember a request issued by C code (``caffi_get_plain``).

        Appending needs no lock: the methods that take requests out work on
        the first ``len()`` entries, in place, under the lock.
        """
        self._requests.append((channel, request, buf))

    def test(self):
        """``ECA_IODONE`` if every request completed, else ``ECA_IOINPROGRESS``."""
        with self._lock:
            if self._dead:
                return _BADSYNCGRP
            pending = lib.caffi_group_pending(self._ptr)
        return _IODONE if pending == 0 else lib.ECA_IOINPROGRESS

    def wait(self, timeout, context=None):
        """Wait up to *timeout* seconds (0 or less: no wait) for the requests.

        Returns ``ECA_IODONE``, ``ECA_TIMEOUT``, ``ECA_NOCACTX`` or
        ``ECA_BADSYNCGRP`` (see :meth:`wait_until`).
        """
        started = _now()
        return self.wait_until(started, started + timeout if timeout > 0 else started,
                               context)

    def wait_until(self, started, deadline, context=None):
        """Wait until the requests completed (``ECA_IODONE``) or the monotonic
        time *deadline* (``ECA_TIMEOUT``); *started* is when the wait began.

        Signal handlers run at least every :data:`~caffi._wait.SLICE` seconds
        (a KeyboardInterrupt leaves the requests pending).  ``ECA_NOCACTX``
        when another thread destroys *context* meanwhile, ``ECA_BADSYNCGRP``
        when another thread deletes the group.
        """
        with self._lock:
            if self._dead:
                return _BADSYNCGRP
            if lib.caffi_group_pending(self._ptr) == 0:
                return _IODONE
            self._waiters += 1
        try:
            while True:
                status = lib.caffi_group_wait(self._ptr, started, deadline, _now() + SLICE)
                if self._dead:
                    return _BADSYNCGRP
                if status != -1:
                    return status
                if context is not None and context.closing:
                    return lib.ECA_NOCACTX
        finally:
            with self._lock:
                self._waiters -= 1
                if self._dead and not self._waiters:
                    self._release()

    def reset(self):
        """Forget every request (their completions copy and count nothing).

        Returns
        -------
        list of (channel, status, op)
            The requests that had completed with an error status.
        """
        with self._lock:
            return self._reset()

    def forget_completed(self):
        """Forget the completed requests only; the others stay pending (they
        were issued by other threads after a wait saw the group complete)."""
        with self._lock:
            requests = self._requests
            n = len(requests)  # issued (counted in C) before this point
            if lib.caffi_group_pending(self._ptr) == 0:
                # Nothing counted is pending, and a failed request would be.
                del requests[:n]
            else:
                requests[:n] = [entry for entry in requests[:n]
                                if not lib.caffi_request_done(entry[1])]

    def free(self):
        """Reset and delete the group (released once no thread waits on it)."""
        with self._lock:
            if self._dead:
                return []
            self._dead = True
            failed = self._reset()
            if not self._waiters:
                self._release()
        return failed

    def _reset(self):
        n = len(self._requests)
        requests = self._requests[:n]
        del self._requests[:n]
        failed = []
        for channel, request, buf in requests:
            if lib.caffi_request_abandon(request):
                if request.status != _NORMAL:
                    failed.append((channel, request.status,
                                   CA_OP.GET if buf is not None else CA_OP.PUT))
            elif channel.ptr is not None:
                _keep_until_cleared(channel, request)
        return failed

    def _release(self):
        if self._ptr is not None:
            lib.caffi_group_free(self._ptr)
            self._ptr = None


def _keep_until_cleared(channel, request):
    late = channel.late_requests
    if len(late) >= _PRUNE_AT:
        late[:] = [r for r in late if not lib.caffi_request_done(r)]
    late.append(request)


def report_failures(context, failures):
    """Give failed requests to the context's exception handler, as libca does.

    Without a handler installed with ``add_exception_event`` they are logged
    on the ``caffi`` logger with the PV name.
    """
    handler = context.exception_handler if context is not None else None
    for channel, status, op in failures:
        stat = ECA(status) if status in _ECA_VALUES else status
        if handler is None:
            logger.warning("CA exception: %s: %s (synchronous group %s)", channel.name,
                           stat.message() if isinstance(stat, ECA) else stat, op.name)
            continue
        try:
            handler.callback({"chid": channel, "type": None, "count": 0, "addr": None,
                              "stat": stat, "op": op, "ctx": "synchronous group request",
                              "file": "", "lineNo": 0})
        except BaseException:
            report_error("exception", handler.callback)


_ECA_VALUES = frozenset(member.value for member in ECA)

"""The blocking libca calls, made so that Ctrl-C interrupts them.

Theory of operation
-------------------
``ca_pend_io``, ``ca_pend_event`` and ``ca_sg_block`` wait on condition
variables that no signal interrupts: Python runs its SIGINT handler (which
raises :class:`KeyboardInterrupt`) only when they return, which for
``pend_event(0)`` is never.  Nor can they be cut into short calls:
``ca_pend_io`` and ``ca_sg_block`` abandon the requests still outstanding
when they return.

So caffi waits in C helpers that return to Python when the work is done, the
timeout passed, a signal handler ran, or at the latest after :data:`SLICE`
seconds; Python then runs its signal handlers (a KeyboardInterrupt is raised
there) and otherwise calls the helper again.

- ``pend_event`` sleeps with ``nanosleep`` (which a signal handler
  interrupts) after one ``ca_poll``, as ``ca_pend_event`` does for a
  preemptive context; a non-preemptive context sleeps in ``ca_pend_event``.
- The gets without callback that ``pend_io`` waits for, and the requests of
  ``sg_*`` groups, are caffi's own (:mod:`caffi._sg`): their waits wake on
  the last reply.
- The first connections of channels made without callback are counted by
  libca: ``caffi_wait_io`` polls ``ca_test_io`` at an interval that grows
  with the time waited (10 us to 1 ms).  Then ``ca_pend_io`` itself is called
  once: it returns at once, with libca's status and side effects.

An interrupted wait abandons nothing: its requests stay outstanding, and the
next call waits for them as it would have.
"""
from ._ffi import lib

__all__ = ["pend_io", "pend_event", "SLICE"]

#: Longest time (seconds) a wait stays in C without looking at signals.
SLICE = 0.05
#: A timeout too short for libca to wait at all (CAC_SIGNIFICANT_DELAY is 1 us).
_NO_WAIT = 1e-9
_INF = float("inf")
_now = lib.caffi_monotonic
_wait_io = lib.caffi_wait_io
_wait_events = lib.caffi_wait_events
_poll = lib.ca_poll
_IODONE = lib.ECA_IODONE
_TIMEOUT = lib.ECA_TIMEOUT
_NOCACTX = lib.ECA_NOCACTX


def _deadline(start, timeout):
    if timeout != timeout:
        raise ValueError("timeout must not be NaN")
    return start + timeout if timeout > 0 else _INF


def pend_io(timeout, group, finish=lib.ca_pend_io, context=None):
    """Wait as ``ca_pend_io(timeout)`` (or *finish*, e.g. ``ca_pend(t, 1)``).

    *group* (a :class:`caffi._sg.Group` or None) holds the context's gets
    without callback; libca counts the first connections.  0 waits for ever,
    as in C.  Raises what a signal handler raises (the requests stay pending).
    Returns ``ECA_NOCACTX`` at once, touching libca no more, when another
    thread destroys *context* meanwhile.

    Returns
    -------
    (int, list)
        The C status, and the failed gets (see ``Group.reset``).
    """
    if timeout >= 0:
        status = _poll()  # flushes; EVDISALLOW inside a callback, as ca_pend_io
        if status != _TIMEOUT:
            return status, []
        started = _now()
        deadline = _deadline(started, timeout)
        status = _IODONE if group is None else group.wait_until(started, deadline, context)
        if status == _NOCACTX:
            return status, []
        done = status == _IODONE
        while done:
            status = _wait_io(started, deadline, _now() + SLICE)
            if status != -1:
                done = status == _IODONE
                break
            if context is not None and context.closing:
                return _NOCACTX, []
        left = deadline - _now()
        if not done:
            timeout = _NO_WAIT
        elif left == _INF:
            timeout = 0.0
        else:
            timeout = max(left, _NO_WAIT)
    # libca's own wait returns at once now, abandons the connections it still
    # counts (if any) and has the last word on the status.
    status = finish(timeout)
    if group is None:
        return status, []
    if done:
        # Complete when the wait ended; gets other threads issued since stay
        # for the next pend_io (libca would no longer count them, but still
        # write them).
        group.forget_completed()
        return status, []
    return _TIMEOUT, group.reset()


def pend_event(timeout, context=None):
    """``ca_pend_event(timeout)`` as a C int status: 0 waits for ever, as in C.

    ``ECA_NOCACTX`` when another thread destroys *context* meanwhile.
    """
    if timeout < 0:
        return lib.ca_pend_event(timeout)
    status = _poll()
    if status != _TIMEOUT:
        return status
    deadline = _deadline(_now(), timeout)
    while _wait_events(deadline, _now() + SLICE) != _TIMEOUT:
        if context is not None and context.closing:
            return _NOCACTX
    return _TIMEOUT

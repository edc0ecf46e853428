"""Contexts and waits of :mod:`caffi.ca`: ``ca_context_*``, ``ca_attach_context``,
``ca_add_exception_event``, ``ca_pend_*``, ``ca_poll``, ``ca_test_io``, ``ca_flush_io``.
"""
import threading

from . import _sg, _wait
from ._ca_checks import _Refused, _context, _integer, _timeout
from ._callbacks import in_callback, logger, unregister
from ._ffi import ffi, lib
from ._ids import ExceptionHandler, current
from .constants import ECA
from .dbr import eca_enum

_NORMAL = lib.ECA_NORMAL


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

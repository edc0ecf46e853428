"""The handle registry and every ``extern "Python"`` trampoline libca calls.

Theory of operation
-------------------
libca hands back a ``void *`` user argument with each callback.  caffi never
passes it a Python object address (``ffi.new_handle``): it passes a small
integer key, and the registry maps live keys to Python objects.  Keys are never
reused, so a late or unexpected callback finds nothing and is ignored instead
of dereferencing a dead object.

Lifetimes: a channel's key lives from ``ca_create_channel`` to
``ca_clear_channel`` (or context destruction); a subscription's until
``ca_clear_subscription``; a get/put callback's until libca calls it once, or
its channel is cleared; an exception handler's until it is replaced or its
context destroyed.  libca's clear functions wait for a callback that is in
progress, so after they return no callback for that key can start.

Callbacks run on libca's threads (preemptive contexts) or inside pend calls.
A user callback that raises is logged on the ``caffi`` logger; the exception
never reaches libca.
"""
import itertools
import logging
import sys

from ._ffi import ffi, lib

__all__ = ["register", "unregister", "clear_registry", "lookup", "registry_counts",
           "call_user", "in_callback"]

logger = logging.getLogger("caffi")

_registry = {}
_keys = itertools.count(1)


def in_callback():
    """True inside a callback, in whatever thread (libca may also call one
    synchronously, from inside a caffi call of the user's thread).

    Found on the Python stack (a trampoline's frame), so that the callbacks
    themselves pay nothing for it.
    """
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code in _TRAMPOLINES:
            return True
        frame = frame.f_back
    return False


def register(obj):
    """Register *obj*; return the ``void *`` to give libca as its user argument.

    The cdata pointer is the registry key: cffi pointers hash and compare by
    address, so the pointer libca hands back finds the entry without a cast.
    """
    usr = ffi.cast("void *", next(_keys))
    _registry[usr] = obj
    return usr


def unregister(usr):
    """Forget *usr*; a callback carrying it afterwards is ignored."""
    _registry.pop(usr, None)


def clear_registry():
    """Forget every key: later callbacks are ignored (used at interpreter exit)."""
    _registry.clear()


#: The live object registered under the ``void *`` *usr*, or None.
lookup = _registry.get


def registry_counts():
    """Number of live registered objects by kind (for leak checks).

    Returns
    -------
    dict
        Keys ``channels``, ``subscriptions``, ``callbacks`` (get/put callbacks
        not yet called) and ``exception_handlers``.
    """
    counts = {"channels": 0, "subscriptions": 0, "callbacks": 0, "exception_handlers": 0}
    for obj in list(_registry.values()):
        counts[obj.registry_kind] += 1
    return counts


def report_error(what, func):
    """Log the exception being handled, raised by user callback *func*."""
    logger.exception("exception in caffi %s callback %r", what, func)


def _onerror(exc_type, exc_value, tb):
    # Last resort: an error in caffi's own trampoline code.
    logger.error("internal error in a caffi callback", exc_info=(exc_type, exc_value, tb))


@ffi.def_extern(onerror=_onerror)
def _caffi_connection_cb(args):
    channel = lookup(lib.ca_puser(args.chid))
    if channel is not None:
        channel.on_connection(args.op)


@ffi.def_extern(onerror=_onerror)
def _caffi_access_rights_cb(args):
    channel = lookup(lib.ca_puser(args.chid))
    if channel is not None:
        channel.on_access_rights(bool(args.ar.read_access), bool(args.ar.write_access))


@ffi.def_extern(onerror=_onerror)
def _caffi_event_cb(args):
    subscription = lookup(args.usr)
    if subscription is not None:
        subscription.on_event(args)


@ffi.def_extern(onerror=_onerror)
def _caffi_request_cb(args):
    # Completion of a get or put with callback: called once per request.
    request = lookup(args.usr)
    if request is not None:
        request.on_done(args)


@ffi.def_extern(onerror=_onerror)
def _caffi_exception_cb(args):
    handler = lookup(args.usr)
    if handler is not None:
        handler.on_exception(args)


def _text(ptr):
    return ffi.string(ptr).decode("utf-8", "replace") if ptr != ffi.NULL else ""


@ffi.def_extern(onerror=_onerror)
def _caffi_default_exception_cb(args):
    # Every context caffi sees gets this handler instead of libca's, which
    # prints to stderr (in the middle of an interactive prompt) and aborts
    # the program for an error status: the exception is logged on the
    # ``caffi`` logger with the PV name.
    name = ""
    if args.chid != ffi.NULL:
        channel = lookup(lib.ca_puser(args.chid))
        name = channel.name if hasattr(channel, "name") else _text(lib.ca_name(args.chid))
    status = args.stat
    severity = status & 7  # CA_EXTRACT_MSG_SEVERITY
    level = logging.WARNING if severity in (lib.CA_K_WARNING, lib.CA_K_INFO) else logging.ERROR
    detail = []
    if args.op != lib.CA_OP_OTHER:
        detail.append("op %s" % {lib.CA_OP_GET: "get", lib.CA_OP_PUT: "put",
                                 lib.CA_OP_CREATE_CHANNEL: "create channel",
                                 lib.CA_OP_ADD_EVENT: "subscribe",
                                 lib.CA_OP_CLEAR_EVENT: "unsubscribe"}.get(args.op, args.op))
    if args.chid != ffi.NULL and 0 <= args.type <= lib.LAST_BUFFER_TYPE:
        detail.append("%s, count %d" % (_text(lib.dbr_text[args.type]), args.count))
    context = _text(args.ctx)
    if context:
        detail.append(context)
    logger.log(level, "CA exception%s: %s%s", " for %s" % name if name else "",
               _text(lib.ca_message(status)), " (%s)" % "; ".join(detail) if detail else "")


def call_user(what, func, arg):
    """Call a user callback with *arg*, logging what it raises."""
    try:
        func(arg)
    except BaseException:
        report_error(what, func)


_TRAMPOLINES = frozenset(function.__code__ for function in (
    _caffi_connection_cb, _caffi_access_rights_cb, _caffi_event_cb, _caffi_request_cb,
    _caffi_exception_cb, _caffi_default_exception_cb))

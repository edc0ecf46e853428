"""The opaque identifiers caffi hands out: contexts, channels, subscriptions.

Each wraps the libca pointer and knows whether it is still alive.  Clearing a
channel or destroying a context sets the pointer to None, so a stale
identifier is refused in Python and never reaches libca, even if libca later
reuses the same address for a new object.  The objects compare by identity,
and callbacks deliver the very object that ``create_channel`` returned.
"""
import threading
import time

from ._callbacks import call_user, lookup, register, report_error, unregister
from ._ffi import ffi, lib
from .constants import CA_OP, ECA
from .dbr import CONVERTERS, SCALAR_POINTERS, dbr_enum, eca_enum, decode_text

__all__ = ["Context", "Channel", "Subscription", "Request", "ExceptionHandler",
           "current", "NORMAL"]

NORMAL = lib.ECA_NORMAL
_NOCACTX = lib.ECA_NOCACTX
_ECA_NORMAL = ECA.NORMAL
_CA_OP = {member.value: member for member in CA_OP}
_NULL = ffi.NULL
_cast = ffi.cast

# live ca_client_context pointer -> Context (cffi pointers hash and compare by
# address)
_contexts = {}
# thread ident -> pointer to the context it was attached to when another
# thread destroyed it: libca clears only the destroying thread's pointer.
_stale = {}
_get_ident = threading.get_ident


def _address(ptr):
    return int(ffi.cast("uintptr_t", ptr))


def current():
    """The calling thread's :class:`Context`, or None if it has none."""
    if _stale:
        _forget_stale()
    ptr = lib.ca_current_context()
    if ptr == _NULL:
        return None
    context = _contexts.get(ptr)
    if context is None:
        # Created here, or implicitly by libca on the first call of a thread.
        new = Context(ptr)
        context = _contexts.setdefault(ptr, new)
        if context is new:
            context.threads.add(_get_ident())
            # libca's own handler would print, and abort for an error.
            lib.ca_add_exception_event(lib._caffi_default_exception_cb, _NULL)
    return context


def _forget_stale():
    """Detach the calling thread from a context another thread destroyed."""
    stale = _stale.pop(_get_ident(), None)
    if stale is not None:
        ptr = lib.ca_current_context()
        if ptr == stale:
            lib.ca_detach_context()  # libca would use the freed memory


class Context(object):
    """A CA client context (what ``current_context()`` returns)."""

    __slots__ = ("_ptr", "channels", "io_group", "groups", "exception_handler",
                 "threads", "closing", "_waits", "_waits_lock", "_gone", "__weakref__")

    def __init__(self, ptr):
        self._ptr = ptr
        self.channels = set()
        # The gets without callback that pend_io waits for (a caffi._sg.Group,
        # made by the first one).
        self.io_group = None
        # gid -> its caffi._sg.Group
        self.groups = {}
        self.exception_handler = None
        # Idents of the threads caffi attached to it (created, attached, or
        # implicitly created in).
        self.threads = set()
        # Waits (pend_*, sg_block) of threads in this context, and whether
        # destroy_context asked them to end.
        self.closing = False
        self._waits = 0
        self._waits_lock = threading.Lock()
        self._gone = threading.Event()

    @property
    def alive(self):
        return self._ptr is not None

    def make_io_group(self):
        """The context's :attr:`io_group`, made if needed."""
        if self.io_group is None:
            from ._sg import Group
            self.io_group = Group()
        return self.io_group

    def enter_wait(self):
        """Count a wait of the calling thread; False if the context is closing."""
        with self._waits_lock:
            if self.closing:
                return False
            self._waits += 1
            return True

    def leave_wait(self, status=None):
        """End a wait; one that ended with ``ECA_NOCACTX`` (*status*) returns
        only once the context is destroyed and the thread detached from it."""
        with self._waits_lock:
            self._waits -= 1
        if status == _NOCACTX and self.closing:
            self._gone.wait(60)
            current()

    def end_waits(self):
        """Make the other threads' waits in this context end (they return
        ``ECA.NOCACTX`` within a slice of :mod:`caffi._wait`); wait for them."""
        with self._waits_lock:
            self.closing = True
        # (rare: a poll keeps the waits' own bookkeeping to one plain lock)
        while self._waits:
            time.sleep(0.001)

    def invalidate(self):
        """Forget everything after ``ca_context_destroy`` destroyed it in libca."""
        if self._ptr is None:
            return
        stale = self._ptr
        _contexts.pop(stale, None)
        me = _get_ident()
        for ident in self.threads:
            if ident != me:
                _stale[ident] = stale
        self.threads.clear()
        self._gone.set()
        self._ptr = None
        for channel in list(self.channels):
            channel.invalidate()
        self.channels.clear()
        groups = list(self.groups.values())
        if self.io_group is not None:
            groups.append(self.io_group)
            self.io_group = None
        self.groups.clear()
        for group in groups:
            group.free()  # libca calls back no more
        if self.exception_handler is not None:
            unregister(self.exception_handler.usr)
            self.exception_handler = None

    def __repr__(self):
        state = "0x%x" % _address(self._ptr) if self._ptr is not None else "destroyed"
        return "<caffi context %s>" % state


class Channel(object):
    """A channel identifier (``chid``) returned by ``create_channel``.

    ``ptr`` is the libca ``chid``, or None once cleared.
    """

    registry_kind = "channels"
    __slots__ = ("ptr", "usr", "_name", "context", "connection_callback",
                 "access_rights_callback", "subscriptions", "requests",
                 "late_requests", "__weakref__")

    def __init__(self, name, connection_callback):
        self.ptr = None
        self._name = name
        self.context = None
        self.connection_callback = connection_callback
        self.access_rights_callback = None
        self.subscriptions = set()
        self.requests = set()
        # Requests (caffi._sg) forgotten before they completed: libca may
        # still call back with them until the channel is cleared.
        self.late_requests = []
        self.usr = register(self)

    @property
    def name(self):
        return self._name

    def on_connection(self, op):
        callback = self.connection_callback
        if callback is not None:
            call_user("connection", callback, {"chid": self, "op": _CA_OP.get(op, op)})

    def on_access_rights(self, read_access, write_access):
        callback = self.access_rights_callback
        if callback is not None:
            call_user("access rights", callback, {"chid": self, "read_access": read_access,
                                                  "write_access": write_access})

    def invalidate(self):
        """Forget the channel after libca released it."""
        self.ptr = None
        unregister(self.usr)
        for subscription in list(self.subscriptions):
            subscription.invalidate()
        self.subscriptions.clear()
        for usr in list(self.requests):
            unregister(usr)
        self.requests.clear()
        self.late_requests = []
        if self.context is not None:
            self.context.channels.discard(self)

    def __repr__(self):
        state = "cleared" if self.ptr is None else "0x%x" % _address(self.ptr)
        return "<chid %r %s>" % (self._name, state)


class Subscription(object):
    """An event identifier (``evid``) returned by ``create_subscription``.

    ``ptr`` is the libca ``evid``, or None once cleared.
    """

    registry_kind = "subscriptions"
    __slots__ = ("ptr", "usr", "chid", "callback", "use_numpy", "_type",
                 "_type_member", "_read", "_scalar", "__weakref__")

    def __init__(self, channel, callback, use_numpy):
        self.ptr = None
        self._type = None
        self._type_member = None
        self._read = None
        self._scalar = None
        self.chid = channel
        self.callback = callback
        self.use_numpy = use_numpy
        self.usr = register(self)

    def _set_type(self, dbr_type):
        self._type = dbr_type
        self._type_member = dbr_enum(dbr_type)
        converter = CONVERTERS.get(dbr_type)
        self._read = converter.read if converter is not None else None
        self._scalar = SCALAR_POINTERS.get(dbr_type)

    def on_event(self, args):
        # The hot path of every monitor update: one converter look-up per
        # type change, one element of a plain numeric type read inline,
        # constants for the common status.
        status = args.status
        dbr_type = args.type
        if dbr_type != self._type:
            self._set_type(dbr_type)
        count = args.count
        if status == NORMAL:
            status = _ECA_NORMAL
            dbr = args.dbr
            if dbr == _NULL:
                value = None
            elif count == 1 and self._scalar is not None:
                value = _cast(self._scalar, dbr)[0]
            else:
                read = self._read
                value = read(dbr, count, self.use_numpy) if read is not None else None
        else:
            status = eca_enum(status)
            value = None
        try:
            self.callback({"chid": self.chid, "type": self._type_member, "count": count,
                           "status": status, "value": value})
        except BaseException:
            report_error("subscription", self.callback)

    def invalidate(self):
        self.ptr = None
        unregister(self.usr)
        self.chid.subscriptions.discard(self)

    def __repr__(self):
        state = "cleared" if self.ptr is None else "0x%x" % _address(self.ptr)
        return "<evid on %r %s>" % (self.chid.name, state)


class Request(object):
    """A get or put with callback, waiting for its one completion."""

    registry_kind = "callbacks"
    __slots__ = ("usr", "chid", "callback", "use_numpy", "is_get")

    def __init__(self, channel, callback, use_numpy, is_get):
        self.chid = channel
        self.callback = callback
        self.use_numpy = use_numpy
        self.is_get = is_get
        self.usr = register(self)
        channel.requests.add(self.usr)

    def cancel(self):
        unregister(self.usr)
        self.chid.requests.discard(self.usr)

    def on_done(self, args):
        self.cancel()
        status = args.status
        result = {"chid": self.chid, "type": dbr_enum(args.type), "count": args.count,
                  "status": eca_enum(status)}
        if self.is_get:
            value = None
            if status == NORMAL and args.dbr != _NULL:
                converter = CONVERTERS.get(args.type)
                if converter is not None:
                    value = converter(args.dbr, args.count, self.use_numpy)
            result["value"] = value
            call_user("get", self.callback, result)
        else:
            call_user("put", self.callback, result)


class ExceptionHandler(object):
    """A context's exception callback (``add_exception_event``)."""

    registry_kind = "exception_handlers"
    __slots__ = ("usr", "callback")

    def __init__(self, callback):
        self.callback = callback
        self.usr = register(self)

    def on_exception(self, args):
        channel = lookup(lib.ca_puser(args.chid)) if args.chid != _NULL else None
        if not isinstance(channel, Channel):
            channel = None
        call_user("exception", self.callback, {
            "chid": channel,
            "type": dbr_enum(args.type),
            "count": args.count,
            "addr": args.addr,
            "stat": eca_enum(args.stat),
            "op": _CA_OP.get(args.op, args.op),
            "ctx": decode_text(ffi.string(args.ctx)) if args.ctx != _NULL else "",
            "file": decode_text(ffi.string(args.pFile)) if args.pFile != _NULL else "",
            "lineNo": args.lineNo,
        })

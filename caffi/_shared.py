"""The one CA client context and the channel cache behind caget, caput and PV.

Theory of operation
-------------------
Every thread of the program that uses :mod:`caffi.simple`, :class:`caffi.pv.PV`
or the command line tools works in one preemptive CA client context.  The
first call creates it (or adopts a preemptive context the calling thread
already has); any other thread is joined to it with ``ca_attach_context`` the
first time it calls in.  A thread that is attached to a *different* context is
refused with :class:`RuntimeError` rather than silently switched.

Channels are cached per PV name and created with a connection callback, so
nothing here ever depends on ``ca_pend_io`` (which, in a context shared by
threads, would wait for and then abandon the other threads' requests).  Cached
channels are never cleared while the program runs, so a channel can never be
pulled from under another holder; :func:`reset` clears them all (for tests).

Reads without callback go through synchronous groups (``ca.sg_create``,
:mod:`caffi._sg`): each caller blocks only on its own requests, and no Python
code runs per value in libca's threads.  Groups are pooled.
"""
import threading
from typing import List, Optional, Tuple

from . import ca
from ._ffi import lib
from ._ids import Context
from .constants import CA_OP, ECA

__all__ = ["CachedChannel", "context", "channel", "acquire_group", "release_group",
           "reset", "cached_names"]

_lock = threading.RLock()
_context = None
_cache = {}
_groups = []
_CONN_UP = CA_OP.CONN_UP


class CachedChannel(object):
    """A channel of the shared cache: the ``chid`` and its connection state.

    Attributes
    ----------
    name : str
        The PV name.
    chid : caffi channel identifier
        The channel (``ca.create_channel``).
    connected : threading.Event
        Set while the channel is connected.
    """

    __slots__ = ("name", "chid", "connected", "_listeners", "_lock", "__weakref__")

    def __init__(self, name):
        self.name = name
        self.chid = None
        self.connected = threading.Event()
        self._listeners = ()
        self._lock = threading.Lock()

    def _on_connection(self, args):
        up = args["op"] == _CONN_UP
        if up:
            self.connected.set()
        else:
            self.connected.clear()
        for listener in self._listeners:
            try:
                listener(self, up)
            except Exception:  # a listener's bug must not stop the others
                from ._callbacks import report_error
                report_error("connection listener", listener)

    def add_listener(self, listener):
        """Call ``listener(channel, connected)`` on each connection change."""
        with self._lock:
            self._listeners = self._listeners + (listener,)

    def remove_listener(self, listener):
        """Stop calling *listener* (no error if it is not registered)."""
        with self._lock:
            self._listeners = tuple(x for x in self._listeners if x is not listener)

    @property
    def alive(self):
        """False once :func:`reset` cleared the channel."""
        return self.chid is not None and self.chid.ptr is not None

    def __repr__(self):
        return "<CachedChannel %r %s>" % (
            self.name, "connected" if self.connected.is_set() else "not connected")


def _make_context():
    """Create or adopt the shared context for the calling thread (under _lock)."""
    global _context
    mine = ca.current_context()
    if _context is not None and _context.alive:
        if mine is None:
            status = ca.attach_context(_context)
            if status != ECA.NORMAL:
                raise RuntimeError("cannot attach to the shared CA context: %s"
                                   % ca.message(status))
            return _context
        if mine is not _context:
            raise RuntimeError(
                "this thread is attached to another CA client context (%r); caffi's "
                "caget/caput/PV work in the shared context %r" % (mine, _context))
        return _context
    # No live shared context: forget what belonged to a destroyed one.
    _cache.clear()
    del _groups[:]
    if mine is None:
        status = ca.create_context(True)
        if status != ECA.NORMAL:
            raise RuntimeError("cannot create a CA client context: %s" % ca.message(status))
        mine = ca.current_context()
    elif not lib.ca_preemtive_callback_is_enabled():
        raise RuntimeError("this thread has a non-preemptive CA client context; caffi's "
                           "caget/caput/PV need a preemptive one")
    _context = mine
    return _context


def context() -> Context:
    """The shared context, created or attached for the calling thread.

    Raises
    ------
    RuntimeError
        If the thread is attached to another context, or has a non-preemptive
        one, or libca refuses.
    """
    ctx = _context
    if ctx is not None and ca.current_context() is ctx and ctx.alive:
        return ctx
    with _lock:
        return _make_context()


def channel(name: str) -> Tuple[ECA, Optional[CachedChannel]]:
    """The cached channel of *name*, created (not waited for) if new.

    The calling thread must be in the shared context (call :func:`context`).

    Returns
    -------
    (ECA, CachedChannel or None)
    """
    entry = _cache.get(name)
    if entry is not None and entry.chid is not None:
        return ECA.NORMAL, entry
    with _lock:
        entry = _cache.get(name)
        if entry is not None and entry.chid is not None:
            return ECA.NORMAL, entry
        entry = CachedChannel(name)
        status, chid = ca.create_channel(name, callback=entry._on_connection)
        if status != ECA.NORMAL:
            return status, None
        entry.chid = chid
        _cache[name] = entry
        return ECA.NORMAL, entry


def cached_names() -> List[str]:
    """Names of the cached channels (a snapshot)."""
    with _lock:
        return list(_cache)


def acquire_group() -> int:
    """A synchronous group id from the pool (or a new one)."""
    try:
        return _groups.pop()
    except IndexError:
        status, gid = ca.sg_create()
        if status != ECA.NORMAL:
            raise RuntimeError("cannot create a CA synchronous group: %s" % ca.message(status))
        return gid


def release_group(gid: int, completed: bool) -> None:
    """Return *gid* to the pool if all its requests *completed*, else delete it."""
    if completed:
        _groups.append(gid)
    else:
        ca.sg_delete(gid)


def reset() -> None:
    """Clear every cached channel (and its subscriptions) and the group pool.

    Monitors and :class:`~caffi.pv.PV` objects made before are dead afterwards.
    The shared context itself stays (other threads may be attached to it).
    Meant for tests and for programs that know nothing else uses the cache.
    """
    with _lock:
        entries = list(_cache.values())
        _cache.clear()
        groups = list(_groups)
        del _groups[:]
        ctx = _context
        if ctx is None or not ctx.alive:
            return
        if ca.current_context() is None:
            ca.attach_context(ctx)
        for entry in entries:
            chid, entry.chid = entry.chid, None
            if chid is not None:
                ca.clear_channel(chid)
            entry.connected.clear()
        for gid in groups:
            ca.sg_delete(gid)
        ca.flush_io()

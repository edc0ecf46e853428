"""Channels of caffi.aio: one cache per event loop, in caffi's shared context.

Theory of operation
-------------------
Every libca call of caffi.aio is made in the one preemptive context that
caffi's one-liners and :class:`caffi.PV` use (:mod:`caffi._shared`): the
first use from a thread attaches it.  As in aioca, each event loop has its
own :class:`ChannelCache` (a PV read from two loops has a channel in each),
so a channel's callbacks go to one loop, through that cache's
:class:`~caffi.aio._bridge.LoopBridge`.

A :class:`Channel` lives in its loop: connection changes arrive there through
the bridge, set ``connected``, start the requests that waited for the
connection (``wait_connected``) and tell the channel's subscriptions.  The
per-request conversion plans (:func:`~caffi.aio._convert.read_plan`) are
cached on the channel: at most ``PLAN_LIMIT`` of them, all dropped when the
channel connects (its native type may have changed) or the limit is reached.

Owner and eviction: the registry below owns the caches.  A cache lives until
:func:`purge_channel_caches`, or until a cache is made for another loop
after its own loop was closed; then its channels are cleared (closing their
subscriptions, failing the requests still waiting) and it is forgotten.  If
the shared context was destroyed (``caffi.ca.destroy_context``), the next
call finds a new one and drops the channels of the old.
"""
import asyncio
import atexit
import threading
from typing import List

from .. import _shared, ca
from .._ffi import lib
from ..constants import CA_OP
from ._bridge import LoopBridge
from ._convert import read_plan
from ._errors import CANothing, CAException

__all__ = ["Channel", "ChannelCache", "ChannelInfo", "cache", "purge_channel_caches",
           "get_channel_infos", "PLAN_LIMIT"]

PLAN_LIMIT = 16
_CONN_UP = CA_OP.CONN_UP
_CS_CONN = lib.cs_conn
_BADCHID = int(lib.ECA_BADCHID)
_get_ident = threading.get_ident
_lock = threading.Lock()
_caches = {}


class Channel(object):
    """One libca channel of one loop's cache.

    Attributes
    ----------
    name : str
    chid : caffi channel identifier (None once purged)
    connected : bool
        As last reported to the loop.
    subscriptions : set
        Open :class:`~caffi.aio.Subscription` objects on the channel.
    """

    __slots__ = ("name", "chid", "bridge", "connected", "subscriptions", "_waiters",
                 "_plans", "__weakref__")

    def __init__(self, name, bridge):
        self.name = name
        self.bridge = bridge
        self.connected = False
        self.subscriptions = set()
        self._waiters = {}
        self._plans = {}
        self.chid = None
        status, chid = ca.create_channel(name, callback=self._on_connection_event)
        if status != ca.ECA.NORMAL:
            raise CAException(status, "ca_create_channel")
        self.chid = chid

    def _on_connection_event(self, args):
        # libca thread; a closed loop misses nothing unless subscriptions wait
        self.bridge.post(self._on_connection, args["op"] == _CONN_UP,
                         bool(self.subscriptions))

    def _on_connection(self, up):
        if self.chid is None:
            return
        self.connected = up
        self._plans.clear()
        if up and self._waiters:
            waiters, self._waiters = self._waiters, {}
            for key, waiter in waiters.items():
                waiter(key, self)
        for subscription in list(self.subscriptions):
            subscription._on_connect(up)

    def wait_connected(self, key, waiter):
        """Call ``waiter(key, self)`` in the loop when the channel connects (once).

        If the channel is purged first, ``waiter(key, failure)`` gets a
        :class:`CANothing` instead.
        """
        self._waiters[key] = waiter

    def forget_waiter(self, key):
        """Drop the waiter registered under *key*, if it is still there."""
        self._waiters.pop(key, None)

    def libca_connected(self):
        """Whether libca has the channel connected now (it may be ahead of the loop)."""
        chid = self.chid
        return chid is not None and chid.ptr is not None and lib.ca_state(chid.ptr) == _CS_CONN

    def plan(self, datatype, format):
        """``(dbrcode, element_count, dbr_to_value)`` of a read; the channel is connected."""
        key = (datatype, format)
        try:
            return self._plans[key]
        except (KeyError, TypeError):
            pass
        ptr = self.chid.ptr
        count = lib.ca_element_count(ptr)
        dbrcode, convert = read_plan(self.name, lib.ca_field_type(ptr), count, datatype,
                                     format)
        plan = (dbrcode, count, convert)
        try:
            if len(self._plans) >= PLAN_LIMIT:
                self._plans.clear()
            self._plans[key] = plan
        except TypeError:       # an unhashable datatype: not cached
            pass
        return plan

    def purge(self):
        """Clear the libca channel: close subscriptions, fail waiting requests."""
        for subscription in list(self.subscriptions):
            subscription.close()
        chid, self.chid = self.chid, None
        self.connected = False
        waiters, self._waiters = self._waiters, {}
        if chid is not None:
            for usr in list(chid.requests):
                request = _lookup(usr)
                if request is not None:
                    request.callback.abandon(_BADCHID)
            ca.clear_channel(chid)
        failure = CANothing(self.name, _BADCHID)
        for key, waiter in waiters.items():
            self.bridge.post(_call_waiter, (waiter, key, failure), False)

    def __repr__(self):
        return "<caffi.aio channel %r %s>" % (
            self.name, "connected" if self.connected else "not connected")


class ChannelCache(object):
    """The channels of one event loop, by PV name."""

    __slots__ = ("loop", "bridge", "thread", "context", "channels")

    def __init__(self, loop):
        self.loop = loop
        self.bridge = LoopBridge(loop)
        self.thread = None
        self.context = None
        self.channels = {}

    def channel(self, name):
        """The channel of *name*, created if new (loop thread)."""
        channel = self.channels.get(name)
        if channel is None:
            if not isinstance(name, str):
                raise TypeError("PV name must be str, got %r" % (name,))
            channel = self.channels[name] = Channel(name, self.bridge)
        return channel

    def purge(self):
        channels = list(self.channels.values())
        self.channels.clear()
        for channel in channels:
            channel.purge()


def _call_waiter(item):
    waiter, key, failure = item
    waiter(key, failure)


def _lookup(usr):
    from .._callbacks import lookup
    return lookup(usr)


def cache(loop=None):
    """The channel cache of *loop* (default: the running loop), attached for this thread."""
    if loop is None:
        loop = asyncio.get_running_loop()
    found = _caches.get(loop)
    if found is not None and found.thread == _get_ident() and found.context.alive:
        return found
    context = _shared.context()     # join the shared context (RuntimeError if foreign)
    with _lock:
        found = _caches.get(loop)
        if found is None:
            stale = [c for c in _caches.values() if c.loop.is_closed()]
            for old in stale:
                del _caches[old.loop]
            found = _caches[loop] = ChannelCache(loop)
        else:
            stale = ()
        if found.context is not context:
            # A new shared context (the old one was destroyed): its channels are dead.
            dead = list(found.channels.values())
            found.channels.clear()
        else:
            dead = ()
        found.context = context
        found.thread = _get_ident()
    for old in stale:
        old.purge()
    for channel in dead:
        channel.purge()
    return found


def purge_channel_caches() -> None:
    """Clear every channel of caffi.aio, in every loop, and forget the caches.

    Their subscriptions are closed and requests still waiting fail with
    ``ECA_BADCHID``.  For shutdown and tests: later calls open new channels.
    """
    with _lock:
        caches = list(_caches.values())
        _caches.clear()
    if not any(c.channels for c in caches):
        return
    _shared.context()
    for old in caches:
        old.purge()
    lib.ca_flush_io()


class ChannelInfo(object):
    """Information about one channel of the running loop's cache.

    Attributes
    ----------
    name : str
    connected : bool
    subscriber_count : int
        Open subscriptions on the channel.
    """

    __slots__ = ("name", "connected", "subscriber_count")

    def __init__(self, name, connected, subscriber_count):
        self.name = name
        self.connected = connected
        self.subscriber_count = subscriber_count

    def __repr__(self):
        return "ChannelInfo(%r, connected=%r, subscriber_count=%d)" % (
            self.name, self.connected, self.subscriber_count)


def get_channel_infos() -> List["ChannelInfo"]:
    """:class:`ChannelInfo` of every channel of the running loop's cache."""
    return [ChannelInfo(c.name, c.connected, len(c.subscriptions))
            for c in cache().channels.values()]


@atexit.register
def _purge_at_exit():
    # Before caffi.ca's own exit handler (registered earlier, so run later)
    # destroys the context: no callback may post to loops that are gone.
    try:
        purge_channel_caches()
    except Exception:   # exit goes on; caffi.ca destroys the context anyway
        pass

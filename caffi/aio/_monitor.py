"""camonitor and Subscription: updates delivered to a callback in the loop.

Theory of operation
-------------------
libca's thread converts each update (``dbr_to_value``) and appends it to
``pending_values``: a deque of one value by default, so an update that
arrives before the loop took the previous one replaces it and counts in
``dropped_callbacks``; unbounded with ``all_updates=True``.  Only the update
that finds the subscription idle posts a delivery to the loop's bridge, so a
burst costs one wakeup.  In the loop, a plain callback is called for every
pending value; a callback that returns an awaitable switches the
subscription to a task that awaits each call in turn, while updates keep
arriving (and squashing) in ``pending_values``.

A callback that raises, or an update that cannot be converted, closes the
subscription with its traceback printed on stderr, as aioca does.  A
subscription is held by its channel (and libca) until :meth:`close`, so it
survives garbage collection.
"""
import asyncio
import collections
import inspect
import sys
import threading
import traceback
from typing import Any, Awaitable, Callable, List, Optional, Sequence, Union

from .. import _shared
from .._ffi import lib
from . import _raw

#: Most updates kept in ``pending_values`` of a subscription whose event loop
#: has closed (nothing will take them); later ones count in ``dropped_callbacks``.
CLOSED_LOOP_BACKLOG = 16
from ._channels import cache
from ._convert import FORMAT_CTRL, FORMAT_RAW, FORMAT_TIME, InvalidDatatype
from ._errors import ECA_DISCONN, ECA_TIMEOUT, CAException, CANothing, delay_of
from .types import Count, Datatype, Dbe, Format, Timeout

__all__ = ["Subscription", "camonitor"]

_NORMAL = lib.ECA_NORMAL
_DBE_VALUE, _DBE_ALARM, _DBE_PROPERTY = lib.DBE_VALUE, lib.DBE_ALARM, lib.DBE_PROPERTY
_DEFAULT_EVENTS = {
    FORMAT_RAW: _DBE_VALUE,
    FORMAT_TIME: _DBE_VALUE | _DBE_ALARM,
    FORMAT_CTRL: _DBE_VALUE | _DBE_ALARM | _DBE_PROPERTY,
}
_isawaitable = inspect.isawaitable
_CLOSED = 2


class Subscription(object):
    """One PV's subscription made by :func:`camonitor`; :meth:`close` ends it.

    Attributes
    ----------
    name : str
    callback : callable
        Called (in the loop) with each augmented value; may be async.
    state : int
        ``OPENING`` until the channel connected and the subscription was
        made (at once for a channel the loop already has connected), then
        ``OPEN``; ``CLOSED`` after :meth:`close`.
    dropped_callbacks : int
        Updates replaced by a newer one before the callback saw them.
    pending_values : collections.deque
        Updates received and not yet given to the callback.
    dbr_to_value : callable
        ``(raw_dbr, dbrcode, count) -> value``, called in libca's thread.
    channel : the channel subscribed to
    """

    OPENING = 0
    OPEN = 1
    CLOSED = _CLOSED

    __slots__ = ("name", "callback", "dbr_to_value", "channel", "state",
                 "dropped_callbacks", "all_updates", "notify_disconnect", "pending_values",
                 "_events", "_datatype", "_format", "_count", "_loop", "_bridge", "_lock",
                 "_signalled", "_task", "_evid", "_timer", "__weakref__")

    def __init__(self, name, callback, events=None, datatype=None, format=FORMAT_RAW,
                 count=0, all_updates=False, notify_disconnect=False, connect_timeout=None):
        if format not in _DEFAULT_EVENTS:
            raise InvalidDatatype("Format not recognised")
        loop = asyncio.get_running_loop()
        channels = cache(loop)
        self.name = name
        self.callback = callback
        self.all_updates = all_updates
        self.notify_disconnect = notify_disconnect
        self.dropped_callbacks = 0
        self.pending_values = collections.deque(maxlen=None if all_updates else 1)
        self.dbr_to_value = None
        self._events = _DEFAULT_EVENTS[format] if events is None else events
        self._datatype = datatype
        self._format = format
        self._count = count
        self._loop = loop
        self._bridge = channels.bridge
        self._lock = threading.Lock()
        self._signalled = False
        self._task = None
        self._evid = None
        self._timer = None
        self.state = self.OPENING
        self.channel = channels.channel(name)
        if self.channel.connected:
            # Subscribe now: the subscription reaches the server before any
            # request the caller makes next (a put whose effect it wants to see).
            self._open()
        else:
            loop.call_soon(self._start, connect_timeout)

    # Opening (loop thread) --------------------------------------------------------
    def _start(self, connect_timeout):
        if self.state != self.OPENING:
            return
        if self.channel.connected:
            self._open()
            return
        self.channel.wait_connected(self, self._on_channel)
        delay = delay_of(connect_timeout)
        if delay is not None:
            self._timer = self._loop.call_later(delay, self._connect_timed_out)

    def _on_channel(self, key, channel):
        if isinstance(channel, CANothing):      # the channel was purged
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._open()

    def _connect_timed_out(self):
        # Told even without notify_disconnect; the subscription goes on waiting.
        self._timer = None
        if self.state == self.OPENING:
            self._call(CANothing(self.name, ECA_TIMEOUT))

    def _open(self):
        if self.state != self.OPENING:
            return
        channel = self.channel
        if not channel.libca_connected():       # down again before we got here
            channel.wait_connected(self, self._on_channel)
            return
        try:
            chid = channel.chid
            dbrcode, element_count, self.dbr_to_value = channel.plan(self._datatype,
                                                                     self._format)
            count = element_count if self._count < 0 else self._count
            self.state = self.OPEN
            channel.subscriptions.add(self)
            status, evid = _raw.subscribe(chid, self._on_update, dbrcode, count,
                                          self._events)
            if status != _NORMAL:
                raise CAException(status, "ca_create_subscription")
            self._evid = evid
            lib.ca_flush_io()
        except Exception:
            self.close(sys.exc_info())

    # Updates ------------------------------------------------------------------------
    def _on_update(self, args):
        # libca thread
        if self.state == _CLOSED:
            return
        try:
            if args.status != _NORMAL:
                raise CAException(args.status, "subscription update")
            value = self.dbr_to_value(args.dbr, args.type, args.count)
        except Exception:
            self._bridge.post(self.close, sys.exc_info())
            return
        if self.all_updates:
            if self._signalled and self._loop.is_closed():
                self._lost(value)
                return
            self.pending_values.append(value)
            if not self._signalled:
                self._signalled = True
                self._bridge.post(self._deliver, None)
        else:
            self._queue(value)

    def _lost(self, value):
        # libca thread, the loop is closed: nothing will ever take the value.
        # As in aioca it is kept in pending_values, but only up to
        # CLOSED_LOOP_BACKLOG values; later ones are counted and dropped.  The
        # bridge reports the loss once per loop.
        pending = self.pending_values
        if len(pending) < CLOSED_LOOP_BACKLOG:
            pending.append(value)
        else:
            self.dropped_callbacks += 1
        self._bridge.post(self._deliver, None)

    def _queue(self, value):
        if self._signalled and self._loop.is_closed():
            with self._lock:
                self._lost(value)
            return
        pending = self.pending_values
        if self.all_updates:
            pending.append(value)
        else:
            with self._lock:
                if pending:
                    self.dropped_callbacks += 1
                pending.append(value)
        if not self._signalled:
            self._signalled = True
            self._bridge.post(self._deliver, None)

    def _pop(self):
        if self.all_updates:
            return self.pending_values.popleft()
        with self._lock:
            return self.pending_values.popleft()

    def _deliver(self, _):
        self._signalled = False
        if self._task is not None:
            return              # the running async callback takes the values
        pending = self.pending_values
        pop = pending.popleft if self.all_updates else self._pop
        while pending and self.state != _CLOSED:
            try:
                result = self.callback(pop())
            except Exception:
                self.close(sys.exc_info())
                return
            if result is not None and _isawaitable(result):
                self._task = self._loop.create_task(self._consume(result))
                return

    def _call(self, value):
        """Give *value* to the callback; False once it went async or failed."""
        try:
            result = self.callback(value)
        except Exception:
            self.close(sys.exc_info())
            return False
        if result is not None and _isawaitable(result):
            self._task = self._loop.create_task(self._consume(result))
            return False
        return True

    async def _consume(self, first):
        try:
            await first
            pending = self.pending_values
            while pending and self.state != self.CLOSED:
                result = self.callback(self._pop())
                if result is not None and _isawaitable(result):
                    await result
        except asyncio.CancelledError:
            raise
        except Exception:
            self.close(sys.exc_info())
        finally:
            self._task = None

    def _on_connect(self, connected):
        # loop thread: the channel connected or disconnected
        if not connected and self.notify_disconnect and self.state == self.OPEN:
            self._queue(CANothing(self.name, ECA_DISCONN))

    # Closing ---------------------------------------------------------------------------
    def close(self, exc_info=None) -> None:
        """Cancel the subscription; no callback runs after this, even one queued.

        Idempotent; callable from any thread, also after the loop closed.
        """
        if exc_info and self.state != self.CLOSED:
            sys.stderr.write("Subscription %s callback raised exception\n" % self.name)
            traceback.print_exception(*exc_info)
            sys.stderr.write("Subscription %s closed\n" % self.name)
        self.state = self.CLOSED
        channel = self.channel
        channel.forget_waiter(self)
        channel.subscriptions.discard(self)
        timer, self._timer = self._timer, None
        evid, self._evid = self._evid, None
        if evid is not None:
            _shared.context()
            _raw.unsubscribe(evid)
            lib.ca_flush_io()
        task = self._task
        loop = self._loop
        if not loop.is_closed():
            if timer is not None:
                loop.call_soon_threadsafe(timer.cancel)
            if task is not None:
                loop.call_soon_threadsafe(task.cancel)

    def __repr__(self):
        return "<caffi.aio Subscription %r %s>" % (
            self.name, ("opening", "open", "closed")[self.state])


def camonitor(pv: Union[str, Sequence[str]], callback: Callable[..., Optional[Awaitable[Any]]],
              events: Dbe = None, datatype: Datatype = None, format: Format = FORMAT_RAW,
              count: Count = 0, all_updates: bool = False, notify_disconnect: bool = False,
              connect_timeout: Timeout = None) -> Union["Subscription", List["Subscription"]]:
    """Subscribe to one PV, or to each of a list of PVs.

    Must be called with an event loop running; the callback runs in it.

    Parameters
    ----------
    pv : str or list of str
    callback : callable
        ``callback(value)`` for one PV, ``callback(value, index)`` for a list;
        a plain function or one returning an awaitable.
    events : int or None
        ``DBE_*`` mask; default by format: VALUE (RAW), VALUE|ALARM (TIME),
        VALUE|ALARM|PROPERTY (CTRL).
    datatype, format, count
        As for :func:`caget` (count 0: the server's current length).
    all_updates : bool
        Deliver every update; by default an update that arrives while the
        previous one is still undelivered (or an async callback is running)
        replaces it.
    notify_disconnect : bool
        Call back with a :class:`CANothing` (``ok`` false) on disconnection.
    connect_timeout : None, float or (float,)
        If not connected by then, call back once with a timeout
        :class:`CANothing` (even without *notify_disconnect*) and go on waiting.

    Returns
    -------
    Subscription or list of Subscription
    """
    options = dict(events=events, datatype=datatype, format=format, count=count,
                   all_updates=all_updates, notify_disconnect=notify_disconnect,
                   connect_timeout=connect_timeout)
    if isinstance(pv, str) or not isinstance(pv, (list, tuple)):
        return Subscription(pv, callback, **options)
    return [Subscription(name, _indexed(callback, index), **options)
            for index, name in enumerate(pv)]


def _indexed(callback, index):
    return lambda value: callback(value, index)

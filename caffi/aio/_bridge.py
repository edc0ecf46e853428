"""From libca's threads to one asyncio event loop: one wakeup per burst.

Theory of operation
-------------------
libca calls back on its own threads (the shared context is preemptive).  A
callback never touches loop state: it converts what libca lent it and hands
``(function, argument)`` to the :class:`LoopBridge` of the loop that asked,
with :meth:`LoopBridge.post`.  ``post`` appends to a deque and wakes the loop
(``call_soon_threadsafe``) only if no wakeup is pending, so a burst of
updates costs one wakeup and one pass of :meth:`LoopBridge._drain`, however
many items it holds.

The flag protocol needs no lock: a producer appends, then schedules a drain
if ``_scheduled`` is false (setting it first); the drain clears
``_scheduled`` before it takes items.  An item appended while a drain runs
either is taken by that drain or finds the flag clear and schedules the next
one, so nothing is stranded; at worst a drain finds nothing to do.  A drain
takes only the items present when it starts and schedules itself again for
the rest, so a flood cannot starve the loop's other work.

Requests issued by the items of a drain (a get started when its channel
connects) are sent with one ``ca_flush_io`` at the end of the drain.

A closed loop cannot be woken.  The first ``post`` that finds it closed
reports ``RuntimeError('Event loop is closed')`` through
``sys.unraisablehook`` (as aioca's ctypes callbacks do), once per loop; later
items for that loop are dropped.  Close subscriptions (or call
``purge_channel_caches()``) before closing their loop to avoid it.
"""
import collections
import sys
import traceback

from .._ffi import lib

__all__ = ["LoopBridge"]

_flush_io = lib.ca_flush_io

#: the attributes ``sys.unraisablehook`` reads (the C type cannot be built here)
UnraisableHookArgs = collections.namedtuple(
    "UnraisableHookArgs", "exc_type exc_value exc_traceback err_msg object")


def report_unraisable(exc, err_msg, obj):
    """Hand *exc* to ``sys.unraisablehook``, or print it as the default hook does."""
    hook = sys.unraisablehook
    if hook is sys.__unraisablehook__:
        # The default hook accepts only CPython's own argument type.
        lines = ["%s: %r\n" % (err_msg, obj)]
        lines += traceback.format_exception(type(exc), exc, exc.__traceback__)
        sys.stderr.write("".join(lines))
        return
    hook(UnraisableHookArgs(type(exc), exc, exc.__traceback__, err_msg, obj))


class LoopBridge(object):
    """The queue of work from libca's threads for one event loop.

    Attributes
    ----------
    loop : asyncio.AbstractEventLoop
    needs_flush : bool
        Set by work that issued libca requests; the drain flushes once.
    """

    __slots__ = ("loop", "needs_flush", "_pending", "_scheduled", "_dead", "_reported",
                 "wakeups")

    def __init__(self, loop):
        self.loop = loop
        self.needs_flush = False
        self._pending = collections.deque()
        self._scheduled = False
        self._dead = False
        self._reported = False
        #: number of times the loop was woken (for tests and profiling)
        self.wakeups = 0

    def post(self, function, argument, loss_matters=True):
        """Run ``function(argument)`` in the loop soon (callable from any thread).

        If the loop turns out to be closed, the item is dropped, and reported
        (once per loop) if *loss_matters*.
        """
        if self._dead:
            if loss_matters and not self._reported:
                self._closed(None, True)
            return
        self._pending.append((function, argument))
        if self._scheduled:
            # A drain is pending, unless the loop was closed before running it.
            if self.loop.is_closed():
                self._closed(None, loss_matters)
            return
        self._scheduled = True
        self.wakeups += 1
        try:
            self.loop.call_soon_threadsafe(self._drain)
        except RuntimeError as exc:     # the loop is closed
            self._closed(exc, loss_matters)

    def _closed(self, exc, report):
        self._dead = True
        self._pending.clear()
        if not report or self._reported:
            return
        if exc is None:
            exc = RuntimeError("Event loop is closed")
        self._reported = True
        report_unraisable(exc, "Exception ignored in caffi.aio delivering to a closed "
                               "event loop", self.loop)

    def _drain(self):
        self._scheduled = False
        pending = self._pending
        popleft = pending.popleft
        for _ in range(len(pending)):
            function, argument = popleft()
            try:
                function(argument)
            except Exception as exc:    # a bug here must not lose the other items
                self.loop.call_exception_handler({
                    "message": "caffi.aio: error handling a libca callback",
                    "exception": exc})
        if self.needs_flush:
            self.needs_flush = False
            _flush_io()
        if pending and not self._scheduled:
            self._scheduled = True
            self.loop.call_soon(self._drain)

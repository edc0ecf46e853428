"""Synchronous pvAccess client: a thread-backed adapter on the asyncio one.

:class:`Context` runs a :class:`pva.client.aio.Context` (and so the one
client core) on a private event-loop thread and waits for its results;
subscription callbacks run on a separate worker thread, so a callback may
itself call the context.  The module functions (``read``, ``monitor``,
``read_write_read`` with caproto.pva 0.8's names and signatures, plus
``write``, ``call``, ``put_get``, ``info``, ``process``, the ``array_*``
element operations and the ``*_many`` batch forms)
share one default context, configured from the environment, so repeated
calls reuse channels and connections.

Two families of names, on purpose: the module functions are caproto.pva's
(``read``, ``write``, ``call``... with ``pvrequest=``), so code written for
``caproto.pva.sync.client`` runs unchanged; the :class:`Context` methods are
p4p's (``get``, ``put``, ``rpc``... with ``request=``), the same as the
asyncio :class:`pva.client.Context`.

Example
-------
::

    from pva.sync.client import read, write, monitor

    v = read("demo:value")
    print(v.value)
    write("demo:value", 4.5)
    for update in monitor("demo:value", maximum_events=3):
        print(update)
"""
from __future__ import annotations

import asyncio
import atexit
import queue
import threading
from typing import Any, Callable, Iterator, List, Optional, Sequence

from .._introspection import FieldDesc
from ..client import aio
from ..client.core import (Cancelled, Disconnected, Finished, RemoteError, Timeout, Value,
                           parse_request)

__all__ = ["Context", "SyncSubscription", "read", "monitor", "read_write_read", "write",
           "call", "put_get", "info", "process", "array_get", "array_put", "array_length",
           "array_set_length", "read_many", "write_many", "default_context",
           "Value", "Disconnected", "RemoteError", "Finished", "Timeout", "Cancelled"]

_MARGIN = 5.0  # extra wait for the loop thread beyond an operation's own timeout


class Context:
    """Synchronous client context (the same parameters as the asyncio one)."""

    def __init__(self, provider: str = "pva", conf: Optional[dict] = None, useenv: bool = True,
                 *, timeout: float = aio.DEFAULT_TIMEOUT):
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run_loop, name="pva-client-loop",
                                        daemon=True)
        self._thread.start()
        self._ready.wait()
        self.timeout = timeout
        self.closed = False
        self._ctx = self._call(self._make(provider, conf, useenv, timeout), None)
        self._cbq: "queue.Queue" = queue.Queue()
        self._worker: Optional[threading.Thread] = None

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self._ready.set)
        self._loop.run_forever()
        self._loop.close()

    @staticmethod
    async def _make(provider, conf, useenv, timeout) -> aio.Context:
        ctx = aio.Context(provider, conf, useenv, timeout=timeout)
        ctx._ensure()
        return ctx

    def _call(self, coro, timeout: Optional[float]) -> Any:
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("a synchronous call from the client's own event loop thread")
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        wait = None if timeout is None else timeout + _MARGIN
        try:
            return fut.result(wait)
        except BaseException:
            fut.cancel()        # interrupted (Ctrl-C) or timed out: stop the operation too
            raise

    def _tmo(self, timeout: Optional[float]) -> float:
        return self.timeout if timeout is None else timeout

    def __enter__(self) -> "Context":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the context and stop its threads."""
        if self.closed:
            return
        self.closed = True
        try:
            self._call(self._ctx.close(), 10)
            self._call(_finish_tasks(), 10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            if self._worker is not None:
                self._cbq.put(None)
                if threading.current_thread() is not self._worker:
                    self._worker.join(10)

    # ---- operations
    def get(self, name, request: Any = "", timeout: Optional[float] = None, *,
            throw: bool = True):
        """Read one PV, or a list of PVs concurrently (see :meth:`aio.Context.get`)."""
        t = self._tmo(timeout)
        return self._call(self._ctx.get(name, parse_request(request), t, throw=throw), t)

    def put(self, name, value: Any, request: Any = "", timeout: Optional[float] = None) -> None:
        t = self._tmo(timeout)
        return self._call(self._ctx.put(name, value, parse_request(request), t), t)

    def put_get(self, name: str, value: Any, request: Any = "",
                timeout: Optional[float] = None) -> Value:
        t = self._tmo(timeout)
        return self._call(self._ctx.put_get(name, value, parse_request(request), t), t)

    def rpc(self, name: str, value: Any = None, request: Any = "",
            timeout: Optional[float] = None) -> Any:
        t = self._tmo(timeout)
        return self._call(self._ctx.rpc(name, value, parse_request(request), t), t)

    def info(self, name: str, timeout: Optional[float] = None) -> FieldDesc:
        t = self._tmo(timeout)
        return self._call(self._ctx.info(name, t), t)

    def process(self, name: str, request: Any = "", timeout: Optional[float] = None) -> None:
        """Process the PV (see :meth:`aio.Context.process`)."""
        t = self._tmo(timeout)
        return self._call(self._ctx.process(name, parse_request(request), t), t)

    def array_get(self, name: str, offset: int = 0, count: int = -1, stride: int = 1,
                  request: Any = "field(value)", timeout: Optional[float] = None) -> Any:
        """Read array elements (see :meth:`aio.Context.array_get`)."""
        t = self._tmo(timeout)
        return self._call(self._ctx.array_get(name, offset, count, stride, request, t), t)

    def array_put(self, name: str, values: Any, offset: int = 0, stride: int = 1,
                  request: Any = "field(value)", timeout: Optional[float] = None) -> None:
        """Write array elements (see :meth:`aio.Context.array_put`)."""
        t = self._tmo(timeout)
        return self._call(self._ctx.array_put(name, values, offset, stride, request, t), t)

    def array_length(self, name: str, request: Any = "field(value)",
                     timeout: Optional[float] = None) -> int:
        """The length of an array field."""
        t = self._tmo(timeout)
        return self._call(self._ctx.array_length(name, request, t), t)

    def array_set_length(self, name: str, length: int, request: Any = "field(value)",
                         timeout: Optional[float] = None) -> None:
        """Truncate or extend an array field."""
        t = self._tmo(timeout)
        return self._call(self._ctx.array_set_length(name, length, request, t), t)

    def monitor(self, name: str, cb: Callable[[Any], None], request: Any = "",
                notify_disconnect: bool = True) -> "SyncSubscription":
        """Call ``cb(item)`` on a worker thread for every update or event."""
        req = parse_request(request)
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="pva-client-callbacks",
                                            daemon=True)
            self._worker.start()
        sub = SyncSubscription(self, cb)

        async def start():
            return self._ctx.monitor(name, sub._deliver, req, notify_disconnect=notify_disconnect)
        sub._sub = self._call(start(), 10)
        return sub

    def _work(self) -> None:
        while True:
            job = self._cbq.get()
            if job is None:
                return
            sub, item = job
            if sub.closed:
                continue
            try:
                sub.cb(item)
            except Exception:
                aio.log.exception("monitor callback of %s failed", sub._sub.name)

    def iterate(self, name: str, request: Any = "", timeout: Optional[float] = None,
                maximum_events: Optional[int] = None) -> Iterator[Any]:
        """Yield monitor items; ``timeout`` bounds the wait for each item."""
        yield from _monitor_items(self, name, request, timeout, timeout, maximum_events,
                                  lambda sub: "no monitor update")


async def _finish_tasks() -> None:
    """Cancel and wait for the loop's other tasks (operations a Ctrl-C left),
    so the loop stops with none pending."""
    me = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not me]
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class SyncSubscription:
    """A monitor of a synchronous :class:`Context`; :meth:`close` to stop."""

    def __init__(self, ctx: Context, cb: Callable[[Any], None]):
        self.ctx = ctx
        self.cb = cb
        self.closed = False
        self._sub: Optional[aio.Subscription] = None

    def _deliver(self, item: Any) -> None:   # on the loop thread
        self.ctx._cbq.put((self, item))

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if not self.ctx.closed and self._sub is not None:
            self.ctx._loop.call_soon_threadsafe(self._sub.close)

    def __enter__(self) -> "SyncSubscription":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------- module functions
_default: Optional[Context] = None
_default_lock = threading.Lock()


def default_context() -> Context:
    """The shared context of the module functions (environment configuration)."""
    global _default
    with _default_lock:
        if _default is None or _default.closed:
            _default = Context()
        return _default


@atexit.register
def _close_default() -> None:
    if _default is not None:
        _default.close()


def read(pv_name: str, *, pvrequest: str = "field()", verbose: bool = False,
         timeout: float = 1) -> Value:
    """Read a channel.

    Parameters
    ----------
    pv_name : str
        The PV name.
    pvrequest : str, optional
        The pvRequest, such as ``'field(value)'``; ``'field()'`` reads everything.
    verbose : bool, optional
        Unused (caproto.pva compatibility).
    timeout : float, optional
        Seconds (default 1).

    Returns
    -------
    Value
        The structure (caproto.pva returned ``(response, dataclass)``).
    """
    return default_context().get(pv_name, pvrequest, timeout)


def monitor(pv_name: str, *, pvrequest: str = "field()", verbose: bool = False,
            timeout: Optional[float] = 1, maximum_events: Optional[int] = None) -> Iterator[Any]:
    """Monitor a channel: a generator of updates.

    Yields :class:`Value` updates, and :class:`Disconnected` /
    :class:`RemoteError` instances as events.  ``timeout`` bounds the wait
    for the first update (channel connection); later ones are awaited
    without limit.  Stops after ``maximum_events`` updates, if given.
    """
    yield from _monitor_items(default_context(), pv_name, pvrequest, timeout, None,
                              maximum_events,
                              lambda sub: "no update; " + aio._why(sub._sub._op.channel))


def _monitor_items(ctx: "Context", name: str, request: Any, first_timeout: Optional[float],
                   timeout: Optional[float], maximum_events: Optional[int],
                   why: Callable[["SyncSubscription"], str]) -> Iterator[Any]:
    """Monitor items of ``name`` until ``maximum_events`` or the end; the first
    waited for at most ``first_timeout``, the others ``timeout`` (raising
    :class:`Timeout` with ``why(subscription)``)."""
    q: "queue.Queue" = queue.Queue()
    sub = ctx.monitor(name, q.put, request)
    n = 0
    try:
        while maximum_events is None or n < maximum_events:
            wait = first_timeout if n == 0 else timeout
            try:
                item = q.get(timeout=wait)
            except queue.Empty:
                raise Timeout(name, wait, why(sub)) from None
            if isinstance(item, Finished):
                return
            yield item
            n += 1
    finally:
        sub.close()


def read_write_read(pv_name: str, data: dict, *, options: Optional[dict] = None,
                    pvrequest: str = "field()", cancel_on_keyboardinterrupt: bool = False,
                    timeout: float = 1):
    """Write to a channel, sandwiched between two reads.

    Returns
    -------
    (initial, None, final)
        The values before and after (the middle item, caproto's put
        response, is always ``None``).  ``options`` are record options added
        to the pvRequest of the write (e.g. ``{'process': 'true'}``).
    """
    ctx = default_context()
    initial = ctx.get(pv_name, pvrequest, timeout)
    req = parse_request(pvrequest)
    if options:
        req = parse_request(str(req) + "record[" + ",".join(f"{k}={v}" for k, v in
                                                             options.items()) + "]")
    try:
        ctx.put(pv_name, data, req, timeout)
    except KeyboardInterrupt:
        if not cancel_on_keyboardinterrupt:
            raise
        raise
    final = ctx.get(pv_name, pvrequest, timeout)
    return initial, None, final


def write(pv_name: str, data: Any, *, pvrequest: str = "field()", timeout: float = 1) -> None:
    """Write a value (plain value for the ``value`` field, or a dict of fields)."""
    default_context().put(pv_name, data, pvrequest, timeout)


def put_get(pv_name: str, data: Any, *, pvrequest: str = "field()", timeout: float = 1) -> Value:
    """Write and read back in one PUT_GET request."""
    return default_context().put_get(pv_name, data, pvrequest, timeout)


def call(pv_name: str, value: Any = None, *, pvrequest: str = "field()",
         timeout: float = 1) -> Any:
    """Call an RPC service with ``value`` (dict, Value or ``(FieldDesc, value)``)."""
    return default_context().rpc(pv_name, value, pvrequest, timeout)


def info(pv_name: str, *, timeout: float = 1) -> FieldDesc:
    """The channel's type (GET_FIELD)."""
    return default_context().info(pv_name, timeout)


def process(pv_name: str, *, pvrequest: str = "", timeout: float = 1) -> None:
    """Process a channel (PROCESS)."""
    default_context().process(pv_name, pvrequest, timeout)


def array_get(pv_name: str, offset: int = 0, count: int = -1, stride: int = 1, *,
              pvrequest: str = "field(value)", timeout: float = 1) -> Any:
    """Read ``count`` elements (-1: all) of an array field (ARRAY get)."""
    return default_context().array_get(pv_name, offset, count, stride, pvrequest, timeout)


def array_put(pv_name: str, values: Any, offset: int = 0, stride: int = 1, *,
              pvrequest: str = "field(value)", timeout: float = 1) -> None:
    """Write elements of an array field (ARRAY put)."""
    default_context().array_put(pv_name, values, offset, stride, pvrequest, timeout)


def array_length(pv_name: str, *, pvrequest: str = "field(value)", timeout: float = 1) -> int:
    """The length of an array field."""
    return default_context().array_length(pv_name, pvrequest, timeout)


def array_set_length(pv_name: str, length: int, *, pvrequest: str = "field(value)",
                     timeout: float = 1) -> None:
    """Truncate an array field, or extend it with zeros."""
    default_context().array_set_length(pv_name, length, pvrequest, timeout)


def read_many(pv_names: Sequence[str], *, pvrequest: str = "field()",
              timeout: float = 1) -> List[Value]:
    """Read several channels concurrently (one connection per server)."""
    return default_context().get(list(pv_names), pvrequest, timeout)


def write_many(pv_names: Sequence[str], values: Sequence[Any], *, pvrequest: str = "field()",
               timeout: float = 1) -> None:
    """Write several channels concurrently."""
    default_context().put(list(pv_names), list(values), pvrequest, timeout)

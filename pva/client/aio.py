"""asyncio pvAccess client: :class:`Context`, a thin adapter on :mod:`pva.client.core`.

Example
-------
::

    import asyncio
    from pva.client.aio import Context

    async def main():
        async with Context() as ctx:
            v = await ctx.get("demo:value")
            print(v.value, v.todict())
            await ctx.put("demo:value", 4.5)
            async with ctx.monitor("demo:value") as sub:
                async for update in sub:          # Value, or Disconnected/RemoteError
                    print(update)
                    break

    asyncio.run(main())
"""
from __future__ import annotations

import asyncio
import collections
import inspect
import logging
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

from .._errors import LocalProtocolError
from .._forwarding import LOCAL_MCAST_GROUP, DatagramRouter
from .._introspection import FieldDesc
from .._messages import Beacon
from ..io.aio import AsyncioReactor
from ..io.host import identity
from ..io.netif import ANY, broadcast_addresses
from ..io.udp import UDPCollector, client_socket, open_reader
from .channel import NameState, SharedChannel
from .config import ClientConfig
from .core import ClientCore
from .errors import Cancelled, Disconnected, Finished, RemoteError, Timeout
from .ops.array import array_action
from .ops.base import parse_request
from .ops.monitor import MonitorOp
from .value import Value

__all__ = ["Context", "PV", "Subscription", "Value", "Disconnected",
           "RemoteError", "Finished", "Timeout", "Cancelled"]

log = logging.getLogger("pva.client")

DEFAULT_TIMEOUT = 5.0


def _why(ch: SharedChannel, op: Any = None) -> str:
    if ch.state is NameState.CONNECTED and op is not None and op.ioid is not None:
        # pvxs servers ignore the requests they do not implement (PUT_GET,
        # ARRAY, PROCESS): no reply at all
        return (f"connected, no reply from the server to the {op.KIND} request "
                f"(servers that do not implement an operation may ignore it)")
    if ch.state is NameState.SEARCHING:
        return f"not found; searched {ch.searches} times" + (
            f", last server refusal: {ch.error}" if ch.error else "")
    if ch.state is NameState.CONNECTING:
        host, port = ch.circuit.address if ch.circuit else ("?", 0)
        return f"found at {host}:{port}, connection not established"
    if ch.state is NameState.CONNECTED:
        return "connected, no reply from the server"
    return ch.state.value


class Context:
    """An asyncio pvAccess client context.

    Parameters
    ----------
    provider : str
        Only ``'pva'``.
    conf : dict, optional
        ``EPICS_PVA_*`` settings (see :mod:`pva.client.config`).
    useenv : bool
        Read the environment as well (``conf`` overrides it).
    timeout : float
        Default timeout of operations, in seconds.

    Channels and TCP connections are shared by every operation of the
    context and stay open until :meth:`close`; a monitor re-subscribes by
    itself after its server comes back.
    """

    def __init__(self, provider: str = "pva", conf: Optional[dict] = None, useenv: bool = True,
                 *, timeout: float = DEFAULT_TIMEOUT):
        if provider != "pva":
            raise ValueError(f"unknown provider {provider!r} (only 'pva')")
        self.config = ClientConfig.from_conf(conf, useenv)
        self.timeout = timeout
        self._core: Optional[ClientCore] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._reactor: Optional[AsyncioReactor] = None
        self._udp = None
        self._beacon = None
        self._subs: set = set()
        self.closed = False

    # ---- lifetime
    async def __aenter__(self) -> "Context":
        self._ensure()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def _ensure(self) -> ClientCore:
        if self.closed:
            raise Cancelled("the context is closed")
        if self._core is not None:
            return self._core
        loop = asyncio.get_event_loop()
        self._loop = loop
        self._reactor = AsyncioReactor(loop)
        core = self._core = ClientCore(self._reactor, self.config, identity())
        sock = client_socket()
        port = sock.getsockname()[1]

        async def open_udp():
            transport = await open_reader(sock, core.datagram_received)
            if self.closed:
                transport.close()
                return
            self._udp = transport
            core.attach_udp(transport.sendto, port)
        self._udp_task = loop.create_task(open_udp())
        self._beacon = None
        self._beacon_task = loop.create_task(self._open_beacons(core))
        return core

    async def _open_beacons(self, core: ClientCore) -> None:
        """Listen for beacons on the broadcast port, shared with the servers of
        this host; unicast searches that land here are forwarded to them
        (see :mod:`pva._forwarding`)."""
        cfg = self.config
        accept = None
        if ANY not in cfg.interfaces:
            accept = set(cfg.interfaces)
            for intf in cfg.interfaces:
                accept.update(broadcast_addresses(intf))

        def handle(rx) -> None:
            if accept is not None and rx.destination not in accept:
                return      # not on an interface of EPICS_PVA_INTF_ADDR_LIST
            for msg in rx.messages:
                if isinstance(msg, Beacon):
                    core.beacon_received(msg, rx.source)

        collector = UDPCollector(DatagramRouter(handle), cfg.broadcast_port,
                                 cfg.interfaces[0], group=LOCAL_MCAST_GROUP)
        try:
            await collector.open()
        except OSError as ex:   # beacons are an optimisation: searching goes on
            log.debug("cannot listen for beacons on port %d: %s", cfg.broadcast_port, ex)
            return
        if self.closed:
            collector.close()
        else:
            self._beacon = collector

    async def close(self) -> None:
        """Close every subscription, channel and connection."""
        if self.closed:
            return
        self.closed = True
        for sub in list(self._subs):
            sub.close()
        if self._core is not None:
            self._core.close()
            self._reactor.close()
        for t in (self._udp, self._beacon):
            if t is not None:
                t.close()
        await asyncio.sleep(0)

    @property
    def core(self) -> ClientCore:
        return self._ensure()

    # ---- helpers
    async def _run(self, name: str, start: Callable, timeout: Optional[float]) -> Any:
        core = self._ensure()
        fut = self._loop.create_future()

        def done(result, exc):
            if not fut.done():
                if exc is not None:
                    fut.set_exception(exc)
                else:
                    fut.set_result(result)
        op = start(core, done)
        tmo = self.timeout if timeout is None else timeout
        try:
            return await asyncio.wait_for(asyncio.shield(fut), tmo)
        except asyncio.TimeoutError:
            why = _why(op.channel, op)   # before the cancel forgets the request
            op.cancel()
            raise Timeout(name, tmo, why) from None
        except asyncio.CancelledError:
            op.cancel()
            raise

    async def _many(self, names, one, throw: bool = True):
        if isinstance(names, str):
            return await one(names)
        return list(await asyncio.gather(*(one(n) for n in names), return_exceptions=not throw))

    # ---- operations
    async def get(self, name: Union[str, Sequence[str]], request: Any = "",
                  timeout: Optional[float] = None, *, throw: bool = True
                  ) -> Union[Value, List[Value]]:
        """Read a PV (or a list of PVs, concurrently).

        With a list and ``throw=False``, a failed read gives its exception
        in place of the value instead of raising.

        Raises
        ------
        Timeout
            No answer in ``timeout`` seconds (the message says why).
        RemoteError
            The server refused, with its message.
        PVRequestError
            ``request`` does not parse (the error has the position).
        """
        req = parse_request(request)
        return await self._many(name, lambda n: self._run(
            n, lambda core, cb: core.get(n, req, cb), timeout), throw)

    async def put(self, name: Union[str, Sequence[str]], value: Any, request: Any = "",
                  timeout: Optional[float] = None) -> None:
        """Write ``value`` (a plain value for the ``value`` field, or a dict of fields).

        Raises
        ------
        ValueError
            The value does not fit the PV's type (nothing is written).
        """
        req = parse_request(request)
        if isinstance(name, str):
            return await self._run(name, lambda core, cb: core.put(name, value, req, cb), timeout)
        values = list(value)
        await asyncio.gather(*(self._run(n, lambda core, cb, n=n, v=v: core.put(n, v, req, cb),
                                         timeout) for n, v in zip(name, values)))

    async def put_get(self, name: str, value: Any, request: Any = "",
                      timeout: Optional[float] = None) -> Value:
        """Write, and read back in the same request (PUT_GET)."""
        req = parse_request(request)
        return await self._run(name, lambda core, cb: core.put(name, value, req, cb, get=True),
                               timeout)

    async def rpc(self, name: str, value: Any = None, request: Any = "",
                  timeout: Optional[float] = None, *,
                  server: Optional[Tuple[str, int]] = None) -> Any:
        """Call an RPC service (``value``: dict, :class:`Value` or ``(FieldDesc, value)``).

        ``server=(host, port)`` calls that server directly, without searching.
        """
        req = parse_request(request)
        return await self._run(name, lambda core, cb: core.rpc(name, value, req, cb, server),
                               timeout)

    async def process(self, name: str, request: Any = "",
                      timeout: Optional[float] = None) -> None:
        """Ask the server to process the PV (PROCESS); returns once it has.

        ``record[block=false]`` in ``request`` asks for the reply without
        waiting for the processing to finish.
        """
        req = parse_request(request)
        return await self._run(name, lambda core, cb: core.process(name, req, cb), timeout)

    async def _array(self, name: str, request: Any, action: dict,
                     timeout: Optional[float]) -> Any:
        req = parse_request(request or "field(value)")
        return await self._run(name, lambda core, cb: core.array(name, req, action, cb),
                               timeout)

    async def array_get(self, name: str, offset: int = 0, count: int = -1, stride: int = 1,
                        request: Any = "field(value)", timeout: Optional[float] = None) -> Any:
        """Read ``count`` elements (-1: all) of an array field from ``offset``,
        every ``stride``-th (ARRAY get).

        ``request`` names the array field (default ``field(value)``).  Returns
        a numpy array (a list for strings and structures).

        Raises
        ------
        ValueError
            A negative ``offset``, ``stride`` below 1, ``count`` 0 or below -1
            (checked before anything is sent).
        RemoteError
            The field is not an array, ``offset`` is past its end, the server
            does not implement ARRAY, ...
        """
        action = array_action("get", offset=offset, count=count, stride=stride)
        return await self._array(name, request, action, timeout)

    async def array_put(self, name: str, values: Any, offset: int = 0, stride: int = 1,
                        request: Any = "field(value)", timeout: Optional[float] = None) -> None:
        """Write ``values`` into an array field from ``offset``, every
        ``stride``-th element (ARRAY put); the array grows if needed."""
        action = array_action("put", offset=offset, stride=stride, values=values)
        return await self._array(name, request, action, timeout)

    async def array_length(self, name: str, request: Any = "field(value)",
                           timeout: Optional[float] = None) -> int:
        """The number of elements of an array field (ARRAY get-length)."""
        return await self._array(name, request, array_action("length"), timeout)

    async def array_set_length(self, name: str, length: int, request: Any = "field(value)",
                               timeout: Optional[float] = None) -> None:
        """Truncate an array field, or extend it with zeros (ARRAY set-length)."""
        action = array_action("set_length", length=length)
        return await self._array(name, request, action, timeout)

    async def info(self, name: str, timeout: Optional[float] = None,
                   sub_field: str = "") -> FieldDesc:
        """The PV's type (GET_FIELD)."""
        return await self._run(name, lambda core, cb: core.info(name, sub_field, cb), timeout)

    def monitor(self, name: str, cb: Optional[Callable[[Any], Any]] = None, request: Any = "",
                *, notify_disconnect: bool = True,
                queue_size: Optional[int] = None) -> "Subscription":
        """Subscribe to a PV.

        Without ``cb`` the :class:`Subscription` is an async iterator; with
        ``cb`` (a function or coroutine function) it is called with each
        item.  Items are :class:`Value` updates and, as values,
        :class:`Disconnected` (server lost; updates resume by themselves when
        it returns) and :class:`RemoteError`.  The iteration ends on
        :class:`Finished`.

        Updates not consumed yet wait in a local queue of ``queue_size``
        items (default: the request's ``queueSize`` option, at least 1000);
        when it is full the oldest update is dropped (counted in
        :attr:`Subscription.dropped`).
        """
        req = parse_request(request)
        if queue_size is None:
            try:
                asked = req.int_option("queueSize", 0) or 0
            except (LocalProtocolError, TypeError, ValueError):
                asked = 0
            queue_size = max(1000, min(asked, _MAX_LOCAL_QUEUE))
        sub = Subscription(self, name, req, cb, notify_disconnect, queue_size)
        return sub

    def channel(self, name: str) -> "PV":
        """A :class:`PV`: one PV whose channel stays connected (reconnects by itself)."""
        return PV(self, name)


class PV:
    """One PV of a :class:`Context` (from :meth:`Context.channel`); its
    operations share the channel and the connection."""

    def __init__(self, ctx: Context, name: str):
        self.ctx = ctx
        self.name = name
        self._ch = ctx.core.channel(name)

    def __repr__(self) -> str:
        return f"<PV {self.name!r} {self._ch.state.value}>"

    @property
    def connected(self) -> bool:
        return self._ch.connected

    @property
    def server(self) -> Optional[Tuple[str, int]]:
        return self._ch.server

    async def wait_connected(self, timeout: Optional[float] = None) -> None:
        if self._ch.connected:
            return
        fut = self.ctx._loop.create_future()

        def on(up):
            if up and not fut.done():
                fut.set_result(None)
        self._ch.listeners.append(on)
        tmo = self.ctx.timeout if timeout is None else timeout
        try:
            await asyncio.wait_for(fut, tmo)
        except asyncio.TimeoutError:
            raise Timeout(self.name, tmo, _why(self._ch)) from None
        finally:
            self._ch.listeners.remove(on)

    async def get(self, request: Any = "", timeout: Optional[float] = None) -> Value:
        return await self.ctx.get(self.name, request, timeout)

    async def put(self, value: Any, request: Any = "", timeout: Optional[float] = None) -> None:
        return await self.ctx.put(self.name, value, request, timeout)

    async def put_get(self, value: Any, request: Any = "", timeout: Optional[float] = None) -> Value:
        return await self.ctx.put_get(self.name, value, request, timeout)

    async def rpc(self, value: Any = None, request: Any = "", timeout: Optional[float] = None) -> Any:
        return await self.ctx.rpc(self.name, value, request, timeout)

    async def info(self, timeout: Optional[float] = None) -> FieldDesc:
        return await self.ctx.info(self.name, timeout)

    async def process(self, request: Any = "", timeout: Optional[float] = None) -> None:
        return await self.ctx.process(self.name, request, timeout)

    async def array_get(self, offset: int = 0, count: int = -1, stride: int = 1,
                        request: Any = "field(value)", timeout: Optional[float] = None) -> Any:
        return await self.ctx.array_get(self.name, offset, count, stride, request, timeout)

    async def array_put(self, values: Any, offset: int = 0, stride: int = 1,
                        request: Any = "field(value)", timeout: Optional[float] = None) -> None:
        return await self.ctx.array_put(self.name, values, offset, stride, request, timeout)

    async def array_length(self, request: Any = "field(value)",
                           timeout: Optional[float] = None) -> int:
        return await self.ctx.array_length(self.name, request, timeout)

    async def array_set_length(self, length: int, request: Any = "field(value)",
                               timeout: Optional[float] = None) -> None:
        return await self.ctx.array_set_length(self.name, length, request, timeout)

    def monitor(self, cb=None, request: Any = "", **kw) -> "Subscription":
        return self.ctx.monitor(self.name, cb, request, **kw)


_MAX_LOCAL_QUEUE = 1_000_000


class Subscription:
    """A monitor: an async iterator (or a callback runner) over updates and events."""

    def __init__(self, ctx: Context, name: str, request, cb, notify_disconnect: bool,
                 queue_size: int):
        self.ctx = ctx
        self.name = name
        self.notify_disconnect = notify_disconnect
        self._queue: "collections.deque" = collections.deque()
        self._maxlen = max(1, queue_size)
        self._wake: Optional[asyncio.Future] = None
        self.closed = False
        self.dropped = 0
        core = ctx._ensure()
        ctx._subs.add(self)
        self._op: MonitorOp = core.monitor(name, request, self._on_event)
        self._task = None
        if cb is not None:
            self._task = ctx._loop.create_task(self._run_cb(cb))

    def __repr__(self) -> str:
        return f"<Subscription {self.name!r}{' closed' if self.closed else ''}>"

    def _on_event(self, item: Any) -> None:
        if self.closed:
            return
        if isinstance(item, Disconnected) and not self.notify_disconnect:
            return
        q = self._queue
        if len(q) >= self._maxlen:
            # squash: drop the oldest update (events are kept)
            for i, old in enumerate(q):
                if isinstance(old, Value):
                    del q[i]
                    self.dropped += 1
                    self._op.ack(1)
                    break
        q.append(item)
        w = self._wake
        if w is not None and not w.done():
            w.set_result(None)

    async def _next(self) -> Any:
        while not self._queue:
            if self.closed:
                raise StopAsyncIteration
            self._wake = self.ctx._loop.create_future()
            await self._wake
            self._wake = None
        item = self._queue.popleft()
        if isinstance(item, Value):
            if self._op.pipeline:       # ack() does nothing otherwise
                self._op.ack(1)
            return item
        if isinstance(item, Finished):
            self.closed = True
            self.ctx._subs.discard(self)
            raise StopAsyncIteration
        return item

    def __aiter__(self) -> "Subscription":
        return self

    __anext__ = _next

    async def _run_cb(self, cb) -> None:
        try:
            while True:
                try:
                    item = await self._next()
                except StopAsyncIteration:
                    return
                try:
                    r = cb(item)
                    if inspect.isawaitable(r):
                        await r
                except Exception:
                    log.exception("monitor callback of %s failed", self.name)
        except asyncio.CancelledError:
            pass

    async def __aenter__(self) -> "Subscription":
        return self

    async def __aexit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the subscription (pending items are discarded)."""
        if self.closed and self._op.done:
            return
        self.closed = True
        self.ctx._subs.discard(self)
        self._op.cancel()
        self._queue.clear()
        w = self._wake
        if w is not None and not w.done():
            w.set_result(None)
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()

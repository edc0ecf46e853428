"""The asyncio adapter of the I/O layer.

- :class:`AsyncioReactor`: what :class:`~pva.io.driver.Connection` and the
  loop-free protocol cores need from an event loop (clock, timers, eager
  coroutines, outgoing TCP connections), plus listening sockets.
- :class:`StreamAdapter`: the ``asyncio.BufferedProtocol`` face of a
  :class:`~pva.io.driver.Connection` (asyncio only gives the buffered read
  path to subclasses of ``BufferedProtocol``); it adds nothing but
  ``TCP_NODELAY``.
- :func:`start_eager`: run a coroutine at once up to its first suspension.

Most request handlers never suspend (a ``read`` of a plain value returns at
once), so creating a task for each one would only cost an event-loop
iteration and a task object per request.  :func:`start_eager` runs the
coroutine synchronously; only when it really waits for something is the rest
handed to a task, which continues it exactly where it stopped (Python 3.12's
``asyncio.eager_task_factory`` does the same for every task).
"""
from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Any, Callable, Coroutine, Optional

from .._stream import SCRATCH_SIZE

__all__ = ["AsyncioReactor", "StreamAdapter", "start_eager", "listen_backlog",
           "AsyncioAsyncLayer"]

log = logging.getLogger("pva.io")


class _Resume:
    """Awaitable that continues a started coroutine from its first yield."""

    __slots__ = ("coro", "yielded")

    def __init__(self, coro: Coroutine, yielded: Any):
        self.coro = coro
        self.yielded = yielded

    def __await__(self):
        coro, yielded = self.coro, self.yielded
        self.coro = self.yielded = None
        while True:
            try:
                sent = yield yielded
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as ex:  # cancellation, or a failed future
                try:
                    yielded = coro.throw(ex)
                except StopIteration as stop:
                    return stop.value
                continue
            try:
                yielded = coro.send(sent)
            except StopIteration as stop:
                return stop.value


async def _resume(coro: Coroutine, yielded: Any) -> Any:
    return await _Resume(coro, yielded)


def start_eager(coro: Coroutine) -> Optional[asyncio.Task]:
    """Run ``coro`` until it finishes or first suspends.

    Returns ``None`` when it finished (its result is dropped; exceptions
    propagate to the caller), otherwise the task that runs the rest.
    """
    try:
        yielded = coro.send(None)
    except StopIteration:
        return None
    return asyncio.ensure_future(_resume(coro, yielded))


class StreamAdapter(asyncio.BufferedProtocol):
    """asyncio's buffered-protocol face of a :class:`~pva.io.driver.Connection`."""

    __slots__ = ("conn", "get_buffer", "buffer_updated")

    def __init__(self, conn: Any):
        self.conn = conn
        # the read path goes straight to the connection (no call through here)
        self.get_buffer = conn.get_buffer
        self.buffer_updated = conn.buffer_updated

    def connection_made(self, transport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # pragma: no cover - not TCP
                pass
        self.conn.connection_made(transport)

    def eof_received(self):
        return self.conn.eof_received()

    def connection_lost(self, exc) -> None:
        self.conn.connection_lost(exc)

    def pause_writing(self) -> None:
        self.conn.pause_writing()

    def resume_writing(self) -> None:
        self.conn.resume_writing()


#: connections accepted at one wake-up of the event loop (the others wait in
#: the listen backlog for the next round)
ACCEPT_BURST = 8


def listen_backlog() -> int:
    """The largest listen backlog the system allows (``net.core.somaxconn``
    on Linux, else ``socket.SOMAXCONN``): connections arriving faster than
    they are accepted wait in it instead of retrying after a second."""
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            return max(int(f.read()), socket.SOMAXCONN)
    except (OSError, ValueError):
        return socket.SOMAXCONN


class AsyncioReactor:
    """The reactor of :mod:`pva.io.driver` on an asyncio event loop.

    Its ``read_buffer`` is where its connections receive small reads (one
    buffer for all of them: a read is copied out of it at once).
    """

    def __init__(self, loop: Optional[asyncio.AbstractEventLoop] = None):
        self.loop = loop = loop or asyncio.get_event_loop()
        # the clock the loop's timers use; BaseEventLoop.time is
        # time.monotonic() behind a method call, read once per received chunk
        self.time = (time.monotonic if getattr(type(loop), "time", None)
                     is asyncio.BaseEventLoop.time else loop.time)
        self.call_soon = loop.call_soon
        self.call_later = loop.call_later
        self.read_buffer = bytearray(SCRATCH_SIZE)
        self._tasks: set = set()

    @staticmethod
    def spawn(coro: Coroutine) -> Optional[asyncio.Task]:
        """:func:`start_eager`."""
        return start_eager(coro)

    def connect_tcp(self, host: str, port: int, conn: Any) -> None:
        """Start connecting ``conn`` (a Connection) to ``host:port``; it gets
        ``connection_made`` or, if the connection fails, ``connection_lost``."""
        async def connect():
            try:
                await self.loop.create_connection(lambda: StreamAdapter(conn), host, port)
            except OSError as ex:
                conn.connection_lost(ex)
        task = self.loop.create_task(connect())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def listen_tcp(self, host: str, port: int, factory: Callable[[], Any],
                         reuse_address: bool = True,
                         backlog: Optional[int] = None) -> asyncio.AbstractServer:
        """A listening socket (backlog: the system's largest, :func:`listen_backlog`);
        every accepted connection gets ``factory()`` (a Connection)."""
        # asyncio accepts up to its backlog argument at each wake-up and starts
        # them all before anything else runs: a burst of ACCEPT_BURST, then
        # the socket's real backlog is set (listen() again, on a duplicate)
        server = await self.loop.create_server(lambda: StreamAdapter(factory()), host=host,
                                               port=port, reuse_address=reuse_address,
                                               backlog=ACCEPT_BURST)
        for tsock in server.sockets:
            with tsock.dup() as sock:
                sock.listen(backlog or listen_backlog())
        return server

    def close(self) -> None:
        """Cancel the connections still being made."""
        for t in list(self._tasks):
            t.cancel()


class AsyncioAsyncLayer:
    """What startup, shutdown and scan hooks of a server's PVs receive as
    ``async_lib`` (caproto's convention), for the pva and the CA server."""

    name = "asyncio"
    library = asyncio
    ThreadsafeQueue = None

    @staticmethod
    async def sleep(seconds: float) -> None:
        await asyncio.sleep(seconds)

"""The asyncio pvAccess server.

Structure (after trio's ``serve_listeners``): :class:`Context` binds one TCP
listener per interface (all on one port) and listens on the UDP search port
(a :class:`~pva.io.udp.UDPCollector`: one socket on ``0.0.0.0``
that learns each datagram's destination and forwards unicast searches to
the other listeners on this host, as pvxs does), then runs a task per
accepted connection (:class:`ServerCircuit`).  Everything protocol-related is done by the
sans-I/O :class:`~pva.ServerVirtualCircuit` and :class:`~pva.Broadcaster`;
this module only moves bytes, calls the data wrappers of ``pvdb`` and
enforces limits.

Per connection:

- :class:`ServerCircuit` is the asyncio protocol of the connection: received
  bytes go to the circuit, each message is validated and handled in order,
  at once (no task) unless its handler has to wait, in which case it goes
  on in a task and reading pauses until it is done.  GET/PUT/PUT_GET/
  PROCESS/ARRAY/RPC executions also start at once and only become tasks
  when they wait (a slow put handler does not stall the connection); a
  cancel or destroy of the request cancels its task.  A PUT or PROCESS
  with ``record[block=false]`` is answered at once and its handler runs on
  as a server task.
- the *monitor sender* sends queued monitor updates, one per monitor in
  turn, respecting the pipeline window and TCP back-pressure.  A monitor's
  queue holds at most ``queueSize`` updates; when it is full the newest
  update is squashed into the last queued one (fields changed in both are
  marked in the overrun BitSet), so a slow client never grows memory.
- output is coalesced: the messages a circuit sends during one event-loop
  iteration are collected and written, in order, with one
  ``transport.writelines()``; the monitor sender (a callback, run once per
  iteration with pending updates) stops and waits for a drain only while
  the transport's write buffer is above its high-water mark.
- a *watchdog* closes a connection silent for ``EPICS_PVA_CONN_TMO``.

A data-wrapper exception becomes an error ``Status`` for that request.  A
malformed or illegal message (:class:`~pva.DecodeError`,
:class:`~pva.RemoteProtocolError`) closes that connection only, with the
reason logged.
"""
from __future__ import annotations

import asyncio
import collections
import errno
import inspect
import logging
import socket
from typing import Any, Callable, Dict, List, Mapping, Optional

from .._bitset import BitSet, _spans
from .._broadcaster import Broadcaster
from .._circuit import ServerVirtualCircuit
from .._dataclass import dataclass_from_field_desc, from_value, get_pv_structure, \
    is_pva_dataclass_instance
from .._errors import LocalProtocolError, ProtocolError
from .._forwarding import LOCAL_MCAST_GROUP, DatagramRouter, Received
from .._header import Direction, EchoRequest
from .._messages import (ChannelArrayRequest, ChannelDestroyRequest,
                         ChannelProcessRequest, ChannelProcessResponse, ChannelPutGetRequest,
                         ChannelPutGetResponse, ChannelFieldInfoRequest,
                         ChannelFieldInfoResponse, ChannelGetRequest, ChannelGetResponse,
                         ChannelMonitorRequest, ChannelMonitorResponse, ChannelPutRequest,
                         ChannelPutResponse, ChannelRequestCancel, ChannelRequestDestroy,
                         ChannelRpcRequest, ChannelRpcResponse, ConnectionValidationResponse,
                         CreateChannelRequest, Echo, EchoReply, SearchFlags,
                         SearchRequest, SearchResponse, encode_monitor_update)
from .._pvrequest import PVRequest
from .._state import ChannelState, RequestState
from ..io.netif import InterfaceMap, broadcast_addresses
from ..io.udp import UDPCollector
from .._values import DataWithBitSet, FieldDescAndData, Status
from ..io.aio import start_eager
from .config import ServerConfig, ServerLimits
from .array_ops import on_array
from .common import AuthOperation, DataWrapperBase, error_status, snapshot, wrap_pvdb

__all__ = ["Context", "ServerCircuit", "start_server", "run", "AsyncioAsyncLayer"]

log = logging.getLogger("pva.server")

_OK = Status()
_CLOSE_GRACE = 5.0      # seconds a closed connection may take to deliver its last data
#: monitor updates that follow each other closer than this are written together
_MONITOR_BATCH = 0.001


class AsyncioAsyncLayer:
    """What startup/shutdown hooks receive as ``async_lib`` (caproto convention)."""

    name = "asyncio"
    library = asyncio
    ThreadsafeQueue = None

    @staticmethod
    async def sleep(seconds: float) -> None:
        await asyncio.sleep(seconds)


_error = error_status


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


def _as_rpc_result(result: Any) -> FieldDescAndData:
    if isinstance(result, FieldDescAndData):
        return result
    if result is None:
        return FieldDescAndData()
    if is_pva_dataclass_instance(result):
        return FieldDescAndData(get_pv_structure(result), result)
    if isinstance(result, tuple) and len(result) == 2:
        return FieldDescAndData(*result)
    raise TypeError(f"an RPC result must be a pva dataclass instance, not "
                    f"{type(result).__name__}")


_MASK_CACHE: Dict[Any, Any] = {}


def _request_mask(request: PVRequest, desc) -> BitSet:
    """The fields a pvRequest selects, compacted (bit 0 alone = everything).

    Memoized: the codec hands out one PVRequest object per distinct request
    content, so a client repeating the same request hits the cache.  The
    result is only read.
    """
    key = (id(request), desc)
    hit = _MASK_CACHE.get(key)
    if hit is not None and hit[0] is request:
        return hit[1]
    if len(_MASK_CACHE) >= 4096:
        _MASK_CACHE.clear()
    mask = _compute_request_mask(request, desc)
    _MASK_CACHE[key] = (request, mask)    # keeps ``request`` alive: ids stay unique
    return mask


def _compute_request_mask(request: PVRequest, desc) -> BitSet:
    bits = request.to_bitset(desc)
    if len(bits) >= desc.num_bits:
        return BitSet({0})
    spans = _spans(desc)
    # a structure named only as the parent of a selected member (the
    # ``alarm`` of ``field(alarm.severity)``) is not selected as a whole
    own = BitSet(b for b in bits
                 if not any(c in bits for c in range(b + 1, b + spans[b])))
    return own.expand(desc).compact(desc)


def _blocking(request: PVRequest) -> bool:
    """``record[block=...]`` (default true: reply once the handler finished)."""
    try:
        return request.bool_option("block", True)
    except ProtocolError:   # a malformed option: the safe default
        return True


_COMPACT_CACHE: Dict[Any, BitSet] = {}


def _compact(bits: BitSet, desc) -> BitSet:
    """``bits.compact(desc)``, memoized (every subscriber of a PV sends the same
    changed bits; the result is only read by the encoder)."""
    key = (desc, frozenset(bits))
    out = _COMPACT_CACHE.get(key)
    if out is None:
        if len(_COMPACT_CACHE) >= 4096:
            _COMPACT_CACHE.clear()
        out = _COMPACT_CACHE[key] = bits.compact(desc)
    return out


class _Op:
    """Server state of one request (ioid) on a circuit."""

    __slots__ = ("ioid", "sid", "entry", "request", "desc", "mask", "task")

    def __init__(self, ioid, sid, entry, request, desc, mask):
        self.ioid = ioid
        self.sid = sid
        self.entry = entry
        self.request = request
        self.desc = desc
        self.mask = mask          # BitSet to send (compacted)
        self.task: Optional[asyncio.Task] = None


class _Monitor(_Op):
    """A monitor: a bounded, squashing queue of updates."""

    __slots__ = ("circuit", "queue", "queue_size", "pipeline", "window", "running",
                 "alive", "mask_full")

    def __init__(self, circuit, ioid, sid, entry, request, desc, mask, queue_size, pipeline):
        super().__init__(ioid, sid, entry, request, desc, mask)
        self.circuit = circuit
        self.queue: "collections.deque[list]" = collections.deque()
        self.queue_size = queue_size
        self.pipeline = pipeline
        self.window = queue_size
        self.running = False
        self.alive = True
        self.mask_full = mask.expand(desc)

    def post(self, snap: Dict[str, Any], changed: BitSet) -> None:
        """Queue an update (called by the data wrapper); squash if the queue is full."""
        if not self.alive:
            return
        bits = changed.expand(self.desc) & self.mask_full
        if not bits:
            return
        q = self.queue
        if len(q) < self.queue_size:
            q.append([snap, bits, BitSet()])        # ``bits`` is a new set
        else:
            last = q[-1]
            last[2] |= last[1] & bits
            last[1] |= bits
            last[0] = snap
        self.circuit._kick(self)

    @property
    def sendable(self) -> bool:
        return self.alive and self.running and bool(self.queue) and \
            (not self.pipeline or self.window > 0)


class ServerCircuit(asyncio.BufferedProtocol):
    """One client connection (the asyncio protocol of its TCP transport).

    A buffered protocol: the bytes of a large message (an array put) are
    received straight into the buffer the decoded array will use.
    """

    def __init__(self, context: "Context"):
        self.context = context
        self.peer = ("", 0)
        self.sockname = ("", 0)
        limits = context.config.limits
        self.limits = limits
        self.vc: Optional[ServerVirtualCircuit] = None    # made when connected
        self.entries: Dict[int, DataWrapperBase] = {}           # sid -> wrapper
        self.chan_ops: Dict[int, set] = {}                       # sid -> ioids
        self.ops: Dict[int, _Op] = {}                            # ioid -> op
        self.authorization: Dict[str, Any] = {"method": "", "user": "", "host": "",
                                              "peer": self.peer, "data": None}
        self._dirty: "collections.OrderedDict[_Monitor, None]" = collections.OrderedDict()
        self._loop = loop = asyncio.get_running_loop()
        self.transport: Optional[asyncio.Transport] = None
        self._out: List[Any] = []           # buffers not yet written (this iteration)
        self._out_size = 0
        self._flush_scheduled = False
        self._sender_scheduled = False
        self._blocked = False               # monitor sender waits for a drain
        self._drain_task: Optional[asyncio.Future] = None
        self._write_paused = False          # transport above its high-water mark
        self._last_monitor_write = -1.0     # loop time of the last monitor write
        self._batch_timer: Optional[asyncio.TimerHandle] = None
        self._drain_waiters: List[asyncio.Future] = []
        self._inbox: "collections.deque" = collections.deque()   # messages not handled yet
        self._handler_task: Optional[asyncio.Task] = None    # a handler that is waiting
        self._read_paused = False
        self._watchdog_task: Optional[asyncio.Task] = None
        self._last_rx = loop.time()
        self._closing = False
        self.close_reason: Optional[str] = None
        #: set when the connection is gone and its operations are cleaned up
        self.done: asyncio.Future = loop.create_future()

    def __repr__(self) -> str:
        return f"<ServerCircuit peer={self.peer} channels={len(self.entries)}>"

    # ------------------------------------------------------------ sending
    def _send(self, *messages) -> None:
        self._queue(self.vc.send(*messages))

    def _queue(self, bufs) -> None:
        """Write ``bufs`` at the end of this loop iteration, with the others."""
        if not self._closing:
            self._out.extend(bufs)
            for b in bufs:
                self._out_size += len(b)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        """Write the buffers collected since the last flush, in one call."""
        self._flush_scheduled = False
        out = self._out
        if out:
            self._out = []
            self._out_size = 0
            if not self._closing:
                try:
                    self.transport.writelines(out)
                except Exception as ex:  # an error closes this circuit only
                    log.exception("%s: write failed", self)
                    self.close(f"write failed: {ex}")

    def _request_alive(self, ioid: int) -> bool:
        req = self.vc.requests.get(ioid)
        return req is not None and req.state is not RequestState.DEAD

    def _reply(self, msg, error_reply: Callable[[Status], Any]) -> None:
        """Send an operation reply; if its value cannot be encoded send an error."""
        if not self._request_alive(msg.ioid):
            return  # destroyed or cancelled meanwhile
        try:
            self._send(msg)
        except LocalProtocolError as ex:
            self._reply_failed(msg.ioid, ex, error_reply)

    def _reply_failed(self, ioid: int, ex: LocalProtocolError,
                      error_reply: Callable[[Status], Any]) -> None:
        log.warning("%s: cannot send reply to request %d: %s", self, ioid, ex)
        if self._request_alive(ioid):
            try:
                self._send(error_reply(Status.create_error(f"server: {ex}")))
            except LocalProtocolError as ex2:
                log.error("%s: cannot send error reply: %s", self, ex2)

    def _reply_ok(self, op: "_Op", sub: int, data, response_cls) -> None:
        """The successful reply to ``op``'s INIT (its type) or an execution
        (with ``data`` if not None).

        What ``_reply(response_cls(ioid, OK, sub, ...))`` sends, without building
        the message (GET, PUT and PROCESS)."""
        vc = self.vc
        req = vc.requests.get(op.ioid)
        if req is None or req.state is RequestState.DEAD:
            return  # destroyed or cancelled meanwhile
        try:
            self._queue(vc.reply_ok(req, sub, op.desc, None if data is None
                                    else DataWithBitSet(data, op.mask)))
        except LocalProtocolError as ex:
            self._reply_failed(op.ioid, ex, lambda status: response_cls(op.ioid, status, sub))

    def close(self, reason: str) -> None:
        """Close the connection (what was sent so far is still delivered)."""
        if self.close_reason is None:
            self.close_reason = reason
        if not self._closing:
            self._flush()
        self._closing = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
            # a peer that does not read would keep the buffered data (and the
            # connection) forever
            self._loop.call_later(_CLOSE_GRACE, self._abort)

    def _abort(self) -> None:
        if not self.done.done() and self.transport is not None:
            self.transport.abort()

    # ------------------------------------------------------------ protocol
    def connection_made(self, transport) -> None:
        self.transport = transport
        self.peer = tuple(transport.get_extra_info("peername")[:2])
        self.sockname = tuple(transport.get_extra_info("sockname")[:2])
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # pragma: no cover - not TCP
                pass
        self.context.circuits.add(self)
        self.authorization["peer"] = self.peer
        self.vc = vc = ServerVirtualCircuit(address=self.peer,
                                            max_message_size=self.limits.max_message_size)
        self._send(vc.set_byte_order(vc.byte_order),
                   vc.validate_connection(0x10000, 0x7FFF, ("anonymous", "ca")))
        self._watchdog_task = asyncio.ensure_future(self._watchdog())

    def get_buffer(self, sizehint: int) -> memoryview:
        if self._closing:
            return memoryview(bytearray(0x10000))      # discarded
        return self.vc.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        if self._closing:
            return
        self._last_rx = self._loop.time()
        try:
            self._inbox.extend(self.vc.buffer_updated(nbytes))
        except ProtocolError as ex:
            self.close(f"malformed data: {ex}")
            return
        if self._handler_task is None:
            self._handle_inbox()

    def _handle_inbox(self) -> None:
        """Handle received messages in order, each at once if it does not wait.

        A handler that waits (an authorize hook, a subscribe) continues in a
        task; the messages behind it wait, and reading stops, until it is done.
        """
        inbox, vc = self._inbox, self.vc
        self._flush_scheduled = True     # one write at the end, not one per reply
        while inbox and not self._closing:
            msg = inbox.popleft()
            if type(msg) is ChannelGetRequest:
                # the hot path: an execution of an open GET, accepted in one step
                op = self.ops.get(msg.ioid)
                if op is not None and vc.begin_exec(msg) is not None:
                    self._spawn(op, self._exec_get(op, msg.subcommand))
                    continue
            try:
                if not vc.process_command(msg):
                    continue
            except ProtocolError as ex:
                self.close(f"protocol violation: {ex}")
                break
            handler = _HANDLERS.get(type(msg))
            if handler is None:
                continue            # a control message without a reply (marker, ack)
            try:
                # a handler that never waits is a plain function (None); the
                # others are coroutines, run at once until they first wait
                coro = handler(self, msg)
                task = None if coro is None else start_eager(coro)
            except Exception as ex:
                log.exception("%s: handling %s failed", self, type(msg).__name__)
                self.close(f"internal error: {ex}")
                break
            if task is not None:
                self._handler_task = task
                task.add_done_callback(self._handler_done)
                self._pause_reading()
                break
        self._flush()

    def _handler_done(self, task: asyncio.Task) -> None:
        self._handler_task = None
        if not task.cancelled() and task.exception() is not None:
            ex = task.exception()
            log.error("%s: a handler failed", self, exc_info=ex)
            self.close(f"internal error: {ex}")
            return
        if not self._closing:
            self._handle_inbox()
            if self._handler_task is None:
                self._resume_reading()

    def _pause_reading(self) -> None:
        if not self._read_paused and not self._closing:
            self._read_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._read_paused and not self._closing and not self._write_paused \
                and self._handler_task is None:
            self._read_paused = False
            self.transport.resume_reading()

    def pause_writing(self) -> None:
        # the client does not read its replies: stop reading its requests
        self._write_paused = True
        self._pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        waiters, self._drain_waiters = self._drain_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)
        self._resume_reading()

    async def _drain(self) -> None:
        """Wait until the transport's write buffer is below its high-water mark."""
        if self._closing:
            raise ConnectionError("connection closed")
        if not self._write_paused:
            return
        fut = self._loop.create_future()
        self._drain_waiters.append(fut)
        await fut

    def eof_received(self) -> bool:
        return False            # close our side too

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        if self.close_reason is None:
            self.close_reason = f"connection lost: {exc}" if exc else None
        self._closing = True
        for fut in self._drain_waiters:
            if not fut.done():
                fut.set_exception(ConnectionError("connection closed"))
        self._drain_waiters = []
        reason = self.close_reason
        if reason and not reason.startswith(("server stopping", "connection lost")):
            log.warning("closing circuit from %s:%s: %s", *self.peer, reason)
        else:
            log.debug("circuit from %s:%s closed: %s", *self.peer, reason or "by the client")
        # usually finishes at once; a task only if an unsubscribe hook waits
        task = start_eager(self._teardown())
        if task is not None:
            self.context._track(task)

    async def _teardown(self) -> None:
        try:
            tasks = [t for t in (self._watchdog_task, self._drain_task, self._handler_task)
                     if t is not None]
            for t in tasks:
                t.cancel()
            await self._cleanup()
            self.vc.disconnect()
        finally:
            self.context.circuits.discard(self)
            if not self.done.done():
                self.done.set_result(None)

    async def _cleanup(self) -> None:
        for op in list(self.ops.values()):
            await self._drop_and_wait(op)
        self.ops.clear()

    def _drop_op(self, op: _Op):
        """Forget an operation; a coroutine (the unsubscribe) for a monitor, else None."""
        if op.task is not None and not op.task.done():
            op.task.cancel()
        ioids = self.chan_ops.get(op.sid)
        if ioids is not None:
            ioids.discard(op.ioid)
        if isinstance(op, _Monitor):
            op.alive = False
            op.queue.clear()
            return self._unsubscribe(op)
        return None

    async def _drop_and_wait(self, op: _Op) -> None:
        unsubscribe = self._drop_op(op)
        if unsubscribe is not None:
            await unsubscribe

    async def _unsubscribe(self, op: "_Monitor") -> None:
        try:
            await op.entry.unsubscribe(None, op)
        except Exception:
            log.exception("%s: unsubscribe of %s failed", self, op.entry)

    async def _watchdog(self) -> None:
        tmo = self.context.config.conn_timeout
        if not tmo or tmo <= 0:
            return
        loop = asyncio.get_running_loop()
        while not self._closing:
            idle = loop.time() - self._last_rx
            if idle >= tmo:
                self.close(f"no data received for {tmo:g} s (EPICS_PVA_CONN_TMO)")
                return
            await asyncio.sleep(tmo - idle + 0.01)

    def _kick(self, mon: _Monitor) -> None:
        if mon.sendable:
            self._dirty[mon] = None
            if not self._sender_scheduled and not self._blocked and not self._closing:
                self._sender_scheduled = True
                self._loop.call_soon(self._monitor_sender)

    def _monitor_sender(self) -> None:
        """Send the queued monitor updates (a callback, once per loop iteration)."""
        self._sender_scheduled = False
        try:
            self._send_monitors()
        except Exception as ex:  # never let a sender error escape into the loop
            log.exception("%s: monitor sender failed", self)
            self.close(f"monitor sender failed: {ex}")

    def _send_monitors(self) -> None:
        dirty = self._dirty
        transport = self.transport
        high = transport.get_write_buffer_limits()[1]
        now = self._loop.time()
        # a burst (updates again within _MONITOR_BATCH of the last write):
        # gather this iteration's updates with the next ones for a moment,
        # one write instead of one per update
        burst = now - self._last_monitor_write < _MONITOR_BATCH
        if burst:
            self._flush_scheduled = True
        shared = self.context._shared_update
        vc = self.vc
        order = vc.byte_order
        while dirty and not self._closing:
            mon, _ = dirty.popitem(last=False)
            if not mon.sendable:
                continue
            snap, bits, overrun = mon.queue.popleft()
            if mon.pipeline:
                mon.window -= 1
            desc = mon.desc
            cbits = _compact(bits, desc)
            cover = _compact(overrun, desc) if overrun else None
            raw = shared(snap, cbits, cover, desc, order)
            if self._request_alive(mon.ioid):
                try:
                    if raw is not None:     # encoded once for every subscriber
                        self._queue(vc.send_update(mon.ioid, raw))
                    else:
                        self._send(ChannelMonitorResponse(
                            mon.ioid, _OK, 0, pv_structure_if=desc,
                            pv_data=DataWithBitSet(snap, cbits), overrun_bitset=cover))
                except LocalProtocolError as ex:
                    log.warning("%s: monitor update of %s not sent: %s", self,
                                mon.entry.name, ex)
            if mon.sendable:
                dirty[mon] = None
            if self._out_size + transport.get_write_buffer_size() > high:
                # TCP back-pressure: write what we have, resume once drained
                self._flush()
                if transport.get_write_buffer_size() > high and not self._closing:
                    self._blocked = True
                    self._drain_task = asyncio.ensure_future(self._wait_drain())
                    return
        if not burst:
            self._last_monitor_write = now
            self._flush()
        elif self._batch_timer is None and not self._closing:
            self._batch_timer = self._loop.call_later(_MONITOR_BATCH, self._batch_flush)

    def _batch_flush(self) -> None:
        self._batch_timer = None
        self._last_monitor_write = self._loop.time()
        self._flush()

    async def _wait_drain(self) -> None:
        try:
            await self._drain()
        except Exception:  # connection lost: connection_lost cleans up
            return
        finally:
            self._blocked = False
        if self._dirty and not self._closing and not self._sender_scheduled:
            self._sender_scheduled = True
            self._loop.call_soon(self._monitor_sender)

    # ------------------------------------------------------------ dispatch
    # ------------------------------------------------------------ handlers
    # one per message type (_HANDLERS); ``async`` where the handling may wait
    def _on_echo_request(self, msg: EchoRequest) -> None:
        self._send(self.vc.echo_response(msg))

    async def _on_validation(self, msg: ConnectionValidationResponse) -> None:
        auth = self.authorization
        auth["method"] = msg.auth_nz
        data = msg.data
        if data is not None and data.interface is not None and isinstance(data.data, dict):
            auth["user"] = str(data.data.get("user", ""))
            auth["host"] = str(data.data.get("host", ""))
            try:
                auth["data"] = from_value(dataclass_from_field_desc(data.interface), data.data)
            except Exception:
                auth["data"] = data.data
        hook = self.context.authorize
        status = _OK
        if hook is not None:
            try:
                await _maybe_await(hook(dict(auth)))
            except Exception as ex:
                status = _error(ex)
        self._send(self.vc.validated_connection(status))
        if not status.is_successful:
            self.close(f"connection refused: {status.message}")

    def _on_echo(self, msg: Echo) -> None:
        self._send(EchoReply(msg.payload))

    async def _on_search(self, msg: SearchRequest) -> None:
        found = self.context._found_ids(msg)
        if found or msg.flags & SearchFlags.REPLY_REQUIRED:
            self._send(SearchResponse(self.context.guid, msg.sequence_id, self.sockname,
                                      found, found=bool(found)))

    async def _on_create(self, msg: CreateChannelRequest) -> None:
        pvdb = self.context.pvdb
        for cid, name in msg.channels:
            ch = self.vc.channel_by_cid(cid)
            entry = pvdb.get(name)
            if entry is None:
                self._send(ch.create(status=Status.create_error(f"no such channel: {name}")))
                continue
            if len(self.entries) >= self.limits.max_channels:
                self._send(ch.create(status=Status.create_error(
                    f"too many channels on this connection (limit {self.limits.max_channels})")))
                continue
            self._send(ch.create())
            self.entries[ch.sid] = entry
            self.chan_ops[ch.sid] = set()

    async def _on_destroy_channel(self, msg: ChannelDestroyRequest) -> None:
        sid = msg.server_chid
        ch = self.vc.channel_by_sid(sid)
        for ioid in list(self.chan_ops.pop(sid, ())):
            op = self.ops.pop(ioid, None)
            if op is not None:
                await self._drop_and_wait(op)
        self.entries.pop(sid, None)
        if ch is not None and ch.state is ChannelState.DESTROYING:
            self._send(ch.disconnect())

    def _on_request_destroy(self, msg: ChannelRequestDestroy):
        op = self.ops.pop(msg.ioid, None)
        if op is not None:
            return self._drop_op(op)
        return None

    async def _on_request_cancel(self, msg: ChannelRequestCancel) -> None:
        op = self.ops.get(msg.ioid)
        if op is not None and op.task is not None and not op.task.done():
            op.task.cancel()

    # --- INIT of an operation
    async def _init_op(self, msg, operation: AuthOperation, error_reply, select=None):
        """Common INIT checks; returns (entry, request, desc, mask) or None.

        ``select(request, desc)``, if given, replaces the field selection; its
        result is returned in place of the mask."""
        entry = self.entries.get(msg.server_chid)
        live = len(self.ops)
        try:
            if entry is None:
                raise LookupError(f"unknown channel {msg.server_chid}")
            if live >= self.limits.max_operations:
                raise RuntimeError(f"too many operations on this connection "
                                   f"(limit {self.limits.max_operations})")
            request = msg.request
            await entry.authorize(operation, authorization=dict(self.authorization),
                                  request=request)
            desc = entry.structure
            mask = (select or _request_mask)(request, desc)
        except Exception as ex:
            self._reply(error_reply(_error(ex)), error_reply)
            return None
        return entry, request, desc, mask

    async def _open(self, msg, operation: AuthOperation, error_reply) -> Optional[_Op]:
        """The INIT of a GET, PUT, PUT_GET, PROCESS or RPC: the checks of
        :meth:`_init_op`, then the operation registered (None: refused, the
        error reply sent)."""
        res = await self._init_op(msg, operation, error_reply)
        if res is None:
            return None
        entry, request, desc, mask = res
        op = _Op(msg.ioid, msg.server_chid, entry, request, desc, mask)
        self._register(op)
        return op

    async def _init_reply_ok(self, msg, operation: AuthOperation, error_reply,
                             response_cls) -> None:
        """The INIT of a GET or PUT, answered with the PV's type."""
        op = await self._open(msg, operation, error_reply)
        if op is not None:
            self._reply_ok(op, msg.subcommand, None, response_cls)

    def _register(self, op: _Op) -> None:
        self.ops[op.ioid] = op
        self.chan_ops.setdefault(op.sid, set()).add(op.ioid)

    def _spawn(self, op: _Op, coro) -> None:
        """Execute an operation: at once, continued in a task if it waits."""
        op.task = start_eager(coro)

    def _on_get(self, msg: ChannelGetRequest):
        ioid = msg.ioid

        def err(status):
            return ChannelGetResponse(ioid, status, msg.subcommand)
        if msg.subcommand & 0x08:
            return self._init_reply_ok(msg, AuthOperation.read, err, ChannelGetResponse)
        op = self.ops.get(ioid)
        if op is not None:
            self._spawn(op, self._exec_get(op, msg.subcommand))
        return None

    async def _exec_get(self, op: _Op, sub: int) -> None:
        try:
            data = await op.entry.read(op.request)
        except asyncio.CancelledError:
            raise
        except Exception as ex:
            log.debug("%s: read of %s failed", self, op.entry.name, exc_info=True)
            error = ChannelGetResponse(op.ioid, _error(ex), sub)
            self._reply(error, lambda status: ChannelGetResponse(op.ioid, status, sub))
        else:
            self._reply_ok(op, sub, data, ChannelGetResponse)
        self._finish(op, sub)

    def _finish(self, op: _Op, sub: int) -> None:
        op.task = None
        if sub & 0x10:
            self.ops.pop(op.ioid, None)
            ioids = self.chan_ops.get(op.sid)
            if ioids is not None:
                ioids.discard(op.ioid)

    def _on_put(self, msg: ChannelPutRequest):
        ioid = msg.ioid

        def err(status):
            return ChannelPutResponse(ioid, status, msg.subcommand)
        if msg.subcommand & 0x08:
            return self._init_reply_ok(msg, AuthOperation.write, err, ChannelPutResponse)
        op = self.ops.get(ioid)
        if op is not None:
            self._spawn(op, self._exec_put(op, msg, err))
        return None

    async def _exec_put(self, op: _Op, msg: ChannelPutRequest, err) -> None:
        sub = msg.subcommand
        data = None
        try:
            if sub & 0x40:
                data = await op.entry.read(op.request)
            else:
                update = msg.put_data
                if update.data is None:
                    update.data = {}
                if _blocking(op.request):
                    await op.entry.write(update)
                else:
                    self._detach(op.entry, "put", op.entry.write(update))
        except asyncio.CancelledError:
            raise
        except Exception as ex:
            log.debug("%s: put to %s failed", self, op.entry.name, exc_info=True)
            self._reply(err(_error(ex)), err)
        else:
            self._reply_ok(op, sub, data, ChannelPutResponse)
        self._finish(op, sub)

    def _detach(self, entry: DataWrapperBase, what: str, coro) -> None:
        """Run a handler without waiting for it (``block=false``); errors are logged."""
        async def run():
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("%s: non-blocking %s of %s failed", self, what, entry.name,
                            exc_info=True)
        self.context._spawn(run())

    async def _on_put_get(self, msg: ChannelPutGetRequest) -> None:
        ioid = msg.ioid

        def err(status):
            return ChannelPutGetResponse(ioid, status, msg.subcommand)
        if msg.is_init:
            op = await self._open(msg, AuthOperation.write, err)
            if op is not None:
                # as pvAccessCPP for a plain PV: both structures are the PV's,
                # the get part marked by the request's field selection
                self._reply(ChannelPutGetResponse(ioid, _OK, msg.subcommand,
                                                  put_structure_if=op.desc,
                                                  get_structure_if=op.desc), err)
            return
        op = self.ops.get(ioid)
        if op is None:
            return
        self._spawn(op, self._exec_put_get(op, msg, err))

    async def _exec_put_get(self, op: _Op, msg: ChannelPutGetRequest, err) -> None:
        sub = msg.subcommand
        try:
            if sub & 0x80:      # GET_PUT: the put structure's current value
                data = await op.entry.read(op.request)
                reply = ChannelPutGetResponse(op.ioid, _OK, sub, put_structure_if=op.desc,
                                              pv_data=DataWithBitSet(data, BitSet({0})))
            else:
                if not sub & 0x40:  # put, then get; GET_GET only gets
                    update = msg.put_data
                    if update.data is None:
                        update.data = {}
                    await op.entry.write(update)
                data = await op.entry.read(op.request)
                reply = ChannelPutGetResponse(op.ioid, _OK, sub, get_structure_if=op.desc,
                                              pv_data=DataWithBitSet(data, op.mask))
        except asyncio.CancelledError:
            raise
        except Exception as ex:
            log.debug("%s: put-get of %s failed", self, op.entry.name, exc_info=True)
            reply = err(_error(ex))
        self._reply(reply, err)
        self._finish(op, sub)

    async def _on_process(self, msg: ChannelProcessRequest) -> None:
        ioid = msg.ioid

        def err(status):
            return ChannelProcessResponse(ioid, status, msg.subcommand)
        if msg.is_init:
            # processing may change the PV: it needs write access (as in qsrv)
            if await self._open(msg, AuthOperation.write, err) is not None:
                self._reply(ChannelProcessResponse(ioid, _OK, msg.subcommand), err)
            return
        op = self.ops.get(ioid)
        if op is None:
            return
        self._spawn(op, self._exec_process(op, msg.subcommand, err))

    async def _exec_process(self, op: _Op, sub: int, err) -> None:
        try:
            if _blocking(op.request):
                await op.entry.process(op.request)
            else:
                self._detach(op.entry, "process", op.entry.process(op.request))
            reply = ChannelProcessResponse(op.ioid, _OK, sub)
        except asyncio.CancelledError:
            raise
        except Exception as ex:
            log.debug("%s: process of %s failed", self, op.entry.name, exc_info=True)
            reply = err(_error(ex))
        self._reply(reply, err)
        self._finish(op, sub)

    async def _on_rpc(self, msg: ChannelRpcRequest) -> None:
        ioid = msg.ioid

        def err(status):
            return ChannelRpcResponse(ioid, status, msg.subcommand)
        if msg.is_init:
            if await self._open(msg, AuthOperation.call, err) is not None:
                self._reply(ChannelRpcResponse(ioid, _OK, msg.subcommand), err)
            return
        op = self.ops.get(ioid)
        if op is None:
            return
        self._spawn(op, self._exec_rpc(op, msg, err))

    async def _exec_rpc(self, op: _Op, msg: ChannelRpcRequest, err) -> None:
        sub = msg.subcommand
        try:
            result = _as_rpc_result(await op.entry.call(op.request, msg.pv_data))
            reply = ChannelRpcResponse(op.ioid, _OK, sub, pv_response=result)
        except asyncio.CancelledError:
            raise
        except Exception as ex:
            log.debug("%s: RPC to %s failed", self, op.entry.name, exc_info=True)
            reply = err(_error(ex))
        self._reply(reply, err)
        self._finish(op, sub)

    async def _on_monitor(self, msg: ChannelMonitorRequest) -> None:
        ioid = msg.ioid
        sub = msg.subcommand
        if msg.is_init:
            def err(status):
                return ChannelMonitorResponse(ioid, status, 0x08)
            res = await self._init_op(msg, AuthOperation.read, err)
            if res is None:
                return
            entry, request, desc, mask = res
            lim = self.limits
            pipeline = bool(sub & 0x80)
            try:
                qsize = msg.nfree if pipeline else request.int_option("queueSize", None)
                qsize = int(qsize) if qsize else lim.default_queue_size
            except Exception:  # a malformed queueSize option: use the default
                qsize = lim.default_queue_size
            qsize = max(1, min(qsize, lim.max_queue_size))
            mon = _Monitor(self, ioid, msg.server_chid, entry, request, desc, mask, qsize,
                           pipeline)
            try:
                data = await entry.subscribe(None, mon)
            except Exception as ex:
                self._reply(err(_error(ex)), err)
                return
            self._register(mon)
            self._reply(ChannelMonitorResponse(ioid, _OK, 0x08, pv_structure_if=desc), err)
            # the first update is the complete (selected) value
            mon.queue.append([snapshot(desc, data), BitSet(mon.mask_full), BitSet()])
            return
        mon = self.ops.get(ioid)
        if not isinstance(mon, _Monitor):
            return
        if sub & 0x10:
            self.ops.pop(ioid, None)
            await self._drop_and_wait(mon)
            return
        if sub & 0x80 and msg.nfree is not None:
            mon.window += msg.nfree
        if sub & 0x04:
            mon.running = bool(sub & 0x40)
        self._kick(mon)

    async def _on_get_field(self, msg: ChannelFieldInfoRequest) -> None:
        ioid = msg.ioid
        entry = self.entries.get(msg.server_chid)
        try:
            if entry is None:
                raise LookupError(f"unknown channel {msg.server_chid}")
            await entry.authorize(AuthOperation.read_interface,
                                  authorization=dict(self.authorization))
            desc = entry.structure
            name = msg.sub_field_name
            if name:
                desc = desc[name]
            reply = ChannelFieldInfoResponse(ioid, desc)
        except Exception as ex:
            reply = ChannelFieldInfoResponse(ioid, None, _error(ex))
        self._send(reply)


_HANDLERS = {
    ConnectionValidationResponse: ServerCircuit._on_validation,
    Echo: ServerCircuit._on_echo,
    SearchRequest: ServerCircuit._on_search,
    CreateChannelRequest: ServerCircuit._on_create,
    ChannelDestroyRequest: ServerCircuit._on_destroy_channel,
    ChannelRequestDestroy: ServerCircuit._on_request_destroy,
    ChannelRequestCancel: ServerCircuit._on_request_cancel,
    ChannelGetRequest: ServerCircuit._on_get,
    ChannelPutRequest: ServerCircuit._on_put,
    ChannelRpcRequest: ServerCircuit._on_rpc,
    ChannelMonitorRequest: ServerCircuit._on_monitor,
    ChannelFieldInfoRequest: ServerCircuit._on_get_field,
    ChannelPutGetRequest: ServerCircuit._on_put_get,
    ChannelProcessRequest: ServerCircuit._on_process,
    ChannelArrayRequest: on_array,
    EchoRequest: ServerCircuit._on_echo_request,
}


class Context:
    """An asyncio pvAccess server for ``pvdb`` (PV name -> data wrapper).

    Parameters
    ----------
    pvdb : dict
        PV name to :class:`~pva.server.common.DataWrapperBase` (or a plain pva
        dataclass instance, which gets wrapped).
    interfaces : list of str, optional
        Overrides EPICS_PVAS_INTF_ADDR_LIST.
    conf : dict, optional
        EPICS_PVA* settings overriding the environment.
    useenv : bool
        Read the environment at all (``False``: only ``conf`` and defaults).
    config : ServerConfig, optional
        A complete configuration (``conf``/``useenv`` are then ignored).
    limits : ServerLimits, optional
        Per-circuit limits.
    authorize : callable, optional
        ``authorize(authorization: dict)`` (may be async) called when a client
        validates its connection, with ``method``, ``user``, ``host`` and
        ``peer``; raise to refuse the connection.

    Attributes
    ----------
    port, udp_port : int
        The bound TCP and UDP ports (known once :meth:`start` returned).
    """

    def __init__(self, pvdb: Mapping[str, Any], *, interfaces: Optional[List[str]] = None,
                 conf: Optional[Mapping[str, str]] = None, useenv: bool = True,
                 config: Optional[ServerConfig] = None, limits: Optional[ServerLimits] = None,
                 authorize: Optional[Callable[[dict], Any]] = None):
        self.pvdb = wrap_pvdb(pvdb)
        self.config = config or ServerConfig.from_env(conf, useenv=useenv, limits=limits)
        if limits is not None:
            self.config.limits = limits
        if interfaces:
            self.config.interfaces = list(interfaces)
        self.authorize = authorize
        self.broadcaster = Broadcaster(Direction.SERVER)
        self.port: Optional[int] = None
        self.udp_port: Optional[int] = None
        self.circuits: set = set()
        self._updates: Dict[Any, tuple] = {}     # see _shared_update
        self._servers: list = []
        self._udp: List[UDPCollector] = []
        self._accept: Optional[frozenset] = None
        #: where beacons go (known once :meth:`start` returned)
        self.beacon_destinations: List[tuple] = []
        self._tasks: set = set()
        self._hook_tasks: list = []
        self._stopped: Optional[asyncio.Event] = None
        self.started = False

    @property
    def guid(self) -> bytes:
        """The server GUID."""
        return self.broadcaster.guid

    def client_conf(self) -> Dict[str, str]:
        """A client configuration (p4p ``conf=``) that reaches this server by unicast."""
        return self.config.client_conf(self.port, self.udp_port)

    # ------------------------------------------------------------ start/stop
    async def start(self) -> None:
        """Bind the TCP and UDP sockets and start serving (returns when ready)."""
        loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        cfg = self.config
        port = cfg.tcp_port
        for intf in cfg.interfaces:
            try:
                srv = await loop.create_server(self._new_circuit, host=intf, port=port,
                                               reuse_address=True)
            except OSError as ex:
                if ex.errno != errno.EADDRINUSE or port == 0 or self._servers:
                    raise
                log.warning("TCP port %d is in use; using a free port", port)
                srv = await loop.create_server(self._new_circuit, host=intf, port=0,
                                               reuse_address=True)
            port = srv.sockets[0].getsockname()[1]
            self._servers.append(srv)
        self.port = port
        await self._open_udp()
        self.broadcaster.server_address = (
            cfg.interfaces[0] if len(cfg.interfaces) == 1 else "0.0.0.0", port)
        self._spawn(self._beacon_loop())
        self.started = True
        log.info("pva server %s listening on TCP %s:%d, UDP %d", self.guid.hex(),
                 ",".join(cfg.interfaces), port, self.udp_port)

    def _spawn(self, coro) -> asyncio.Task:
        return self._track(asyncio.ensure_future(coro))

    def _shared_update(self, snap, cbits, cover, desc, order) -> Optional[tuple]:
        """The encoded body of a monitor update, shared by every circuit that
        sends it in this event-loop iteration (``None``: encode per circuit)."""
        key = (id(snap), id(cbits), id(cover), desc, order)
        hit = self._updates.get(key)
        if hit is not None and hit[0] is snap and hit[1] is cbits and hit[2] is cover:
            return hit[3]
        if not self._updates:
            asyncio.get_running_loop().call_soon(self._updates.clear)
        try:
            raw = encode_monitor_update(desc, DataWithBitSet(snap, cbits), cover, order)
        except LocalProtocolError:
            raw = None          # the circuit's own encoding reports it
        self._updates[key] = (snap, cbits, cover, raw)   # the ids stay unique meanwhile
        return raw

    def _track(self, task: asyncio.Task) -> asyncio.Task:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def run(self, *, log_pv_names: bool = False, startup_hook=None) -> None:
        """Start, run the startup hooks of the data wrappers, serve until :meth:`stop`."""
        if not self.started:
            await self.start()
        if log_pv_names:
            log.info("PVs available:\n%s", "\n".join(sorted(self.pvdb)))
        async_lib = AsyncioAsyncLayer()
        for entry in self.pvdb.values():
            hook = getattr(entry, "server_startup", None)
            if hook is not None:
                self._hook_tasks.append(asyncio.ensure_future(self._run_hook(hook, async_lib)))
        if startup_hook is not None:
            await _maybe_await(startup_hook(self))
        try:
            await self._stopped.wait()
        finally:
            await self._shutdown(async_lib)

    async def _run_hook(self, hook, async_lib) -> None:
        try:
            await hook(async_lib)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("startup hook %s failed", hook)

    async def _shutdown(self, async_lib) -> None:
        for t in self._hook_tasks:
            t.cancel()
        self._hook_tasks.clear()
        for entry in self.pvdb.values():
            hook = getattr(entry, "server_shutdown", None)
            if hook is not None:
                try:
                    await hook(async_lib)
                except Exception:
                    log.exception("shutdown hook %s failed", hook)
        await self.close()

    def stop(self) -> None:
        """Ask :meth:`run` to return."""
        if self._stopped is not None:
            self._stopped.set()

    async def close(self) -> None:
        """Close every socket and connection."""
        for srv in self._servers:
            srv.close()
        for coll in self._udp:
            coll.close()
        circuits = list(self.circuits)
        for circuit in circuits:
            circuit.close("server stopping")
        if circuits:
            _, pending = await asyncio.wait([c.done for c in circuits], timeout=2)
            if pending:   # clients that do not read: do not wait for their buffers
                for circuit in circuits:
                    if not circuit.done.done() and circuit.transport is not None:
                        circuit.transport.abort()
                await asyncio.wait(pending, timeout=2)
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for srv in self._servers:
            await srv.wait_closed()
        self._servers.clear()
        self._udp.clear()
        self.started = False

    async def __aenter__(self) -> "Context":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # ------------------------------------------------------------ TCP
    def _new_circuit(self) -> ServerCircuit:
        return ServerCircuit(self)

    # ------------------------------------------------------------ UDP
    async def _open_udp(self) -> None:
        """The search listener(s) on the UDP port (see :mod:`pva.io.udp`).

        With destination information (Linux) one socket on ``0.0.0.0``
        receives for every interface, and a search is answered only if it
        was sent to one of ``interfaces`` or to one of their broadcast
        addresses (as pvxs); otherwise one socket per interface.
        """
        cfg = self.config
        ifmap = InterfaceMap()
        udp_port = cfg.udp_port
        if "0.0.0.0" in cfg.interfaces:
            self._accept = None
        else:
            accept = set(cfg.interfaces)
            for intf in cfg.interfaces:
                accept.update(broadcast_addresses(intf, ifmap.interfaces))
            self._accept = frozenset(accept)
        for intf in cfg.interfaces:
            coll = UDPCollector(None, udp_port, intf, ifmap, group=LOCAL_MCAST_GROUP)
            coll.handler = DatagramRouter(lambda rx, c=coll: self._on_received(c, rx))
            await coll.open()
            udp_port = coll.port
            self._udp.append(coll)
            if coll.pktinfo:
                break       # bound to 0.0.0.0: one is enough
        self.udp_port = udp_port
        # beacons: the configured list, plus the broadcast address of every
        # interface served (EPICS_PVAS_AUTO_BEACON_ADDR_LIST)
        self.beacon_destinations = cfg.beacon_destinations(udp_port, ifmap.interfaces or None)

    def _found_ids(self, msg: SearchRequest) -> List[int]:
        pvdb = self.pvdb
        return [c.id for c in msg.channels if c.channel_name in pvdb]

    def _on_received(self, collector: UDPCollector, rx: Received) -> None:
        if self._accept is not None and rx.destination not in self._accept:
            return      # sent to an interface this server does not serve
        for msg in rx.messages:
            if not isinstance(msg, SearchRequest):
                continue
            if msg.protocols and "tcp" not in msg.protocols:
                continue
            found = self._found_ids(msg)
            if not found and not msg.flags & SearchFlags.REPLY_REQUIRED:
                continue
            reply = self.broadcaster.search_response(msg, found, found=bool(found))
            host = msg.response_address
            if host in ("0.0.0.0", "::", ""):
                host = rx.source[0]
            port = msg.response_port or rx.source[1]
            try:
                collector.sendto(b"".join(self.broadcaster.send(reply)), (host, port),
                                 source=rx.reply_from)
            except OSError as ex:
                log.debug("search reply to %s:%d failed: %s", host, port, ex)

    async def _beacon_loop(self) -> None:
        cfg = self.config
        dests = self.beacon_destinations
        if not dests or not self._udp:
            return
        collector = self._udp[0]
        while True:
            data = b"".join(self.broadcaster.send(self.broadcaster.beacon()))
            for dest in dests:
                try:
                    collector.sendto(data, dest)
                except OSError as ex:
                    log.debug("beacon to %s failed: %s", dest, ex)
            await asyncio.sleep(cfg.beacon_period)


async def start_server(pvdb: Mapping[str, Any], *, interfaces: Optional[List[str]] = None,
                       log_pv_names: bool = False, **kwargs) -> None:
    """Start an asyncio server for ``pvdb`` and serve until cancelled."""
    ctx = Context(pvdb, interfaces=interfaces, **kwargs)
    await ctx.run(log_pv_names=log_pv_names)


def run(pvdb: Mapping[str, Any], *, interfaces: Optional[List[str]] = None,
        log_pv_names: bool = False, **kwargs) -> None:
    """Serve ``pvdb`` until interrupted (Ctrl-C), then exit cleanly."""
    try:
        asyncio.run(start_server(pvdb, interfaces=interfaces, log_pv_names=log_pv_names,
                                 **kwargs))
    except KeyboardInterrupt:
        pass

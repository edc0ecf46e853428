"""The server side of one client connection (loop-free).

:class:`ServerCircuit` is the protocol object a :class:`pva.io.driver.Connection`
drives; the driver does the buffering, batching, flow control, inactivity
timeout and teardown.  Received messages are validated by the sans-I/O
:class:`~pva.ServerVirtualCircuit` and handled in order, each by the handler
of its type (:data:`HANDLERS`; the operations are in :mod:`pva.server.ops`,
one module each).  A handler that never waits is a plain function; one that
may (an ``authorize`` hook, a data wrapper's ``read``...) is a coroutine,
started at once by the reactor (``spawn``): if it really waits, the driver
pauses this connection's messages and reading until it is done.
Executions of GET/PUT/PUT_GET/PROCESS/ARRAY/RPC also start at once and only
become tasks when they wait (a slow put handler does not stall the
connection); a cancel or destroy of the request cancels its task.

What the server knows about a channel and a request lives on the circuit's
own objects: the ``data`` of a :class:`~pva.ServerChannel` is its
:class:`ServedChannel` (the PV's data wrapper and the channel's operations),
the ``data`` of a :class:`~pva.Request` its operation.

Memory: the circuit charges what it keeps for its client to the
connection's budget (:mod:`pva.io.budget`): :data:`CHANNEL_COST` per
channel, an operation's ``COST`` (:mod:`pva.server.ops.base`) and a
monitor's queued updates (:mod:`pva.server.ops.monitor`).  A channel or
operation that does not fit gets an error ``Status``; everything is given
back when it goes, and at once when the connection goes.

A data-wrapper exception becomes an error ``Status`` for that request.  A
malformed or illegal message (:class:`~pva.DecodeError`,
:class:`~pva.RemoteProtocolError`) closes this connection only, with the
reason logged.  Nothing here imports asyncio.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Dict, Optional

from .._server_circuit import ServerVirtualCircuit
from .._dataclass import dataclass_from_field_desc, from_value
from .._errors import LocalProtocolError, ProtocolError
from .._header import HEADER_SIZE, EchoRequest
from .._typecodec import NODE_BYTES
from .._messages import (ChannelArrayRequest, ChannelDestroyRequest, ChannelFieldInfoRequest,
                         ChannelGetRequest, ChannelMonitorRequest, ChannelProcessRequest,
                         ChannelPutGetRequest, ChannelPutRequest, ChannelRequestCancel,
                         ChannelRequestDestroy, ChannelRpcRequest, ConnectionValidationResponse,
                         CreateChannelRequest, Echo, EchoReply, SearchFlags, SearchRequest,
                         SearchResponse, Subcommand)
from .._state import ChannelState, RequestState
from .._values import DataWithBitSet, Status
from ..io.budget import Charged
from ..io.driver import OverBudget
from .common import error_status
from .ops import array, field, get, monitor, process, put, put_get, rpc
from .ops.base import ServedChannel, ServerOp, maybe_await

__all__ = ["ServerCircuit", "CHANNEL_COST"]

log = logging.getLogger("pva.server")

#: bytes charged per open channel (its objects on both layers, measured)
CHANNEL_COST = 1024

_OK = Status()
_DESTROY = int(Subcommand.DESTROY)


class ServerCircuit:
    """One client connection of a server (the protocol object of its Connection).

    ``core`` is the :class:`~pva.server.core.ServerCore` it belongs to.
    """

    header_size = HEADER_SIZE

    def __init__(self, core: Any):
        self.core = core
        self.limits = limits = core.config.limits
        self.vc = vc = ServerVirtualCircuit(max_message_size=limits.max_message_size,
                                            limits=limits.decode)
        self.message_length = vc.message_length
        self.frames_received = vc.frames_received
        # the types the peer made the cache keep are charged to the
        # connection's memory budget (over it: the connection closes)
        vc.type_nodes_hook = Charged(NODE_BYTES).hook(lambda: self.conn,
                                                      "a type cache of {} nodes")
        self.conn: Any = None
        self.reactor = core.reactor
        self.peer = ("", 0)
        self.authorization: Dict[str, Any] = {"method": "", "user": "", "host": "",
                                              "peer": self.peer, "data": None}
        #: channels open (created and not destroyed)
        self.nchannels = 0
        #: live operations
        self.nops = 0
        self.monitors = monitor.MonitorSender(self)

    def __repr__(self) -> str:
        return f"<ServerCircuit peer={self.peer} channels={self.nchannels}>"

    # ------------------------------------------------------------ lookups
    def op(self, ioid: int) -> Optional[ServerOp]:
        """The live operation of request ``ioid``."""
        req = self.vc.requests.get(ioid)
        return None if req is None else req.data

    def served(self, sid: int) -> Optional[ServedChannel]:
        ch = self.vc.channel_by_sid(sid)
        return None if ch is None else ch.data

    def live_ops(self) -> list:
        """Every live operation."""
        return [op for ch in self.vc.channels.values() if ch.data is not None
                for op in ch.data.ops]

    def request_alive(self, ioid: int) -> bool:
        req = self.vc.requests.get(ioid)
        return req is not None and req.state is not RequestState.DEAD

    # ------------------------------------------------------------ sending
    def send(self, *messages) -> None:
        self.conn.send(self.vc.send(*messages))

    def reply(self, msg, error_reply: Callable[[Status], Any]) -> None:
        """Send an operation reply; if its value cannot be encoded send an error."""
        if not self.request_alive(msg.ioid):
            return  # destroyed or cancelled meanwhile
        try:
            self.send(msg)
        except LocalProtocolError as ex:
            self._reply_failed(msg.ioid, ex, error_reply)

    def _reply_failed(self, ioid: int, ex: LocalProtocolError,
                      error_reply: Callable[[Status], Any]) -> None:
        log.warning("%s: cannot send reply to request %d: %s", self, ioid, ex)
        if self.request_alive(ioid):
            try:
                self.send(error_reply(Status.create_error(f"server: {ex}")))
            except LocalProtocolError as ex2:
                log.error("%s: cannot send error reply: %s", self, ex2)

    def reply_ok(self, op: ServerOp, sub: int, data, response_cls) -> None:
        """The successful reply to ``op``'s INIT (its type) or an execution
        (with ``data`` if not None): what ``reply(response_cls(ioid, OK,
        sub, ...))`` sends, without building the message (GET, PUT, PROCESS)."""
        vc = self.vc
        req = vc.requests.get(op.ioid)
        if req is None or req.state is RequestState.DEAD:
            return  # destroyed or cancelled meanwhile
        try:
            self.conn.send(vc.reply_ok(req, sub, op.desc, None if data is None
                                       else DataWithBitSet(data, op.mask), op.plans))
        except LocalProtocolError as ex:
            self._reply_failed(op.ioid, ex, lambda status: response_cls(op.ioid, status, sub))

    def close(self, reason: str) -> None:
        """Close the connection (what was sent so far is still delivered)."""
        self.conn.close(reason)

    # ------------------------------------------------------------ memory
    def charge(self, nbytes: int, what: str) -> None:
        """Count ``nbytes`` held for ``what``; raise if that is over budget
        (the caller's error reply says so)."""
        conn = self.conn
        if not conn.accounting.charge(conn, nbytes):
            raise self.over_budget(what)

    def over_budget(self, what: str) -> OverBudget:
        """The error of a refused charge for ``what``."""
        return OverBudget(f"{what} refused: over the server's memory budget "
                          f"({self.conn.held} bytes held by this connection)")

    def credit(self, nbytes: int) -> None:
        conn = self.conn
        conn.accounting.credit(conn, nbytes)

    # ------------------------------------------------------------ operations
    def register(self, op: ServerOp, cost: int) -> None:
        """``op`` is the operation of its request from now on; ``cost``: the
        bytes charged for it (:func:`~pva.server.ops.base.open_op`), given
        back when it is dropped."""
        op.cost = cost
        req = self.vc.requests.get(op.ioid)
        if req is not None:
            req.data = op
        op.served.ops.add(op)
        self.nops += 1

    def drop(self, op: ServerOp):
        """Forget an operation; a coroutine (the unsubscribe) for a monitor, else None."""
        req = self.vc.requests.get(op.ioid)
        if req is not None and req.data is op:
            req.data = None
        if op in op.served.ops:
            op.served.ops.discard(op)
            self.nops -= 1
            conn = self.conn
            conn.accounting.credit(conn, op.cost)
        return op.stop()

    async def drop_and_wait(self, op: ServerOp) -> None:
        unsubscribe = self.drop(op)
        if unsubscribe is not None:
            await unsubscribe

    def start(self, op: ServerOp, coro) -> None:
        """Execute an operation: at once, continued in a task if it waits."""
        op.task = self.reactor.spawn(coro)

    def finish(self, op: ServerOp, sub: int) -> None:
        """An execution is done (``sub``: its subcommand; with the destroy
        bit the request is gone)."""
        op.task = None
        if sub & _DESTROY:
            self.drop(op)

    # ------------------------------------------------------------ the driver's contract
    def connection_made(self, conn: Any) -> None:
        self.conn = conn
        self.peer = conn.peer
        self.vc.address = conn.peer
        self.authorization["peer"] = conn.peer
        self.core.circuits.add(self)
        vc = self.vc
        self.send(vc.set_byte_order(vc.byte_order),
                  vc.validate_connection(0x10000, 0x7FFF, ("anonymous", "ca")))

    def dispatch(self, msg):
        """Handle one message; a waiter if its handler waits (see the module doc)."""
        vc = self.vc
        if type(msg) is ChannelGetRequest:
            # the hot path: an execution of an open GET, accepted in one step
            req = vc.begin_exec(msg)
            if req is not None and req.data is not None:
                op = req.data
                self.start(op, get.execute(self, op, msg.subcommand))
                return None
        try:
            if not vc.process_command(msg):
                return None
        except ProtocolError as ex:
            self.conn.close(f"protocol violation: {ex}")
            return None
        handler = HANDLERS.get(type(msg))
        if handler is None:
            return None         # a control message without a reply (marker, ack)
        # a handler that never waits is a plain function (None); the others
        # are coroutines, run at once until they first wait
        coro = handler(self, msg)
        return None if coro is None else self.reactor.spawn(coro)

    def connection_lost(self, reason: Optional[str]) -> None:
        if reason and not reason.startswith(("server stopping", "connection lost")):
            log.warning("closing circuit from %s:%s: %s", *self.peer, reason)
        else:
            log.debug("circuit from %s:%s closed: %s", *self.peer,
                      reason or "by the client")
        self.monitors.close()
        # usually finishes at once; a task only if an unsubscribe hook waits
        waiter = self.reactor.spawn(self._teardown())
        if waiter is not None:
            self.core.track(waiter)
        else:
            self.core.circuits.discard(self)

    async def _teardown(self) -> None:
        try:
            for ch in list(self.vc.channels.values()):
                served = ch.data
                if served is not None:
                    ch.data = None
                    for op in list(served.ops):
                        await self.drop_and_wait(op)
            self.vc.disconnect()
        finally:
            self.core.circuits.discard(self)

    # ------------------------------------------------------------ handlers
    # one per message type (HANDLERS); ``async`` where the handling may wait
    def _on_echo_request(self, msg: EchoRequest) -> None:
        self.send(self.vc.echo_response(msg))

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
        hook = self.core.authorize
        status = _OK
        if hook is not None:
            try:
                await maybe_await(hook(dict(auth)))
            except Exception as ex:
                status = error_status(ex)
        self.send(self.vc.validated_connection(status))
        if status.is_successful:
            self.conn.mark_validated()
        else:
            self.close(f"connection refused: {status.message}")

    def _on_echo(self, msg: Echo) -> None:
        self.send(EchoReply(msg.payload))

    def _on_search(self, msg: SearchRequest) -> None:
        found = self.core.found_ids(msg)
        if found or msg.flags & SearchFlags.REPLY_REQUIRED:
            self.send(SearchResponse(self.core.guid, msg.sequence_id, self.conn.sockname,
                                     found, found=bool(found)))

    def _on_create(self, msg: CreateChannelRequest) -> None:
        pvdb = self.core.pvdb
        limit = self.limits.max_channels
        for cid, name in msg.channels:
            ch = self.vc.channel_by_cid(cid)
            entry = pvdb.get(name)
            if entry is None:
                self.send(ch.create(status=Status.create_error(f"no such channel: {name}")))
                continue
            if self.nchannels >= limit:
                self.send(ch.create(status=Status.create_error(
                    f"too many channels on this connection (limit {limit})")))
                continue
            try:
                self.charge(CHANNEL_COST, f"channel {name}")
            except OverBudget as ex:
                self.send(ch.create(status=Status.create_error(str(ex))))
                continue
            self.send(ch.create())
            ch.data = ServedChannel(entry)
            self.nchannels += 1

    async def _on_destroy_channel(self, msg: ChannelDestroyRequest) -> None:
        ch = self.vc.channel_by_sid(msg.server_chid)
        if ch is None:
            return
        served, ch.data = ch.data, None
        if served is not None:
            self.nchannels -= 1
            self.credit(CHANNEL_COST)
            for op in list(served.ops):
                await self.drop_and_wait(op)
        if ch.state is ChannelState.DESTROYING:
            self.send(ch.disconnect())

    def _on_request_destroy(self, msg: ChannelRequestDestroy):
        op = self.op(msg.ioid)
        return None if op is None else self.drop(op)

    def _on_request_cancel(self, msg: ChannelRequestCancel) -> None:
        op = self.op(msg.ioid)
        if op is not None and op.task is not None and not op.task.done():
            op.task.cancel()


HANDLERS = {
    EchoRequest: ServerCircuit._on_echo_request,
    ConnectionValidationResponse: ServerCircuit._on_validation,
    Echo: ServerCircuit._on_echo,
    SearchRequest: ServerCircuit._on_search,
    CreateChannelRequest: ServerCircuit._on_create,
    ChannelDestroyRequest: ServerCircuit._on_destroy_channel,
    ChannelRequestDestroy: ServerCircuit._on_request_destroy,
    ChannelRequestCancel: ServerCircuit._on_request_cancel,
    ChannelGetRequest: get.on_get,
    ChannelPutRequest: put.on_put,
    ChannelPutGetRequest: put_get.on_put_get,
    ChannelProcessRequest: process.on_process,
    ChannelRpcRequest: rpc.on_rpc,
    ChannelMonitorRequest: monitor.on_monitor,
    ChannelArrayRequest: array.on_array,
    ChannelFieldInfoRequest: field.on_get_field,
}

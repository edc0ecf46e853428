"""Sans-I/O pvAccess TCP connection: :class:`VirtualCircuit` (client or server role).

Theory of operation
-------------------
A :class:`VirtualCircuit` is the protocol state of one TCP connection and
owns no socket.  The caller feeds it what the socket received and sends what
it returns::

    msgs = circuit.recv(data)            # bytes -> messages (Deframer + codecs)
    for msg in msgs:
        circuit.process_command(msg)     # validate against the state, advance it
        ...act on msg...
    sock.sendall(b"".join(circuit.send(reply)))   # validate, advance, encode

``recv`` only parses; it also records the types announced by INIT replies as
it decodes them, because the next message in the same chunk may be a data
message of that request which cannot be decoded without its type.
``process_command`` checks a received message against the transition tables
of :mod:`pva._state` and raises :class:`RemoteProtocolError` for a peer's
violation (an operation before validation, an unknown channel or request id,
a reply to a request never made, ...).  ``send`` checks our own messages the
same way and raises :class:`LocalProtocolError` *before* anything changes,
so a refused send leaves the circuit usable; the remote errors (including
:class:`DecodeError` from ``recv``) put the circuit in ``ERROR`` for good:
the connection must be closed.

Byte order: a server sends in its own order (host order by default) and
announces it with :class:`SetByteOrder`; a client latches the order of the
server's Set-Byte-Order message and sends with it (pvxs latches its sending
order from a Set-Byte-Order message of either peer, and so do we).  Incoming
messages are always decoded by the byte-order flag of their own header.
``send(..., byte_order=...)`` overrides the order of one call (pvxs, for
one, sends SEARCH big endian on little-endian connections).
"""
from __future__ import annotations

import collections
import itertools
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

from ._errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from ._header import (DEFAULT_MAX_MESSAGE_SIZE, HEADER_SIZE, ApplicationCommand,
                      ControlMessage, Deframer, Direction, Frame, FramingError, SetByteOrder,
                      AcknowledgeMarker, EchoResponse, framing_error, normalize_byte_order)
from ._introspection import IntrospectionCache
from ._messages import (AclChange, AuthNZ, AuthNZReply, Beacon, ChannelArrayRequest,
                        ChannelArrayResponse, ChannelDestroyRequest, ChannelDestroyResponse,
                        ChannelFieldInfoRequest, ChannelFieldInfoResponse, ChannelGetRequest,
                        ChannelGetResponse, ChannelMessage, ChannelMonitorRequest,
                        ChannelMonitorResponse, ChannelProcessRequest, ChannelProcessResponse,
                        ChannelPutGetRequest, ChannelPutGetResponse, ChannelPutRequest,
                        ChannelPutResponse, ChannelRequestCancel, ChannelRequestDestroy,
                        ChannelRpcRequest, ChannelRpcResponse, ConnectionValidatedResponse,
                        ConnectionValidationRequest, ConnectionValidationResponse,
                        CreateChannelRequest, CreateChannelResponse, Echo, EchoReply, Message,
                        MessageContext, MultipleData, OriginTag, RequestTypes, SearchRequest,
                        SearchResponse, Subcommand, decode_message,
                        encode_message, encode_monitor_raw, encode_reply_ok)
from ._stream import ReceiveBuffer
from ._state import (CHANNEL_STALE_OK, CHANNEL_TRANSITIONS, CIRCUIT_TRANSITIONS,
                     FIELD_TRANSITIONS, GPR_TRANSITIONS, LIVE_CIRCUIT_STATES,
                     MONITOR_TRANSITIONS, REQUEST_STALE_OK, ChannelState, CircuitState,
                     RequestState)
from ._values import FieldDescAndData, Status
from ._wire import DEFAULT_LIMITS, SYS_ENDIAN, Limits

__all__ = ["VirtualCircuit", "ClientVirtualCircuit", "ServerVirtualCircuit",
           "ClientChannel", "ServerChannel", "Channel", "Request"]

CLIENT = Direction.CLIENT
SERVER = Direction.SERVER

#: how many dead requests / destroyed channels are remembered for stale traffic
MAX_REMEMBERED_DEAD = 4096

_GPR_OPS = (ChannelGetRequest, ChannelPutRequest, ChannelPutGetRequest, ChannelArrayRequest,
            ChannelProcessRequest, ChannelRpcRequest)
_GPR_REPLIES = (ChannelGetResponse, ChannelPutResponse, ChannelPutGetResponse,
                ChannelArrayResponse, ChannelProcessResponse, ChannelRpcResponse)
_UDP_ONLY = (Beacon, OriginTag)


class _Violation(Exception):
    """Internal: a transition not in the tables (becomes Local/Remote error)."""


class Channel:
    """A channel on a circuit: client id, server id (once known), name, state."""

    __slots__ = ("circuit", "name", "cid", "sid", "state", "requests")

    def __init__(self, circuit: "VirtualCircuit", name: str, cid: int):
        self.circuit = circuit
        self.name = name
        self.cid = cid
        self.sid: Optional[int] = None
        self.state: Optional[ChannelState] = None
        self.requests: set = set()

    def __repr__(self) -> str:
        st = self.state.name if self.state else "NEW"
        return f"<{type(self).__name__} {self.name!r} cid={self.cid} sid={self.sid} {st}>"

    @property
    def connected(self) -> bool:
        return self.state is ChannelState.CONNECTED


class ClientChannel(Channel):
    """Client side of a channel; helpers build the messages for it."""

    __slots__ = ()

    def create(self) -> CreateChannelRequest:
        return CreateChannelRequest([(self.cid, self.name)])

    def disconnect(self) -> ChannelDestroyRequest:
        return ChannelDestroyRequest(self.cid, self._sid())

    def _sid(self) -> int:
        if self.sid is None:
            raise LocalProtocolError(f"channel {self.name!r} is not connected")
        return self.sid

    def read(self, pv_request: Any = "", ioid: Optional[int] = None) -> ChannelGetRequest:
        """GET INIT (``pv_request`` a string, :class:`PVRequest` or structure)."""
        return ChannelGetRequest(self._sid(), self._ioid(ioid), Subcommand.INIT, pv_request)

    def write(self, pv_request: Any = "", ioid: Optional[int] = None) -> ChannelPutRequest:
        return ChannelPutRequest(self._sid(), self._ioid(ioid), Subcommand.INIT, pv_request)

    def read_write(self, pv_request: Any = "", ioid: Optional[int] = None) -> ChannelPutGetRequest:
        return ChannelPutGetRequest(self._sid(), self._ioid(ioid), Subcommand.INIT, pv_request)

    def subscribe(self, pv_request: Any = "", ioid: Optional[int] = None,
                  queue_size: int = 0) -> ChannelMonitorRequest:
        return ChannelMonitorRequest(self._sid(), self._ioid(ioid)).to_init(pv_request, queue_size)

    def rpc(self, pv_request: Any = "", ioid: Optional[int] = None) -> ChannelRpcRequest:
        return ChannelRpcRequest(self._sid(), self._ioid(ioid), Subcommand.INIT, pv_request)

    def array(self, pv_request: Any = "", ioid: Optional[int] = None) -> ChannelArrayRequest:
        return ChannelArrayRequest(self._sid(), self._ioid(ioid), Subcommand.INIT, pv_request)

    def process(self, pv_request: Any = "", ioid: Optional[int] = None) -> ChannelProcessRequest:
        return ChannelProcessRequest(self._sid(), self._ioid(ioid), Subcommand.INIT, pv_request)

    def read_interface(self, sub_field_name: str = "", ioid: Optional[int] = None
                       ) -> ChannelFieldInfoRequest:
        return ChannelFieldInfoRequest(self._sid(), self._ioid(ioid), sub_field_name)

    def _ioid(self, ioid: Optional[int]) -> int:
        return self.circuit.new_ioid() if ioid is None else ioid


class ServerChannel(Channel):
    """Server side of a channel."""

    __slots__ = ()

    def create(self, sid: Optional[int] = None, status: Status = Status()) -> CreateChannelResponse:
        """The create reply (assigns a server id if needed)."""
        if sid is None:
            sid = self.sid if self.sid is not None else self.circuit.new_channel_id()
        return CreateChannelResponse(self.cid, sid, status)

    def disconnect(self) -> ChannelDestroyResponse:
        if self.sid is None:
            raise LocalProtocolError(f"channel {self.name!r} has no server id")
        return ChannelDestroyResponse(self.cid, self.sid)


class Request:
    """One request (``ioid``) on a channel."""

    __slots__ = ("ioid", "command", "channel", "state", "pending", "table")

    def __init__(self, ioid: int, command: int, channel: Channel, table: dict):
        self.ioid = ioid
        self.command = command
        self.channel = channel
        self.state = RequestState.NEW
        self.pending = 0
        self.table = table

    def __repr__(self) -> str:
        return (f"<Request ioid={self.ioid} {ApplicationCommand(self.command).name} "
                f"{self.state.name} on {self.channel.name!r}>")


def _gpr_event(msg) -> str:
    sub = msg.subcommand
    if isinstance(msg, Message) and msg.SENDER is CLIENT:
        if sub & 0x08:
            return "INIT"
        return "EXEC_LAST" if sub & 0x10 else "EXEC"
    if sub & 0x08:
        return "INIT_OK" if msg.status.is_successful else "INIT_FAIL"
    return "REPLY"


def _monitor_event(msg) -> str:
    sub = msg.subcommand
    if msg.SENDER is CLIENT:
        if sub & 0x08:
            return "INIT"
        if sub & 0x10:
            return "DESTROY"
        if sub & 0x04:
            return "START" if sub & 0x40 else "STOP"
        return "ACK"
    if sub & 0x08:
        return "INIT_OK" if msg.status.is_successful else "INIT_FAIL"
    if sub & 0x10:
        return "FINISH"
    return "UPDATE"


class VirtualCircuit:
    """The state of one pvAccess client-server TCP connection (sans-I/O).

    Parameters
    ----------
    our_role : Direction or str
        ``CLIENT`` or ``SERVER`` (``'client'``/``'server'`` accepted).
    address : tuple, optional
        ``(host, port)`` of the peer.
    priority : int, optional
        QoS priority.
    max_message_size : int
        Largest application message accepted (checked from the header,
        before buffering).
    max_segment_size : int, optional
        Outgoing messages with larger payloads are sent segmented.
    limits : Limits
        Decoding limits for values and type descriptions.
    send_type_cache : bool
        Send type descriptions through the connection's introspection cache
        (``0xFD``/``0xFE``); pvxs accepts it, never sends it.
    byte_order : str
        The order a server sends with (a client latches the server's).
    """

    def __init__(self, our_role: Union[Direction, str], address: Optional[Tuple[str, int]] = None,
                 priority: Optional[int] = None, *,
                 max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
                 max_segment_size: Optional[int] = None, limits: Limits = DEFAULT_LIMITS,
                 send_type_cache: bool = True, byte_order: str = SYS_ENDIAN):
        if isinstance(our_role, str):
            our_role = Direction[our_role.upper()]
        self.our_role = Direction(our_role)
        self.their_role = SERVER if self.our_role is CLIENT else CLIENT
        self.address = address
        self.priority = priority
        self.state = CircuitState.IDLE
        self.error: Optional[ProtocolError] = None
        self.byte_order = normalize_byte_order(byte_order)
        self.max_segment_size = max_segment_size
        self.cache = IntrospectionCache()
        self._ctx = MessageContext(self.cache, limits, send_cache=send_type_cache)
        self._new_framing(max_message_size)
        self.channels: Dict[int, Channel] = {}          # by client id
        self._by_sid: Dict[int, Channel] = {}
        self.requests: Dict[int, Request] = {}
        self._dead: "collections.OrderedDict[int, None]" = collections.OrderedDict()
        self._dead_channels: "collections.OrderedDict[int, Channel]" = collections.OrderedDict()
        self._searches: set = set()
        self._chan_ids = itertools.count(1)
        self._ioids = itertools.count(1)
        self.auth_methods: List[str] = []
        self.auth_method: Optional[str] = None
        self.auth_data: Optional[FieldDescAndData] = None
        self.peer_buffer_size: Optional[int] = None
        self.peer_registry_size: Optional[int] = None

    # ------------------------------------------------------------------ info
    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.our_role.name.lower()} "
                f"address={self.address} state={self.state.name}>")

    @property
    def host(self) -> Optional[str]:
        return self.address[0] if self.address else None

    @property
    def port(self) -> Optional[int]:
        return self.address[1] if self.address else None

    @property
    def connected(self) -> bool:
        return self.state is CircuitState.CONNECTED

    # ------------------------------------------------------------------ ids
    def new_channel_id(self) -> int:
        """An unused client id (client role) or server id (server role)."""
        used = self.channels if self.our_role is CLIENT else self._by_sid
        while True:
            i = next(self._chan_ids) & 0xFFFFFFFF
            ch = used.get(i)
            if ch is None or ch.state is ChannelState.DESTROYED:
                return i

    def new_ioid(self) -> int:
        """An unused request id."""
        while True:
            i = next(self._ioids) & 0xFFFFFFFF
            req = self.requests.get(i)
            if req is None or req.state is RequestState.DEAD:
                return i

    new_subscriptionid = new_ioid

    # ------------------------------------------------------------- messages
    def set_byte_order(self, endian_setting: str) -> SetByteOrder:
        """A Set-Byte-Order control message from us."""
        return SetByteOrder(0, self.our_role, normalize_byte_order(endian_setting))

    def acknowledge_marker(self, value: int = 0) -> AcknowledgeMarker:
        return AcknowledgeMarker(value, self.our_role, self.byte_order)

    def echo_response(self, request: ControlMessage) -> EchoResponse:
        """The control echo response to a control echo request."""
        return EchoResponse(request.value, self.our_role, self.byte_order)

    def create_channel(self, name: str, cid: Optional[int] = None) -> Channel:
        """A :class:`ClientChannel` (client role) to create, by name.

        In the server role, channels appear when a CreateChannelRequest is
        processed; look them up with :meth:`channel_by_cid`.
        """
        if self.our_role is not CLIENT:
            raise LocalProtocolError("only clients create channels")
        return ClientChannel(self, name, self.new_channel_id() if cid is None else cid)

    def channel_by_cid(self, cid: int) -> Optional[Channel]:
        return self.channels.get(cid)

    def channel_by_sid(self, sid: int) -> Optional[Channel]:
        return self._by_sid.get(sid)

    def request_types(self, ioid: int) -> Optional[RequestTypes]:
        """Types announced by the INIT reply of request ``ioid``."""
        return self._ctx.types.get(ioid)

    # ------------------------------------------------------------------ I/O
    def _new_framing(self, max_message_size: int) -> None:
        self._deframer = Deframer(max_message_size=max_message_size, direction=self.their_role)
        #: the framing function (see :mod:`pva._stream`): header checks, size limit
        self.message_length = self._deframer.message_length
        self._rx = ReceiveBuffer(HEADER_SIZE, self.message_length)

    def at_message_boundary(self) -> bool:
        """True if what was received so far ends with a complete message."""
        return self._rx.at_boundary() and self._deframer.at_boundary()

    #: bytes needed before :attr:`message_length` can tell a message's length
    header_size = HEADER_SIZE

    def recv(self, *buffers) -> List[Union[Message, ControlMessage]]:
        """Parse received bytes into messages (call :meth:`process_command` on each).

        Raises
        ------
        DecodeError
            Malformed input; the circuit is then in ERROR.  The exception's
            ``messages`` attribute holds the messages parsed before the fault.
        """
        if self.state is CircuitState.ERROR:
            raise RemoteProtocolError(f"circuit is in ERROR: {self.error}")
        out: List[Union[Message, ControlMessage]] = []
        for data in buffers:
            self._receive(self._rx.feed, data, out)
        return out

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """Where to receive the next bytes (``asyncio.BufferedProtocol``).

        Then call :meth:`buffer_updated`; the bytes of a large message are
        received straight into the buffer its payload will reference.
        """
        if self.state is CircuitState.ERROR:
            raise RemoteProtocolError(f"circuit is in ERROR: {self.error}")
        return self._rx.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> List[Union[Message, ControlMessage]]:
        """``nbytes`` arrived in the last :meth:`get_buffer`: as :meth:`recv`."""
        out: List[Union[Message, ControlMessage]] = []
        self._receive(self._rx.buffer_updated, nbytes, out)
        return out

    def frames_received(self, views) -> List[Union[Message, ControlMessage]]:
        """Complete messages (header included, split by :attr:`message_length`
        in a receive buffer the caller owns, such as :mod:`pva.io.driver`'s)
        to decoded messages: as :meth:`recv` without the buffering."""
        if self.state is CircuitState.ERROR:
            raise RemoteProtocolError(f"circuit is in ERROR: {self.error}")
        out: List[Union[Message, ControlMessage]] = []
        try:
            self._decode_views(views, out)
        except ProtocolError as ex:
            ex.messages = out  # type: ignore[attr-defined]
            self._fail(ex)
            raise
        return out

    def _receive(self, source, arg, out: list) -> None:
        try:
            try:
                views = source(arg)
            except FramingError as ex:     # a bad header: what came before it first
                try:
                    self._decode_views(getattr(ex, "frames", ()), out)
                except ProtocolError:
                    pass
                raise framing_error(ex, out) from None
            self._decode_views(views, out)
        except ProtocolError as ex:
            ex.messages = out  # type: ignore[attr-defined]
            self._fail(ex)
            raise

    def _decode_views(self, views, out: list) -> None:
        ctx = self._ctx
        their = self.their_role
        learn = self.our_role is CLIENT
        deframer = self._deframer
        for mv in views:
            flags = mv[2]
            if flags & 0x31 or deframer.segment_command is not None:
                # a control message or a segment: the deframer's rules
                frames: list = []
                deframer.frame(mv, frames)
                if not frames:
                    continue
                fr = frames[0]
                if type(fr) is not Frame:
                    out.append(fr)
                    continue
                command, payload, flags = fr.command, fr.payload, fr.flags
            else:
                command, payload = mv[3], mv[HEADER_SIZE:]
            msg = decode_message(command, their, payload, ">" if flags & 0x80 else "<", ctx)
            if learn and msg.ID in _INIT_TYPES_CMDS and msg.subcommand & 0x08:
                _learn_types(ctx, msg)
            out.append(msg)

    def process_command(self, message: Union[Message, ControlMessage]) -> bool:
        """Validate a received message and advance the state.

        Returns
        -------
        bool
            ``True`` normally; ``False`` for a tolerated stale message (a
            reply to a request we already destroyed, and the like) that the
            caller should ignore.

        Raises
        ------
        RemoteProtocolError
            The peer violated the protocol; the circuit is now in ERROR.
        """
        if self.state is CircuitState.ERROR:
            raise RemoteProtocolError(f"circuit is in ERROR: {self.error}")
        try:
            commit = self._transition(message, self.their_role, local=False)
        except _Violation as ex:
            err = RemoteProtocolError(str(ex))
            self._fail(err)
            raise err from None
        if commit is None:
            return False
        commit()
        return True

    def send(self, *messages: Union[Message, ControlMessage], extra: Optional[dict] = None,
             byte_order: Optional[str] = None) -> List[Any]:
        """Validate our messages, advance the state, return buffers to send.

        Raises
        ------
        LocalProtocolError
            A message the protocol does not allow now; nothing is changed by
            the refused message (earlier messages of the same call are
            committed, their buffers are in the exception's ``buffers``).
        """
        if self.state is CircuitState.ERROR:
            raise LocalProtocolError(f"circuit is in ERROR: {self.error}")
        out: List[Any] = []
        for msg in messages:
            try:
                commit = self._transition(msg, self.our_role, local=True)
            except _Violation as ex:
                err = LocalProtocolError(str(ex))
                err.buffers = out  # type: ignore[attr-defined]
                raise err from None
            order = self.byte_order if byte_order is None else normalize_byte_order(byte_order)
            if isinstance(msg, Message) and msg.ID in _INIT_TYPES_CMDS and self.our_role is SERVER:
                # our own INIT reply defines the type of later data messages
                # of that request (e.g. the PUT data the client will send)
                _learn_types(self._ctx, msg)
            try:
                bufs = encode_message(msg, order, self._ctx, self.max_segment_size)
            except LocalProtocolError as ex:
                # the cache may have assigned ids to types never sent
                self.cache.sent.clear()
                ex.buffers = out  # type: ignore[attr-defined]
                raise
            if commit is not None:
                commit()
            out.extend(bufs)
        return out

    # --- the hot path of a server: executing an open GET / PUT / PROCESS
    def begin_exec(self, msg: Message) -> Optional[Request]:
        """Accept a client's execution of an idle GET/PUT/PROCESS request.

        The rule :meth:`process_command` applies (IDLE --EXEC--> EXECUTING,
        or EXECUTING_LAST with the destroy bit), checked and committed in one
        step for the common case only.  Returns the request, or ``None``
        without changing anything when anything else applies: then
        :meth:`process_command` validates the message fully.
        """
        sub = msg.subcommand
        req = self.requests.get(msg.ioid)
        if (req is None or req.state is not RequestState.IDLE or sub & 0x08
                or self.state is not CircuitState.CONNECTED or self.our_role is not SERVER
                or req.command != msg.ID or req.command not in _REPLY_OK_CMDS
                or req.channel.sid != msg.server_chid or getattr(msg, "raw", None) is not None):
            return None
        req.pending = sub
        req.state = RequestState.EXECUTING_LAST if sub & 0x10 else RequestState.EXECUTING
        return req

    def reply_ok(self, req: Request, subcommand: int, desc=None, data=None) -> List[Any]:
        """Buffers of the successful reply to a GET/PUT/PROCESS request.

        What :meth:`send` does with a ``ChannelGetResponse`` (or PUT or
        PROCESS response) with an OK status, without building it.  An INIT
        reply (subcommand 0x08) announces ``desc`` and the request becomes
        IDLE; an execution reply carries ``data`` (a DataWithBitSet of type
        ``desc``, or None) and the request goes back to IDLE, or is gone
        after a destroy-bit execution.

        Raises
        ------
        LocalProtocolError
            The request is not waiting for this reply, the subcommand does
            not match, or the data cannot be encoded; nothing is changed.
        """
        if self.state is not CircuitState.CONNECTED:
            raise LocalProtocolError(f"reply while the circuit is {self.state.name}")
        state, cmd = req.state, req.command
        if subcommand & 0x08:
            ok = state is RequestState.CREATING
        else:
            ok = state is RequestState.EXECUTING or state is RequestState.EXECUTING_LAST
            if ok and (subcommand & 0xC4) != (req.pending & 0xC4) and cmd in _CHECK_REPLY_KIND:
                raise LocalProtocolError(f"reply subcommand 0x{subcommand:02x} does not match "
                                         f"request subcommand 0x{req.pending:02x}")
        if not ok or self.requests.get(req.ioid) is not req or cmd not in _REPLY_OK_CMDS:
            raise LocalProtocolError(f"reply 0x{subcommand:02x} to request {req.ioid} "
                                     f"in state {state.name}")
        bufs = encode_reply_ok(cmd, req.ioid, subcommand, self.byte_order, self._ctx,
                               desc, data, self.max_segment_size)
        if state is RequestState.EXECUTING_LAST:
            self._kill(req.ioid)
        else:
            req.state = RequestState.IDLE
            if state is RequestState.CREATING and cmd in _INIT_TYPES_CMDS:
                # the type of the request's later data messages
                self._ctx.types[req.ioid] = RequestTypes(cmd, desc)
        return bufs

    def send_update(self, ioid: int, raw: tuple) -> List[Any]:
        """Buffers of a monitor update whose body is ``raw`` (from
        :func:`~pva._messages.encode_monitor_update`).

        What :meth:`send` does with a ``ChannelMonitorResponse`` (subcommand
        0) carrying ``raw``, without building it: an update is allowed on a
        created monitor, running or stopped, and changes no state.

        Raises
        ------
        LocalProtocolError
            No such monitor, or not in a state that takes updates.
        """
        req = self.requests.get(ioid)
        if (req is None or req.command != ApplicationCommand.MONITOR
                or self.state is not CircuitState.CONNECTED
                or (req.state is not RequestState.RUNNING and req.state is not RequestState.IDLE)):
            what = "no monitor" if req is None or req.command != ApplicationCommand.MONITOR \
                else f"the monitor is {req.state.name}"
            raise LocalProtocolError(f"update for request {ioid}: {what}")
        return encode_monitor_raw(ioid, raw, self.byte_order, self.max_segment_size)

    def disconnect(self) -> None:
        """The TCP connection is gone: every channel and request ends."""
        for ch in self.channels.values():
            ch.state = ChannelState.DESTROYED
        for req in self.requests.values():
            req.state = RequestState.DEAD
        if self.state is not CircuitState.ERROR:
            self.state = CircuitState.CLOSED

    def _fail(self, err: ProtocolError) -> None:
        self.state = CircuitState.ERROR
        self.error = err

    # ------------------------------------------------------------ the rules
    def _transition(self, msg, sender: Direction, local: bool):
        """Check ``msg`` from ``sender``; return a commit callable (or None if stale)."""
        if isinstance(msg, ControlMessage):
            return self._control(msg, sender, local)
        if not isinstance(msg, Message):
            raise _Violation(f"not a message: {msg!r}")
        if msg.SENDER is not sender:
            raise _Violation(f"{type(msg).__name__} is sent by the "
                             f"{msg.SENDER.name.lower()}, not the {sender.name.lower()}")
        handler = _HANDLERS.get(type(msg))
        if handler is None:
            raise _Violation(f"{type(msg).__name__} is not a TCP message")
        return handler(self, msg, sender, local)

    def _circuit_event(self, sender: Direction, event: str) -> CircuitState:
        nxt = CIRCUIT_TRANSITIONS.get((self.state, (sender, event)))
        if nxt is None:
            raise _Violation(f"{event.replace('_', ' ').lower()} from the {sender.name.lower()} "
                             f"is not allowed while the circuit is {self.state.name}")
        return nxt

    def _set_state(self, state: CircuitState):
        def commit():
            self.state = state
        return commit

    def _control(self, msg: ControlMessage, sender: Direction, local: bool):
        if self.state not in LIVE_CIRCUIT_STATES:
            raise _Violation(f"control message while the circuit is {self.state.name}")
        if msg.direction != sender:
            raise _Violation("control message with the wrong direction flag")
        if isinstance(msg, SetByteOrder):
            order = msg.byte_order

            def commit():
                # pvxs latches its sending byte order from a Set-Byte-Order
                # message of either peer (the one we send states our order)
                self.byte_order = order
            return commit
        return _noop

    # --- connection
    def _on_validation_request(self, msg, sender, local):
        nxt = self._circuit_event(sender, "VALIDATION_REQUEST")

        def commit():
            self.state = nxt
            self.auth_methods = list(msg.auth_nz)
            if not local:
                self.peer_buffer_size = msg.server_buffer_size
                self.peer_registry_size = msg.server_registry_size
        return commit

    def _on_validation_response(self, msg, sender, local):
        nxt = self._circuit_event(sender, "VALIDATION_RESPONSE")

        def commit():
            self.state = nxt
            self.auth_method = msg.auth_nz
            self.auth_data = msg.data
            if not local:
                self.peer_buffer_size = msg.client_buffer_size
                self.peer_registry_size = msg.client_registry_size
        return commit

    def _on_validated(self, msg, sender, local):
        ev = "VALIDATED_OK" if msg.status.is_successful else "VALIDATED_FAIL"
        return self._set_state(self._circuit_event(sender, ev))

    def _on_simple(event):
        def handler(self, msg, sender, local):
            self._circuit_event(sender, event)
            return _noop
        return handler

    _on_echo = _on_simple("ECHO")
    _on_authnz = _on_simple("AUTHNZ")
    _on_channel_misc = _on_simple("CHANNEL")
    del _on_simple

    def _on_search(self, msg, sender, local):
        self._circuit_event(sender, "SEARCH")
        seq = msg.sequence_id

        def commit():
            self._searches.add(seq)
            if len(self._searches) > MAX_REMEMBERED_DEAD:
                self._searches.pop()
        return commit

    def _on_search_response(self, msg, sender, local):
        self._circuit_event(sender, "SEARCH_RESPONSE")
        if msg.sequence_id not in self._searches:
            raise _Violation(f"search response to search {msg.sequence_id}, never sent "
                             "on this circuit")
        return _noop

    # --- channels
    def _chan_event(self, ch: Optional[Channel], sender, event, local, what) -> Optional[ChannelState]:
        state = ch.state if ch is not None else None
        nxt = CHANNEL_TRANSITIONS.get((state, (sender, event)))
        if nxt is None:
            if not local and (state, (sender, event)) in CHANNEL_STALE_OK:
                return None
            st = state.name if state else "unknown"
            raise _Violation(f"{event.lower()} of {what}: not allowed for a channel in state {st}")
        return nxt

    def _on_create_request(self, msg, sender, local):
        self._circuit_event(sender, "CHANNEL")
        plan = []
        seen = set()
        for cid, name in msg.channels:
            if cid in seen:
                raise _Violation(f"client channel id {cid} twice in one request")
            seen.add(cid)
            ch = self.channels.get(cid)
            nxt = self._chan_event(ch, sender, "CREATE", local, f"channel {name!r} (cid {cid})")
            plan.append((cid, name, nxt))

        def commit():
            cls = ClientChannel if self.our_role is CLIENT else ServerChannel
            for cid, name, nxt in plan:
                old = self.channels.get(cid)
                if old is not None and old.sid is not None and self._by_sid.get(old.sid) is old:
                    del self._by_sid[old.sid]
                ch = cls(self, name, cid)
                ch.state = nxt
                self.channels[cid] = ch
        return commit

    def _on_create_response(self, msg, sender, local):
        self._circuit_event(sender, "CHANNEL")
        ch = self.channels.get(msg.client_chid)
        if ch is None:
            raise _Violation(f"create-channel reply for client id {msg.client_chid}, "
                             "never requested")
        ok = msg.status.is_successful
        nxt = self._chan_event(ch, sender, "CREATED" if ok else "CREATE_FAILED", local,
                               f"channel {ch.name!r}")
        sid = msg.server_chid
        if ok:
            other = self._by_sid.get(sid)
            if other is not None and other is not ch and other.state is not ChannelState.DESTROYED:
                raise _Violation(f"server channel id {sid} is already in use")

        def commit():
            ch.state = nxt
            if ok:
                ch.sid = sid
                self._by_sid[sid] = ch
            if nxt is ChannelState.DESTROYED:
                self._bury(ch)
        return commit

    def _on_destroy_channel(self, msg, sender, local):
        self._circuit_event(sender, "CHANNEL")
        ch = self._by_sid.get(msg.server_chid)
        if ch is None:
            raise _Violation(f"destroy of unknown server channel id {msg.server_chid}")
        # pvxs only logs a wrong client id in DESTROY_CHANNEL and goes on
        event = "DESTROY" if sender is CLIENT else "DESTROYED"
        nxt = self._chan_event(ch, sender, event, local, f"channel {ch.name!r}")
        if nxt is None:
            return None

        def commit():
            ch.state = nxt
            if nxt is ChannelState.DESTROYED:
                for ioid in list(ch.requests):
                    self._kill(ioid)
                self._bury(ch)
        return commit

    def _bury(self, ch: Channel) -> None:
        """Remember a destroyed channel for stale traffic, forgetting the oldest
        beyond MAX_REMEMBERED_DEAD (a peer creating and destroying channels
        forever must not grow memory)."""
        dead = self._dead_channels
        dead[id(ch)] = ch
        dead.move_to_end(id(ch))
        while len(dead) > MAX_REMEMBERED_DEAD:
            _, old = dead.popitem(last=False)
            if old.state is not ChannelState.DESTROYED:
                continue
            if self.channels.get(old.cid) is old:
                del self.channels[old.cid]
            if old.sid is not None and self._by_sid.get(old.sid) is old:
                del self._by_sid[old.sid]

    # --- requests
    def _kill(self, ioid: int) -> None:
        req = self.requests.get(ioid)
        if req is None:
            return
        req.state = RequestState.DEAD
        req.channel.requests.discard(ioid)
        self._ctx.types.pop(ioid, None)
        self._dead[ioid] = None
        self._dead.move_to_end(ioid)
        while len(self._dead) > MAX_REMEMBERED_DEAD:
            old, _ = self._dead.popitem(last=False)
            r = self.requests.get(old)
            if r is not None and r.state is RequestState.DEAD:
                del self.requests[old]

    def _req_event(self, req: Request, sender, event, local) -> Optional[RequestState]:
        nxt = req.table.get((req.state, (sender, event)))
        if nxt is None:
            if (not local and req.state is RequestState.DEAD
                    and (sender, event) in REQUEST_STALE_OK):
                return None
            raise _Violation(f"{event.lower()} from the {sender.name.lower()} is not allowed "
                             f"for request {req.ioid} in state {req.state.name}")
        return nxt

    def _operation(self, msg, sender, local):
        """Requests and replies of GET/PUT/PUT_GET/ARRAY/PROCESS/RPC/MONITOR/GET_FIELD."""
        self._circuit_event(sender, "CHANNEL")
        cmd = msg.ID
        if cmd == ApplicationCommand.MONITOR:
            event, table = _monitor_event(msg), MONITOR_TRANSITIONS
        elif cmd == ApplicationCommand.GET_FIELD:
            event = "GET_FIELD" if sender is CLIENT else "REPLY"
            table = FIELD_TRANSITIONS
        else:
            event, table = _gpr_event(msg), GPR_TRANSITIONS
        ioid = msg.ioid
        req = self.requests.get(ioid)
        if event in ("INIT", "GET_FIELD"):
            ch = self._by_sid.get(msg.server_chid)
            if ch is None or ch.state is not ChannelState.CONNECTED:
                what = "unknown" if ch is None else f"{ch.state.name.lower()}"
                raise _Violation(f"{ApplicationCommand(cmd).name} on {what} server channel id "
                                 f"{msg.server_chid}")
            if req is not None and req.state is not RequestState.DEAD:
                raise _Violation(f"request id {ioid} is already in use")
            new = Request(ioid, cmd, ch, table)
            if req is not None:
                new.state = RequestState.DEAD
            nxt = self._req_event(new, sender, event, local)

            def commit():
                new.state = nxt
                self.requests[ioid] = new
                self._dead.pop(ioid, None)
                ch.requests.add(ioid)
            return commit
        if req is None:
            kind = "reply to" if sender is SERVER else "use of"
            raise _Violation(f"{kind} request id {ioid}, never created "
                             f"({ApplicationCommand(cmd).name})")
        if req.command != cmd:
            if not local and req.state is RequestState.DEAD:
                return None  # a re-used id; pvxs ignores stale traffic
            raise _Violation(f"{ApplicationCommand(cmd).name} on request {ioid}, which is a "
                             f"{ApplicationCommand(req.command).name}")
        if sender is CLIENT and msg.server_chid != req.channel.sid and req.state is not RequestState.DEAD:
            raise _Violation(f"request {ioid} belongs to server channel id {req.channel.sid}, "
                             f"not {msg.server_chid}")
        nxt = self._req_event(req, sender, event, local)
        if nxt is None:
            return None
        if event == "REPLY" and cmd in _CHECK_REPLY_KIND and \
                (msg.subcommand & 0xC4) != (req.pending & 0xC4):
            raise _Violation(f"reply subcommand 0x{msg.subcommand:02x} does not match request "
                             f"subcommand 0x{req.pending:02x}")
        if cmd == ApplicationCommand.MONITOR and event in ("START", "STOP", "ACK") and \
                msg.subcommand & 0x80 and msg.nfree is None:
            raise _Violation("pipeline ack without a count")
        if not local and getattr(msg, "raw", None) is not None:
            # a data message we could not decode for lack of a type
            raise _Violation(f"data for request {ioid} before its type was announced")
        sub = getattr(msg, "subcommand", 0)

        def commit():
            if event in ("EXEC", "EXEC_LAST"):
                req.pending = sub
            if nxt is RequestState.DEAD:
                self._kill(ioid)
            else:
                req.state = nxt
        return commit

    def _on_message(self, msg, sender, local):
        self._circuit_event(sender, "CHANNEL")
        req = self.requests.get(msg.ioid)
        if req is None:
            raise _Violation(f"message for request id {msg.ioid}, never created")
        nxt = self._req_event(req, sender, "MESSAGE", local)
        return None if nxt is None else _noop

    def _on_destroy_request(self, msg, sender, local):
        self._circuit_event(sender, "CHANNEL")
        event = "DESTROY" if isinstance(msg, ChannelRequestDestroy) and \
            not isinstance(msg, ChannelRequestCancel) else "CANCEL"
        req = self.requests.get(msg.ioid)
        if req is None:
            raise _Violation(f"{event.lower()} of request id {msg.ioid}, never created")
        nxt = self._req_event(req, sender, event, local)
        if nxt is None:
            return None
        ioid = msg.ioid

        def commit():
            if nxt is RequestState.DEAD:
                self._kill(ioid)
            else:
                req.state = nxt
        return commit


def _noop() -> None:
    pass


_CHECK_REPLY_KIND = frozenset({ApplicationCommand.PUT, ApplicationCommand.PUT_GET,
                               ApplicationCommand.ARRAY})
_REPLY_OK_CMDS = frozenset({ApplicationCommand.GET, ApplicationCommand.PUT,
                            ApplicationCommand.PROCESS})
_INIT_TYPES_CMDS = frozenset({ApplicationCommand.GET, ApplicationCommand.PUT,
                              ApplicationCommand.PUT_GET, ApplicationCommand.MONITOR,
                              ApplicationCommand.ARRAY})


def _learn_types(ctx: MessageContext, msg) -> None:
    """Record the type(s) an INIT reply announces for its request id."""
    if msg.SENDER is not SERVER or not msg.subcommand & 0x08 \
            or not msg.status.is_successful:
        return
    if isinstance(msg, ChannelPutGetResponse):
        ctx.types[msg.ioid] = RequestTypes(msg.ID, msg.put_structure_if, msg.get_structure_if)
    elif isinstance(msg, ChannelPutResponse):
        ctx.types[msg.ioid] = RequestTypes(msg.ID, msg.put_structure_if)
    elif isinstance(msg, ChannelArrayResponse):
        ctx.types[msg.ioid] = RequestTypes(msg.ID, msg.array_structure_if)
    else:
        ctx.types[msg.ioid] = RequestTypes(msg.ID, msg.pv_structure_if)


VC = VirtualCircuit
_HANDLERS = {
    ConnectionValidationRequest: VC._on_validation_request,
    ConnectionValidationResponse: VC._on_validation_response,
    ConnectionValidatedResponse: VC._on_validated,
    Echo: VC._on_echo,
    EchoReply: VC._on_echo,
    AuthNZ: VC._on_authnz,
    AuthNZReply: VC._on_authnz,
    AclChange: VC._on_channel_misc,
    MultipleData: VC._on_channel_misc,
    SearchRequest: VC._on_search,
    SearchResponse: VC._on_search_response,
    CreateChannelRequest: VC._on_create_request,
    CreateChannelResponse: VC._on_create_response,
    ChannelDestroyRequest: VC._on_destroy_channel,
    ChannelDestroyResponse: VC._on_destroy_channel,
    ChannelRequestDestroy: VC._on_destroy_request,
    ChannelRequestCancel: VC._on_destroy_request,
    ChannelMessage: VC._on_message,
    ChannelMonitorRequest: VC._operation,
    ChannelMonitorResponse: VC._operation,
    ChannelFieldInfoRequest: VC._operation,
    ChannelFieldInfoResponse: VC._operation,
}
for _cls in _GPR_OPS + _GPR_REPLIES:
    _HANDLERS[_cls] = VC._operation
del VC


def _strip_role(args: tuple, role: Direction) -> tuple:
    if args and isinstance(args[0], (Direction, str)):
        given = args[0]
        if isinstance(given, str):
            given = Direction[given.upper()]
        if given is not role:
            raise ValueError(f"this circuit class has the {role.name.lower()} role")
        return args[1:]
    return args


class ClientVirtualCircuit(VirtualCircuit):
    """A :class:`VirtualCircuit` in the client role."""

    def __init__(self, *args, identity: Tuple[str, str] = ("", ""), **kwargs):
        # caproto.pva spelling: (ClientVirtualCircuit(our_role, address, priority))
        args = _strip_role(args, CLIENT)
        super().__init__(CLIENT, *args, **kwargs)
        #: ``(user, host)`` sent with ``ca`` authentication
        self.identity = identity

    def validate_connection(self, buffer_size: int = 0x10000, registry_size: int = 0x7FFF,
                            connection_qos: int = 0, auth_nz: str = "ca",
                            data: Optional[FieldDescAndData] = None, *,
                            user: Optional[str] = None, host: Optional[str] = None
                            ) -> ConnectionValidationResponse:
        """The client's answer to the server's validation request.

        For ``auth_nz='ca'`` without ``data``, ``user`` and ``host`` are sent
        (default: :attr:`identity`, given by the I/O layer, which looks them
        up: this module does not).
        """
        if auth_nz == "ca" and data is None:
            user = self.identity[0] if user is None else user
            host = self.identity[1] if host is None else host
            return ConnectionValidationResponse.ca(user, host,
                                                   client_buffer_size=buffer_size,
                                                   client_registry_size=registry_size,
                                                   connection_qos=connection_qos)
        return ConnectionValidationResponse(buffer_size, registry_size, connection_qos,
                                            auth_nz, data)

    # --- the hot path of a client: monitor updates
    def accept_update(self, message: Any) -> bool:
        """Accept a server's update of a started (or stopped) monitor.

        The rule :meth:`process_command` applies to an update (circuit
        CONNECTED, the request a MONITOR in a state an UPDATE keeps), checked
        in one step; an accepted update changes no state.  Returns ``False``
        for anything else, without changing anything: then
        :meth:`process_command` validates the message fully.
        """
        if (type(message) is not ChannelMonitorResponse or message.subcommand & 0x18
                or message.raw is not None or self.state not in _UPDATE_CIRCUIT_KEEPS):
            return False
        req = self.requests.get(message.ioid)
        return req is not None and req.command == _MONITOR and req.state in _UPDATE_KEEPS


#: what accept_update() relies on: the states an UPDATE leaves as they are
_MONITOR = ApplicationCommand.MONITOR
_UPDATE_CIRCUIT_KEEPS = frozenset(state for (state, event), nxt in CIRCUIT_TRANSITIONS.items()
                                  if event == (SERVER, "CHANNEL") and nxt is state)
_UPDATE_KEEPS = frozenset(state for (state, event), nxt in MONITOR_TRANSITIONS.items()
                          if event == (SERVER, "UPDATE") and nxt is state)


class ServerVirtualCircuit(VirtualCircuit):
    """A :class:`VirtualCircuit` in the server role."""

    def __init__(self, *args, **kwargs):
        # caproto.pva spelling: (ServerVirtualCircuit(our_role, address, priority))
        args = _strip_role(args, SERVER)
        super().__init__(SERVER, *args, **kwargs)

    def validate_connection(self, buffer_size: int = 0x10000, registry_size: int = 0x7FFF,
                            authorization_options: Iterable[str] = ("anonymous", "ca")
                            ) -> ConnectionValidationRequest:
        return ConnectionValidationRequest(buffer_size, registry_size, list(authorization_options))

    def validated_connection(self, status: Status = Status()) -> ConnectionValidatedResponse:
        return ConnectionValidatedResponse(status)

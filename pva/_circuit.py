"""Sans-I/O pvAccess TCP connection: :class:`VirtualCircuit` (client or server
role) and :class:`ClientVirtualCircuit`; the server role, with the server's
fast paths, is :class:`pva._server_circuit.ServerVirtualCircuit`.

Theory of operation
-------------------
A :class:`VirtualCircuit` is the protocol state of one TCP connection and
owns no socket.  The caller feeds it what the socket received and sends what
it returns::

    for msg, _ in circuit.recv(data):    # bytes -> messages (Deframer + codecs)
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
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from ._channel import Channel, ClientChannel, Request, ServerChannel
from ._errors import DecodeError, LocalProtocolError, ProtocolError, RemoteProtocolError
from ._framing import Deframer, framing_error
from ._header import (DEFAULT_MAX_MESSAGE_SIZE, HEADER_SIZE, AcknowledgeMarker,
                      ApplicationCommand, ControlMessage, Direction, EchoResponse,
                      EndianSetting, Flags, Frame, FramingError, SetByteOrder,
                      normalize_byte_order)
from ._typecodec import IntrospectionCache
from ._messages import (DECODE_ERRORS, ChannelArrayResponse, ChannelMonitorResponse,
                        ChannelPutGetResponse, ChannelPutResponse, ConnectionValidationResponse,
                        Message, MessageContext, RequestTypes, Subcommand, classes_sent_by,
                        encode_message)
from ._rules import CircuitRules, _Violation
from ._state import (CIRCUIT_TRANSITIONS, MONITOR_TRANSITIONS, ChannelState, CircuitState,
                     RequestState)
from ._stream import ReceiveBuffer
from ._values import FieldDescAndData
from ._wire import DEFAULT_LIMITS, SYS_ENDIAN, Limits

__all__ = ["VirtualCircuit", "ClientVirtualCircuit", "ServerVirtualCircuit",
           "ClientChannel", "ServerChannel", "Channel", "Request", "NEED_DATA"]

CLIENT = Direction.CLIENT
SERVER = Direction.SERVER


class _NeedData:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


#: caproto.pva's marker of "no complete message yet" in what recv yields.
#: :meth:`VirtualCircuit.recv` returns complete messages only, so it never
#: appears; code that compares with it (``if message is NEED_DATA: break``)
#: runs unchanged.
NEED_DATA = _NeedData()
_INIT = int(Subcommand.INIT)
_DESTROY = int(Subcommand.DESTROY)
_CONTROL_OR_SEGMENT = int(Flags.CONTROL | Flags.SEGMENT_MASK)
_BIG_ENDIAN = int(Flags.BIG_ENDIAN)


class VirtualCircuit(CircuitRules):
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
        #: ``hook(nodes)``, called when received messages changed the node
        #: count of the types the peer made us cache (``cache.nodes``): where a
        #: memory budget charges them; it may raise to refuse, and the decoding
        #: call (:meth:`frames_received`, :meth:`recv`) raises it
        self.type_nodes_hook: Optional[Callable[[int], None]] = None
        self._type_nodes = 0            # cache.nodes when the hook last ran
        self._ctx = MessageContext(self.cache, limits, send_cache=send_type_cache)
        self._new_framing(max_message_size)
        self._classes = classes_sent_by(self.their_role)
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
    def set_byte_order(self, endian_setting: Union[EndianSetting, int, str] =
                       EndianSetting.USE_SERVER_BYTE_ORDER) -> SetByteOrder:
        """A Set-Byte-Order control message from us.

        ``endian_setting`` is the message's value (an :class:`EndianSetting`;
        the message is flagged with the circuit's byte order), or a byte
        order (``'<'``, ``'>'``, ``'little'``, ``'big'``) to flag it with,
        value 0.
        """
        if isinstance(endian_setting, str):
            return SetByteOrder(0, self.our_role, normalize_byte_order(endian_setting))
        return SetByteOrder(int(EndianSetting(endian_setting)), self.our_role, self.byte_order)

    def acknowledge_marker(self, value: int = 0) -> AcknowledgeMarker:
        return AcknowledgeMarker(value, self.our_role, self.byte_order)

    def echo_response(self, request: ControlMessage) -> EchoResponse:
        """The control echo response to a control echo request."""
        return EchoResponse(request.value, self.our_role, self.byte_order)

    def create_channel(self, name: str, cid: Optional[int] = None) -> Channel:
        """A :class:`ClientChannel` or :class:`ServerChannel`, depending on the role.

        Client role: a new channel to create (its :meth:`~ClientChannel.create`
        message asks the server), with client id ``cid`` or a new one; the
        circuit tracks this object.
        Server role: the channel a processed :class:`CreateChannelRequest`
        asked for by ``name`` (and ``cid``, if given) and not answered yet;
        its :meth:`~ServerChannel.create` is the reply.

        Raises
        ------
        LocalProtocolError
            Client role: ``cid`` is the id of a live channel.  Server role: no
            such channel request is waiting for its reply.
        """
        if self.our_role is CLIENT:
            if cid is None:
                cid = self.new_channel_id()
            else:
                old = self.channels.get(cid)
                if old is not None and old.state not in (None, ChannelState.DESTROYED):
                    raise LocalProtocolError(f"client channel id {cid} is in use ({old.name!r})")
            # registered now (state None until its create request is sent),
            # so that this object is the channel the circuit tracks
            ch = self.channels[cid] = ClientChannel(self, name, cid)
            return ch
        for ch in self.channels.values():
            if (ch.name == name and (cid is None or ch.cid == cid)
                    and ch.state is ChannelState.CREATING):
                return ch
        raise LocalProtocolError(f"the client has not asked for a channel named {name!r}"
                                 + ("" if cid is None else f" with id {cid}")
                                 + " (or it was answered already)")

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

    def recv(self, *buffers) -> List[Tuple[Union[Message, ControlMessage], int]]:
        """Parse received bytes into ``(message, num_bytes_needed)`` pairs.

        Pass each message to :meth:`process_command` before acting on it.
        ``num_bytes_needed`` is the number of bytes still to be received
        before the message after this one can be parsed: 0 when it is in the
        same input; for the last message, the rest of an incomplete message
        (of its current segment) or a header.  Only complete messages are
        returned (:data:`NEED_DATA` is never one of them).

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
        pairs = [(msg, 0) for msg in out]
        if pairs:
            pairs[-1] = (out[-1], self._rx.missing)
        return pairs

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """Where to receive the next bytes (``asyncio.BufferedProtocol``).

        Then call :meth:`buffer_updated`; the bytes of a large message are
        received straight into the buffer its payload will reference.
        """
        if self.state is CircuitState.ERROR:
            raise RemoteProtocolError(f"circuit is in ERROR: {self.error}")
        return self._rx.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> List[Union[Message, ControlMessage]]:
        """``nbytes`` arrived in the last :meth:`get_buffer`: the messages they
        complete (as :meth:`recv`, without the byte counts)."""
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
        if self.cache.nodes != self._type_nodes:
            self._types_changed()
        return out

    def _types_changed(self) -> None:
        nodes = self.cache.nodes
        if self.type_nodes_hook is not None:
            self.type_nodes_hook(nodes)
        self._type_nodes = nodes

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
        if self.cache.nodes != self._type_nodes:
            self._types_changed()

    def _decode_views(self, views, out: list) -> None:
        ctx = self._ctx
        classes = self._classes
        learn = self.our_role is CLIENT
        init_types = _INIT_TYPES_CMDS
        deframer = self._deframer
        dctx = ctx.dctx
        max_nodes = ctx.max_nodes
        cls = None
        try:
            for mv in views:
                flags = mv[2]
                if flags & _CONTROL_OR_SEGMENT or deframer.segment_command is not None:
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
                    command, payload = mv[3], mv[8:]
                cls = classes.get(command)
                if cls is None:
                    raise DecodeError(f"unknown application command {command} from "
                                      f"{self.their_role.name.lower()}")
                # each message has its own node budget (as decode_message)
                dctx.nodes = max_nodes + len(payload)
                msg = cls._decode(payload, 0, ">" if flags & _BIG_ENDIAN else "<", ctx)
                if learn and msg.ID in init_types and msg.subcommand & _INIT:
                    _learn_types(ctx, msg)
                out.append(msg)
        except DecodeError as ex:
            # without the decoders' frames, whose locals hold what was built
            # before the fault (as decode_message)
            raise ex.with_traceback(None)
        except DECODE_ERRORS as ex:     # as decode_message
            raise DecodeError(f"cannot decode {cls.__name__}: {ex}") from None

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

_INIT_TYPES_CMDS = frozenset({ApplicationCommand.GET, ApplicationCommand.PUT,
                              ApplicationCommand.PUT_GET, ApplicationCommand.MONITOR,
                              ApplicationCommand.ARRAY})


def _learn_types(ctx: MessageContext, msg) -> None:
    """Record the type(s) an INIT reply announces for its request id."""
    if msg.SENDER is not SERVER or not msg.subcommand & _INIT \
            or not msg.status.is_successful:
        return
    if isinstance(msg, ChannelPutGetResponse):
        ctx.types[msg.ioid] = RequestTypes.of(msg.ID, msg.put_structure_if, msg.get_structure_if)
    elif isinstance(msg, ChannelPutResponse):
        ctx.types[msg.ioid] = RequestTypes.of(msg.ID, msg.put_structure_if)
    elif isinstance(msg, ChannelArrayResponse):
        ctx.types[msg.ioid] = RequestTypes.of(msg.ID, msg.array_structure_if)
    else:
        ctx.types[msg.ioid] = RequestTypes.of(msg.ID, msg.pv_structure_if)


def _strip_role(args: tuple, kwargs: dict, role: Direction) -> tuple:
    """The arguments without caproto.pva's ``our_role`` (positional or
    keyword), which must be the class's role."""
    given = kwargs.pop("our_role", None)
    if given is None and args and isinstance(args[0], (Direction, str)):
        given, args = args[0], args[1:]
    if given is not None:
        if isinstance(given, str):
            given = Direction[given.upper()]
        if given is not role:
            raise ValueError(f"this circuit class has the {role.name.lower()} role")
    return args


class ClientVirtualCircuit(VirtualCircuit):
    """A :class:`VirtualCircuit` in the client role."""

    def __init__(self, *args, identity: Tuple[str, str] = ("", ""), **kwargs):
        # caproto.pva spelling: (ClientVirtualCircuit(our_role, address, priority))
        args = _strip_role(args, kwargs, CLIENT)
        super().__init__(CLIENT, *args, **kwargs)
        #: ``(user, host)`` sent with ``ca`` authentication
        self.identity = identity

    def validate_connection(self, buffer_size: int = 0x10000, registry_size: int = 0x7FFF,
                            connection_qos: int = 0, auth_nz: str = "ca",
                            data: Optional[FieldDescAndData] = None, *,
                            user: Optional[str] = None, host: Optional[str] = None
                            ) -> ConnectionValidationResponse:
        """The client's answer to the server's validation request.

        ``data`` is a :class:`FieldDescAndData` or a pva dataclass instance
        (:class:`ChannelAccessAuthentication` for ``"ca"``).
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
        if data is not None and not isinstance(data, FieldDescAndData):
            data = FieldDescAndData(data=data)      # a pva dataclass instance
        return ConnectionValidationResponse(buffer_size, registry_size, connection_qos,
                                            auth_nz, data)

    # --- the hot path of a client: monitor updates
    def accept_update(self, message: Any) -> Optional[Request]:
        """Accept a server's update of a started (or stopped) monitor.

        The rule :meth:`process_command` applies to an update (circuit
        CONNECTED, the request a MONITOR in a state an UPDATE keeps), checked
        in one step; an accepted update changes no state.  Returns the
        request, or ``None`` for anything else, without changing anything:
        then :meth:`process_command` validates the message fully.
        """
        if (type(message) is not ChannelMonitorResponse or message.subcommand & _INIT_OR_DESTROY
                or message.raw is not None or self.state not in _CHANNEL_CIRCUIT_KEEPS):
            return None
        req = self.requests.get(message.ioid)
        if req is not None and req.command == _MONITOR and req.state in _UPDATE_KEEPS:
            return req
        return None


#: what accept_update() and the server's send_update() (pva._server_circuit)
#: rely on: the states an UPDATE leaves as they are
_MONITOR = ApplicationCommand.MONITOR
_INIT_OR_DESTROY = _INIT | _DESTROY
#: circuit states where channel traffic from the server leaves the circuit as it is
_CHANNEL_CIRCUIT_KEEPS = frozenset(state for (state, event), nxt in CIRCUIT_TRANSITIONS.items()
                                   if event == (SERVER, "CHANNEL") and nxt is state)
_UPDATE_KEEPS = frozenset(state for (state, event), nxt in MONITOR_TRANSITIONS.items()
                          if event == (SERVER, "UPDATE") and nxt is state)


def __getattr__(name: str) -> Any:
    # caproto.pva's users find ServerVirtualCircuit in this module; it lives
    # in pva._server_circuit, which imports this one (so: on first use)
    if name == "ServerVirtualCircuit":
        from ._server_circuit import ServerVirtualCircuit
        return ServerVirtualCircuit
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

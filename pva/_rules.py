"""How each message moves a circuit's state: the checks against the tables
of :mod:`pva._state` (sans-I/O).

:class:`CircuitRules` is the half of :class:`pva._circuit.VirtualCircuit`
that validates: for a message sent or received it finds the table entry of
its event (:data:`EVENT_OF` / the ``_*_event`` functions name the event of
each message), raises ``_Violation`` when there is none, and otherwise
returns a *commit* callable that applies the change (or ``None`` for a
tolerated stale message).  The circuit calls the commit only once the
message is known to be acceptable, so a refused send changes nothing.
"""
from __future__ import annotations

from typing import Optional

from ._channel import Channel, ClientChannel, Request, ServerChannel
from ._header import ApplicationCommand, ControlMessage, Direction, SetByteOrder
from ._messages import (AclChange, AuthNZ, AuthNZReply, ChannelArrayRequest,
                        ChannelArrayResponse, ChannelDestroyRequest, ChannelDestroyResponse,
                        ChannelFieldInfoRequest, ChannelFieldInfoResponse, ChannelGetRequest,
                        ChannelGetResponse, ChannelMessage, ChannelMonitorRequest,
                        ChannelMonitorResponse, ChannelProcessRequest, ChannelProcessResponse,
                        ChannelPutGetRequest, ChannelPutGetResponse, ChannelPutRequest,
                        ChannelPutResponse, ChannelRequestCancel, ChannelRequestDestroy,
                        ChannelRpcRequest, ChannelRpcResponse, ConnectionValidatedResponse,
                        ConnectionValidationRequest, ConnectionValidationResponse,
                        CreateChannelRequest, CreateChannelResponse, Echo, EchoReply, Message,
                        MultipleData, SearchRequest, SearchResponse, Subcommand)
from ._state import (CHANNEL_STALE_OK, CHANNEL_TRANSITIONS, CIRCUIT_TRANSITIONS,
                     FIELD_TRANSITIONS, GPR_TRANSITIONS, LIVE_CIRCUIT_STATES,
                     MONITOR_TRANSITIONS, REQUEST_STALE_OK, ChannelState, CircuitState,
                     RequestState)

__all__ = ["CircuitRules", "MAX_REMEMBERED_DEAD"]

CLIENT = Direction.CLIENT
SERVER = Direction.SERVER

#: how many dead requests / destroyed channels are remembered for stale traffic
MAX_REMEMBERED_DEAD = 4096

_INIT = int(Subcommand.INIT)
_DESTROY = int(Subcommand.DESTROY)
_PROCESS = int(Subcommand.PROCESS)     # monitor: start/stop
_GET = int(Subcommand.GET)             # monitor: with PROCESS, start
_PIPELINE = int(Subcommand.PIPELINE)
#: the bits that say which kind of execution a PUT / PUT_GET / ARRAY request is
#: (a reply repeats them)
KIND_BITS = int(Subcommand.GET_PUT | Subcommand.GET | Subcommand.PROCESS)

_GPR_OPS = (ChannelGetRequest, ChannelPutRequest, ChannelPutGetRequest, ChannelArrayRequest,
            ChannelProcessRequest, ChannelRpcRequest)
_GPR_REPLIES = (ChannelGetResponse, ChannelPutResponse, ChannelPutGetResponse,
                ChannelArrayResponse, ChannelProcessResponse, ChannelRpcResponse)


class _Violation(Exception):
    """Internal: a transition not in the tables (becomes Local/Remote error)."""


def _gpr_event(msg) -> str:
    sub = msg.subcommand
    if isinstance(msg, Message) and msg.SENDER is CLIENT:
        if sub & _INIT:
            return "INIT"
        return "EXEC_LAST" if sub & _DESTROY else "EXEC"
    if sub & _INIT:
        return "INIT_OK" if msg.status.is_successful else "INIT_FAIL"
    return "REPLY"


def _monitor_event(msg) -> str:
    sub = msg.subcommand
    if msg.SENDER is CLIENT:
        if sub & _INIT:
            return "INIT"
        if sub & _DESTROY:
            return "DESTROY"
        if sub & _PROCESS:
            return "START" if sub & _GET else "STOP"
        return "ACK"
    if sub & _INIT:
        return "INIT_OK" if msg.status.is_successful else "INIT_FAIL"
    if sub & _DESTROY:
        return "FINISH"
    return "UPDATE"


class CircuitRules:
    """The validating half of :class:`~pva._circuit.VirtualCircuit` (see the module doc)."""

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
                (msg.subcommand & KIND_BITS) != (req.pending & KIND_BITS):
            raise _Violation(f"reply subcommand 0x{msg.subcommand:02x} does not match request "
                             f"subcommand 0x{req.pending:02x}")
        if cmd == ApplicationCommand.MONITOR and event in ("START", "STOP", "ACK") and \
                msg.subcommand & _PIPELINE and msg.nfree is None:
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

VC = CircuitRules
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



"""The client side of one TCP connection to a server.

:class:`ClientCircuit` is the protocol object a :class:`pva.io.driver.Connection`
drives (the driver does the buffering, batching, keep-alive timing and
teardown): it wraps the sans-I/O :class:`~pva.ClientVirtualCircuit`, answers
the server's validation, creates the channels waiting for the circuit and
routes replies to the operations by request id.  Its state is the circuit's
(:class:`~pva.CircuitState`) and the connection's (closing or not); an
operation hangs on its :class:`~pva.Request` (``data``), nothing is kept
beside them.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, Optional, Tuple

from .._circuit import ClientVirtualCircuit
from .._errors import PVAError, ProtocolError
from .._header import HEADER_SIZE, Direction, EchoRequest
from .._typecodec import NODE_BYTES
from .._messages import (ChannelDestroyResponse, ChannelMessage, ConnectionValidatedResponse,
                         ConnectionValidationRequest, ConnectionValidationResponse,
                         CreateChannelResponse, Echo, SearchResponse)
from .._state import CIRCUIT_TRANSITIONS, CircuitState
from ..io.budget import Charged
from .channel import NameState

__all__ = ["ClientCircuit"]

log = logging.getLogger("pva.client")

#: circuit states in which a search may be sent over TCP (a name server)
SEARCH_STATES = frozenset(state for (state, event) in CIRCUIT_TRANSITIONS
                          if event == (Direction.CLIENT, "SEARCH"))


class ClientCircuit:
    """One TCP connection to a server (the protocol object of its Connection).

    Parameters
    ----------
    core : ClientCore
        The client core it belongs to.
    address : (host, port)
        The server.
    name_server : bool
        Connected to search over TCP (EPICS_PVA_NAME_SERVERS).
    """

    header_size = HEADER_SIZE

    def __init__(self, core: Any, address: Tuple[str, int], name_server: bool = False):
        self.core = core
        self.address = address
        self.name_server = name_server
        self.vc = vc = ClientVirtualCircuit(address, identity=core.identity,
                                             limits=core.config.limits)
        self.message_length = vc.message_length
        self.frames_received = vc.frames_received
        # the types the peer made the cache keep are charged to the
        # connection's memory budget (over it: the connection closes)
        vc.type_nodes_hook = Charged(NODE_BYTES).hook(lambda: self.conn,
                                                      "a type cache of {} nodes")
        self._accept_update = vc.accept_update
        self.conn: Any = None               # the Connection, set by the core
        self.channels: Dict[int, Any] = {}  # by cid
        self.waiting: Dict[Any, None] = {}  # channels to create once validated (ordered)

    def __repr__(self) -> str:
        state = "closed" if self.closed else self.vc.state.name
        return f"<ClientCircuit {self.address[0]}:{self.address[1]} {state}>"

    # ---- state
    @property
    def closed(self) -> bool:
        """Closing or gone: no new use."""
        return self.conn.closing

    @property
    def connected(self) -> bool:
        """Validated and open."""
        return self.vc.state is CircuitState.CONNECTED and not self.conn.closing

    @property
    def can_search(self) -> bool:
        """A search may be sent on it now (a name server)."""
        return self.vc.state in SEARCH_STATES and not self.conn.closing

    # ---- operations: each is the ``data`` of its request on the circuit
    def op(self, ioid: int) -> Any:
        """The operation of request ``ioid`` (None: none)."""
        req = self.vc.requests.get(ioid)
        return None if req is None else req.data

    def attach(self, op: Any) -> None:
        """``op`` is the operation of its request (sent: the circuit has it)."""
        req = self.vc.requests.get(op.ioid)
        if req is not None:
            req.data = op

    def detach(self, ioid: int, op: Any) -> None:
        """``op`` no longer handles request ``ioid``."""
        req = self.vc.requests.get(ioid)
        if req is not None and req.data is op:
            req.data = None

    # ---- use
    def send(self, *msgs) -> None:
        self.conn.send(self.vc.send(*msgs))

    def close(self, reason: str = "closed by the client") -> None:
        """Close the connection; channels on it go back to searching."""
        self.conn.close(reason)

    def add_channel(self, ch: Any) -> None:
        if self.connected:
            ch._create_on(self)
        else:
            self.waiting[ch] = None

    # ---- the protocol object of pva.io.driver
    def connection_made(self, conn: Any) -> None:
        pass                                # the server speaks first

    def dispatch(self, msg: Any) -> None:
        """Handle one message from the server."""
        req = self._accept_update(msg)     # a monitor update, checked in one step
        if req is not None:
            op = req.data
            if op is not None:
                op._on_message(msg)
            return None
        try:
            if not self.vc.process_command(msg):
                return None                 # stale: a reply to a destroyed request
        except ProtocolError as ex:
            self.conn.close(f"protocol violation: {ex}")    # logged by connection_lost
            return None
        handler = _HANDLERS.get(type(msg))
        if handler is not None:
            handler(self, msg)
        else:
            ioid = getattr(msg, "ioid", None)
            if ioid is not None:
                op = self.op(ioid)
                if op is not None:
                    op._on_message(msg)
        return None

    def keepalive(self) -> None:
        """Every EPICS_PVA_CONN_TMO / 2: an echo the server answers (so a
        quiet but live connection keeps receiving)."""
        if self.connected:
            try:
                self.send(Echo(b""))
            except PVAError:
                pass

    def connection_lost(self, reason: Optional[str]) -> None:
        if reason and (reason.startswith(("malformed data", "protocol violation",
                                          "not validated within"))
                       or "memory budget" in reason):
            log.warning("%r: protocol error from server: %s", self, reason)
        elif reason:
            log.debug("%r closed: %s", self, reason)
        ops = []
        for req in self.vc.requests.values():
            if req.data is not None:
                ops.append(req.data)
                req.data = None
        self.vc.disconnect()
        self.core._circuit_lost(self)
        chans = list(self.channels.values()) + list(self.waiting)
        self.channels.clear()
        self.waiting = {}
        for op in ops:
            op._lost()
        seen = set()
        for ch in chans:
            if id(ch) not in seen:
                seen.add(id(ch))
                ch._lost(self)

    # ---- handlers, one per message type (_HANDLERS)
    def _on_echo_request(self, msg: EchoRequest) -> None:
        self.send(self.vc.echo_response(msg))

    def _on_validation_request(self, msg: ConnectionValidationRequest) -> None:
        methods = list(msg.auth_nz)
        if "ca" in methods or not methods:
            reply = self.vc.validate_connection(auth_nz="ca")
        else:
            reply = ConnectionValidationResponse(0x10000, 0x7FFF, 0, "anonymous", None)
        self.send(reply)
        if self.name_server:
            self.core.search.now()

    def _on_validated(self, msg: ConnectionValidatedResponse) -> None:
        if not msg.status.is_successful:
            log.warning("%r: validation refused: %s", self, msg.status.message)
            self.close(f"validation refused: {msg.status.message}")
            return
        self.conn.mark_validated()
        waiting, self.waiting = self.waiting, {}
        for ch in waiting:
            if ch.state is NameState.CONNECTING and ch.circuit is self:
                ch._create_on(self)

    def _on_search_response(self, msg: SearchResponse) -> None:
        self.core._on_search_response(msg, self.address)

    def _on_created(self, msg: CreateChannelResponse) -> None:
        ch = self.channels.get(msg.client_chid)
        if ch is not None:
            ch._on_created(self, msg)

    def _on_destroyed(self, msg: ChannelDestroyResponse) -> None:
        ch = self.channels.pop(msg.client_chid, None)
        if ch is not None and ch.circuit is self:
            ch._lost(self)

    def _on_channel_message(self, msg: ChannelMessage) -> None:
        op = self.op(msg.ioid)
        log.info("%s: server message (%d): %s", op.channel.name if op else "?",
                 msg.message_type, msg.message)


_HANDLERS = {
    EchoRequest: ClientCircuit._on_echo_request,
    ConnectionValidationRequest: ClientCircuit._on_validation_request,
    ConnectionValidatedResponse: ClientCircuit._on_validated,
    SearchResponse: ClientCircuit._on_search_response,
    CreateChannelResponse: ClientCircuit._on_created,
    ChannelDestroyResponse: ClientCircuit._on_destroyed,
    ChannelMessage: ClientCircuit._on_channel_message,
}

"""Sans-I/O pvAccess TCP connection in the server role: :class:`ServerVirtualCircuit`.

The :class:`~pva._circuit.VirtualCircuit` of a server, with the server's
own messages (the connection validation it starts and concludes) and the
hot path of a server (:meth:`ServerVirtualCircuit.begin_exec`,
:meth:`~ServerVirtualCircuit.reply_ok`, :meth:`~ServerVirtualCircuit.send_update`):
each checks and commits in one step what ``process_command`` / ``send``
would for the common case.  The states they accept and move to are read
from :mod:`pva._state`'s tables (the ``_next_states`` tables at the end of
this module and the guards of :mod:`pva._circuit`), never written out again;
tests compare their bytes with the generic path's.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Tuple

from ._channel import Request
from ._circuit import (_CHANNEL_CIRCUIT_KEEPS, _DESTROY, _INIT, _INIT_TYPES_CMDS, _MONITOR,
                       _UPDATE_KEEPS, CLIENT, SERVER, VirtualCircuit, _strip_role)
from ._errors import LocalProtocolError
from ._fastpath import encode_monitor_raw, encode_reply_ok
from ._header import ApplicationCommand, Direction
from ._messages import (ConnectionValidatedResponse, ConnectionValidationRequest, Message,
                        RequestTypes)
from ._rules import KIND_BITS
from ._state import GPR_TRANSITIONS, RequestState
from ._values import Status

__all__ = ["ServerVirtualCircuit"]


class ServerVirtualCircuit(VirtualCircuit):
    """A :class:`VirtualCircuit` in the server role."""

    def __init__(self, *args, **kwargs):
        # caproto.pva spelling: (ServerVirtualCircuit(our_role, address, priority))
        args = _strip_role(args, kwargs, SERVER)
        super().__init__(SERVER, *args, **kwargs)

    def validate_connection(self, buffer_size: int = 0x10000, registry_size: int = 0x7FFF,
                            authorization_options: Iterable[str] = ("anonymous", "ca")
                            ) -> ConnectionValidationRequest:
        return ConnectionValidationRequest(buffer_size, registry_size, list(authorization_options))

    def validated_connection(self, status: Status = Status()) -> ConnectionValidatedResponse:
        return ConnectionValidatedResponse(status)

    # --- the hot path of a server: executing an open GET / PUT / PROCESS.
    # Each checks and commits in one step what process_command / send would
    # for the common case; the states they accept and the states they move
    # to are read from the tables (_EXEC_NEXT, _REPLY_NEXT, ... below).
    def begin_exec(self, msg: Message) -> Optional[Request]:
        """Accept a client's execution of an open GET/PUT/PROCESS request.

        The rule :meth:`process_command` applies (``EXEC``, or ``EXEC_LAST``
        with the destroy bit, from a state the table allows it in), checked
        and committed in one step for the common case only.  Returns the
        request, or ``None`` without changing anything when anything else
        applies: then :meth:`process_command` validates the message fully.
        """
        sub = msg.subcommand
        req = self.requests.get(msg.ioid)
        if (req is None or sub & _INIT or self.state not in _CHANNEL_CIRCUIT_KEEPS
                or req.command != msg.ID or req.command not in _REPLY_OK_CMDS
                or req.channel.sid != msg.server_chid or getattr(msg, "raw", None) is not None):
            return None
        nxt = (_EXEC_LAST_NEXT if sub & _DESTROY else _EXEC_NEXT).get(req.state)
        if nxt is None:
            return None
        req.pending = sub
        req.state = nxt
        return req

    def reply_ok(self, req: Request, subcommand: int, desc=None, data=None,
                 plans=None) -> List[Any]:
        """Buffers of the successful reply to a GET/PUT/PROCESS request.

        What :meth:`send` does with a ``ChannelGetResponse`` (or PUT or
        PROCESS response) with an OK status, without building it.  An INIT
        reply announces ``desc``; an execution reply carries ``data`` (a
        DataWithBitSet of type ``desc``, or None); the request moves as the
        table says (``INIT_OK``, ``REPLY``: idle again, or gone after a
        destroy-bit execution).  ``plans``: ``desc``'s TypePlans if the caller
        holds them.

        Raises
        ------
        LocalProtocolError
            The request is not waiting for this reply, the subcommand does
            not match, or the data cannot be encoded; nothing is changed.
        """
        if self.state not in _CHANNEL_CIRCUIT_KEEPS:
            raise LocalProtocolError(f"reply while the circuit is {self.state.name}")
        state, cmd = req.state, req.command
        init = subcommand & _INIT
        nxt = (_INIT_OK_NEXT if init else _REPLY_NEXT).get(state)
        if (nxt is not None and not init and cmd in _CHECK_REPLY_KIND
                and (subcommand & KIND_BITS) != (req.pending & KIND_BITS)):
            raise LocalProtocolError(f"reply subcommand 0x{subcommand:02x} does not match "
                                     f"request subcommand 0x{req.pending:02x}")
        if nxt is None or self.requests.get(req.ioid) is not req or cmd not in _REPLY_OK_CMDS:
            raise LocalProtocolError(f"reply 0x{subcommand:02x} to request {req.ioid} "
                                     f"in state {state.name}")
        bufs = encode_reply_ok(cmd, req.ioid, subcommand, self.byte_order, self._ctx,
                               desc, data, self.max_segment_size, plans)
        if nxt is RequestState.DEAD:
            self._kill(req.ioid)
        else:
            req.state = nxt
            if init and cmd in _INIT_TYPES_CMDS:
                # the type of the request's later data messages
                self._ctx.types[req.ioid] = RequestTypes.of(cmd, desc) if plans is None \
                    else RequestTypes(cmd, desc, None, plans)
        return bufs

    def send_update(self, ioid: int, raw: tuple) -> List[Any]:
        """Buffers of a monitor update whose body is ``raw`` (from
        :func:`~pva._messages.encode_monitor_update`).

        What :meth:`send` does with a ``ChannelMonitorResponse`` (subcommand
        0) carrying ``raw``, without building it: an update is allowed in the
        monitor states the table keeps on an ``UPDATE``, and changes nothing.

        Raises
        ------
        LocalProtocolError
            No such monitor, or not in a state that takes updates.
        """
        req = self.requests.get(ioid)
        if (req is None or req.command != _MONITOR or self.state not in _CHANNEL_CIRCUIT_KEEPS
                or req.state not in _UPDATE_KEEPS):
            what = "no monitor" if req is None or req.command != _MONITOR \
                else f"the monitor is {req.state.name}"
            raise LocalProtocolError(f"update for request {ioid}: {what}")
        return encode_monitor_raw(ioid, raw, self.byte_order, self.max_segment_size)


def _next_states(table: dict, event: Tuple[Direction, str]) -> Dict[RequestState, RequestState]:
    """``state -> next state`` of ``event`` in ``table`` (the fast paths' guards)."""
    return {state: nxt for (state, ev), nxt in table.items() if ev == event}


#: what the server fast paths rely on, read from pva._state's tables
_EXEC_NEXT = _next_states(GPR_TRANSITIONS, (CLIENT, "EXEC"))
_EXEC_LAST_NEXT = _next_states(GPR_TRANSITIONS, (CLIENT, "EXEC_LAST"))
_INIT_OK_NEXT = _next_states(GPR_TRANSITIONS, (SERVER, "INIT_OK"))
_REPLY_NEXT = _next_states(GPR_TRANSITIONS, (SERVER, "REPLY"))
_CHECK_REPLY_KIND = frozenset({ApplicationCommand.PUT, ApplicationCommand.PUT_GET,
                               ApplicationCommand.ARRAY})
_REPLY_OK_CMDS = frozenset({ApplicationCommand.GET, ApplicationCommand.PUT,
                            ApplicationCommand.PROCESS})

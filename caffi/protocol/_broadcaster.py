"""The UDP side of CA: searches, search answers, beacons and the repeater.

Theory of operation
-------------------
A :class:`Broadcaster` is the companion of a UDP socket someone else owns.
A datagram holds one or more whole commands (a client's search datagram is a
VersionRequest followed by SearchRequests; rsrv answers with a
VersionResponse followed by SearchResponses).  :meth:`Broadcaster.send`
checks that each command is one the sending role may put in a datagram
(:data:`~caffi.protocol._state.BROADCAST_COMMANDS`) and returns the bytes of
one datagram; :meth:`Broadcaster.recv` decodes a received datagram entirely
or raises :class:`RemoteProtocolError` (UDP has no connection to fail: the
caller drops the datagram); :meth:`Broadcaster.process_commands` checks the
received commands the same way and tracks the one piece of UDP state, the
registration with the CA repeater (:data:`REPEATER_TRANSITIONS`).
"""
import logging
from typing import List

from ._commands import Message, RepeaterRegisterRequest, read_datagram
from ._constants import DEFAULT_PROTOCOL_VERSION
from ._errors import CaprotoValueError, LocalProtocolError, RemoteProtocolError
from ._sentinels import (AWAIT_SEARCH_RESPONSE, CLIENT, CONNECTED, IDLE, SERVER, Role,
                         States)
from ._state import BROADCAST_COMMANDS

__all__ = ["Broadcaster", "REPEATER_TRANSITIONS"]

#: registration with the repeater: (state, command) -> state.  IDLE: not
#: registered; AWAIT_SEARCH_RESPONSE: asked; CONNECTED: confirmed.
REPEATER_TRANSITIONS = {
    (IDLE, "RepeaterRegisterRequest"): AWAIT_SEARCH_RESPONSE,
    (AWAIT_SEARCH_RESPONSE, "RepeaterRegisterRequest"): AWAIT_SEARCH_RESPONSE,
    (AWAIT_SEARCH_RESPONSE, "RepeaterConfirmResponse"): CONNECTED,
    # libca re-registers periodically; the repeater confirms every time
    (CONNECTED, "RepeaterRegisterRequest"): CONNECTED,
    (CONNECTED, "RepeaterConfirmResponse"): CONNECTED,
    # a confirmation for an earlier registration of the same port
    (IDLE, "RepeaterConfirmResponse"): CONNECTED,
}


class Broadcaster:
    """The state of one CA UDP endpoint.

    Parameters
    ----------
    our_role : CLIENT or SERVER
    protocol_version : int
        Default 13.
    """

    def __init__(self, our_role: Role, protocol_version: int = DEFAULT_PROTOCOL_VERSION):
        if our_role not in (CLIENT, SERVER):
            raise CaprotoValueError("our_role must be CLIENT or SERVER, not %r" % (our_role,))
        self.our_role = our_role
        self.their_role = our_role.other
        self.protocol_version = protocol_version
        self.repeater_state: States = IDLE
        self.log = logging.getLogger("caffi.protocol.bcast")

    @property
    def registered(self) -> bool:
        """True once the repeater confirmed our registration."""
        return self.repeater_state is CONNECTED

    def send(self, *commands: Message) -> bytes:
        """The bytes of one datagram holding ``commands``."""
        for command in commands:
            self._check(self.our_role, command, LocalProtocolError)
        for command in commands:
            self._advance(command)
        return b"".join(bytes(c) for c in commands)

    def recv(self, byteslike, address) -> List[Message]:
        """Decode one received datagram (from ``address``)."""
        return list(read_datagram(byteslike, address, self.their_role))

    def process_commands(self, commands) -> None:
        """Check received commands against the protocol and update the state."""
        for command in commands:
            self._check(self.their_role, command, RemoteProtocolError)
        for command in commands:
            self._advance(command)

    def process_command(self, command: Message) -> None:
        self.process_commands((command,))

    def _check(self, sender: Role, command: Message, error):
        name = type(command).__name__
        if name not in BROADCAST_COMMANDS[sender]:
            raise error("a %s does not send %s over UDP" % (sender.name.lower(), name))

    def _advance(self, command: Message):
        new = REPEATER_TRANSITIONS.get((self.repeater_state, type(command).__name__))
        if new is not None:
            self.repeater_state = new

    def register(self, ip: str = "0.0.0.0") -> RepeaterRegisterRequest:
        """A :class:`RepeaterRegisterRequest` for our address (``0.0.0.0``:
        the repeater uses the address the datagram came from)."""
        return RepeaterRegisterRequest(ip or "0.0.0.0")

    def disconnect(self):
        self.repeater_state = IDLE

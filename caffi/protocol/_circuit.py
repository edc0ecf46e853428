"""The state of one CA TCP connection (virtual circuit), in either role.

Theory of operation
-------------------
A :class:`VirtualCircuit` is the companion of a socket that someone else
owns.  Bytes received go to :meth:`~VirtualCircuit.recv`, which returns the
complete commands; each goes through :meth:`~VirtualCircuit.process_command`
before the application acts on it.  Commands to send go through
:meth:`~VirtualCircuit.send`, which checks them and returns the buffers to
write.  Both directions run the same checks (:meth:`_process`): the
transition tables of :mod:`caffi.protocol._state` for the circuit and the
channel, then the id bookkeeping the tables cannot express (a response must
answer a pending ``ioid`` or a live ``subscriptionid``; a new id must not be
in use).  A violation by the peer raises :class:`RemoteProtocolError` and
leaves the circuit FAILED for good (the connection should be closed); our own
raises :class:`LocalProtocolError` and changes nothing.

Received bytes are not copied per message: :meth:`recv` keeps the chunks of
an incomplete message in a list and joins them once, when the message (whose
size the header announced, and which is refused first if it exceeds the
configured maximum) is complete; commands hold views of the joined bytes.

Budgets for a hostile peer: ``max_channels``, ``max_subscriptions`` and
``max_pending`` (outstanding read/write notifications) bound the tables a
client can make a server keep; past them the request is a
:class:`RemoteProtocolError`.
"""
import itertools
import logging
from collections import deque
from typing import Deque, Dict, Optional, Tuple

from ._channel import ClientChannel, ServerChannel, _BaseChannel
from ._commands import Message, max_payload_size, read_from_bytestream
from ._constants import DEFAULT_MAX_ARRAY_BYTES, DEFAULT_PROTOCOL_VERSION
from ._errors import (CaprotoValueError, LocalProtocolError, ProtocolError,
                      RemoteProtocolError)
from ._sentinels import (CLIENT, CLOSED, DISCONNECTED, FAILED, IDLE, NEED_DATA,
                         SEND_CREATE_CHAN_REQUEST, SEND_VERSION_REQUEST, SERVER, Role)
from ._state import (CHANNEL_BY_CID, CHANNEL_BY_IOID, CHANNEL_BY_SID, CHANNEL_BY_SUBSCRIPTION,
                     CHANNEL_TRANSITIONS, CIRCUIT_COMMANDS, CIRCUIT_OPEN, CIRCUIT_TRANSITIONS)

__all__ = ["VirtualCircuit", "CircuitState"]

_READS = frozenset({"ReadNotifyRequest", "WriteNotifyRequest", "ReadRequest"})
_READ_ANSWERS = CHANNEL_BY_IOID


#: a channel object without __init__ (accept_channel sets every attribute)
_new_server_channel = object.__new__


class CircuitState:
    """The ``{CLIENT: state, SERVER: state}`` pair of a circuit or channel."""

    __slots__ = ("pair",)

    def __init__(self, client_state, server_state):
        self.pair = (client_state, server_state)

    def __getitem__(self, role: Role):
        return self.pair[0] if role is CLIENT else self.pair[1]

    def __repr__(self):
        return "<%s states={CLIENT: %r, SERVER: %r}>" % (
            type(self).__name__, self.pair[0], self.pair[1])


class VirtualCircuit:
    """The state of one CA client-server TCP connection.

    Parameters
    ----------
    our_role : CLIENT or SERVER
    address : tuple
        The peer's ``(host, port)``.
    priority : int or None
        Circuit priority 0-99 (a server learns it from the VersionRequest).
    protocol_version : int
        Our minor protocol version (13).
    max_array_bytes : int
        Largest array accepted (EPICS_CA_MAX_ARRAY_BYTES); a message
        announcing a larger payload is refused before it is read.
    max_channels, max_subscriptions, max_pending : int
        Budgets of what the peer may make us track (see the module doc).
    """

    def __init__(self, our_role: Role, address, priority: Optional[int],
                 protocol_version: int = DEFAULT_PROTOCOL_VERSION, *,
                 max_array_bytes: int = DEFAULT_MAX_ARRAY_BYTES,
                 max_channels: int = 100_000, max_subscriptions: int = 1_000_000,
                 max_pending: int = 100_000):
        if our_role not in (CLIENT, SERVER):
            raise CaprotoValueError("our_role must be CLIENT or SERVER, not %r" % (our_role,))
        self.our_role = our_role
        self.their_role = our_role.other
        self.address = tuple(address) if address is not None else None
        self.priority = priority
        self.protocol_version = protocol_version
        self.max_array_bytes = max_array_bytes
        self.max_payload = max_payload_size(max_array_bytes)
        self.max_channels = max_channels
        self.max_subscriptions = max_subscriptions
        self.max_pending = max_pending
        self._state = (SEND_VERSION_REQUEST, IDLE)
        self.failed: Optional[ProtocolError] = None
        #: channels by client id, and by server id once created
        self.channels: Dict[int, _BaseChannel] = {}
        self.channels_sid: Dict[int, _BaseChannel] = {}
        #: live subscriptions: subscriptionid -> EventAddRequest
        self.event_add_commands: Dict[int, Message] = {}
        self._cancelling: Dict[int, Message] = {}
        #: pending read/write notifications: ioid -> (channel, request)
        self._ioids: Dict[int, Tuple[_BaseChannel, Message]] = {}
        self.host_name: Optional[str] = None
        self.client_name: Optional[str] = None
        self._chunks: list = []
        self._avail = 0
        self._needed = 16
        self._cid_counter = itertools.count(0)
        self._ioid_counter = itertools.count(0)
        self._sub_counter = itertools.count(0)
        self.log = logging.getLogger("caffi.protocol.circuit")

    # -- identity ----------------------------------------------------------- #
    @property
    def host(self):
        return self.address[0]

    @property
    def port(self):
        return self.address[1]

    @property
    def key(self):
        return (self.address, self.priority)

    @property
    def states(self) -> CircuitState:
        return CircuitState(*self._state)

    def __repr__(self):
        return "<VirtualCircuit %s address=%r priority=%r states=%r>" % (
            self.our_role, self.address, self.priority, self.states)

    # -- ids ---------------------------------------------------------------- #
    def _unused(self, counter, in_use):
        while True:
            i = next(counter) & 0xFFFFFFFF
            if i not in in_use:
                return i

    def new_channel_id(self) -> int:
        return self._unused(self._cid_counter, self.channels)

    def new_ioid(self) -> int:
        return self._unused(self._ioid_counter, self._ioids)

    def new_subscriptionid(self) -> int:
        return self._unused(self._sub_counter, self.event_add_commands)

    # -- sans-I/O interface ------------------------------------------------- #
    def send(self, *commands, extra=None) -> list:
        """Check ``commands`` against the protocol, update the state, and
        return the buffers to send (in order)."""
        buffers = []
        for command in commands:
            self._process(self.our_role, command)
            buffers.extend(command.buffers)
        return buffers

    def recv(self, *buffers) -> Tuple[Deque[Message], int]:
        """Parse received bytes: ``(complete commands, bytes still needed)``.

        Pass each command to :meth:`process_command` before acting on it.
        An empty ``recv()`` call (or a zero-length buffer) means nothing; to
        report a closed connection call :meth:`disconnect`.
        """
        if self.failed is not None:
            raise RemoteProtocolError("circuit failed earlier: %s" % self.failed)
        for b in buffers:
            if len(b):
                self._chunks.append(b if isinstance(b, bytes) else bytes(b))
                self._avail += len(b)
        commands: Deque[Message] = deque()
        if self._avail < self._needed:
            return commands, self._needed - self._avail
        data = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        view = memoryview(data)
        offset = 0
        role = self.their_role
        try:
            while True:
                cmd, n = read_from_bytestream(view, role, self.max_payload, offset)
                if cmd is NEED_DATA:
                    break
                if (type(cmd).__name__ == "EventAddResponse" and not cmd.payload
                        and cmd.subscriptionid in self._cancelling):
                    # an empty update confirms a cancel (a count-0 one is ambiguous
                    # on the wire; the cancel in flight decides)
                    cmd = _as_cancel_response(cmd)
                commands.append(cmd)
                offset += n
        except RemoteProtocolError as exc:
            self.failed = exc
            raise
        rest = data[offset:] if offset else data
        self._chunks = [rest] if rest else []
        self._avail = len(rest)
        self._needed = self._avail + n
        return commands, n

    def process_command(self, command: Message):
        """Check a received command and update the state."""
        self._process(self.their_role, command)

    def accept_channel(self, name: str, cid: int, version: int, native_type: int,
                       native_count: int, sid: int, access_rights) -> Optional[ServerChannel]:
        """A server's channel creation in one step: a CreateChanRequest
        received, then AccessRightsResponse and CreateChanResponse sent.

        The same rules as :meth:`process_command` and :meth:`send` (the
        channel's moves from the tables, the budgets, the id checks), applied
        without message objects (a server's hot path when a client connects
        many channels).  Returns the new channel, or None where those would
        refuse something; then nothing changed and the messages should take
        the general path, which reports the violation.
        """
        state = self._state
        if (_CREATED is None or self.our_role is not SERVER or self.failed is not None
                or state[0] not in CIRCUIT_OPEN[CLIENT] or state[1] not in CIRCUIT_OPEN[SERVER]
                or cid in self.channels or len(self.channels) >= self.max_channels
                or sid in self.channels_sid):
            return None
        # the attributes ServerChannel(name, self, cid=cid) gets, set once
        # (tested against the three messages' channel, attribute by attribute)
        chan = _new_server_channel(ServerChannel)
        chan.name = name
        chan.circuit = self
        chan.cid = cid
        chan.sid = sid
        chan.native_data_type = native_type
        chan.native_data_count = native_count
        chan.access_rights = access_rights
        chan.protocol_version = version
        chan.string_encoding = "latin-1"
        chan._state = _CREATED
        self.channels[cid] = chan
        self.channels_sid[sid] = chan
        return chan

    def disconnect(self):
        """The connection is gone: every channel and the circuit are closed."""
        self._state = (DISCONNECTED, DISCONNECTED)
        for chan in list(self.channels.values()):
            chan._state = (CLOSED, CLOSED)
        self.channels.clear()
        self.channels_sid.clear()
        self.event_add_commands.clear()
        self._cancelling.clear()
        self._ioids.clear()

    # -- the checks --------------------------------------------------------- #
    def _fail(self, sender: Role, text: str):
        if sender is self.our_role:
            raise LocalProtocolError(text)
        err = RemoteProtocolError(text)
        self.failed = err
        raise err

    def _process(self, sender: Role, command: Message):
        if self.failed is not None:
            raise RemoteProtocolError("circuit failed earlier: %s" % self.failed)
        state = self._state
        if state[0] is DISCONNECTED:
            self._fail(sender, "circuit is disconnected: cannot handle %r" % (command,))
        name = type(command).__name__
        kind, moves, operation, moved = _RULES.get((sender, name), _UNKNOWN)
        if kind is _VERSION:
            new = CIRCUIT_TRANSITIONS.get((state, (sender, name)))
            if new is None:
                self._fail(sender, "%s from the %s in circuit state %r" % (
                    name, sender.name.lower(), self.states))
            if name == "VersionRequest" and self.our_role is SERVER:
                self.priority = command.priority
                self.protocol_version = min(self.protocol_version, command.version)
            self._state = new
            return
        own = state[0] if sender is CLIENT else state[1]
        if own not in CIRCUIT_OPEN[sender]:
            self._fail(sender, "%s from the %s before its version message (%r)"
                       % (name, sender.name.lower(), self.states))
        if kind is _CIRCUIT:
            self._circuit_command(sender, name, command)
            return
        if kind is _BY_SID:
            chan = self.channels_sid.get(command.sid)
            if chan is None:
                self._fail(sender, "%s for unknown sid %d" % (name, command.sid))
        else:
            chan = self._find_channel(sender, name, command)
        new = moves.get(chan._state)
        if new is None:
            self._fail(sender, "%s from the %s for channel %r in state %r"
                       % (name, sender.name.lower(), chan.name, chan.states))
        if operation is not None:
            operation(self, sender, name, command, chan)
        chan._state = new
        if moved is not None:
            moved(self, command, chan)
        if new[0] is CLOSED or new[0] is FAILED:
            self._forget(chan)

    def _circuit_command(self, sender, name, command):
        if name == "HostNameRequest":
            self.host_name = command.name
        elif name == "ClientNameRequest":
            self.client_name = command.name
        elif name == "ErrorResponse":
            # an error answering a read/write notification settles it
            original = command.original_request
            if original.command in (15, 19):
                self._ioids.pop(original.parameter2, None)

    def _find_channel(self, sender, name, command) -> _BaseChannel:
        if name in CHANNEL_BY_SID:
            chan = self.channels_sid.get(command.sid)
            if chan is None:
                self._fail(sender, "%s for unknown sid %d" % (name, command.sid))
            return chan
        if name in CHANNEL_BY_CID:
            chan = self.channels.get(command.cid)
            if chan is None:
                if name != "CreateChanRequest":
                    self._fail(sender, "%s for unknown cid %d" % (name, command.cid))
                if len(self.channels) >= self.max_channels:
                    self._fail(sender, "more than %d channels on this circuit" % self.max_channels)
                cls = ClientChannel if self.our_role is CLIENT else ServerChannel
                chan = cls(command.name, self, cid=command.cid)
            return chan
        if name in CHANNEL_BY_IOID:
            entry = self._ioids.get(command.ioid)
            if entry is None:
                self._fail(sender, "%s for unknown ioid %d" % (name, command.ioid))
            return entry[0]
        if name not in CHANNEL_BY_SUBSCRIPTION:
            self._fail(sender, "a %s does not send %s on a circuit" % (sender.name.lower(), name))
        request = self.event_add_commands.get(command.subscriptionid)
        if request is None:
            self._fail(sender, "%s for unknown subscriptionid %d" % (name, command.subscriptionid))
        return self.channels_sid[request.sid]

    # -- id bookkeeping of reads, writes and subscriptions (checks first,
    #    then changes, so a refused command changes nothing) ----------------- #
    def _op_request(self, sender, name, command, chan):
        if command.ioid in self._ioids:
            self._fail(sender, "%s reuses pending ioid %d" % (name, command.ioid))
        if len(self._ioids) >= self.max_pending:
            self._fail(sender, "more than %d pending requests" % self.max_pending)
        self._ioids[command.ioid] = (chan, command)

    def _op_answer(self, sender, name, command, chan):
        del self._ioids[command.ioid]

    def _op_event_add(self, sender, name, command, chan):
        if command.subscriptionid in self.event_add_commands:
            self._fail(sender, "EventAddRequest reuses subscriptionid %d"
                       % command.subscriptionid)
        if len(self.event_add_commands) >= self.max_subscriptions:
            self._fail(sender, "more than %d subscriptions" % self.max_subscriptions)
        self.event_add_commands[command.subscriptionid] = command

    def _op_event_cancel(self, sender, name, command, chan):
        request = self.event_add_commands.get(command.subscriptionid)
        if request is None or request.sid != command.sid:
            self._fail(sender, "EventCancelRequest for unknown subscriptionid %d"
                       % command.subscriptionid)
        self._cancelling[command.subscriptionid] = request

    def _op_event_cancelled(self, sender, name, command, chan):
        if command.subscriptionid not in self._cancelling:
            self._fail(sender, "EventCancelResponse for subscription %d not being cancelled"
                       % command.subscriptionid)
        del self._cancelling[command.subscriptionid]
        del self.event_add_commands[command.subscriptionid]

    def _op_created(self, sender, name, command, chan):
        if command.sid in self.channels_sid:
            self._fail(sender, "CreateChanResponse gives sid %d twice" % command.sid)

    # -- what a channel's new state brings ----------------------------------- #
    def _moved_create(self, command, chan):
        self.channels[chan.cid] = chan
        chan.protocol_version = command.version

    def _moved_created(self, command, chan):
        chan.sid = command.sid
        chan.native_data_type = command.data_type
        chan.native_data_count = command.data_count
        self.channels_sid[command.sid] = chan

    def _moved_rights(self, command, chan):
        chan.access_rights = command.access_rights

    def _forget(self, chan):
        self.channels.pop(chan.cid, None)
        if chan.sid is not None and self.channels_sid.get(chan.sid) is chan:
            del self.channels_sid[chan.sid]
            for subid in [s for s, r in self.event_add_commands.items() if r.sid == chan.sid]:
                del self.event_add_commands[subid]
                self._cancelling.pop(subid, None)
        for ioid in [i for i, (c, _) in self._ioids.items() if c is chan]:
            del self._ioids[ioid]


# --------------------------------------------------------------------------- #
# The rules of _process per event (sender, command name), from the tables:
# how the command's channel is found, its moves {state: next state}, its id
# bookkeeping and what the new state brings.

_VERSION, _CIRCUIT, _BY_SID, _OTHER = range(4)
_OPERATIONS = {name: VirtualCircuit._op_request for name in _READS}
_OPERATIONS.update({name: VirtualCircuit._op_answer for name in _READ_ANSWERS})
_OPERATIONS.update({"EventAddRequest": VirtualCircuit._op_event_add,
                    "EventCancelRequest": VirtualCircuit._op_event_cancel,
                    "EventCancelResponse": VirtualCircuit._op_event_cancelled,
                    "CreateChanResponse": VirtualCircuit._op_created})
_MOVED = {"CreateChanRequest": VirtualCircuit._moved_create,
          "CreateChanResponse": VirtualCircuit._moved_created,
          "AccessRightsResponse": VirtualCircuit._moved_rights}
_UNKNOWN = (_OTHER, {}, None, None)


def _make_rules():
    moves = {}
    for (state, event), nxt in CHANNEL_TRANSITIONS.items():
        moves.setdefault(event, {})[state] = nxt
    rules = {}
    for (sender, name), by_state in moves.items():
        kind = _BY_SID if name in CHANNEL_BY_SID else _OTHER
        rules[(sender, name)] = (kind, by_state, _OPERATIONS.get(name), _MOVED.get(name))
    for sender in (CLIENT, SERVER):
        for name in CIRCUIT_COMMANDS[sender]:
            rules[(sender, name)] = (_CIRCUIT, {}, None, None)
        for name in ("VersionRequest", "VersionResponse"):
            rules[(sender, name)] = (_VERSION, {}, None, None)
    return rules


_RULES = _make_rules()


def _created_state():
    """A new channel's state after the creation exchange of accept_channel
    (None if the tables do not lead there in the three steps)."""
    state = (SEND_CREATE_CHAN_REQUEST, IDLE)
    for event in ((CLIENT, "CreateChanRequest"), (SERVER, "AccessRightsResponse"),
                  (SERVER, "CreateChanResponse")):
        state = _RULES[event][1].get(state)
        if state is None:
            return None
    return None if state[0] is CLOSED or state[0] is FAILED else state


_CREATED = _created_state()


def _as_cancel_response(cmd):
    from ._commands import EventCancelResponse
    return EventCancelResponse.from_wire(cmd.header, cmd._raw_header, memoryview(b""))


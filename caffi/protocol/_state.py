"""Transition tables of a CA virtual circuit and of its channels.

Theory of operation
-------------------
A :class:`~caffi.protocol.VirtualCircuit` (one TCP connection) tracks the
state of *both* peers, whichever role it plays, as h11 does: a pair
``(client state, server state)`` for the circuit and one such pair per
channel.  Every command, sent or received, is an *event* ``(sender, command
class name)``; the tables below map ``(state pair, event)`` to the next state
pair.  A command with no entry is a protocol violation:
:class:`~caffi.protocol.LocalProtocolError` if we tried to send it,
:class:`~caffi.protocol.RemoteProtocolError` if the peer sent it.  The same
tables serve both roles, because a command moves the machine the same way
whether we sent it or received it.

**Circuit** (the version handshake)::

    (SEND_VERSION_REQUEST, IDLE)
        --client: VersionRequest--> (AWAIT_VERSION_RESPONSE, SEND_VERSION_RESPONSE)
        --server: VersionResponse--> (CONNECTED, CONNECTED)

Once a peer has sent its version message it may send the other commands
(:data:`CIRCUIT_OPEN`): a client right after its VersionRequest (libca sends
host name, client name and channel creations in the same burst, without
waiting for the answer), a server after its VersionResponse.

**Channel** (one per client channel id ``cid``)::

    (SEND_CREATE_CHAN_REQUEST, IDLE)
        --client: CreateChanRequest--> (AWAIT_CREATE_CHAN_RESPONSE, SEND_CREATE_CHAN_RESPONSE)
        --server: AccessRightsResponse--> (unchanged)
        --server: CreateChanResponse--> (CONNECTED, CONNECTED)
                  CreateChFailResponse--> (FAILED, FAILED)
    (CONNECTED, CONNECTED)
        --reads, writes, subscriptions, access rights--> (CONNECTED, CONNECTED)
        --client: ClearChannelRequest--> (MUST_CLOSE, MUST_CLOSE)
                  --server: ClearChannelResponse--> (CLOSED, CLOSED)
        --server: ServerDisconnResponse--> (CLOSED, CLOSED)

A CLOSED or FAILED channel is forgotten (its ids may be used again).
Operations are matched by id beside the tables: a response must answer a
pending ``ioid`` or a live ``subscriptionid`` (see the circuit).

The UDP side (:class:`~caffi.protocol.Broadcaster`) has its own small table,
:data:`BROADCAST_COMMANDS`: which commands each role may put in a datagram.
"""
from typing import Dict, FrozenSet, Tuple

from ._sentinels import (AWAIT_CREATE_CHAN_RESPONSE, AWAIT_VERSION_RESPONSE, CLIENT, CLOSED,
                         CONNECTED, FAILED, IDLE, MUST_CLOSE, SEND_CREATE_CHAN_REQUEST,
                         SEND_CREATE_CHAN_RESPONSE, SEND_VERSION_REQUEST,
                         SEND_VERSION_RESPONSE, SERVER, Role, States)

__all__ = [
    "CIRCUIT_TRANSITIONS", "CIRCUIT_OPEN", "CIRCUIT_COMMANDS", "CHANNEL_TRANSITIONS",
    "CHANNEL_BY_CID", "CHANNEL_BY_SID", "CHANNEL_BY_IOID", "CHANNEL_BY_SUBSCRIPTION",
    "BROADCAST_COMMANDS", "StatePair",
]

StatePair = Tuple[States, States]
Event = Tuple[Role, str]

# --------------------------------------------------------------------------- #
# Circuit

CIRCUIT_TRANSITIONS: Dict[Tuple[StatePair, Event], StatePair] = {
    ((SEND_VERSION_REQUEST, IDLE), (CLIENT, "VersionRequest")):
        (AWAIT_VERSION_RESPONSE, SEND_VERSION_RESPONSE),
    ((AWAIT_VERSION_RESPONSE, SEND_VERSION_RESPONSE), (SERVER, "VersionResponse")):
        (CONNECTED, CONNECTED),
    # rsrv sends its VersionResponse as soon as it accepts the connection,
    # so it may come first; the client's VersionRequest then completes it
    ((SEND_VERSION_REQUEST, IDLE), (SERVER, "VersionResponse")):
        (SEND_VERSION_REQUEST, CONNECTED),
    ((SEND_VERSION_REQUEST, CONNECTED), (CLIENT, "VersionRequest")):
        (CONNECTED, CONNECTED),
    # rsrv takes a VersionRequest at any time (it may change the priority)
    ((AWAIT_VERSION_RESPONSE, SEND_VERSION_RESPONSE), (CLIENT, "VersionRequest")):
        (AWAIT_VERSION_RESPONSE, SEND_VERSION_RESPONSE),
    ((CONNECTED, CONNECTED), (CLIENT, "VersionRequest")): (CONNECTED, CONNECTED),
}

#: after its version message, the states in which a peer may send the other
#: commands (the state checked is the sender's own)
CIRCUIT_OPEN: Dict[Role, FrozenSet[States]] = {
    # libca pipelines its requests behind the VersionRequest
    CLIENT: frozenset({AWAIT_VERSION_RESPONSE, CONNECTED}),
    SERVER: frozenset({CONNECTED}),
}

#: commands that concern the circuit only, by sender
CIRCUIT_COMMANDS: Dict[Role, FrozenSet[str]] = {
    CLIENT: frozenset({"EchoRequest", "EventsOffRequest", "EventsOnRequest",
                       "ReadSyncRequest", "HostNameRequest", "ClientNameRequest",
                       # name-server searches over TCP (CA 4.12)
                       "SearchRequest"}),
    SERVER: frozenset({"EchoResponse", "ErrorResponse", "SearchResponse", "ReadSyncResponse",
                       "NotFoundResponse"}),
}

# --------------------------------------------------------------------------- #
# Channel

_OPEN = (CONNECTED, CONNECTED)
_CLOSING = (MUST_CLOSE, MUST_CLOSE)
_CREATING = (AWAIT_CREATE_CHAN_RESPONSE, SEND_CREATE_CHAN_RESPONSE)

_CLIENT_OPERATIONS = ("ReadNotifyRequest", "ReadRequest", "WriteRequest",
                      "WriteNotifyRequest", "EventAddRequest", "EventCancelRequest")
_SERVER_OPERATIONS = ("ReadNotifyResponse", "ReadResponse", "WriteNotifyResponse",
                      "EventAddResponse", "EventCancelResponse", "AccessRightsResponse")

CHANNEL_TRANSITIONS: Dict[Tuple[StatePair, Event], StatePair] = {
    ((SEND_CREATE_CHAN_REQUEST, IDLE), (CLIENT, "CreateChanRequest")): _CREATING,
    # rsrv sends the access rights just before the CreateChanResponse
    (_CREATING, (SERVER, "AccessRightsResponse")): _CREATING,
    (_CREATING, (SERVER, "CreateChanResponse")): _OPEN,
    (_CREATING, (SERVER, "CreateChFailResponse")): (FAILED, FAILED),
    (_OPEN, (CLIENT, "ClearChannelRequest")): _CLOSING,
    (_CLOSING, (SERVER, "ClearChannelResponse")): (CLOSED, CLOSED),
    (_OPEN, (SERVER, "ServerDisconnResponse")): (CLOSED, CLOSED),
    # a server may drop a channel that the client is clearing
    (_CLOSING, (SERVER, "ServerDisconnResponse")): (CLOSED, CLOSED),
}
for _name in _CLIENT_OPERATIONS:
    CHANNEL_TRANSITIONS[(_OPEN, (CLIENT, _name))] = _OPEN
for _name in _SERVER_OPERATIONS:
    CHANNEL_TRANSITIONS[(_OPEN, (SERVER, _name))] = _OPEN
    # answers already on their way when the client cleared the channel
    CHANNEL_TRANSITIONS[(_CLOSING, (SERVER, _name))] = _CLOSING
del _name

#: channel commands that name their channel by the client's id
CHANNEL_BY_CID = frozenset({"CreateChanRequest", "CreateChanResponse", "CreateChFailResponse",
                            "AccessRightsResponse", "ServerDisconnResponse",
                            "ClearChannelRequest", "ClearChannelResponse"})
#: channel commands that name their channel by the server's id
CHANNEL_BY_SID = frozenset(_CLIENT_OPERATIONS)
#: answers that name their request by ``ioid``
CHANNEL_BY_IOID = frozenset({"ReadNotifyResponse", "WriteNotifyResponse", "ReadResponse"})
#: answers that name their subscription by ``subscriptionid``
CHANNEL_BY_SUBSCRIPTION = frozenset({"EventAddResponse", "EventCancelResponse"})

# --------------------------------------------------------------------------- #
# UDP

#: what each role may put in a datagram (beacons and repeater confirmations
#: come from servers and repeaters, i.e. the SERVER side of the exchange)
BROADCAST_COMMANDS: Dict[Role, FrozenSet[str]] = {
    CLIENT: frozenset({"VersionRequest", "SearchRequest", "RepeaterRegisterRequest"}),
    SERVER: frozenset({"VersionResponse", "SearchResponse", "NotFoundResponse", "Beacon",
                       "RepeaterConfirmResponse"}),
}

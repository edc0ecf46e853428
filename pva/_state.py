"""Transition tables of a pvAccess TCP connection: circuit, channel, request.

Theory of operation
-------------------
A pvAccess connection carries three nested kinds of state, each a small
finite-state machine kept here as *data*: a dict from ``(state, event)`` to
the next state.  Nothing in this module does I/O or knows about bytes;
:class:`pva._circuit.VirtualCircuit` turns each message it sends or receives
into an *event* and looks it up.  Both roles use the same tables: a message
moves the machine the same way whether we sent it (the client role sending
a GET) or received it (the server role receiving that GET).  A lookup that
finds no entry is a protocol violation: :class:`LocalProtocolError` if we
tried to send it, :class:`RemoteProtocolError` if the peer sent it.

Events are named by *who sends* and *what*: ``(SERVER, "VALIDATION_REQUEST")``
and so on.  The sender matters because some commands travel both ways.

**Circuit** (one per TCP connection)::

    IDLE --server: SetByteOrder (control, any time)--> IDLE
    IDLE --server: CONNECTION_VALIDATION request--> VALIDATING
    VALIDATING --client: CONNECTION_VALIDATION response--> AWAIT_VALIDATED
    AWAIT_VALIDATED --server: CONNECTION_VALIDATED ok--> CONNECTED
    AWAIT_VALIDATED --server: CONNECTION_VALIDATED error--> CLOSED
    (any) --close--> CLOSED;  (any) --violation--> ERROR (sticky)

Control messages are legal in every live state, from both peers.  Channel
and request traffic is only legal in CONNECTED.

**Channel** (one per client channel id; the server id is learned from the
create reply)::

    (new) --client: CREATE--> CREATING --server: CREATED--> CONNECTED
                                       --server: CREATE_FAILED--> DESTROYED
    CONNECTED --client: DESTROY--> DESTROYING --server: DESTROYED--> DESTROYED
    CONNECTED --server: DESTROYED--> DESTROYED       (server-initiated)

**Request** (one per request id ``ioid``).  Every channel operation is a
request; GET, PUT, PUT_GET, ARRAY, PROCESS and RPC share one machine
(:data:`GPR_TRANSITIONS`), MONITOR has its own (:data:`MONITOR_TRANSITIONS`),
GET_FIELD is a single round trip::

    (new) --client: INIT--> CREATING --server: INIT_OK--> IDLE
                                     --server: INIT_FAIL--> DEAD
    IDLE --client: EXEC--> EXECUTING --server: REPLY--> IDLE
    IDLE --client: EXEC_LAST (| 0x10)--> EXECUTING_LAST --server: REPLY--> DEAD
    monitor: IDLE --START--> RUNNING --STOP--> IDLE; UPDATE while RUNNING;
             FINISH (server, 0x10) --> DEAD
    (any) --client: DESTROY_REQUEST--> DEAD

A DEAD request is remembered for a while, because destruction is not
acknowledged and messages already in flight still arrive: the *receiver*
tolerates them (:data:`REQUEST_STALE_OK`, taken from pvxs, which ignores
replies to destroyed requests and client traffic to requests it has just
finished).  The sender gets no such slack: sending on a DEAD request is our
own mistake.
"""
from __future__ import annotations

import enum
from typing import Dict, FrozenSet, Tuple

from ._header import Direction

__all__ = [
    "CircuitState", "ChannelState", "RequestState",
    "CIRCUIT_TRANSITIONS", "CIRCUIT_ANY_LIVE", "CHANNEL_TRANSITIONS", "CHANNEL_STALE_OK",
    "GPR_TRANSITIONS", "MONITOR_TRANSITIONS", "FIELD_TRANSITIONS", "REQUEST_STALE_OK",
    "LIVE_CIRCUIT_STATES",
]

CLIENT = Direction.CLIENT
SERVER = Direction.SERVER


class CircuitState(enum.Enum):
    IDLE = "IDLE"
    VALIDATING = "VALIDATING"
    AWAIT_VALIDATED = "AWAIT_VALIDATED"
    CONNECTED = "CONNECTED"
    CLOSED = "CLOSED"
    ERROR = "ERROR"

    # members compare by identity: hashing by identity keeps the lookups in
    # the transition tables (done for every message) out of Enum.__hash__
    __hash__ = object.__hash__


class ChannelState(enum.Enum):
    CREATING = "CREATING"
    CONNECTED = "CONNECTED"
    DESTROYING = "DESTROYING"
    DESTROYED = "DESTROYED"

    __hash__ = object.__hash__


class RequestState(enum.Enum):
    NEW = "NEW"                  # no such request yet (lookup key only)
    CREATING = "CREATING"
    IDLE = "IDLE"
    EXECUTING = "EXECUTING"
    EXECUTING_LAST = "EXECUTING_LAST"
    RUNNING = "RUNNING"
    DEAD = "DEAD"

    __hash__ = object.__hash__


CS = CircuitState
HS = ChannelState
RS = RequestState

Event = Tuple[Direction, str]

#: circuit-level: (state, (sender, event)) -> next state
CIRCUIT_TRANSITIONS: Dict[Tuple[CircuitState, Event], CircuitState] = {
    (CS.IDLE, (SERVER, "VALIDATION_REQUEST")): CS.VALIDATING,
    # pvxs "restarts" authentication when a client re-sends its response;
    # we only accept the first one
    (CS.VALIDATING, (CLIENT, "VALIDATION_RESPONSE")): CS.AWAIT_VALIDATED,
    (CS.AWAIT_VALIDATED, (SERVER, "VALIDATED_OK")): CS.CONNECTED,
    (CS.AWAIT_VALIDATED, (SERVER, "VALIDATED_FAIL")): CS.CLOSED,
    # Searches over TCP (name servers).  pvxs sends its SEARCH right after
    # its validation response, without waiting for CONNECTION_VALIDATED,
    # so both are legal before CONNECTED.
    (CS.AWAIT_VALIDATED, (CLIENT, "SEARCH")): CS.AWAIT_VALIDATED,
    (CS.AWAIT_VALIDATED, (SERVER, "SEARCH_RESPONSE")): CS.AWAIT_VALIDATED,
    (CS.CONNECTED, (CLIENT, "SEARCH")): CS.CONNECTED,
    (CS.CONNECTED, (SERVER, "SEARCH_RESPONSE")): CS.CONNECTED,
    # Application echo: a client may probe as soon as it has answered the
    # validation request (pvxs's scripted peers do); the server echoes back.
    (CS.AWAIT_VALIDATED, (CLIENT, "ECHO")): CS.AWAIT_VALIDATED,
    (CS.AWAIT_VALIDATED, (SERVER, "ECHO")): CS.AWAIT_VALIDATED,
    (CS.CONNECTED, (CLIENT, "ECHO")): CS.CONNECTED,
    (CS.CONNECTED, (SERVER, "ECHO")): CS.CONNECTED,
    # AUTHNZ may follow the validation response (pvxs ignores its content)
    (CS.AWAIT_VALIDATED, (CLIENT, "AUTHNZ")): CS.AWAIT_VALIDATED,
    (CS.AWAIT_VALIDATED, (SERVER, "AUTHNZ")): CS.AWAIT_VALIDATED,
    (CS.CONNECTED, (CLIENT, "AUTHNZ")): CS.CONNECTED,
    (CS.CONNECTED, (SERVER, "AUTHNZ")): CS.CONNECTED,
    # every channel and request message ("CHANNEL") needs a validated circuit
    (CS.CONNECTED, (CLIENT, "CHANNEL")): CS.CONNECTED,
    (CS.CONNECTED, (SERVER, "CHANNEL")): CS.CONNECTED,
}

#: states in which control messages (markers, byte order, control echo) are legal
LIVE_CIRCUIT_STATES: FrozenSet[CircuitState] = frozenset(
    {CS.IDLE, CS.VALIDATING, CS.AWAIT_VALIDATED, CS.CONNECTED})
#: events legal in every live state, from either peer
CIRCUIT_ANY_LIVE: FrozenSet[str] = frozenset({"CONTROL"})

#: channel-level: (state or None for a new id, (sender, event)) -> next state
CHANNEL_TRANSITIONS: Dict[Tuple[object, Event], ChannelState] = {
    (None, (CLIENT, "CREATE")): HS.CREATING,
    (HS.CREATING, (SERVER, "CREATED")): HS.CONNECTED,
    (HS.CREATING, (SERVER, "CREATE_FAILED")): HS.DESTROYED,
    (HS.CONNECTED, (CLIENT, "DESTROY")): HS.DESTROYING,
    (HS.DESTROYING, (SERVER, "DESTROYED")): HS.DESTROYED,
    # server-initiated destruction (e.g. a gateway lost its upstream channel)
    (HS.CONNECTED, (SERVER, "DESTROYED")): HS.DESTROYED,
    # a client may re-use a client id once the channel is gone
    (HS.DESTROYED, (CLIENT, "CREATE")): HS.CREATING,
}

#: received by the peer of the sender and ignored (pvxs): a DESTROY_CHANNEL
#: crossing a server-initiated one, and a second reply to it
CHANNEL_STALE_OK: FrozenSet[Tuple[object, Event]] = frozenset({
    (HS.DESTROYED, (CLIENT, "DESTROY")),
    (HS.DESTROYING, (CLIENT, "DESTROY")),
    (HS.DESTROYED, (SERVER, "DESTROYED")),
})

#: the states a GET / PUT / ... request can be in (RUNNING is a monitor's only)
_GPR_STATES = (RS.CREATING, RS.IDLE, RS.EXECUTING, RS.EXECUTING_LAST, RS.DEAD)

#: GET / PUT / PUT_GET / ARRAY / PROCESS / RPC
GPR_TRANSITIONS: Dict[Tuple[RequestState, Event], RequestState] = {
    (RS.NEW, (CLIENT, "INIT")): RS.CREATING,
    # an id may be re-used once its request is dead
    (RS.DEAD, (CLIENT, "INIT")): RS.CREATING,
    (RS.CREATING, (SERVER, "INIT_OK")): RS.IDLE,
    (RS.CREATING, (SERVER, "INIT_FAIL")): RS.DEAD,
    (RS.IDLE, (CLIENT, "EXEC")): RS.EXECUTING,
    (RS.IDLE, (CLIENT, "EXEC_LAST")): RS.EXECUTING_LAST,
    (RS.EXECUTING, (SERVER, "REPLY")): RS.IDLE,
    (RS.EXECUTING_LAST, (SERVER, "REPLY")): RS.DEAD,
    # CANCEL_REQUEST stops an execution; on an idle request it is an allowed
    # race (pvxs logs it at debug level and does nothing)
    (RS.EXECUTING, (CLIENT, "CANCEL")): RS.IDLE,
    (RS.EXECUTING_LAST, (CLIENT, "CANCEL")): RS.IDLE,
    (RS.IDLE, (CLIENT, "CANCEL")): RS.IDLE,
    (RS.CREATING, (CLIENT, "CANCEL")): RS.CREATING,
}
for _s in _GPR_STATES:
    # DESTROY_REQUEST ends a request in any state.  On a DEAD one it is
    # legal too: p4p sends it after a failed INIT, pvxs ignores it.
    GPR_TRANSITIONS[(_s, (CLIENT, "DESTROY"))] = RS.DEAD
    if _s is not RS.DEAD:
        GPR_TRANSITIONS[(_s, (SERVER, "MESSAGE"))] = _s

#: MONITOR
MONITOR_TRANSITIONS: Dict[Tuple[RequestState, Event], RequestState] = {
    (RS.NEW, (CLIENT, "INIT")): RS.CREATING,
    (RS.DEAD, (CLIENT, "INIT")): RS.CREATING,
    (RS.CREATING, (SERVER, "INIT_OK")): RS.IDLE,
    (RS.CREATING, (SERVER, "INIT_FAIL")): RS.DEAD,
    (RS.IDLE, (CLIENT, "START")): RS.RUNNING,
    (RS.RUNNING, (CLIENT, "START")): RS.RUNNING,
    (RS.IDLE, (CLIENT, "STOP")): RS.IDLE,
    (RS.RUNNING, (CLIENT, "STOP")): RS.IDLE,
    # pipeline acks (0x80 + nfree) are legal whether or not running; pvxs
    # also accepts an ack combined with start/stop in one message
    (RS.IDLE, (CLIENT, "ACK")): RS.IDLE,
    (RS.RUNNING, (CLIENT, "ACK")): RS.RUNNING,
    (RS.RUNNING, (SERVER, "UPDATE")): RS.RUNNING,
    # an update queued before the server saw our STOP still arrives (pvxs
    # clients accept updates while Idle)
    (RS.IDLE, (SERVER, "UPDATE")): RS.IDLE,
    (RS.RUNNING, (SERVER, "FINISH")): RS.DEAD,
    (RS.IDLE, (SERVER, "FINISH")): RS.DEAD,
    (RS.IDLE, (CLIENT, "CANCEL")): RS.IDLE,
    (RS.RUNNING, (CLIENT, "CANCEL")): RS.RUNNING,
}
for _s in (RS.CREATING, RS.IDLE, RS.RUNNING):
    MONITOR_TRANSITIONS[(_s, (CLIENT, "DESTROY"))] = RS.DEAD
    MONITOR_TRANSITIONS[(_s, (SERVER, "MESSAGE"))] = _s
# destroying a finished monitor (p4p does after the server's FINISH)
MONITOR_TRANSITIONS[(RS.DEAD, (CLIENT, "DESTROY"))] = RS.DEAD

#: GET_FIELD: one request, one reply
FIELD_TRANSITIONS: Dict[Tuple[RequestState, Event], RequestState] = {
    (RS.NEW, (CLIENT, "GET_FIELD")): RS.EXECUTING_LAST,
    (RS.DEAD, (CLIENT, "GET_FIELD")): RS.EXECUTING_LAST,
    (RS.EXECUTING_LAST, (SERVER, "REPLY")): RS.DEAD,
    (RS.EXECUTING_LAST, (CLIENT, "DESTROY")): RS.DEAD,
    (RS.DEAD, (CLIENT, "DESTROY")): RS.DEAD,
    (RS.EXECUTING_LAST, (CLIENT, "CANCEL")): RS.EXECUTING_LAST,
    (RS.EXECUTING_LAST, (SERVER, "MESSAGE")): RS.EXECUTING_LAST,
}

#: (sender, event) tolerated *on receipt* for a DEAD request, state unchanged.
#: Destruction is not acknowledged, so traffic crosses it.  pvxs goes further
#: and silently ignores traffic for request ids it never had; here an id
#: never seen on the circuit is a violation, and only remembered dead ids
#: (the last MAX_REMEMBERED_DEAD of them) get this slack:
REQUEST_STALE_OK: FrozenSet[Event] = frozenset({
    # replies/updates in flight when we sent DESTROY_REQUEST (pvxs client:
    # "ignoring stale cmd")
    (SERVER, "INIT_OK"), (SERVER, "INIT_FAIL"), (SERVER, "REPLY"),
    (SERVER, "UPDATE"), (SERVER, "FINISH"), (SERVER, "MESSAGE"),
    # client traffic crossing a server-side finish or a failed INIT: p4p
    # sends DESTROY_REQUEST even after its INIT failed; pvxs ignores
    # destroy/cancel/monitor control for requests it no longer has
    (CLIENT, "DESTROY"), (CLIENT, "CANCEL"), (CLIENT, "ACK"),
    (CLIENT, "START"), (CLIENT, "STOP"),
})

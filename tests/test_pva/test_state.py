"""Table-driven transition tests: every state x every event, both roles.

For each circuit, channel and request state, every message is tried twice:
by the peer that would send it (``send``: an illegal one raises
LocalProtocolError and changes nothing) and, encoded anyway, by the peer
that would receive it (``process_command``: an illegal one raises
RemoteProtocolError and leaves the circuit in ERROR, for good).

The expectations are written out below as matrices (state x event -> next
state, ``-`` illegal, ``stale`` illegal to send but ignored on receipt),
from the protocol as pvxs implements it -- not read from the tables of
:mod:`pva._state` they test: a wrong table entry fails both the behaviour
tests and :func:`test_tables_match_the_matrices`.
"""
from __future__ import annotations

import itertools

import pytest

from pva import BitSet, LocalProtocolError, RemoteProtocolError, Status, nt
from pva._circuit import ClientVirtualCircuit
from pva._server_circuit import ServerVirtualCircuit
from pva._header import Direction, SetByteOrder, SetMarker
from pva._messages import (AclChange, AuthNZ, AuthNZReply, ChannelDestroyRequest,
                           ChannelDestroyResponse, ChannelFieldInfoRequest,
                           ChannelFieldInfoResponse, ChannelGetRequest, ChannelGetResponse,
                           ChannelMessage, ChannelMonitorRequest, ChannelMonitorResponse,
                           ChannelRequestCancel, ChannelRequestDestroy,
                           ConnectionValidatedResponse, ConnectionValidationRequest,
                           ConnectionValidationResponse, CreateChannelRequest,
                           CreateChannelResponse, Echo, EchoReply, SearchRequest,
                           RequestTypes, SearchResponse, encode_message)
from pva._state import (CHANNEL_STALE_OK, CHANNEL_TRANSITIONS, CIRCUIT_TRANSITIONS,
                        FIELD_TRANSITIONS, GPR_TRANSITIONS, LIVE_CIRCUIT_STATES,
                        MONITOR_TRANSITIONS, REQUEST_STALE_OK, ChannelState, CircuitState,
                        RequestState)
from pva._values import DataWithBitSet

C, S = Direction.CLIENT, Direction.SERVER
NTD = nt.NTScalar("d").type


def _matrix(text, states):
    """``{(state, (sender, event)): next state | None (illegal) | "stale"}``."""
    lines = [line.split() for line in text.strip().splitlines()]
    events = [(C if e[0] == "C" else S, e[2:]) for e in lines[0]]
    out = {}
    for row in lines[1:]:
        state = states[row[0]]
        assert len(row) == len(events) + 1, row
        for ev, cell in zip(events, row[1:]):
            out[(state, ev)] = None if cell == "-" else "stale" if cell == "stale" \
                else states[cell]
    return out


_CS = {s.name: s for s in CircuitState}
_HS = {s.name: s for s in ChannelState}
_HS["NEW"] = None
_RS = {s.name: s for s in RequestState}

#: circuit: (state, event) -> next state
CIRCUIT_EXPECTED = _matrix("""
                 S:VALIDATION_REQUEST C:VALIDATION_RESPONSE S:VALIDATED_OK S:VALIDATED_FAIL C:ECHO          S:ECHO          C:SEARCH        S:SEARCH_RESPONSE C:AUTHNZ        S:AUTHNZ        C:CHANNEL S:CHANNEL
IDLE             VALIDATING           -                     -              -                -               -               -               -                 -               -               -         -
VALIDATING       -                    AWAIT_VALIDATED       -              -                -               -               -               -                 -               -               -         -
AWAIT_VALIDATED  -                    -                     CONNECTED      CLOSED           AWAIT_VALIDATED AWAIT_VALIDATED AWAIT_VALIDATED AWAIT_VALIDATED   AWAIT_VALIDATED AWAIT_VALIDATED -         -
CONNECTED        -                    -                     -              -                CONNECTED       CONNECTED       CONNECTED       CONNECTED         CONNECTED       CONNECTED       CONNECTED CONNECTED
CLOSED           -                    -                     -              -                -               -               -               -                 -               -               -         -
""", _CS)

#: channel (NEW: no such client id yet)
CHANNEL_EXPECTED = _matrix("""
            C:CREATE  S:CREATED  S:CREATE_FAILED  C:DESTROY   S:DESTROYED
NEW         CREATING  -          -                -           -
CREATING    -         CONNECTED  DESTROYED        -           -
CONNECTED   -         -          -                DESTROYING  DESTROYED
DESTROYING  -         -          -                stale       DESTROYED
DESTROYED   CREATING  -          -                stale       stale
""", _HS)

#: GET / PUT / PUT_GET / ARRAY / PROCESS / RPC requests
GPR_EXPECTED = _matrix("""
                C:INIT    C:EXEC     C:EXEC_LAST     C:DESTROY  C:CANCEL        S:INIT_OK  S:INIT_FAIL  S:REPLY  S:MESSAGE
NEW             CREATING  -          -               -          -               -          -            -        -
CREATING        -         -          -               DEAD       CREATING        IDLE       DEAD         -        CREATING
IDLE            -         EXECUTING  EXECUTING_LAST  DEAD       IDLE            -          -            -        IDLE
EXECUTING       -         -          -               DEAD       IDLE            -          -            IDLE     EXECUTING
EXECUTING_LAST  -         -          -               DEAD       IDLE            -          -            DEAD     EXECUTING_LAST
DEAD            CREATING  -          -               DEAD       stale           stale      stale        stale    stale
""", _RS)

#: MONITOR requests
MONITOR_EXPECTED = _matrix("""
          C:INIT    C:START  C:STOP  C:ACK    C:DESTROY  C:CANCEL  S:INIT_OK  S:INIT_FAIL  S:UPDATE  S:FINISH  S:MESSAGE
NEW       CREATING  -        -       -        -          -         -          -            -         -         -
CREATING  -         -        -       -        DEAD       -         IDLE       DEAD         -         -         CREATING
IDLE      -         RUNNING  IDLE    IDLE     DEAD       IDLE      -          -            IDLE      DEAD      IDLE
RUNNING   -         RUNNING  IDLE    RUNNING  DEAD       RUNNING   -          -            RUNNING   DEAD      RUNNING
DEAD      CREATING  stale    stale   stale    DEAD       stale     stale      stale        stale     stale     stale
""", _RS)

#: GET_FIELD requests
FIELD_EXPECTED = _matrix("""
                C:GET_FIELD     C:DESTROY  C:CANCEL        S:REPLY  S:MESSAGE
NEW             EXECUTING_LAST  -          -               -        -
EXECUTING_LAST  -               DEAD       EXECUTING_LAST  DEAD     EXECUTING_LAST
DEAD            EXECUTING_LAST  DEAD       stale           stale    stale
""", _RS)
ERR = Status.create_error("no")
SID, CID, IOID = 0x501, 0x11, 0x77


def joined(bufs):
    return b"".join(bytes(b) for b in bufs)


def xfer(src, dst, *msgs):
    data = joined(src.send(*msgs))
    out = [m for m, _ in dst.recv(data)]
    for m in out:
        assert dst.process_command(m) is True
    return out


def pair():
    return ClientVirtualCircuit(("h", 1)), ServerVirtualCircuit(("h", 2))


def circuit_in(state: CircuitState):
    cli, srv = pair()
    xfer(srv, cli, SetByteOrder(0, S, "<"))
    if state is CircuitState.IDLE:
        return cli, srv
    xfer(srv, cli, ConnectionValidationRequest())
    if state is CircuitState.VALIDATING:
        return cli, srv
    xfer(cli, srv, ConnectionValidationResponse())
    if state is CircuitState.AWAIT_VALIDATED:
        return cli, srv
    if state is CircuitState.CLOSED:
        xfer(srv, cli, ConnectionValidatedResponse(ERR))
    else:
        xfer(srv, cli, ConnectionValidatedResponse())
    return cli, srv


def circuit_messages():
    """(sender, event, factory) for the circuit-level events."""
    return [
        (S, "VALIDATION_REQUEST", lambda: ConnectionValidationRequest()),
        (C, "VALIDATION_RESPONSE", lambda: ConnectionValidationResponse()),
        (S, "VALIDATED_OK", lambda: ConnectionValidatedResponse()),
        (S, "VALIDATED_FAIL", lambda: ConnectionValidatedResponse(ERR)),
        (C, "ECHO", lambda: Echo(b"x")),
        (S, "ECHO", lambda: EchoReply(b"x")),
        (C, "SEARCH", lambda: SearchRequest(42, ("0.0.0.0", 0), [(1, "a")])),
        (S, "SEARCH_RESPONSE", lambda: SearchResponse(b"g" * 12, 42, ("1.2.3.4", 5), [1])),
        (C, "AUTHNZ", lambda: AuthNZ()),
        (S, "AUTHNZ", lambda: AuthNZReply()),
        (C, "CHANNEL", lambda: CreateChannelRequest([(CID, "pv")])),
        (S, "CHANNEL", lambda: AclChange(b"")),
    ]


def check(sender_circ, receiver_circ, msg, legal: bool, stale_ok: bool = False,
          ctx_from=None):
    """Try ``msg`` on both sides; compare with the expectation."""
    before = sender_circ.state
    if legal:
        data = joined(sender_circ.send(msg))
        for m, _ in receiver_circ.recv(data):
            assert receiver_circ.process_command(m) is True
        return
    with pytest.raises(LocalProtocolError):
        sender_circ.send(msg)
    assert sender_circ.state is before and sender_circ.error is None
    # the peer receives it anyway
    data = joined(encode_message(msg, "<", (ctx_from or sender_circ)._ctx))
    if stale_ok:
        ((m, _),) = receiver_circ.recv(data)
        assert receiver_circ.process_command(m) is False
        assert receiver_circ.state is not CircuitState.ERROR
        return
    with pytest.raises(RemoteProtocolError):
        for m, _ in receiver_circ.recv(data):
            receiver_circ.process_command(m)
    assert receiver_circ.state is CircuitState.ERROR
    # ERROR is sticky
    with pytest.raises(RemoteProtocolError):
        receiver_circ.recv(b"")
    with pytest.raises(RemoteProtocolError):
        receiver_circ.process_command(Echo(b""))
    with pytest.raises(LocalProtocolError):
        receiver_circ.send(SetMarker(0, receiver_circ.our_role))


CIRCUIT_STATES = [CircuitState.IDLE, CircuitState.VALIDATING, CircuitState.AWAIT_VALIDATED,
                  CircuitState.CONNECTED, CircuitState.CLOSED]


@pytest.mark.parametrize("state", CIRCUIT_STATES, ids=lambda s: s.name)
@pytest.mark.parametrize("item", circuit_messages(), ids=lambda i: f"{i[0].name}-{i[1]}")
def test_circuit_table(state, item):
    sender, event, factory = item
    cli, srv = circuit_in(state)
    for circ in (cli, srv):
        circ._searches.add(42)  # the search this response answers
    nxt = CIRCUIT_EXPECTED[(state, (sender, event))]
    src, dst = (cli, srv) if sender is C else (srv, cli)
    check(src, dst, factory(), nxt is not None)
    if nxt is not None:
        assert src.state is dst.state is nxt


@pytest.mark.parametrize("state", CIRCUIT_STATES, ids=lambda s: s.name)
@pytest.mark.parametrize("sender", [C, S], ids=lambda s: s.name)
def test_control_messages_in_every_live_state(state, sender):
    cli, srv = circuit_in(state)
    src, dst = (cli, srv) if sender is C else (srv, cli)
    check(src, dst, SetMarker(7, sender), state in LIVE_CIRCUIT_STATES)


def test_operation_before_validation_is_remote_error():
    cli, srv = circuit_in(CircuitState.AWAIT_VALIDATED)
    data = joined(encode_message(ChannelGetRequest(SID, IOID, 0x08, ""), "<"))
    with pytest.raises(RemoteProtocolError, match="not allowed while the circuit is"):
        for m, _ in srv.recv(data):
            srv.process_command(m)
    assert srv.state is CircuitState.ERROR


# ---------------------------------------------------------------- channels
CHANNEL_STATES = [None, ChannelState.CREATING, ChannelState.CONNECTED,
                  ChannelState.DESTROYING, ChannelState.DESTROYED]
CHANNEL_EVENTS = [
    (C, "CREATE", lambda: CreateChannelRequest([(CID, "pv")])),
    (S, "CREATED", lambda: CreateChannelResponse(CID, SID)),
    (S, "CREATE_FAILED", lambda: CreateChannelResponse(CID, SID, ERR)),
    (C, "DESTROY", lambda: ChannelDestroyRequest(CID, SID)),
    (S, "DESTROYED", lambda: ChannelDestroyResponse(CID, SID)),
]


def channel_in(state):
    cli, srv = circuit_in(CircuitState.CONNECTED)
    if state is None:
        return cli, srv
    xfer(cli, srv, CreateChannelRequest([(CID, "pv")]))
    if state is ChannelState.CREATING:
        return cli, srv
    xfer(srv, cli, CreateChannelResponse(CID, SID))
    if state is ChannelState.CONNECTED:
        return cli, srv
    xfer(cli, srv, ChannelDestroyRequest(CID, SID))
    if state is ChannelState.DESTROYING:
        return cli, srv
    xfer(srv, cli, ChannelDestroyResponse(CID, SID))
    return cli, srv


@pytest.mark.parametrize("state", CHANNEL_STATES, ids=lambda s: s.name if s else "NEW")
@pytest.mark.parametrize("item", CHANNEL_EVENTS, ids=lambda i: f"{i[0].name}-{i[1]}")
def test_channel_table(state, item):
    sender, event, factory = item
    cli, srv = channel_in(state)
    for circ in (cli, srv):
        ch = circ.channels.get(CID)
        assert (ch.state if ch else None) is state
    nxt = CHANNEL_EXPECTED[(state, (sender, event))]
    legal = nxt is not None and nxt != "stale"
    src, dst = (cli, srv) if sender is C else (srv, cli)
    check(src, dst, factory(), legal, stale_ok=nxt == "stale")
    if legal:
        assert cli.channels[CID].state is srv.channels[CID].state is nxt


# ---------------------------------------------------------------- requests
def _data():
    return DataWithBitSet({"value": 1.0}, BitSet({1}))


GPR_EVENTS = {
    (C, "INIT"): lambda: ChannelGetRequest(SID, IOID, 0x08, ""),
    (C, "EXEC"): lambda: ChannelGetRequest(SID, IOID, 0x00),
    (C, "EXEC_LAST"): lambda: ChannelGetRequest(SID, IOID, 0x10),
    (C, "DESTROY"): lambda: ChannelRequestDestroy(SID, IOID),
    (C, "CANCEL"): lambda: ChannelRequestCancel(SID, IOID),
    (S, "INIT_OK"): lambda: ChannelGetResponse(IOID).to_init(NTD),
    (S, "INIT_FAIL"): lambda: ChannelGetResponse(IOID, ERR, 0x08),
    (S, "REPLY"): lambda: ChannelGetResponse(IOID, subcommand=0, pv_structure_if=NTD,
                                             pv_data=_data()),
    (S, "MESSAGE"): lambda: ChannelMessage(IOID, 1, "careful"),
}
MONITOR_EVENTS = {
    (C, "INIT"): lambda: ChannelMonitorRequest(SID, IOID).to_init("", queue_size=4),
    (C, "START"): lambda: ChannelMonitorRequest(SID, IOID).to_start(),
    (C, "STOP"): lambda: ChannelMonitorRequest(SID, IOID).to_stop(),
    (C, "ACK"): lambda: ChannelMonitorRequest(SID, IOID).to_pipeline(2),
    (C, "DESTROY"): lambda: ChannelRequestDestroy(SID, IOID),
    (C, "CANCEL"): lambda: ChannelRequestCancel(SID, IOID),
    (S, "INIT_OK"): lambda: ChannelMonitorResponse(IOID).to_init(Status(), NTD),
    (S, "INIT_FAIL"): lambda: ChannelMonitorResponse(IOID).to_init(ERR, None),
    (S, "UPDATE"): lambda: ChannelMonitorResponse(IOID, subcommand=0, pv_structure_if=NTD,
                                                  pv_data=_data()),
    (S, "FINISH"): lambda: ChannelMonitorResponse(IOID, Status(), 0x10),
    (S, "MESSAGE"): lambda: ChannelMessage(IOID, 0, "info"),
}
FIELD_EVENTS = {
    (C, "GET_FIELD"): lambda: ChannelFieldInfoRequest(SID, IOID, ""),
    (C, "DESTROY"): lambda: ChannelRequestDestroy(SID, IOID),
    (C, "CANCEL"): lambda: ChannelRequestCancel(SID, IOID),
    (S, "REPLY"): lambda: ChannelFieldInfoResponse(IOID, NTD),
    (S, "MESSAGE"): lambda: ChannelMessage(IOID, 0, "info"),
}
KINDS = {
    "gpr": (GPR_EXPECTED, GPR_EVENTS,
            {RequestState.NEW: [], RequestState.CREATING: [(C, "INIT")],
             RequestState.IDLE: [(C, "INIT"), (S, "INIT_OK")],
             RequestState.EXECUTING: [(C, "INIT"), (S, "INIT_OK"), (C, "EXEC")],
             RequestState.EXECUTING_LAST: [(C, "INIT"), (S, "INIT_OK"), (C, "EXEC_LAST")],
             RequestState.DEAD: [(C, "INIT"), (S, "INIT_OK"), (C, "DESTROY")]}),
    "monitor": (MONITOR_EXPECTED, MONITOR_EVENTS,
                {RequestState.NEW: [], RequestState.CREATING: [(C, "INIT")],
                 RequestState.IDLE: [(C, "INIT"), (S, "INIT_OK")],
                 RequestState.RUNNING: [(C, "INIT"), (S, "INIT_OK"), (C, "START")],
                 RequestState.DEAD: [(C, "INIT"), (S, "INIT_OK"), (C, "START"),
                                     (S, "FINISH")]}),
    "field": (FIELD_EXPECTED, FIELD_EVENTS,
              {RequestState.NEW: [], RequestState.EXECUTING_LAST: [(C, "GET_FIELD")],
               RequestState.DEAD: [(C, "GET_FIELD"), (S, "REPLY")]}),
}
CASES = [(kind, state, ev) for kind, (_, events, paths) in KINDS.items()
         for state in paths for ev in events]


@pytest.mark.parametrize("kind,state,event", CASES,
                         ids=[f"{k}-{s.name}-{e[0].name}-{e[1]}" for k, s, e in CASES])
def test_request_table(kind, state, event):
    expected, events, paths = KINDS[kind]
    cli, srv = channel_in(ChannelState.CONNECTED)
    for step in paths[state]:
        src, dst = (cli, srv) if step[0] is C else (srv, cli)
        xfer(src, dst, events[step]())
    for circ in (cli, srv):
        req = circ.requests.get(IOID)
        assert (req.state if req else RequestState.NEW) is state
    sender = event[0]
    nxt = expected[(state, event)]
    legal = nxt is not None and nxt != "stale"
    src, dst = (cli, srv) if sender is C else (srv, cli)
    check(src, dst, events[event](), legal, stale_ok=nxt == "stale")
    if legal:
        for circ in (cli, srv):
            req = circ.requests.get(IOID)
            assert req.state is nxt


def test_reply_to_request_never_made():
    cli, srv = channel_in(ChannelState.CONNECTED)
    # the client even knows a type for the id: still a reply to nothing
    cli._ctx.types[999] = RequestTypes(10, NTD)
    data = joined(encode_message(ChannelGetResponse(999, subcommand=0, pv_structure_if=NTD,
                                                    pv_data=_data()), "<"))
    with pytest.raises(RemoteProtocolError, match="never created"):
        for m, _ in cli.recv(data):
            cli.process_command(m)
    assert cli.state is CircuitState.ERROR


def test_get_on_unknown_channel():
    cli, srv = channel_in(ChannelState.CONNECTED)
    data = joined(encode_message(ChannelGetRequest(SID + 1, 5, 0x08, ""), "<"))
    with pytest.raises(RemoteProtocolError, match="unknown server channel"):
        for m, _ in srv.recv(data):
            srv.process_command(m)


def test_mixed_operation_types_on_one_ioid():
    cli, srv = channel_in(ChannelState.CONNECTED)
    xfer(cli, srv, GPR_EVENTS[(C, "INIT")]())
    xfer(srv, cli, GPR_EVENTS[(S, "INIT_OK")]())
    with pytest.raises(LocalProtocolError, match="which is a GET"):
        cli.send(ChannelMonitorRequest(SID, IOID).to_start())
    data = joined(encode_message(ChannelMonitorRequest(SID, IOID).to_start(), "<"))
    with pytest.raises(RemoteProtocolError):
        for m, _ in srv.recv(data):
            srv.process_command(m)


def test_tables_only_reach_known_states():
    for table in (GPR_TRANSITIONS, MONITOR_TRANSITIONS, FIELD_TRANSITIONS):
        for (state, (sender, event)), nxt in table.items():
            assert isinstance(state, RequestState) and isinstance(nxt, RequestState)
            assert sender in (C, S) and event.isupper()
    for (state, (sender, event)), nxt in itertools.chain(CIRCUIT_TRANSITIONS.items()):
        assert isinstance(nxt, CircuitState)


def _stale_ok(kind, state, event):
    if kind == "channel":
        return (state, event) in CHANNEL_STALE_OK
    return kind != "circuit" and state is RequestState.DEAD and event in REQUEST_STALE_OK


@pytest.mark.parametrize("kind,table,expected", [
    ("circuit", CIRCUIT_TRANSITIONS, CIRCUIT_EXPECTED),
    ("channel", CHANNEL_TRANSITIONS, CHANNEL_EXPECTED),
    ("gpr", GPR_TRANSITIONS, GPR_EXPECTED),
    ("monitor", MONITOR_TRANSITIONS, MONITOR_EXPECTED),
    ("field", FIELD_TRANSITIONS, FIELD_EXPECTED),
], ids=lambda x: x if isinstance(x, str) else "")
def test_tables_match_the_matrices(kind, table, expected):
    """Every entry of the tables (and of the stale tolerances) is the one
    the matrices above say, and the tables have no entry they do not."""
    for (state, event), nxt in expected.items():
        if nxt is None or nxt == "stale":
            assert (state, event) not in table, (state, event)
            assert _stale_ok(kind, state, event) is (nxt == "stale"), (state, event)
        else:
            assert table.get((state, event)) is nxt, (state, event)
    assert set(table) <= set(expected), sorted(map(str, set(table) - set(expected)))

"""VirtualCircuit and Broadcaster: a socket-free client/server pair, the
transition tables, id bookkeeping, deframing and budgets."""
import itertools

import numpy as np
import pytest

import caffi.protocol as ca
from caffi.protocol import _state


class Pair:
    """A client-role and a server-role circuit joined by a byte pipe."""

    def __init__(self, **kwargs):
        self.client = ca.VirtualCircuit(ca.CLIENT, ("127.0.0.1", 5064), 0, **kwargs)
        self.server = ca.VirtualCircuit(ca.SERVER, ("127.0.0.1", 50000), None, **kwargs)

    def _deliver(self, sender, receiver, commands):
        data = b"".join(bytes(b) for b in sender.send(*commands))
        got, _ = receiver.recv(data)
        for cmd in got:
            receiver.process_command(cmd)
        return list(got)

    def c2s(self, *commands):
        return self._deliver(self.client, self.server, commands)

    def s2c(self, *commands):
        return self._deliver(self.server, self.client, commands)

    def connect(self, name="pv", cid=1, sid=10, data_type=ca.ChannelType.DOUBLE, count=1):
        if self.client.states[ca.CLIENT] is ca.SEND_VERSION_REQUEST:
            self.c2s(ca.VersionRequest(0, 13), ca.HostNameRequest("h"),
                     ca.ClientNameRequest("u"))
            self.s2c(ca.VersionResponse(13))
        self.c2s(ca.CreateChanRequest(name, cid, 13))
        self.s2c(ca.AccessRightsResponse(cid, 3), ca.CreateChanResponse(data_type, count, cid, sid))
        return self.client.channels[cid], self.server.channels[cid]


def test_initial_states_and_handshake():
    c = ca.VirtualCircuit(ca.CLIENT, ("0.0.0.0", 5555), 0)
    assert repr(c.states) == "<CircuitState states={CLIENT: SEND_VERSION_REQUEST, SERVER: IDLE}>"
    c.send(ca.VersionRequest(version=13, priority=0))
    assert c.states[ca.CLIENT] is ca.AWAIT_VERSION_RESPONSE
    assert c.states[ca.SERVER] is ca.SEND_VERSION_RESPONSE
    assert c.key == (("0.0.0.0", 5555), 0)


def test_rsrv_announces_its_version_first():
    p = Pair()
    p.s2c(ca.VersionResponse(13))
    assert p.client.states[ca.SERVER] is ca.CONNECTED
    p.c2s(ca.VersionRequest(0, 13))
    assert p.client.states[ca.CLIENT] is ca.CONNECTED
    assert p.server.states[ca.CLIENT] is ca.CONNECTED


def test_client_pipelines_behind_its_version_request():
    p = Pair()
    p.c2s(ca.VersionRequest(5, 13), ca.CreateChanRequest("a", 1, 13))
    assert p.server.priority == 5
    with pytest.raises(ca.LocalProtocolError):
        # the server must send its version first
        p.server.send(ca.CreateChanResponse(6, 1, 1, 1))
    p.s2c(ca.VersionResponse(13), ca.CreateChanResponse(6, 1, 1, 1))
    assert p.client.channels[1].states[ca.CLIENT] is ca.CONNECTED


def test_full_channel_life():
    p = Pair()
    cchan, schan = p.connect()
    assert cchan.sid == 10 and cchan.native_data_type == ca.ChannelType.DOUBLE
    assert cchan.access_rights == ca.AccessRights.READ | ca.AccessRights.WRITE
    (req,) = p.c2s(cchan.read(data_type="time"))
    assert req.data_type == ca.ChannelType.TIME_DOUBLE
    (resp,) = p.s2c(schan.read([1.5], req.ioid, req.data_type, 1,
                               metadata=ca.DBR_TIME_DOUBLE(0, 0, 7, 8)))
    assert resp.data.tolist() == [1.5] and resp.metadata.secondsSinceEpoch == 7
    (w,) = p.c2s(cchan.write([2.0], notify=True))
    p.s2c(schan.write(w.ioid))
    (sub,) = p.c2s(cchan.subscribe())
    assert sub.mask == 13
    p.s2c(schan.subscribe([3.0], sub.subscriptionid))
    p.c2s(cchan.unsubscribe(sub.subscriptionid))
    (cancel,) = p.s2c(schan.unsubscribe(sub.subscriptionid))
    assert type(cancel) is ca.EventCancelResponse
    assert not p.client.event_add_commands and not p.server.event_add_commands
    p.c2s(cchan.clear())
    assert cchan.states[ca.CLIENT] is ca.MUST_CLOSE
    p.s2c(schan.clear())
    assert cchan.states[ca.CLIENT] is ca.CLOSED
    assert not p.client.channels and not p.server.channels_sid


def test_count_zero_cancel_confirmation_is_recognised():
    p = Pair()
    cchan, schan = p.connect()
    p.c2s(ca.EventAddRequest(6, 0, 10, 4, mask=1))
    p.c2s(ca.EventCancelRequest(6, 10, 4))
    (cancel,) = p.s2c(ca.EventCancelResponse(6, 10, 4, 0))
    assert type(cancel) is ca.EventCancelResponse


def test_answers_in_flight_after_clear_are_accepted():
    p = Pair()
    cchan, schan = p.connect()
    (sub,) = p.c2s(cchan.subscribe())
    p.c2s(cchan.clear())
    p.s2c(schan.subscribe([1.0], sub.subscriptionid))
    p.s2c(schan.clear())
    with pytest.raises(ca.LocalProtocolError):
        p.server.send(ca.EventAddResponse([1.0], 6, 1, 1, sub.subscriptionid))


def test_server_disconnect_and_create_failure():
    p = Pair()
    cchan, schan = p.connect()
    p.s2c(schan.disconnect())
    assert cchan.states[ca.CLIENT] is ca.CLOSED and 1 not in p.client.channels
    p.c2s(ca.CreateChanRequest("missing", 2, 13))
    p.s2c(ca.CreateChFailResponse(2))
    assert 2 not in p.client.channels and 2 not in p.server.channels


@pytest.mark.parametrize("bad", [
    lambda cchan: ca.ReadNotifyResponse([1.0], 6, 1, 1, 999),       # unknown ioid
    lambda cchan: ca.EventAddResponse([1.0], 6, 1, 1, 999),         # unknown subscription
    lambda cchan: ca.WriteNotifyResponse(6, 1, 1, 999),
    lambda cchan: ca.EventCancelResponse(6, 10, 999, 1),
    lambda cchan: ca.ClearChannelResponse(10, 1),                  # no clear requested
    lambda cchan: ca.CreateChanResponse(6, 1, 1, 11),              # already created
    lambda cchan: ca.AccessRightsResponse(77, 1),                  # unknown cid
])
def test_server_violations(bad):
    p = Pair()
    cchan, _ = p.connect()
    cmd = bad(cchan)
    with pytest.raises(ca.LocalProtocolError):
        p.server.send(cmd)
    with pytest.raises(ca.RemoteProtocolError):
        p.client.process_command(cmd)
    # a peer's violation is final
    assert p.client.failed is not None
    with pytest.raises(ca.RemoteProtocolError):
        p.client.process_command(ca.EchoResponse())


@pytest.mark.parametrize("bad", [
    lambda: ca.ReadNotifyRequest(6, 1, 99, 1),       # unknown sid
    lambda: ca.EventCancelRequest(6, 10, 5),         # unknown subscription
    lambda: ca.ClearChannelRequest(10, 42),          # unknown cid
    lambda: ca.CreateChanRequest("again", 1, 13),    # cid in use
])
def test_client_violations(bad):
    p = Pair()
    p.connect()
    cmd = bad()
    before = (dict(p.server.channels), dict(p.server.event_add_commands))
    with pytest.raises(ca.LocalProtocolError):
        p.client.send(cmd)
    with pytest.raises(ca.RemoteProtocolError):
        p.server.process_command(cmd)
    assert (dict(p.server.channels), dict(p.server.event_add_commands)) == before


def test_reused_ids_refused():
    p = Pair()
    p.connect()
    p.c2s(ca.ReadNotifyRequest(6, 1, 10, 5))
    with pytest.raises(ca.RemoteProtocolError):
        p.server.process_command(ca.ReadNotifyRequest(6, 1, 10, 5))
    p2 = Pair()
    p2.connect()
    p2.c2s(ca.EventAddRequest(6, 1, 10, 3))
    with pytest.raises(ca.RemoteProtocolError):
        p2.server.process_command(ca.EventAddRequest(6, 1, 10, 3))


def test_budgets():
    p = Pair(max_channels=2, max_subscriptions=1, max_pending=1)
    p.connect(cid=1, sid=1)
    p.connect(cid=2, sid=2)
    with pytest.raises(ca.RemoteProtocolError):
        p.server.process_command(ca.CreateChanRequest("c", 3, 13))
    p = Pair(max_subscriptions=1, max_pending=1)
    p.connect()
    p.c2s(ca.EventAddRequest(6, 1, 10, 1), ca.ReadNotifyRequest(6, 1, 10, 1))
    with pytest.raises(ca.RemoteProtocolError):
        p.server.process_command(ca.EventAddRequest(6, 1, 10, 2))
    p = Pair(max_pending=1)
    p.connect()
    p.c2s(ca.ReadNotifyRequest(6, 1, 10, 1))
    with pytest.raises(ca.RemoteProtocolError):
        p.server.process_command(ca.ReadNotifyRequest(6, 1, 10, 2))


# --------------------------------------------------------------------------- #
# The tables themselves


def _sample(name):
    samples = {
        "VersionRequest": ca.VersionRequest(0, 13), "VersionResponse": ca.VersionResponse(13),
        "CreateChanRequest": ca.CreateChanRequest("x", 1, 13),
        "CreateChanResponse": ca.CreateChanResponse(6, 1, 1, 10),
        "CreateChFailResponse": ca.CreateChFailResponse(1),
        "AccessRightsResponse": ca.AccessRightsResponse(1, 3),
        "ClearChannelRequest": ca.ClearChannelRequest(10, 1),
        "ClearChannelResponse": ca.ClearChannelResponse(10, 1),
        "ServerDisconnResponse": ca.ServerDisconnResponse(1),
    }
    return samples.get(name)


CHANNEL_EVENTS = sorted({ev for (_, ev) in _state.CHANNEL_TRANSITIONS},
                        key=lambda e: (e[0].name, e[1]))


@pytest.mark.parametrize("pair,event", [
    (pair, ev) for pair in sorted({p for (p, _) in _state.CHANNEL_TRANSITIONS},
                                  key=lambda p: (p[0].value, p[1].value))
    for ev in CHANNEL_EVENTS if (pair, ev) not in _state.CHANNEL_TRANSITIONS
    and _sample(ev[1]) is not None])
def test_channel_table_refuses_what_it_does_not_list(pair, event):
    """Every (state, event) missing from CHANNEL_TRANSITIONS is refused, by
    the sender as Local and by the receiver as Remote, and changes nothing."""
    sender, name = event
    for role in (ca.CLIENT, ca.SERVER):
        circuit = ca.VirtualCircuit(role, ("h", 1), 0)
        circuit._state = (ca.CONNECTED, ca.CONNECTED)
        cls = ca.ClientChannel if role is ca.CLIENT else ca.ServerChannel
        chan = cls("x", circuit, cid=1)
        chan.sid = 10
        chan._state = pair
        circuit.channels[1] = chan
        circuit.channels_sid[10] = chan
        cmd = _sample(name)
        error = ca.LocalProtocolError if sender is role else ca.RemoteProtocolError
        with pytest.raises(error):
            circuit._process(sender, cmd)
        assert chan._state == pair


@pytest.mark.parametrize("pair", list(itertools.product(
    [ca.SEND_VERSION_REQUEST, ca.AWAIT_VERSION_RESPONSE, ca.CONNECTED],
    [ca.IDLE, ca.SEND_VERSION_RESPONSE, ca.CONNECTED])))
@pytest.mark.parametrize("sender,name", [(ca.CLIENT, "VersionRequest"),
                                         (ca.SERVER, "VersionResponse")])
def test_circuit_table(pair, sender, name):
    circuit = ca.VirtualCircuit(ca.SERVER, ("h", 1), 0)
    circuit._state = pair
    new = _state.CIRCUIT_TRANSITIONS.get((pair, (sender, name)))
    if new is None:
        with pytest.raises(ca.ProtocolError):
            circuit._process(sender, _sample(name))
        assert circuit._state == pair
    else:
        circuit._process(sender, _sample(name))
        assert circuit._state == new


def test_requests_before_version_refused():
    c = ca.VirtualCircuit(ca.SERVER, ("h", 1), 0)
    with pytest.raises(ca.RemoteProtocolError):
        c.process_command(ca.CreateChanRequest("x", 1, 13))


# --------------------------------------------------------------------------- #
# Deframing


def _stream():
    p = Pair()
    p.connect()
    cmds = [ca.ReadNotifyResponse(np.arange(3000.0), 6, 3000, 1, 0),   # > 16 kB
            ca.EchoResponse(), ca.ReadNotifyResponse(["a", "bc"], 7, 2, 1, 1,
                                                     metadata=(1, 2))]
    return b"".join(bytes(c) for c in cmds), cmds


@pytest.mark.parametrize("step", [1, 7, 16, 100, 4096])
def test_recv_in_chunks(step):
    data, cmds = _stream()
    c = ca.VirtualCircuit(ca.CLIENT, ("h", 1), 0, max_array_bytes=100000)
    got = []
    for i in range(0, len(data), step):
        more, needed = c.recv(data[i:i + step])
        got.extend(more)
        assert needed > 0
    assert [bytes(g) for g in got] == [bytes(x) for x in cmds]


def test_large_message_joined_once():
    data, _ = _stream()
    c = ca.VirtualCircuit(ca.CLIENT, ("h", 1), 0, max_array_bytes=100000)
    for i in range(0, 20000, 1000):
        got, needed = c.recv(data[i:i + 1000])
        assert not got
        # chunks are only collected while the message is incomplete
        assert len(c._chunks) == i // 1000 + 1
    assert needed == 24000 + 16 - 20000


def test_extended_header_round_trip():
    big = ca.ReadNotifyResponse(np.zeros(0x10000, dtype="u1"), 4, 0x10000, 1, 1)
    assert big.header.extended and len(big._raw_header) == 24
    c = ca.VirtualCircuit(ca.CLIENT, ("h", 1), 0, max_array_bytes=0x20000)
    (again,), _ = c.recv(bytes(big))
    assert again.data_count == 0x10000 and bytes(again) == bytes(big)
    # a payload that needs it with a small count
    wide = ca.ReadNotifyResponse(np.zeros(9000), 6, 9000, 1, 1)
    assert wide.header.extended and len(wide._raw_header) == 24
    (again,), _ = c.recv(bytes(wide))
    assert bytes(again) == bytes(wide)
    # a count that needs the extended header even without a payload
    chan = ca.CreateChanResponse(6, 100000, 1, 2)
    assert len(bytes(chan)) == 24


def test_oversized_payload_refused_before_it_arrives():
    c = ca.VirtualCircuit(ca.SERVER, ("h", 1), 0, max_array_bytes=16384)
    header = ca.MessageHeader(19, 0xFFFFFFF8, 6, 1, 1, 1)
    from caffi.protocol._header import pack_header
    with pytest.raises(ca.RemoteProtocolError, match="limit"):
        c.recv(pack_header(*header))
    with pytest.raises(ca.RemoteProtocolError):
        c.recv(b"")     # a failed circuit stays failed


def test_misaligned_payload_refused():
    from caffi.protocol._header import pack_header
    c = ca.VirtualCircuit(ca.SERVER, ("h", 1), 0)
    with pytest.raises(ca.RemoteProtocolError, match="aligned"):
        c.recv(pack_header(21, 5, 0, 0, 0, 0) + b"abcde")


# --------------------------------------------------------------------------- #
# Broadcaster


def test_broadcaster_roles_and_registration():
    b = ca.Broadcaster(ca.CLIENT)
    assert not b.registered
    assert b.send(b.register()) == b"\x00\x18" + b"\x00" * 14
    with pytest.raises(ca.LocalProtocolError):
        b.send(ca.SearchResponse(5064, "1.2.3.4", 1, 13))
    confirm = ca.RepeaterConfirmResponse("127.0.0.1")
    cmds = b.recv(bytes(confirm), ("127.0.0.1", 5065))
    b.process_commands(cmds)
    assert b.registered
    with pytest.raises(ca.RemoteProtocolError):
        b.process_commands(b.recv(bytes(ca.SearchResponse(1, "1.2.3.4", 1)), ("h", 1))[:0]
                           + [ca.SearchRequest("x", 1)])
    with pytest.raises(ca.RemoteProtocolError):
        b.recv(bytes(confirm)[:12], ("h", 1))


def test_extract_address():
    resp = ca.SearchResponse(5064, "255.255.255.255", 1)
    (got,) = ca.Broadcaster(ca.CLIENT).recv(bytes(resp), ("10.0.0.7", 5064))
    assert ca.extract_address(got) == ("10.0.0.7", 5064)
    assert ca.extract_address(ca.SearchResponse(6000, "10.1.2.3", 1)) == ("10.1.2.3", 6000)

"""VirtualCircuit: a socket-free client/server pair, hostile input, and a live p4p peer."""
from __future__ import annotations

import random
import socket
import struct
import time

import numpy as np
import pytest

from pva import (BitSet, DecodeError, FieldDesc, FieldType, LocalProtocolError,
                 RemoteProtocolError, Status, nt)
from pva._circuit import ClientVirtualCircuit
from pva._server_circuit import ServerVirtualCircuit
from pva._header import (AcknowledgeMarker, Direction, EchoRequest, EchoResponse,
                         SetByteOrder, SetMarker)
from pva._messages import (AclChange, AuthNZ, AuthNZReply, ChannelArrayRequest,
                           ChannelArrayResponse, ChannelDestroyResponse,
                           ChannelFieldInfoResponse, ChannelGetRequest,
                           ChannelGetResponse, ChannelMessage, ChannelMonitorRequest,
                           ChannelMonitorResponse, ChannelProcessRequest, ChannelProcessResponse,
                           ChannelPutGetRequest, ChannelPutGetResponse, ChannelPutRequest,
                           ChannelPutResponse, ChannelRequestCancel, ChannelRequestDestroy,
                           ChannelRpcRequest, ChannelRpcResponse, ConnectionValidatedResponse,
                           ConnectionValidationRequest, ConnectionValidationResponse,
                           CreateChannelRequest, CreateChannelResponse, Echo, EchoReply,
                           SearchRequest, SearchResponse, Subcommand)
from pva._state import ChannelState, CircuitState, RequestState
from pva._values import DataWithBitSet, FieldDescAndData

C, S = Direction.CLIENT, Direction.SERVER
NTD = nt.NTScalar("d").type
NTI = nt.NTScalar("i").type
ARR = FieldDesc.array(FieldDesc(FieldType.float64))


def joined(bufs):
    return b"".join(bytes(b) for b in bufs)


class Pair:
    """Client and server circuits wired back to back, byte stream chopped randomly."""

    def __init__(self, order="<", segment=None, cache=True, seed=0):
        kw = dict(max_segment_size=segment, send_type_cache=cache)
        self.cli = ClientVirtualCircuit(("127.0.0.1", 5075), **kw)
        self.srv = ServerVirtualCircuit(("127.0.0.1", 40000), byte_order=order, **kw)
        self.rng = random.Random(seed)
        self.count = 0

    def _deliver(self, src, dst, msg):
        data = joined(src.send(msg))
        out = []
        pos = 0
        while pos < len(data):  # arbitrary chunking
            step = self.rng.choice((1, 3, 8, 100, 100000))
            out += [m for m, _ in dst.recv(data[pos:pos + step])]
            pos += step
        for m in out:
            assert dst.process_command(m) is True
        self.count += 1
        return out

    def c2s(self, msg):
        (got,) = self._deliver(self.cli, self.srv, msg)
        return got

    def s2c(self, msg):
        (got,) = self._deliver(self.srv, self.cli, msg)
        return got


def same(a, b):
    assert type(a) is type(b)
    assert a == b, (a, b)


def data(desc_value, bits):
    return DataWithBitSet(desc_value, BitSet(bits))


def run_full_session(p: Pair, order: str):
    cli, srv = p.cli, p.srv
    got = p.s2c(srv.set_byte_order(order))
    assert isinstance(got, SetByteOrder) and cli.byte_order == order
    same(p.s2c(srv.validate_connection()), ConnectionValidationRequest())
    assert cli.auth_methods == ["anonymous", "ca"]
    same(p.c2s(ConnectionValidationResponse.ca("me", "here")),
         ConnectionValidationResponse.ca("me", "here"))
    assert srv.auth_method == "ca" and srv.auth_data.data == {"user": "me", "host": "here"}
    same(p.s2c(srv.validated_connection()), ConnectionValidatedResponse())
    assert cli.state is srv.state is CircuitState.CONNECTED
    # control messages, both ways
    for m in (SetMarker(10, C), AcknowledgeMarker(10, C), EchoRequest(5, C), EchoResponse(5, C)):
        assert p.c2s(m).value == m.value
    for m in (SetMarker(1, S), AcknowledgeMarker(1, S), EchoRequest(9, S)):
        assert p.s2c(m).value == m.value
    assert p.c2s(cli.echo_response(EchoRequest(9, S))).value == 9
    same(p.c2s(Echo(b"ping")), Echo(b"ping"))
    same(p.s2c(EchoReply(b"ping")), EchoReply(b"ping"))
    same(p.c2s(AuthNZ()), AuthNZ())
    same(p.s2c(AuthNZReply()), AuthNZReply())
    search = SearchRequest(77, ("0.0.0.0", 0), [(1, "pv:a")])
    same(p.c2s(search), search)
    same(p.s2c(SearchResponse(b"G" * 12, 77, ("127.0.0.1", 5075), [1])),
         SearchResponse(b"G" * 12, 77, ("127.0.0.1", 5075), [1]))
    # channels
    cha = cli.create_channel("pv:a")
    chb = cli.create_channel("pv:b")
    got = p.c2s(CreateChannelRequest([(cha.cid, "pv:a"), (chb.cid, "pv:b")]))
    sa, sb = srv.channel_by_cid(cha.cid), srv.channel_by_cid(chb.cid)
    assert [sa.name, sb.name] == ["pv:a", "pv:b"]
    p.s2c(sa.create())
    p.s2c(sb.create())
    cha, chb = cli.channel_by_cid(cha.cid), cli.channel_by_cid(chb.cid)
    assert cha.connected and chb.connected and cha.sid == sa.sid
    failed = cli.create_channel("pv:none")
    p.c2s(failed.create())
    p.s2c(CreateChannelResponse(failed.cid, 0, Status.create_error("no such PV")))
    assert cli.channel_by_cid(failed.cid).state is ChannelState.DESTROYED
    sid = cha.sid

    # GET
    get = cha.read("field(value)")
    got = p.c2s(get)
    assert got.request.fields == ["value"]
    p.s2c(ChannelGetResponse(get.ioid).to_init(NTD))
    assert cli.request_types(get.ioid).type == NTD
    v = nt.NTScalar("d").wrap(1.5, timestamp=2.0)
    for last in (False, True):
        p.c2s(ChannelGetRequest(sid, get.ioid, 0x10 if last else 0x00))
        r = p.s2c(ChannelGetResponse(get.ioid, subcommand=0x10 if last else 0).to_get(
            data(v, {0})))
        assert r.pv_data.data["value"] == 1.5
        assert r.pv_data.data["timeStamp"]["secondsPastEpoch"] == 2
    assert cli.requests[get.ioid].state is RequestState.DEAD

    # PUT (get-for-put 0x40, then a put)
    put = cha.write()
    p.c2s(put)
    p.s2c(ChannelPutResponse(put.ioid).to_init(NTI))
    p.c2s(ChannelPutRequest(sid, put.ioid).to_get())
    r = p.s2c(ChannelPutResponse(put.ioid).to_get(data({"value": 7}, {1})))
    assert r.subcommand == 0x40 and r.pv_data.data == {"value": 7}
    got = p.c2s(ChannelPutRequest(sid, put.ioid).to_default(data({"value": 42}, {1})))
    assert got.put_data.data == {"value": 42} and got.put_data.bitset == {1}
    p.s2c(ChannelPutResponse(put.ioid, subcommand=0).to_default())
    p.c2s(ChannelRequestDestroy(sid, put.ioid))

    # PUT_GET: put, get-get, get-put
    pg = cha.read_write()
    p.c2s(pg)
    r = p.s2c(ChannelPutGetResponse(pg.ioid, Status(), 0x08, NTI, NTD))
    assert r.put_structure_if == NTI and r.get_structure_if == NTD
    got = p.c2s(ChannelPutGetRequest(sid, pg.ioid, 0x00, put_data=data({"value": 3}, {1})))
    assert got.put_data.data == {"value": 3}
    r = p.s2c(ChannelPutGetResponse(pg.ioid, Status(), 0x00, pv_data=data({"value": 3.5}, {1})))
    assert r.pv_data.data == {"value": 3.5}
    p.c2s(ChannelPutGetRequest(sid, pg.ioid, 0x40))
    p.s2c(ChannelPutGetResponse(pg.ioid, Status(), 0x40, pv_data=data({"value": 3.5}, {1})))
    p.c2s(ChannelPutGetRequest(sid, pg.ioid, 0x80))
    r = p.s2c(ChannelPutGetResponse(pg.ioid, Status(), 0x80, pv_data=data({"value": 3}, {1})))
    assert r.pv_data.data == {"value": 3} and r.put_structure_if == NTI
    p.c2s(ChannelRequestDestroy(sid, pg.ioid))

    # MONITOR with pipelining
    mon = cha.subscribe("record[pipeline=true,queueSize=2]", queue_size=2)
    got = p.c2s(mon)
    assert got.nfree == 2 and got.request.record_options["pipeline"] == "true"
    p.s2c(ChannelMonitorResponse(mon.ioid).to_init(Status(), NTD))
    p.c2s(ChannelMonitorRequest(sid, mon.ioid).to_start())
    for i in range(3):
        r = p.s2c(ChannelMonitorResponse(mon.ioid, subcommand=0).to_default(
            data({"value": float(i)}, {1}), BitSet({1} if i == 2 else ())))
        assert r.pv_data.data == {"value": float(i)}
        assert r.overrun_bitset == (BitSet({1}) if i == 2 else BitSet())
    p.c2s(ChannelMonitorRequest(sid, mon.ioid).to_pipeline(3))
    p.s2c(ChannelMessage(mon.ioid, 1, "queue overrun"))
    p.c2s(ChannelMonitorRequest(sid, mon.ioid).to_stop())
    p.c2s(ChannelMonitorRequest(sid, mon.ioid).to_start())
    p.s2c(ChannelMonitorResponse(mon.ioid, Status(), Subcommand.DESTROY))
    assert cli.requests[mon.ioid].state is RequestState.DEAD
    p.c2s(ChannelRequestDestroy(sid, mon.ioid))  # p4p does this; legal on a dead request

    # ARRAY
    arr = chb.array()
    p.c2s(arr)
    p.s2c(ChannelArrayResponse(arr.ioid, Status(), 0x08, ARR))
    got = p.c2s(ChannelArrayRequest(chb.sid, arr.ioid, 0x40, offset=1, count=2, stride=1))
    assert (got.offset, got.count, got.stride) == (1, 2, 1)
    r = p.s2c(ChannelArrayResponse(arr.ioid, Status(), 0x40, array_data=np.array([2.0, 3.0])))
    np.testing.assert_array_equal(r.array_data, [2.0, 3.0])
    got = p.c2s(ChannelArrayRequest(chb.sid, arr.ioid, 0x00, offset=3,
                                    array_data=np.array([9.0])))
    np.testing.assert_array_equal(got.array_data, [9.0])
    p.s2c(ChannelArrayResponse(arr.ioid, Status(), 0x00))
    p.c2s(ChannelArrayRequest(chb.sid, arr.ioid, 0x80, length=10))
    p.s2c(ChannelArrayResponse(arr.ioid, Status(), 0x80))
    p.c2s(ChannelArrayRequest(chb.sid, arr.ioid, 0x04))
    assert p.s2c(ChannelArrayResponse(arr.ioid, Status(), 0x04, length=10)).length == 10
    p.c2s(ChannelRequestDestroy(chb.sid, arr.ioid))

    # PROCESS (INIT without a pvRequest type)
    proc = ChannelProcessRequest(chb.sid, cli.new_ioid(), 0x08, FieldDescAndData())
    assert p.c2s(proc).pv_request.interface is None
    p.s2c(ChannelProcessResponse(proc.ioid, Status(), 0x08))
    p.c2s(ChannelProcessRequest(chb.sid, proc.ioid, 0x00))
    p.s2c(ChannelProcessResponse(proc.ioid, Status(), 0x00))
    p.c2s(ChannelRequestDestroy(chb.sid, proc.ioid))

    # GET_FIELD
    gf = chb.read_interface("value")
    assert p.c2s(gf).sub_field_name == "value"
    assert p.s2c(ChannelFieldInfoResponse(gf.ioid, NTD)).interface == NTD

    # RPC, with a cancel of an execution
    rpc = chb.rpc()
    p.c2s(rpc)
    p.s2c(ChannelRpcResponse(rpc.ioid).to_init(Status()))
    arg = FieldDescAndData(NTD, nt.NTScalar("d").wrap(1.0))
    got = p.c2s(ChannelRpcRequest(chb.sid, rpc.ioid).to_default(arg))
    assert got.pv_data.data["value"] == 1.0
    r = p.s2c(ChannelRpcResponse(rpc.ioid).to_default(Status(), FieldDescAndData(
        NTI, {"value": 5})))
    assert r.pv_response.data["value"] == 5
    p.c2s(ChannelRpcRequest(chb.sid, rpc.ioid).to_default(arg))
    p.c2s(ChannelRequestCancel(chb.sid, rpc.ioid))
    p.c2s(ChannelRequestDestroy(chb.sid, rpc.ioid))

    same(p.s2c(AclChange(b"\x01")), AclChange(b"\x01"))

    # channel teardown: client-initiated, then server-initiated
    p.c2s(cha.disconnect())
    p.s2c(sa.disconnect())
    assert cli.channel_by_cid(cha.cid).state is ChannelState.DESTROYED
    p.s2c(srv.channel_by_cid(chb.cid).disconnect())
    assert cli.channel_by_cid(chb.cid).state is ChannelState.DESTROYED
    assert all(r.state is RequestState.DEAD for r in cli.requests.values())
    assert cli.state is srv.state is CircuitState.CONNECTED
    return p.count


@pytest.mark.parametrize("order", ["<", ">"], ids=["little", "big"])
@pytest.mark.parametrize("segment,cache", [(None, True), (None, False), (16, True)],
                         ids=["plain", "nocache", "segmented"])
def test_pair_every_message(order, segment, cache):
    p = Pair(order, segment, cache, seed=hash((order, segment, cache)) & 0xFFFF)
    n = run_full_session(p, order)
    assert n > 80


def test_circuit_copies_keep_their_type_caches():
    # a copy (pickle, deepcopy) of a circuit with open requests works like the
    # original: its LRU tables keep their bound (they used to fail to unpickle)
    import copy
    import pickle

    from pva._typecache import LRU
    p = Pair()
    p.s2c(p.srv.set_byte_order("<"))
    p.s2c(p.srv.validate_connection())
    p.c2s(p.cli.validate_connection(auth_nz="anonymous"))
    p.s2c(p.srv.validated_connection())
    ch = p.cli.create_channel("pv")
    p.c2s(ch.create())
    p.s2c(p.srv.channel_by_cid(ch.cid).create())
    get = p.cli.channel_by_cid(ch.cid).read()
    p.c2s(get)
    p.s2c(ChannelGetResponse(get.ioid).to_init(NTD))
    lru = LRU(2)
    lru["a"], lru["b"] = 1, 2
    for clone in (lambda o: pickle.loads(pickle.dumps(o)), copy.deepcopy):
        twin = clone(lru)
        assert twin.maxsize == 2 and list(twin.items()) == [("a", 1), ("b", 2)]
        twin["c"] = 3
        assert list(twin) == ["b", "c"]
        cli, srv = clone((p.cli, p.srv))
        ((req, _),) = srv.recv(joined(cli.send(ChannelGetRequest(1, get.ioid, Subcommand.GET))))
        assert srv.process_command(req)
        msg = ChannelGetResponse(get.ioid, Status(), Subcommand.GET, pv_data=DataWithBitSet(
            {"value": 1.5}, BitSet({1})))
        ((got, _),) = cli.recv(joined(srv.send(msg)))
        assert cli.process_command(got) and got.pv_data.data["value"] == 1.5


def test_send_refusal_changes_nothing():
    p = Pair()
    with pytest.raises(LocalProtocolError):
        p.cli.send(ChannelGetRequest(1, 2, 0x08, ""))
    assert p.cli.state is CircuitState.IDLE and p.cli.error is None
    with pytest.raises(LocalProtocolError):  # wrong role
        p.cli.send(ConnectionValidationRequest())
    with pytest.raises(LocalProtocolError):  # UDP-only
        p.cli.send(__import__("pva._messages", fromlist=["OriginTag"]).OriginTag())


def _connected_pair(order="<", segment=None):
    p = Pair(order, segment)
    p.s2c(p.srv.set_byte_order(order))
    p.s2c(p.srv.validate_connection())
    p.c2s(ConnectionValidationResponse())
    p.s2c(p.srv.validated_connection())
    ch = p.cli.create_channel("x")
    p.c2s(ch.create())
    p.s2c(p.srv.channel_by_cid(ch.cid).create())
    return p, p.cli.channel_by_cid(ch.cid)


def test_stale_reply_after_destroy_is_ignored():
    p, ch = _connected_pair()
    mon = ch.subscribe()
    p.c2s(mon)
    p.s2c(ChannelMonitorResponse(mon.ioid).to_init(Status(), NTD))
    p.c2s(ChannelMonitorRequest(ch.sid, mon.ioid).to_start())
    # the server queues an update, the client destroys, then the update arrives
    update = joined(p.srv.send(ChannelMonitorResponse(mon.ioid, subcommand=0).to_default(
        data({"value": 1.0}, {1}))))
    p.c2s(ChannelRequestDestroy(ch.sid, mon.ioid))
    ((m, _),) = p.cli.recv(update)
    assert p.cli.process_command(m) is False
    assert p.cli.state is CircuitState.CONNECTED


@pytest.mark.parametrize("order,segment", [("<", None), (">", None), ("<", 16)])
def test_exec_hot_path_matches_the_generic_path(order, segment):
    """begin_exec + reply_ok: the transitions and bytes of process_command + send."""
    v = nt.NTScalar("d").wrap(2.5, timestamp=3.0)
    results = []
    for hot in (False, True):
        p, ch = _connected_pair(order, segment)
        srv = p.srv
        get, put, proc = ch.read(), ch.write(), ch.process()
        wire = []
        for op, resp, desc in ((get, ChannelGetResponse(get.ioid).to_init(NTD), NTD),
                               (put, ChannelPutResponse(put.ioid).to_init(NTD), NTD),
                               (proc, ChannelProcessResponse(proc.ioid), None)):
            p.c2s(op)
            req = srv.requests[op.ioid]
            wire.append(joined(srv.reply_ok(req, 0x08, desc) if hot else srv.send(resp)))
            for m, _ in p.cli.recv(wire[-1]):
                assert p.cli.process_command(m) is True
            assert req.state is RequestState.IDLE
        types = [srv.request_types(op.ioid) for op in (get, put, proc)]
        assert types[0].type == NTD and types[2] is None
        for op, cls, sub, payload in ((get, ChannelGetRequest, 0x00, v),
                                      (put, ChannelPutRequest, 0x40, v),
                                      (proc, ChannelProcessRequest, 0x00, None),
                                      (get, ChannelGetRequest, 0x10, v)):
            ((msg, _),) = srv.recv(joined(p.cli.send(cls(ch.sid, op.ioid, sub))))
            req = srv.requests[op.ioid]
            body = None if payload is None else data(payload, {0})
            if hot:
                assert srv.begin_exec(msg) is req
                bufs = srv.reply_ok(req, sub, NTD, body)
            else:
                assert srv.process_command(msg) is True
                reply = {ChannelGetRequest: ChannelGetResponse,
                         ChannelPutRequest: ChannelPutResponse,
                         ChannelProcessRequest: ChannelProcessResponse}[cls]
                kw = {} if body is None else (
                    {"pv_structure_if": NTD, "pv_data": body} if cls is ChannelGetRequest
                    else {"put_structure_if": NTD, "pv_data": body})
                bufs = srv.send(reply(op.ioid, Status(), sub, **kw))
            wire.append(joined(bufs))
            for m, _ in p.cli.recv(wire[-1]):
                assert p.cli.process_command(m) is True
        states = {op.ioid: srv.requests[op.ioid].state for op in (get, put, proc)}
        results.append((wire, states, types))
    assert results[0] == results[1]
    wire, states, types = results[1]
    assert states[get.ioid] is RequestState.DEAD and states[put.ioid] is RequestState.IDLE


def test_exec_hot_path_leaves_the_rest_to_process_command():
    p, ch = _connected_pair()
    srv = p.srv
    get = ch.read()
    p.c2s(get)
    # not created yet (INIT unanswered): the full validation applies
    assert srv.begin_exec(ChannelGetRequest(ch.sid, get.ioid, 0x00)) is None
    assert srv.requests[get.ioid].state is RequestState.CREATING
    p.s2c(ChannelGetResponse(get.ioid).to_init(NTD))
    for bad in (ChannelGetRequest(ch.sid + 1, get.ioid, 0x00),      # foreign channel id
                ChannelGetRequest(ch.sid, get.ioid + 1, 0x00),      # unknown request
                ChannelPutRequest(ch.sid, get.ioid, 0x00),          # a GET request
                ChannelGetRequest(ch.sid, get.ioid, 0x08, "")):     # an INIT
        assert srv.begin_exec(bad) is None
        assert srv.requests[get.ioid].state is RequestState.IDLE
    req = srv.requests[get.ioid]
    with pytest.raises(LocalProtocolError, match="state IDLE"):
        srv.reply_ok(req, 0x00, NTD, data({"value": 1.0}, {0}))
    assert srv.begin_exec(ChannelGetRequest(ch.sid, get.ioid, 0x00)) is req
    assert srv.begin_exec(ChannelGetRequest(ch.sid, get.ioid, 0x00)) is None   # executing
    with pytest.raises(LocalProtocolError, match="cannot encode"):
        srv.reply_ok(req, 0x00, NTD, data({"value": "not a number"}, {0}))
    assert req.state is RequestState.EXECUTING          # a refused reply changes nothing
    srv.reply_ok(req, 0x00, NTD, data({"value": 1.0}, {0}))
    assert req.state is RequestState.IDLE


@pytest.mark.parametrize("order,segment", [("<", None), (">", None), ("<", 16)])
def test_monitor_update_hot_path_matches_the_generic_path(order, segment):
    from pva._fastpath import encode_monitor_update
    p, ch = _connected_pair(order, segment)
    srv = p.srv
    mon = ch.subscribe()
    p.c2s(mon)
    p.s2c(ChannelMonitorResponse(mon.ioid).to_init(Status(), NTD))
    value = nt.NTScalar("d").wrap(4.5, timestamp=6.0)
    for running in (False, True):       # updates go to stopped and running monitors
        if running:
            p.c2s(ChannelMonitorRequest(ch.sid, mon.ioid).to_start())
        for bits, overrun in (({0}, None), ({1, 4}, BitSet({1}))):
            body = data(value, bits)
            raw = encode_monitor_update(NTD, body, overrun, order)
            hot = joined(srv.send_update(mon.ioid, raw))
            generic = joined(srv.send(ChannelMonitorResponse(
                mon.ioid, Status(), 0, pv_structure_if=NTD, pv_data=body,
                overrun_bitset=overrun)))
            assert hot == generic
            ((m, _),) = p.cli.recv(hot)
            assert p.cli.process_command(m) is True
            assert m.pv_data.data["value"] == 4.5
    assert srv.requests[mon.ioid].state is RequestState.RUNNING
    get = ch.read()
    p.c2s(get)
    with pytest.raises(LocalProtocolError, match="no monitor"):
        srv.send_update(get.ioid, raw)
    p.c2s(ChannelRequestDestroy(ch.sid, mon.ioid))
    with pytest.raises(LocalProtocolError, match="the monitor is DEAD"):
        srv.send_update(mon.ioid, raw)


def _request_states(c):
    return c.state, {i: r.state for i, r in c.requests.items()}, dict(c._ctx.types)


def test_monitor_update_hot_path_follows_process_command():
    """accept_update takes the updates process_command accepts without a change
    of state, changes nothing itself, and leaves everything else to it."""
    from pva._messages import MessageContext, RequestTypes, decode_message, encode_payload
    v = nt.NTScalar("d").wrap(2.5, timestamp=3.0)
    p, ch = _connected_pair()
    cli = p.cli
    mon, creating, get = ch.subscribe(), ch.subscribe(), ch.read()
    for m in (mon, creating, get):
        p.c2s(m)
    p.s2c(ChannelMonitorResponse(mon.ioid).to_init(Status(), NTD))
    p.s2c(ChannelGetResponse(get.ioid).to_init(NTD))

    def received(msg):
        tx = MessageContext()
        tx.types[msg.ioid] = RequestTypes(13, NTD)
        body = joined(encode_payload(msg, "<", tx))
        return decode_message(msg.ID, S, body, "<", cli._ctx)

    def update(ioid):
        return received(ChannelMonitorResponse(ioid, subcommand=0).to_default(data(v, {1})))

    def check(msg, expect):
        before = _request_states(cli)
        req = cli.accept_update(msg)
        assert (req is not None) is expect
        assert req is None or req is cli.requests[msg.ioid]
        assert _request_states(cli) == before
        twin = _clone(cli)
        try:
            ok = twin.process_command(msg)
        except RemoteProtocolError:
            ok = None
        if expect:
            assert ok is True and _request_states(twin) == before
        return ok

    check(update(mon.ioid), True)                          # IDLE (not started)
    p.c2s(ChannelMonitorRequest(ch.sid, mon.ioid).to_start())
    assert cli.requests[mon.ioid].state is RequestState.RUNNING
    check(update(mon.ioid), True)
    assert check(update(creating.ioid), False) is None     # no type yet: raw
    assert check(update(9999), False) is None              # never created
    assert check(update(get.ioid), False) is None          # a GET request
    assert check(received(ChannelMonitorResponse(mon.ioid, Status(), Subcommand.DESTROY)),
                 False) is True                            # FINISH: a change of state
    assert check(received(ChannelMonitorResponse(mon.ioid).to_init(Status(), NTD)),
                 False) is None
    assert check(ChannelGetResponse(get.ioid, Status(), 0), False) is None   # none asked
    p.c2s(ChannelRequestDestroy(ch.sid, mon.ioid))
    assert check(update(mon.ioid), False) is False         # stale: ignored
    cli.state = CircuitState.CLOSED
    assert check(update(get.ioid), False) is None


def test_declared_size_refused_before_allocation():
    import tracemalloc
    srv = ServerVirtualCircuit(max_message_size=1 << 20)
    head = struct.pack("<BBBBI", 0xCA, 2, 0x00, 10, 0xFFFFFFF0)
    tracemalloc.start()
    try:
        with pytest.raises(DecodeError, match="exceeds the limit"):
            srv.recv(head)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100_000
    assert srv.state is CircuitState.ERROR


# ---------------------------------------------------------------- hostile input
def _session_log(split):
    """The first ``split`` sends of a full session as (direction, messages)."""
    p = Pair(seed=2)
    log = []
    oc, os_ = p.cli.send, p.srv.send
    p.cli.send = lambda *m, **k: (log.append(("c2s", m)), oc(*m, **k))[1]
    p.srv.send = lambda *m, **k: (log.append(("s2c", m)), os_(*m, **k))[1]
    run_full_session(p, "<")
    return log[:split], log


def _replay(log, role):
    cli = ClientVirtualCircuit(send_type_cache=False)
    srv = ServerVirtualCircuit(send_type_cache=False)
    for direction, msgs in log:
        src, dst = (cli, srv) if direction == "c2s" else (srv, cli)
        for m, _ in dst.recv(joined(src.send(*msgs))):
            dst.process_command(m)
    return srv if role == "server" else cli


def _clone(c):
    """A cheap independent copy of a circuit at a message boundary (test helper)."""
    import collections
    import copy

    from pva._typecodec import IntrospectionCache
    from pva._messages import MessageContext
    n = copy.copy(c)
    n._new_framing(c._deframer.max_message_size)
    n.cache = IntrospectionCache()
    n.cache.received = dict(c.cache.received)
    n.cache.sent = dict(c.cache.sent)
    n.cache._next_id = c.cache._next_id
    n._ctx = MessageContext(n.cache, c._ctx.limits, c._ctx.send_cache)
    n._ctx.types = dict(c._ctx.types)
    chmap = {}
    for ch in c.channels.values():
        nch = copy.copy(ch)
        nch.circuit = n
        nch.requests = set(ch.requests)
        chmap[id(ch)] = nch
    n.channels = {cid: chmap[id(ch)] for cid, ch in c.channels.items()}
    n._by_sid = {sid: chmap.get(id(ch), ch) for sid, ch in c._by_sid.items()}
    n.requests = {}
    for ioid, r in c.requests.items():
        nr = copy.copy(r)
        nr.channel = chmap.get(id(r.channel), r.channel)
        n.requests[ioid] = nr
    n._dead = collections.OrderedDict(c._dead)
    n._searches = set(c._searches)
    return n


N_HOSTILE = 100_000


def test_hostile_input_100k():
    """Mutated and arbitrary bytes into circuits in many states (both roles).

    Only DecodeError / RemoteProtocolError may come out, nothing hangs, and
    a failed circuit is in ERROR.
    """
    rng = random.Random(1234)
    _, full = _session_log(0)
    # the wire bytes of every message sent in the session, per direction
    wire = {"c2s": [], "s2c": []}
    p = Pair(seed=2)
    for name, circ in (("c2s", p.cli), ("s2c", p.srv)):
        orig = circ.send

        def send(*m, _orig=orig, _name=name, **k):
            bufs = _orig(*m, **k)
            wire[_name].append(joined(bufs))
            return bufs
        circ.send = send
    run_full_session(p, "<")
    templates = []
    for split in (6, 12, 20, 30, 45, 60, 80):
        log = full[:split]
        templates.append(_replay(log, "server"))
        templates.append(_replay(log, "client"))
    specials = [b"\xff\xff\xff\xff", b"\xfe\xff\xff\xff\x7f", b"\xfd\x01\x00", b"\xfe\x01\x00",
                b"\x00", b"\xff", b"\x80\x00\xfe\xff\xff\x00\x00", b"\xfe\x00\x00\x01\x00"]

    def reframe(msg: bytes, payload: bytes) -> bytes:
        return msg[:4] + struct.pack("<I", len(payload)) + payload

    def mutate(msg: bytes) -> bytes:
        op = rng.randrange(9)
        body = msg[8:]
        if op == 0 and body:  # flip payload bytes, header consistent
            b = bytearray(body)
            for _ in range(rng.randint(1, 4)):
                b[rng.randrange(len(b))] = rng.randrange(256)
            return reframe(msg, bytes(b))
        if op == 1:  # insert a hostile size / cache code into the payload
            i = rng.randrange(len(body) + 1)
            return reframe(msg, body[:i] + rng.choice(specials) + body[i:])
        if op == 2 and body:  # truncate the payload, header consistent
            return reframe(msg, body[:rng.randrange(len(body))])
        if op == 3:  # random payload
            return reframe(msg, bytes(rng.randrange(256) for _ in range(rng.randrange(40))))
        if op == 4:  # garbage stream
            return bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        if op == 5:  # header announcing a huge size
            return msg[:4] + struct.pack("<I", rng.choice((0xFFFFFFFF, 1 << 30))) + body
        if op == 6:  # random header bits
            b = bytearray(msg)
            b[rng.randrange(min(8, len(b)))] = rng.randrange(256)
            return bytes(b)
        if op == 7:  # splice two messages
            other = rng.choice(wire["c2s"] + wire["s2c"])
            return reframe(msg, body[:rng.randrange(len(body) + 1)] + other[8:])
        return msg  # valid, but maybe not in this state

    stats = {"accepted": 0, "refused": 0, "partial": 0}
    t0 = time.perf_counter()
    worst = 0.0
    for i in range(N_HOSTILE):
        template = templates[i % len(templates)]
        circ = _clone(template)
        pool = wire["c2s"] if circ.our_role is Direction.SERVER else wire["s2c"]
        data = mutate(rng.choice(pool))
        t = time.perf_counter()
        try:
            for m, _ in circ.recv(data):
                circ.process_command(m)
        except (DecodeError, RemoteProtocolError):
            assert circ.state is CircuitState.ERROR
            stats["refused"] += 1
        else:
            if circ.at_message_boundary():
                stats["accepted"] += 1
            else:
                stats["partial"] += 1
        worst = max(worst, time.perf_counter() - t)
    elapsed = time.perf_counter() - t0
    assert worst < 5, worst  # no input may hang the decoder
    assert min(stats.values()) > 1000, stats
    print(f"hostile: {N_HOSTILE} inputs in {elapsed:.1f}s, worst {worst * 1e3:.2f} ms, {stats}")


# ---------------------------------------------------------------- live p4p
def _sock_session(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    circ = ClientVirtualCircuit(("127.0.0.1", port))

    def send(*msgs):
        sock.sendall(joined(circ.send(*msgs)))

    backlog = []

    def recv_until(pred, timeout=10.0):
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            while backlog:
                m = backlog.pop(0)
                seen.append(m)
                if pred(m):
                    return m, seen
            if time.monotonic() > deadline:
                raise TimeoutError(seen)
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            for m, _ in circ.recv(data):
                assert circ.process_command(m) is True
                backlog.append(m)
    return sock, circ, send, recv_until


@pytest.mark.timeout(60)
def test_live_p4p_server(p4p_server_factory):
    from p4p.nt import NTScalar
    from p4p.server.thread import SharedPV

    dpv = SharedPV(nt=NTScalar("d"), initial=1.5)

    @dpv.put
    def onput(pv, op):
        pv.post(op.value())
        op.done()

    rpv = SharedPV(nt=NTScalar("d"), initial=0.0)

    @rpv.rpc
    def onrpc(pv, op):
        args = op.value()
        op.done(NTScalar("d").wrap(float(args.a) * 2))

    server, _ = p4p_server_factory([{"live:d": dpv, "live:rpc": rpv}])
    port = int(server.conf()["EPICS_PVAS_SERVER_PORT"])
    sock, circ, send, recv_until = _sock_session(port)
    try:
        m, _ = recv_until(lambda m: isinstance(m, ConnectionValidationRequest))
        assert "ca" in m.auth_nz
        send(circ.validate_connection())  # "ca" with user and host
        assert circ.auth_method == "ca" and set(circ.auth_data.data) == {"user", "host"}
        m, _ = recv_until(lambda m: isinstance(m, ConnectionValidatedResponse))
        assert m.status.is_successful and circ.connected
        ch = circ.create_channel("live:d")
        rc = circ.create_channel("live:rpc")
        send(CreateChannelRequest([(ch.cid, ch.name)]), CreateChannelRequest([(rc.cid, rc.name)]))
        recv_until(lambda m: isinstance(m, CreateChannelResponse) and m.client_chid == rc.cid)
        ch, rc = circ.channel_by_cid(ch.cid), circ.channel_by_cid(rc.cid)
        assert ch.connected and rc.connected

        # GET
        get = ch.read()
        send(get)
        m, _ = recv_until(lambda m: isinstance(m, ChannelGetResponse))
        assert m.status.is_successful and m.pv_structure_if.type_id.startswith("epics:nt/NTScalar")
        send(ChannelGetRequest(ch.sid, get.ioid, 0x00))
        m, _ = recv_until(lambda m: isinstance(m, ChannelGetResponse))
        assert m.pv_data.data["value"] == 1.5 == float(dpv.current())
        send(ChannelRequestDestroy(ch.sid, get.ioid))

        # MONITOR (started), then PUT, updates arrive
        mon = ch.subscribe()
        send(mon)
        recv_until(lambda m: isinstance(m, ChannelMonitorResponse) and m.is_init)
        send(ChannelMonitorRequest(ch.sid, mon.ioid).to_start())
        m, _ = recv_until(lambda m: isinstance(m, ChannelMonitorResponse) and m.is_update)
        assert m.pv_data.data["value"] == 1.5

        put = ch.write()
        send(put)
        m, _ = recv_until(lambda m: isinstance(m, ChannelPutResponse))
        desc = m.put_structure_if
        for val in (2.5, 3.5, 4.5):
            send(ChannelPutRequest(ch.sid, put.ioid).to_default(
                DataWithBitSet({"value": val}, BitSet({desc.bit_of["value"]}))))
            # the put reply and the monitor update come in either order
            got = []
            recv_until(lambda m: got.append(m) or (
                any(isinstance(x, ChannelPutResponse) for x in got)
                and any(isinstance(x, ChannelMonitorResponse) for x in got)))
            (pr,) = [x for x in got if isinstance(x, ChannelPutResponse)]
            assert pr.status.is_successful and pr.subcommand == 0, pr
            (m,) = [x for x in got if isinstance(x, ChannelMonitorResponse)]
            assert m.is_update and m.pv_data.data["value"] == val
        assert float(dpv.current()) == 4.5
        # get-for-put (0x40)
        send(ChannelPutRequest(ch.sid, put.ioid).to_get())
        m, _ = recv_until(lambda m: isinstance(m, ChannelPutResponse))
        assert m.subcommand == 0x40 and m.pv_data.data["value"] == 4.5
        send(ChannelRequestDestroy(ch.sid, put.ioid))
        send(ChannelMonitorRequest(ch.sid, mon.ioid, Subcommand.DESTROY))

        # RPC
        rpc = rc.rpc()
        send(rpc)
        m, _ = recv_until(lambda m: isinstance(m, ChannelRpcResponse))
        assert m.status.is_successful
        argdesc = FieldDesc.struct([("a", FieldDesc(FieldType.float64))], "")
        send(ChannelRpcRequest(rc.sid, rpc.ioid).to_default(FieldDescAndData(argdesc, {"a": 21.0})))
        m, _ = recv_until(lambda m: isinstance(m, ChannelRpcResponse))
        assert m.status.is_successful, m.status
        assert m.pv_response.data["value"] == 42.0

        # GET_FIELD
        gf = ch.read_interface()
        send(gf)
        m, _ = recv_until(lambda m: isinstance(m, ChannelFieldInfoResponse))
        assert m.interface.type_id.startswith("epics:nt/NTScalar")

        # echo, then a clean channel teardown
        send(Echo(b"hi"))
        recv_until(lambda m: isinstance(m, EchoReply) and m.payload == b"hi")
        send(ch.disconnect())
        recv_until(lambda m: isinstance(m, ChannelDestroyResponse))
        assert circ.channel_by_cid(ch.cid).state is ChannelState.DESTROYED
        assert circ.state is CircuitState.CONNECTED
    finally:
        sock.close()

"""Protocol behaviour of our server seen through a raw (sans-I/O) client."""
from __future__ import annotations

import asyncio
import socket
import threading

import pva
from pva import BitSet, DataWithBitSet, nt
from pva.io.budget import MemoryBudget, MemoryLimits
from pva.server import DataWrapperBase, ServerLimits
from pva.server.ops.base import ServedChannel
from pva.server.ops.monitor import Monitor

from server_helpers import LOOPBACK, server_conf


def test_ports_reported(serve):
    srv = serve({"x": nt.NTScalarFloat64(value=1.0)})
    assert srv.port > 0 and srv.udp_port > 0
    with socket.create_connection((LOOPBACK, srv.port), timeout=5):
        pass


def test_get_field(serve, raw_client):
    srv = serve({"x": nt.NTScalarFloat64(value=1.0)})
    c = raw_client(srv.port)
    ch, reply = c.create_channel("x")
    assert reply.status.is_successful
    c.send(ch.read_interface())
    r = c.expect(pva.ChannelFieldInfoResponse)
    assert r.status.is_successful and r.interface == srv.ctx.pvdb["x"].structure
    c.send(ch.read_interface("alarm"))
    r = c.expect(pva.ChannelFieldInfoResponse)
    assert r.interface == srv.ctx.pvdb["x"].structure["alarm"]
    c.send(ch.read_interface("nosuch"))
    r = c.expect(pva.ChannelFieldInfoResponse)
    assert not r.status.is_successful


def test_create_unknown_channel(serve, raw_client):
    srv = serve({"x": nt.NTScalarFloat64(value=1.0)})
    c = raw_client(srv.port)
    ch, reply = c.create_channel("nope")
    assert not reply.status.is_successful and "nope" in reply.status.message


def test_get_put_destroy_request(serve, raw_client):
    pvdb = {"x": nt.NTScalarFloat64(value=1.0)}
    srv = serve(pvdb)
    c = raw_client(srv.port)
    ch, _ = c.create_channel("x")
    init = ch.write("field(value)")
    c.send(init)
    r = c.expect(pva.ChannelPutResponse)
    assert r.status.is_successful
    c.send(pva.ChannelPutRequest(ch.sid, init.ioid, 0x00,
                                 put_data=DataWithBitSet({"value": 7.5},
                                                         BitSet({r.put_structure_if.bit_of["value"]}))))
    assert c.expect(pva.ChannelPutResponse).status.is_successful
    c.send(pva.ChannelPutRequest(ch.sid, init.ioid, 0x40))  # get-for-put
    r = c.expect(pva.ChannelPutResponse)
    assert r.pv_data.data["value"] == 7.5
    c.send(pva.ChannelRequestDestroy(ch.sid, init.ioid))
    # a GET afterwards is still served, and the put request is gone on the server
    g = ch.read()
    c.send(g)
    c.expect(pva.ChannelGetResponse)
    c.send(pva.ChannelGetRequest(ch.sid, g.ioid, 0x10))  # exec + destroy
    r = c.expect(pva.ChannelGetResponse)
    assert r.pv_data.data["value"] == 7.5
    circuit = next(iter(srv.ctx.circuits))
    assert srv.call(lambda: (circuit.live_ops(), circuit.nops)) == ([], 0)


def test_cancel_request(serve, raw_client):
    started = threading.Event()
    cancelled = threading.Event()

    class Slow(DataWrapperBase):
        calls = 0

        async def write(self, update):
            Slow.calls += 1
            if Slow.calls == 1:
                started.set()
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    cancelled.set()
                    raise
            await super().write(update)

    srv = serve({"slow": Slow("slow", nt.NTScalarInt32(value=0))})
    c = raw_client(srv.port)
    ch, _ = c.create_channel("slow")
    init = ch.write()
    c.send(init)
    r = c.expect(pva.ChannelPutResponse)
    bit = r.put_structure_if.bit_of["value"]
    put = pva.ChannelPutRequest(ch.sid, init.ioid, 0x00,
                                put_data=DataWithBitSet({"value": 1}, BitSet({bit})))
    c.send(put)
    assert started.wait(5)
    c.send(pva.ChannelRequestCancel(ch.sid, init.ioid))
    assert cancelled.wait(5)
    # the request is idle again and can execute
    c.send(pva.ChannelPutRequest(ch.sid, init.ioid, 0x00,
                                 put_data=DataWithBitSet({"value": 2}, BitSet({bit}))))
    assert c.expect(pva.ChannelPutResponse).status.is_successful
    assert srv.call(lambda: srv.ctx.pvdb["slow"].data.value) == 2


def test_echo(serve, raw_client):
    srv = serve({"x": nt.NTScalarFloat64(value=1.0)})
    c = raw_client(srv.port)
    c.send(pva.Echo(b"ping!"))
    assert c.expect(pva.EchoReply).payload == b"ping!"
    c.send(pva.EchoRequest(1234, pva.CLIENT, c.vc.byte_order))
    assert c.expect(pva.EchoResponse).value == 1234


def test_destroy_channel_drops_monitor(serve, raw_client):
    srv = serve({"x": nt.NTScalarFloat64(value=1.0)})
    entry = srv.ctx.pvdb["x"]
    c = raw_client(srv.port)
    ch, _ = c.create_channel("x")
    c.send(ch.subscribe())
    c.expect(pva.ChannelMonitorResponse)
    assert srv.call(lambda: len(entry._subscribers)) == 1
    c.send(ch.disconnect())
    c.expect(pva.ChannelDestroyResponse)
    assert srv.call(lambda: len(entry._subscribers)) == 0


def test_monitor_pipeline_window_and_squash(serve, raw_client):
    srv = serve({"x": nt.NTScalarInt32(value=0)})
    entry = srv.ctx.pvdb["x"]
    c = raw_client(srv.port)
    ch, _ = c.create_channel("x")
    init = ch.subscribe("", queue_size=2)
    c.send(init)
    assert c.expect(pva.ChannelMonitorResponse).status.is_successful
    c.send(pva.ChannelMonitorRequest(ch.sid, init.ioid).to_start())
    first = c.expect(pva.ChannelMonitorResponse)
    assert first.pv_data.data["value"] == 0
    for i in range(1, 11):
        srv.call(lambda i=i: entry.commit({"value": i}))
    circuit = next(iter(srv.ctx.circuits))
    mon = srv.call(lambda: circuit.op(init.ioid))
    # window of 2: one more update went out, the rest waits squashed in <= 2 slots
    second = c.expect(pva.ChannelMonitorResponse)
    assert second.pv_data.data["value"] >= 1
    assert srv.call(lambda: (len(mon.queue) <= 2, mon.window)) == (True, 0)
    c.send(pva.ChannelMonitorRequest(ch.sid, init.ioid).to_pipeline(2))
    last = None
    overrun = BitSet()
    while last is None or last.pv_data.data["value"] != 10:
        last = c.expect(pva.ChannelMonitorResponse)
        overrun |= last.overrun_bitset or BitSet()
    assert first.pv_structure_if.bit_of["value"] in overrun


class _FakeConn:
    """The memory budget's view of a connection."""

    def __init__(self, budget):
        self.budget = budget
        self.held = self.reserved = 0
        self.validated = True
        self.closing = self.closed = False

    def charge(self, nbytes):
        return self.budget.charge(self, nbytes)

    def credit(self, nbytes):
        self.budget.credit(self, nbytes)


class _FakeCircuit:
    def __init__(self, per_connection=1 << 20):
        self.kicks = 0
        self.monitors = self
        self.conn = _FakeConn(MemoryBudget(MemoryLimits(per_connection=per_connection)))

    def kick(self, mon):
        self.kicks += 1

    def credit(self, nbytes):
        self.conn.credit(nbytes)


def test_monitor_queue_is_bounded():
    desc = nt.NTScalarInt32(value=0)._pva_struct_
    bit = desc.bit_of["value"]
    mon = Monitor(_FakeCircuit(), 1, ServedChannel(None), pva.PVRequest(), desc, BitSet({0}),
                  3, False)
    for i in range(1000):
        mon.post({"value": i}, BitSet({bit}))
    assert len(mon.queue) == 3
    snap, bits, overrun, _ = mon.queue[-1]     # the fields as masks
    assert snap == {"value": 999} and bits >> bit & 1 and overrun >> bit & 1
    assert not mon.queue[0][2]  # the first queued updates were not overrun


def test_monitor_updates_past_the_budget_are_squashed():
    desc = nt.NTScalarInt32(value=0)._pva_struct_
    bit = desc.bit_of["value"]
    circuit = _FakeCircuit(per_connection=1000)      # room for a few updates
    mon = Monitor(circuit, 1, ServedChannel(None), pva.PVRequest(), desc, BitSet({0}),
                  100, False)
    for i in range(100):
        mon.post({"value": i, "s": "x" * 100}, BitSet({bit}))
    assert 1 < len(mon.queue) < 10
    assert mon.queue[-1][0]["value"] == 99 and mon.queue[-1][2] >> bit & 1
    assert circuit.conn.held <= 1000
    mon.stop().close()                  # (its unsubscribe: there is no data wrapper)
    assert circuit.conn.held == 0 and circuit.conn.budget.in_use == 0


def test_limit_channels(serve, raw_client):
    srv = serve({f"x{i}": nt.NTScalarInt32(value=i) for i in range(3)},
                limits=ServerLimits(max_channels=2))
    c = raw_client(srv.port)
    assert c.create_channel("x0")[1].status.is_successful
    assert c.create_channel("x1")[1].status.is_successful
    _, r = c.create_channel("x2")
    assert not r.status.is_successful and "too many channels" in r.status.message


def test_limit_operations(serve, raw_client):
    srv = serve({"x": nt.NTScalarInt32(value=0)}, limits=ServerLimits(max_operations=1))
    c = raw_client(srv.port)
    ch, _ = c.create_channel("x")
    c.send(ch.read())
    assert c.expect(pva.ChannelGetResponse).status.is_successful
    c.send(ch.read())
    r = c.expect(pva.ChannelGetResponse)
    assert not r.status.is_successful and "too many operations" in r.status.message


def test_limit_message_size_closes_circuit(serve, raw_client, caplog):
    srv = serve({"x": nt.NTScalarArrayFloat64(value=[0.0])},
                limits=ServerLimits(max_message_size=4096))
    c = raw_client(srv.port)
    ch, _ = c.create_channel("x")
    init = ch.write()
    c.send(init)
    r = c.expect(pva.ChannelPutResponse)
    bit = r.put_structure_if.bit_of["value"]
    c.send(pva.ChannelPutRequest(ch.sid, init.ioid, 0x00, put_data=DataWithBitSet(
        {"value": [1.0] * 10000}, BitSet({bit}))))
    assert c.wait_closed()
    assert any("closing circuit" in r.getMessage() for r in caplog.records)


def test_connection_refused_by_authorize(serve, raw_client):
    def refuse(auth):
        raise PermissionError(f"go away {auth['user']}")

    srv = serve({"x": nt.NTScalarInt32(value=0)}, authorize=refuse)
    c = raw_client(srv.port, validate=False)
    r = c.validate()
    assert not r.status.is_successful and "go away" in r.status.message
    assert c.wait_closed()


def test_anonymous_validation(serve, raw_client):
    seen = []
    srv = serve({"x": nt.NTScalarInt32(value=0)}, authorize=seen.append)
    c = raw_client(srv.port, validate=False)
    assert c.validate(auth="anonymous").status.is_successful
    assert seen[0]["method"] == "anonymous" and seen[0]["user"] == ""


def test_inactivity_timeout(serve, raw_client):
    srv = serve({"x": nt.NTScalarInt32(value=0)}, server_conf(EPICS_PVA_CONN_TMO=0.3))
    c = raw_client(srv.port)
    assert c.wait_closed()


def test_protocol_violation_closes_circuit(serve, raw_client):
    srv = serve({"x": nt.NTScalarInt32(value=0)})
    c = raw_client(srv.port)
    # a GET on a channel that was never created
    c.vc = pva.ClientVirtualCircuit(address=("127.0.0.1", srv.port))
    bad = pva.ChannelGetRequest(99, 1, 0x08, "")
    w = pva.messages.encode_message(bad, c.vc.byte_order, pva.messages.MessageContext())
    c.send_raw(b"".join(bytes(b) for b in w))
    assert c.wait_closed()


def _udp_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((LOOPBACK, 0))
    s.settimeout(10)
    return s


def test_udp_search(serve):
    srv = serve({"a": nt.NTScalarInt32(value=0), "b": nt.NTScalarInt32(value=0)})
    bc = pva.Broadcaster(pva.CLIENT)
    with _udp_socket() as s:
        req = bc.search(["a", "nope", "b"], reply_address=("0.0.0.0", s.getsockname()[1]))
        s.sendto(b"".join(bc.send(req)), (LOOPBACK, srv.udp_port))
        data, addr = s.recvfrom(65536)
        (resp,) = bc.recv(data, addr)
        found = bc.process_command(resp, addr)
        assert sorted(n for n, _ in found) == ["a", "b"]
        assert {a for _, a in found} == {(LOOPBACK, srv.port)}
        assert resp.guid == srv.ctx.guid
        # a search that must be answered even if nothing is found
        req = bc.search(["nope"], reply_address=("0.0.0.0", s.getsockname()[1]),
                        reply_required=True)
        s.sendto(b"".join(bc.send(req)), (LOOPBACK, srv.udp_port))
        data, addr = s.recvfrom(65536)
        (resp,) = bc.recv(data, addr)
        assert not resp.found and bc.process_command(resp, addr) == []
        # garbage does not stop the listener
        s.sendto(b"\x00garbage" * 10, (LOOPBACK, srv.udp_port))
        req = bc.search(["a"], reply_address=("0.0.0.0", s.getsockname()[1]))
        s.sendto(b"".join(bc.send(req)), (LOOPBACK, srv.udp_port))
        data, addr = s.recvfrom(65536)
        (resp,) = bc.recv(data, addr)
        assert resp.found


def test_search_over_tcp(serve, raw_client):
    srv = serve({"a": nt.NTScalarInt32(value=0)})
    c = raw_client(srv.port)
    c.send(pva.SearchRequest(5, ("0.0.0.0", 0), [(1, "a"), (2, "zz")]))
    c.vc._searches.add(5)
    r = c.expect(pva.SearchResponse)
    assert r.found and r.search_instance_ids == [1] and r.server_port == srv.port


def test_beacons(serve):
    with _udp_socket() as s:
        port = s.getsockname()[1]
        srv = serve({"a": nt.NTScalarInt32(value=0)},
                    server_conf(EPICS_PVAS_BEACON_ADDR_LIST=f"{LOOPBACK}:{port}"))
        data, addr = s.recvfrom(65536)
        (beacon,) = pva.Broadcaster(pva.CLIENT).recv(data, addr)
        assert isinstance(beacon, pva.Beacon)
        assert beacon.guid == srv.ctx.guid and beacon.server_port == srv.port


def test_monitor_stop_and_start(serve, raw_client):
    srv = serve({"x": nt.NTScalarInt32(value=0)})
    entry = srv.ctx.pvdb["x"]
    c = raw_client(srv.port)
    ch, _ = c.create_channel("x")
    init = ch.subscribe("record[queueSize=4]")
    c.send(init)
    c.expect(pva.ChannelMonitorResponse)
    c.send(pva.ChannelMonitorRequest(ch.sid, init.ioid).to_start())
    assert c.expect(pva.ChannelMonitorResponse).pv_data.data["value"] == 0
    c.send(pva.ChannelMonitorRequest(ch.sid, init.ioid).to_stop())
    c.send(pva.Echo(b"sync"))
    c.expect(pva.EchoReply)          # the stop has been processed
    for i in range(1, 7):
        srv.call(lambda i=i: entry.commit({"value": i}))
    c.send(pva.ChannelMonitorRequest(ch.sid, init.ioid).to_start())
    got = [c.expect(pva.ChannelMonitorResponse) for _ in range(4)]
    # nothing was sent while stopped; the queue of 4 kept 1, 2, 3 and 4..6 squashed
    assert [m.pv_data.data["value"] for m in got] == [1, 2, 3, 6]
    bit = got[0].pv_structure_if.bit_of["value"]
    assert [bit in (m.overrun_bitset or BitSet()) for m in got] == [False, False, False, True]


def test_posts_in_one_iteration_go_out_in_one_write_in_order(serve, raw_client):
    import struct
    srv = serve({"a": nt.NTScalarInt32(value=0), "b": nt.NTScalarInt32(value=0)})
    c = raw_client(srv.port)
    inits = {}
    for name in ("a", "b"):
        ch, _ = c.create_channel(name)
        init = ch.subscribe("record[queueSize=4]")
        c.send(init)
        c.expect(pva.ChannelMonitorResponse)
        c.send(pva.ChannelMonitorRequest(ch.sid, init.ioid).to_start())
        c.expect(pva.ChannelMonitorResponse)
        inits[name] = init.ioid
    c.send(pva.Echo(b"sync"))
    c.expect(pva.EchoReply)          # everything before has been written
    circuit = next(iter(srv.ctx.circuits))
    writes = []

    def record():
        transport = circuit.conn.transport
        write = transport.write

        def recording_write(data):
            writes.append(bytes(data))
            write(data)
        transport.write = recording_write
        transport.writelines = lambda bufs: recording_write(b"".join(bufs))
    srv.call(record)

    async def post_three():          # no await yields: one loop iteration
        a, b = srv.ctx.pvdb["a"], srv.ctx.pvdb["b"]
        await a.commit({"value": 1})
        await b.commit({"value": 1})
        await a.commit({"value": 2})
    srv.call(post_three)
    got = [c.expect(pva.ChannelMonitorResponse) for _ in range(3)]
    assert [(m.ioid, m.pv_data.data["value"]) for m in got] == \
        [(inits["a"], 1), (inits["b"], 1), (inits["a"], 2)]
    assert len(writes) == 1
    # the one write holds the three monitor messages, whole
    data, offset, commands = writes[0], 0, []
    while offset < len(data):
        flags, command = data[offset + 2], data[offset + 3]
        size, = struct.unpack_from(">I" if flags & 0x80 else "<I", data, offset + 4)
        commands.append(command)
        offset += 8 + size
    assert offset == len(data) and commands == [13, 13, 13]


def test_slow_consumer_memory_is_bounded(serve, raw_client):
    import numpy as np
    srv = serve({"big": nt.NTScalarArrayFloat64(value=[0.0])})
    entry = srv.ctx.pvdb["big"]
    c = raw_client(srv.port)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    ch, _ = c.create_channel("big")
    init = ch.subscribe("record[queueSize=3]")
    c.send(init)
    c.expect(pva.ChannelMonitorResponse)
    c.send(pva.ChannelMonitorRequest(ch.sid, init.ioid).to_start())
    c.expect(pva.ChannelMonitorResponse)
    # the client stops reading; the server keeps publishing 800 kB arrays
    n = 200
    for i in range(n):
        srv.call(lambda i=i: entry.commit({"value": np.full(100000, float(i))}))
    circuit = next(iter(srv.ctx.circuits))
    mon = srv.call(lambda: circuit.op(init.ioid))
    assert srv.call(lambda: len(mon.queue)) <= 3
    # at most a couple of updates sit in the transport buffer (not 200 x 800 kB)
    assert srv.call(lambda: circuit.conn.transport.get_write_buffer_size()) < 4 * 800_000
    last = None
    while last is None or last.pv_data.data["value"][0] != n - 1:
        last = c.expect(pva.ChannelMonitorResponse)
    assert (last.pv_data.data["value"] == n - 1).all()


def test_failed_and_destroyed_channels_are_forgotten(serve, raw_client):
    from pva._rules import MAX_REMEMBERED_DEAD
    srv = serve({"x": nt.NTScalarInt32(value=0)})
    c = raw_client(srv.port)
    n = MAX_REMEMBERED_DEAD + 3000
    cid = 1
    for start in range(0, n, 2000):
        names = [(cid + i, f"missing{cid + i}") for i in range(min(2000, n - start))]
        cid += len(names)
        c.send(pva.CreateChannelRequest(names))
        for _ in names:
            assert not c.expect(pva.CreateChannelResponse).status.is_successful
    for _ in range(50):  # create and destroy real channels too
        ch, _ = c.create_channel("x")
        c.send(ch.disconnect())
        c.expect(pva.ChannelDestroyResponse)
    circuit = next(iter(srv.ctx.circuits))
    sizes = srv.call(lambda: (len(circuit.vc.channels), len(circuit.vc._by_sid),
                              circuit.nchannels))
    assert sizes[0] <= MAX_REMEMBERED_DEAD and sizes[1] <= MAX_REMEMBERED_DEAD
    assert sizes[2] == 0
    ch, r = c.create_channel("x")
    assert r.status.is_successful


def test_value_that_cannot_be_encoded_is_an_error(serve, raw_client):
    class Broken(DataWrapperBase):
        async def read(self, request):
            return {"value": "not a number"}

    srv = serve({"b": Broken("b", nt.NTScalarFloat64(value=0.0))})
    c = raw_client(srv.port)
    ch, _ = c.create_channel("b")
    g = ch.read()
    c.send(g)
    c.expect(pva.ChannelGetResponse)
    c.send(pva.ChannelGetRequest(ch.sid, g.ioid, 0x00))
    r = c.expect(pva.ChannelGetResponse)
    assert not r.status.is_successful and "server" in r.status.message
    c.send(pva.ChannelGetRequest(ch.sid, g.ioid, 0x00))  # the request is usable again
    assert not c.expect(pva.ChannelGetResponse).status.is_successful

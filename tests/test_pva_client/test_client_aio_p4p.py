"""asyncio Context against a p4p (pvxs) server; values compared with p4p's own client."""
from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from pva import FieldType, PVRequestError
from pva._values import _values_equal
from pva.client import Context, Disconnected, RemoteError, Timeout, Value

from client_helpers import client_conf, free_tcp_port, free_udp_port

pytestmark = pytest.mark.timeout(60)


def run(coro):
    return asyncio.run(coro)


def p4p_ctx(conf):
    from p4p.client.thread import Context as P4PContext
    return P4PContext("pva", conf=conf, useenv=False, nt=False)


def make_pvs():
    from p4p.nt import NTEnum, NTScalar, NTTable
    from p4p.server.thread import SharedPV

    def writable(pv):
        @pv.put
        def onput(p, op):
            p.post(op.value())
            op.done()
        return pv

    pvs = {
        "d": writable(SharedPV(nt=NTScalar("d", display=True), initial=1.5)),
        "i": writable(SharedPV(nt=NTScalar("i"), initial=7)),
        "s": writable(SharedPV(nt=NTScalar("s"), initial="hello")),
        "ad": writable(SharedPV(nt=NTScalar("ad"), initial=np.arange(5.0))),
        "as": writable(SharedPV(nt=NTScalar("as"), initial=["a", "bc"])),
        "e": writable(SharedPV(nt=NTEnum(), initial={"index": 1, "choices": ["zero", "one", "two"]})),
        "t": SharedPV(nt=NTTable([("x", "i"), ("name", "s")]),
                      initial=[{"x": 1, "name": "a"}, {"x": 2, "name": "b"}]),
    }
    refuse = SharedPV(nt=NTScalar("d"), initial=0.0)

    @refuse.put
    def no(pv, op):
        op.done(error="refused: read only here")
    pvs["ro"] = refuse

    calls = []
    rpc = SharedPV(nt=NTScalar("d"), initial=0.0)

    @rpc.rpc
    def onrpc(pv, op):
        args = op.value()
        calls.append(args)
        if "fail" in args:
            op.done(error="bad argument")
            return
        op.done(NTScalar("d").wrap(float(args.a) * 2))
    pvs["rpc"] = rpc
    return pvs, calls


@pytest.fixture
def server(p4p_server):
    pvs, calls = make_pvs()
    srv, conf = p4p_server([{f"x:{k}": v for k, v in pvs.items()}])
    return pvs, calls, conf


def test_get_matches_p4p(server):
    pvs, _, conf = server
    names = [f"x:{k}" for k in ("d", "i", "s", "ad", "as", "e", "t")]

    async def main():
        async with Context(conf=conf, useenv=False) as ctx:
            return await ctx.get(names)
    ours = run(main())
    theirs = p4p_ctx(conf)
    try:
        for name, v in zip(names, ours):
            ref = theirs.get(name)
            assert isinstance(v, Value)
            assert v.type.type_id == ref.getID()
            assert _values_equal(v.todict(), ref.todict()), (name, v, ref)
    finally:
        theirs.close()
    d = ours[0]
    assert d.value == 1.5 and d["value"] == 1.5 and d.alarm.severity == 0
    assert d["alarm.severity"] == 0
    assert isinstance(ours[3].value, np.ndarray)
    assert ours[3].value.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert ours[0].unwrap() == 1.5
    assert type(d.todict()) is dict and type(d.todict()["alarm"]) is dict


def test_get_with_request(server):
    _, _, conf = server

    async def main():
        async with Context(conf=conf, useenv=False) as ctx:
            return await ctx.get("x:d", "field(value,alarm.severity)")
    v = run(main())
    assert v.value == 1.5
    # pvxs sends the whole type and marks the selected fields it has
    assert "value" in v.changed_fields and "timeStamp" not in v.changed_fields
    theirs = p4p_ctx(conf)
    try:
        ref = theirs.get("x:d", "field(value,alarm.severity)")
    finally:
        theirs.close()
    assert ref.changedSet() == set(v.changed_fields)


def test_put_then_read_with_p4p(server):
    pvs, _, conf = server

    async def main():
        async with Context(conf=conf, useenv=False) as ctx:
            await ctx.put("x:d", 4.25)
            await ctx.put("x:i", "12")               # strings convert as pvput does
            await ctx.put("x:s", "world")
            await ctx.put("x:ad", [1, 2, 3])
            await ctx.put("x:as", ["x", "y", "z"])
            await ctx.put("x:e", "two")              # enum by choice name
            await ctx.put("x:d", {"value": 5.5, "alarm": {"severity": 1}})
            await ctx.put(["x:i", "x:s"], [13, "again"])
    run(main())
    theirs = p4p_ctx(conf)
    try:
        assert theirs.get("x:d").value == 5.5
        assert theirs.get("x:d").alarm.severity == 1
        assert theirs.get("x:i").value == 13
        assert theirs.get("x:s").value == "again"
        assert theirs.get("x:ad").value.tolist() == [1.0, 2.0, 3.0]
        assert list(theirs.get("x:as").value) == ["x", "y", "z"]
        assert theirs.get("x:e").value.index == 2
    finally:
        theirs.close()


def test_info(server):
    _, _, conf = server

    async def main():
        async with Context(conf=conf, useenv=False) as ctx:
            return await ctx.info("x:ad"), await ctx.get("x:ad")
    desc, v = run(main())
    assert desc == v.type
    assert desc.children["value"].field_type == FieldType.float64 and desc.children["value"].is_array


def test_rpc(server):
    _, calls, conf = server

    async def main():
        async with Context(conf=conf, useenv=False) as ctx:
            r = await ctx.rpc("x:rpc", {"a": 21.0})
            with pytest.raises(RemoteError, match="bad argument") as ei:
                await ctx.rpc("x:rpc", {"fail": 1})
            assert ei.value.name == "x:rpc"
            return r
    r = run(main())
    assert r.value == 42.0
    assert calls[0]["a"] == 21.0


def test_monitor_sees_puts_from_p4p(server):
    pvs, _, conf = server
    theirs = p4p_ctx(conf)

    async def main():
        got = []
        async with Context(conf=conf, useenv=False) as ctx:
            async with ctx.monitor("x:d") as sub:
                async for v in sub:
                    got.append(v)
                    if len(got) == 4:
                        break
                    # put through p4p's client, off the event loop
                    await asyncio.get_running_loop().run_in_executor(
                        None, theirs.put, "x:d", 10.0 + len(got))
        return got
    try:
        got = run(main())
    finally:
        theirs.close()
    assert [v.value for v in got] == [1.5, 11.0, 12.0, 13.0]
    assert got[1].changed_fields  # partial updates carry the changed fields
    assert all(v.type.type_id.startswith("epics:nt/NTScalar") for v in got)


def test_monitor_callback_and_pipeline(server):
    """Flow control: with pipeline=true the server waits for our acks; the
    last value always arrives (the server's queue may squash older ones)."""
    pvs, _, conf = server

    async def main():
        seen = []
        done = asyncio.Event()

        async def cb(v):
            seen.append(v)
            await asyncio.sleep(0.001)   # a slow consumer
            if v.value == 149:
                done.set()
        async with Context(conf=conf, useenv=False) as ctx:
            sub = ctx.monitor("x:i", cb, "record[pipeline=true,queueSize=4]")
            while not seen:
                await asyncio.sleep(0.01)
            for i in range(50):
                pvs["i"].post(100 + i)
                await asyncio.sleep(0)
            await asyncio.wait_for(done.wait(), 10)
            sub.close()
            return seen, sub._op
    seen, op = run(main())
    vals = [v.value for v in seen]
    assert vals[0] == 7 and vals[-1] == 149
    assert vals == sorted(vals) and len(set(vals)) == len(vals)
    assert op.pipeline and op.queue_size == 4


def test_channel_object_and_shared_connection(server):
    _, _, conf = server

    async def main():
        async with Context(conf=conf, useenv=False) as ctx:
            ch = ctx.channel("x:d")
            await ch.wait_connected(5)
            assert ch.connected and ch.server is not None
            v = await ch.get()
            await ch.put(v.value + 1)
            v2 = await ch.get()
            other = ctx.channel("x:i")
            await other.wait_connected(5)
            # one TCP connection for both channels of the same server
            assert len(ctx.core.circuits) == 1
            return v.value, v2.value
    assert run(main()) == (1.5, 2.5)


def test_unknown_pv_times_out_naming_it(server):
    _, _, conf = server

    async def main():
        async with Context(conf=conf, useenv=False) as ctx:
            with pytest.raises(Timeout) as ei:
                await ctx.get("x:does-not-exist", timeout=0.5)
            return ei.value
    err = run(main())
    assert "x:does-not-exist" in str(err) and "not found" in str(err)
    assert isinstance(err, TimeoutError)


def test_bad_pvrequest():
    async def main():
        async with Context(conf=client_conf(free_udp_port()), useenv=False) as ctx:
            with pytest.raises(PVRequestError) as ei:
                await ctx.get("x:d", "field(value")
            return ei.value
    err = run(main())
    assert err.position == len("field(value")


def test_put_value_that_does_not_fit(server):
    pvs, _, conf = server
    puts = []
    orig = pvs["d"]._handler.put

    def spy(pv, op):
        puts.append(op.value())
        orig(pv, op)
    pvs["d"]._handler.put = spy

    async def main():
        async with Context(conf=conf, useenv=False) as ctx:
            with pytest.raises(ValueError, match="x:d.*'abc'.*float64"):
                await ctx.put("x:d", "abc")
            with pytest.raises(ValueError, match="no field 'nope'"):
                await ctx.put("x:d", {"nope": 1})
            with pytest.raises(ValueError, match="out of range"):
                await ctx.put("x:i", 2**40)
            with pytest.raises(ValueError, match="not one of the choices"):
                await ctx.put("x:e", "three")
            return await ctx.get("x:d")
    v = run(main())
    assert v.value == 1.5 and puts == []


def test_server_error_status(server):
    _, _, conf = server

    async def main():
        async with Context(conf=conf, useenv=False) as ctx:
            with pytest.raises(RemoteError, match="refused: read only here") as ei:
                await ctx.put("x:ro", 1.0)
            return ei.value
    err = run(main())
    assert err.name == "x:ro"


def test_reconnect_monitor_resumes(p4p_server):
    """Restart the server on the same port mid-monitor: Disconnected, then updates again."""
    from p4p.nt import NTScalar
    from p4p.server.thread import SharedPV

    tcp, udp = free_tcp_port(), free_udp_port()
    pv1 = SharedPV(nt=NTScalar("d"), initial=1.0)
    srv1, conf = p4p_server([{"r:d": pv1}], tcp_port=tcp, udp_port=udp)

    async def main():
        items = []
        async with Context(conf=conf, useenv=False) as ctx:
            sub = ctx.monitor("r:d")
            items.append(await sub.__anext__())
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, srv1.stop)
            items.append(await asyncio.wait_for(sub.__anext__(), 10))
            pv2 = SharedPV(nt=NTScalar("d"), initial=2.0)
            await loop.run_in_executor(None, lambda: p4p_server([{"r:d": pv2}], tcp_port=tcp,
                                                               udp_port=udp))
            items.append(await asyncio.wait_for(sub.__anext__(), 20))
            pv2.post(3.0)
            items.append(await asyncio.wait_for(sub.__anext__(), 10))
            # one-shot operations work on the new connection too
            items.append(await ctx.get("r:d"))
            sub.close()
        return items
    items = run(main())
    assert items[0].value == 1.0
    assert isinstance(items[1], Disconnected) and items[1].name == "r:d"
    assert [v.value for v in items[2:]] == [2.0, 3.0, 3.0]


def test_beacon_triggers_search(p4p_server):
    """A server that appears later is found through its beacon: the client's
    search interval is 300 s, so after the first search (before the server
    exists) only the reaction to the p4p server's beacon can find it in time."""
    from p4p.nt import NTScalar
    from p4p.server.thread import SharedPV

    udp = free_udp_port()
    conf = client_conf(udp)
    conf["EPICS_PVA_BROADCAST_PORT"] = str(free_udp_port())
    beacon_port = int(conf["EPICS_PVA_BROADCAST_PORT"])

    async def main():
        ctx = Context(conf=conf, useenv=False)
        ctx.config.search_min = ctx.config.search_max = 300.0
        async with ctx:
            ch = ctx.channel("b:d")
            shared = ctx.core.channels["b:d"]
            while shared.searches < 1 or ctx._beacon is None:   # searched once, listening
                await asyncio.sleep(0.01)
            pv = SharedPV(nt=NTScalar("d"), initial=5.0)
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: p4p_server([{"b:d": pv}], udp_port=udp, beacon_to=beacon_port))
            await ch.wait_connected(20)
            return shared.searches, len(ctx.core.servers), (await ch.get()).value
    searches, servers, value = run(main())
    assert searches == 2 and servers == 1 and value == 5.0


def test_name_server_only(p4p_server):
    """A server reachable only through EPICS_PVA_NAME_SERVERS (no UDP search) is found."""
    from p4p.nt import NTScalar
    from p4p.server.thread import SharedPV

    pv = SharedPV(nt=NTScalar("d"), initial=8.0)
    srv, _ = p4p_server([{"ns:d": pv}])
    port = int(srv.conf()["EPICS_PVAS_SERVER_PORT"])
    conf = client_conf(None, name_server_port=port)

    async def main():
        async with Context(conf=conf, useenv=False) as ctx:
            assert ctx.config.addr_list == []
            v = await ctx.get("ns:d", timeout=10)
            with pytest.raises(Timeout, match="ns:nope"):
                await ctx.get("ns:nope", timeout=0.5)
            return v
    assert run(main()).value == 8.0


def test_concurrent_contexts_in_threads(server):
    """Two event loops in two threads, each with its own context."""
    _, _, conf = server
    out = {}

    def worker(i):
        async def main():
            async with Context(conf=conf, useenv=False) as ctx:
                return [(await ctx.get("x:i")).value for _ in range(20)]
        out[i] = asyncio.run(main())
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert out == {0: [7] * 20, 1: [7] * 20}


def test_get_reuses_open_request_and_sees_new_values(server):
    pvs, _, conf = server

    async def main():
        async with Context(conf=conf, useenv=False) as ctx:
            a = await ctx.get("x:i")
            ch = ctx.core.channels["x:i"]
            (ioid, _), = ch.idle_gets.values()
            pvs["i"].post(8)
            b = await ctx.get("x:i")
            assert ch.idle_gets[str(parse_request(""))][0] == ioid  # the same request, again
            # concurrent gets: one re-uses the idle request, the others open their own
            pvs["i"].post(9)
            many = await asyncio.gather(*(ctx.get("x:i") for _ in range(10)))
            other = await ctx.get("x:i", "field(value)")
            assert set(ch.idle_gets) == {str(parse_request("")), str(parse_request("field(value)"))}
            return a.value, b.value, [v.value for v in many], other.value
    from pva.client.core import parse_request
    assert run(main()) == (7, 8, [9] * 10, 9)


def test_monitor_large_queue_keeps_every_update(server):
    """A burst faster than the consumer: with ``record[queueSize=N]`` the
    local queue holds N updates too, so none of the burst is dropped; the
    successive values stay distinct snapshots (unchanged parts shared)."""
    pvs, _, conf = server
    burst = 3000

    async def main():
        async with Context(conf=conf, useenv=False) as ctx:
            async with ctx.monitor("x:i", request="record[queueSize=5000]") as sub:
                it = sub.__aiter__()
                first = await it.__anext__()
                # the server posts the whole burst before we read any of it
                await asyncio.get_running_loop().run_in_executor(
                    None, lambda: [pvs["i"].post(1000 + k) for k in range(burst)])
                got = []
                async for v in sub:
                    got.append(v)
                    if v.value == 1000 + burst - 1:
                        break
                return first, got, sub.dropped
    first, got, dropped = run(main())
    assert dropped == 0
    assert [v.value for v in got] == list(range(1000, 1000 + burst))
    assert first.value == 7
    assert got[0]["alarm"] is got[1]["alarm"]          # not copied per update

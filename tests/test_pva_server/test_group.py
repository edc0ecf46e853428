"""PVAGroup / pvaproperty / WriteUpdate / ServerRPC (caproto.pva 0.8 API), through p4p."""
from __future__ import annotations

import asyncio
import queue
import threading

import pytest
from p4p import Type, Value
from p4p.client.thread import RemoteError

import pva
from pva import nt
from pva.server import (DatabaseDefinitionError, PVAGroup, ServerRPC, WriteUpdate,
                        pva_dataclass, pvaproperty)
from pva.server.group import SignatureDefinitionError


@pva_dataclass
class MyData:
    value: int
    info: str


@pva_dataclass
class Nested:
    my_data: MyData
    value: float


class Demo(PVAGroup):
    plain = pvaproperty(value=MyData(value=1, info="one"))
    accept_value = pvaproperty(value=MyData(value=2, info="two"))
    reject_info = pvaproperty(value=Nested)
    ro = pvaproperty(value=3.5, read_only=True)
    counter = pvaproperty(value=MyData(value=0, info=""))
    rpc = pvaproperty(value=MyData())
    flt = pvaproperty(value=1.5)
    strs = pvaproperty(value=["a", "b"])
    coerced = pvaproperty(value=MyData(value=0, info=""))

    @accept_value.putter
    async def accept_value(self, instance, update: WriteUpdate):
        assert "value" in update
        update.accept("value")

    @reject_info.putter
    async def reject_info(self, instance, update: WriteUpdate):
        update.reject("my_data.info")

    @coerced.putter
    async def coerced(self, instance, update: WriteUpdate):
        # putters may change what gets written through the overlay
        instance.info = f"set to {update.instance.value}"

    @counter.startup
    async def counter(self, instance, async_lib):
        self.tick = asyncio.Event()
        self.started.set()
        while True:
            await self.tick.wait()
            self.tick.clear()
            async with self.counter as counter:
                counter.value = counter.value + 1
                counter.info = f"count {counter.value}"
            self.ticked.set()

    @counter.shutdown
    async def counter(self, instance, async_lib):
        self.shut_down.set()

    @rpc.call
    async def rpc(self, instance, data):
        return MyData(value=int(data.a) * 2, info=f"doubled {data.a}")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.started = threading.Event()
        self.shut_down = threading.Event()
        self.ticked = threading.Event()
        self.tick = None


@pytest.fixture
def demo(serve):
    ioc = Demo("demo:")
    info = ServerRPC(prefix="demo:", server_instance=ioc)
    ioc.pvdb.update(info.pvdb)
    srv = serve(ioc.pvdb)
    return srv, ioc


def test_pvdb_names(demo):
    srv, ioc = demo
    assert "demo:plain" in ioc.pvdb and "demo:server" in ioc.pvdb
    assert isinstance(ioc.pvdb["demo:flt"].data, nt.NTScalarFloat64)
    assert isinstance(ioc.pvdb["demo:strs"].data, nt.NTScalarArrayString)


def test_put_accept_reject(demo, p4p_client):
    srv, ioc = demo
    c = p4p_client(srv)
    c.put("demo:plain", {"value": 10, "info": "ten"}, timeout=5)
    assert c.get("demo:plain", timeout=5).todict() == {"value": 10, "info": "ten"}
    c.put("demo:accept_value", {"value": 20, "info": "ignored"}, timeout=5)
    assert c.get("demo:accept_value", timeout=5).todict() == {"value": 20, "info": "two"}
    c.put("demo:reject_info", {"my_data.value": 5, "my_data.info": "no", "value": 2.5},
          timeout=5)
    got = c.get("demo:reject_info", timeout=5).todict()
    assert got == {"my_data": {"value": 5, "info": ""}, "value": 2.5}
    c.put("demo:coerced", {"value": 7}, timeout=5)
    assert c.get("demo:coerced", timeout=5).todict() == {"value": 7, "info": "set to 7"}


def test_read_only(demo, p4p_client):
    srv, ioc = demo
    c = p4p_client(srv)
    with pytest.raises(RemoteError, match="read-only"):
        c.put("demo:ro", 1.0, timeout=5)
    assert c.get("demo:ro", timeout=5).value == 3.5


def test_startup_loop_commit_and_shutdown(serve, p4p_client):
    ioc = Demo("d2:")
    srv = serve(ioc.pvdb)
    assert ioc.started.wait(5)
    c = p4p_client(srv)
    q = queue.Queue()
    sub = c.monitor("d2:counter", q.put)
    try:
        assert q.get(timeout=5).todict() == {"value": 0, "info": ""}
        for i in range(1, 4):
            ioc.ticked.clear()
            srv.loop.call_soon_threadsafe(ioc.tick.set)
            assert ioc.ticked.wait(5)
            upd = q.get(timeout=5)
            # one commit -> one update holding both fields
            assert upd.todict() == {"value": i, "info": f"count {i}"}
            assert upd.changedSet() == {"value", "info"}
    finally:
        sub.close()
    srv.stop()
    assert ioc.shut_down.is_set()


def test_rpc_call(demo, p4p_client):
    srv, ioc = demo
    c = p4p_client(srv)
    res = c.rpc("demo:rpc", Value(Type([("a", "i")]), {"a": 21}), timeout=5)
    assert res.todict() == {"value": 42, "info": "doubled 21"}
    with pytest.raises(RemoteError, match="RPC"):
        c.rpc("demo:plain", Value(Type([("a", "i")]), {"a": 1}), timeout=5)


def test_server_rpc_channels(demo, p4p_client):
    srv, ioc = demo
    from p4p.nt import NTURI
    c = p4p_client(srv)
    uri = NTURI([("op", "s")]).wrap("demo:server", kws={"op": "channels"})
    res = c.rpc("demo:server", uri, timeout=5)
    assert list(res.value) == sorted(n for n in ioc.pvdb if n != "demo:server")
    info = c.rpc("demo:server", NTURI([("op", "s")]).wrap("demo:server", kws={"op": "info"}),
                 timeout=5)
    assert info.implLang == "python"
    with pytest.raises(RemoteError, match="malformed"):
        c.rpc("demo:server", NTURI([("op", "s")]).wrap("demo:server", kws={"op": "bogus"}),
              timeout=5)


def test_async_with_call_changes(serve, p4p_client):
    ioc = Demo("d3:")
    srv = serve(ioc.pvdb)

    async def change():
        async with ioc.plain(changes={"value": 99}) as plain:
            plain.info = "ninety-nine"
    srv.call(change)
    c = p4p_client(srv)
    assert c.get("d3:plain", timeout=5).todict() == {"value": 99, "info": "ninety-nine"}


def test_exception_in_async_with_commits_nothing(serve):
    ioc = Demo("d4:")
    srv = serve(ioc.pvdb)

    async def fail():
        async with ioc.plain as plain:
            plain.value = 1000
            raise KeyError("abort")
    with pytest.raises(KeyError):
        srv.call(fail)
    assert ioc.plain.data.value == 1


def test_write_update_api():
    class W:
        data = MyData()
    changes = {"value": 1, "info": "x"}
    wu = WriteUpdate(W(), pva.server.DataclassOverlayInstance(MyData(), changes=changes), changes)
    assert "value" in wu and "nope" not in wu
    wu.reject("info")
    assert wu.changes == {"value": 1}
    wu.accept()
    assert wu.changes == {}


def test_definition_errors():
    with pytest.raises(SignatureDefinitionError):
        class Bad(PVAGroup):
            x = pvaproperty(value=1)

            @x.putter
            def x(self, instance, update):  # not async
                pass

    with pytest.raises(SignatureDefinitionError):
        class Bad2(PVAGroup):
            x = pvaproperty(value=1, read_only=True)

            @x.putter
            async def x(self, instance, update):
                pass

    class Dup(PVAGroup):
        a = pvaproperty(value=1, name="same")
        b = pvaproperty(value=2, name="same")
    with pytest.raises(DatabaseDefinitionError):
        Dup("p:")


def test_macros_and_inheritance():
    class Base(PVAGroup):
        a = pvaproperty(value=1, name="{sys}:a")

    class Child(Base):
        b = pvaproperty(value=2.0)

    ioc = Child("pre:", macros={"sys": "S1"})
    assert set(ioc.pvdb) == {"pre:S1:a", "pre:b"}


def test_top_level_names():
    assert pva.PVAGroup is PVAGroup and pva.ServerRPC is ServerRPC
    assert pva.WriteUpdate is WriteUpdate


class WithGetter(PVAGroup):
    reads = pvaproperty(value=MyData(value=0, info="never read"))

    @reads.getter
    async def reads(self, instance, request):
        instance.value = instance.value + 1
        instance.info = f"read {instance.value} times"


def test_getter_changes_are_committed(serve, p4p_client):
    ioc = WithGetter("g:")
    srv = serve(ioc.pvdb)
    c = p4p_client(srv)
    q = queue.Queue()
    sub = c.monitor("g:reads", q.put)
    try:
        assert q.get(timeout=5).value == 0
        assert c.get("g:reads", timeout=5).todict() == {"value": 1, "info": "read 1 times"}
        assert c.get("g:reads", timeout=5).value == 2
        # the getter's commits reach monitors
        assert q.get(timeout=5).value == 1
        assert q.get(timeout=5).value == 2
    finally:
        sub.close()


def test_context_as_async_context_manager(p4p_client):
    from server_helpers import client_conf_for, server_conf
    from p4p.client.thread import Context as P4PContext
    from pva.server import Context

    async def main():
        async with Context({"cm:x": nt.NTScalarInt32(value=5)}, conf=server_conf(),
                           useenv=False) as ctx:
            conf = client_conf_for(ctx.udp_port)
            loop = asyncio.get_running_loop()

            def get():
                c = P4PContext("pva", conf=conf, useenv=False, nt=False)
                try:
                    return c.get("cm:x", timeout=5).value
                finally:
                    c.close()
            return await loop.run_in_executor(None, get), ctx

    value, ctx = asyncio.run(main())
    assert value == 5 and not ctx.started and not ctx.circuits

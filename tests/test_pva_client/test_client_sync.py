"""Synchronous layer: caproto.pva-style functions and the thread-backed Context."""
from __future__ import annotations

import queue
import threading

import numpy as np
import pytest

import pva.sync.client as sc
from client_helpers import settable_double
from pva.client import Disconnected, Timeout, Value
from pva.sync import Context

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def served(p4p_server, monkeypatch):
    """A p4p server, the environment pointing at it, and a fresh default context."""
    from p4p.nt import NTScalar
    from p4p.server.thread import SharedPV

    pv = settable_double(1.5)
    arr = SharedPV(nt=NTScalar("ai"), initial=np.arange(3, dtype=np.int32))
    rpc = SharedPV(nt=NTScalar("d"), initial=0.0)

    @rpc.rpc
    def onrpc(p, op):
        op.done(NTScalar("d").wrap(float(op.value().a) + 1))
    srv, conf = p4p_server([{"s:d": pv, "s:ai": arr, "s:rpc": rpc}])
    for k, v in conf.items():
        monkeypatch.setenv(k, v)
    sc._close_default()
    sc._default = None
    yield pv, conf
    sc._close_default()
    sc._default = None


def test_read_write_read(served):
    pv, _ = served
    response, v = sc.read("s:d")       # caproto.pva's (response, data) pair
    assert response is None and isinstance(v, Value) and v.value == 1.5
    initial, res, final = sc.read_write_read("s:d", {"value": 2.5})
    assert (initial.value, res, final.value) == (1.5, None, 2.5)
    sc.write("s:d", 3.5, timeout=2)
    assert sc.read("s:d", pvrequest="field(value)")[1].value == 3.5
    assert float(pv.current()) == 3.5


def test_monitor_generator(served):
    pv, _ = served
    got = []
    for i, (response, v) in enumerate(sc.monitor("s:d", maximum_events=3)):
        assert response is None
        got.append(v.value)
        pv.post(10.0 + i)
    assert got == [1.5, 10.0, 11.0]


def test_call_info_batch(served):
    assert sc.call("s:rpc", {"a": 1.0}).value == 2.0
    desc = sc.info("s:ai")
    assert desc.type_id.startswith("epics:nt/NTScalarArray")
    vals = sc.read_many(["s:d", "s:ai"])
    assert vals[0].value == 1.5 and vals[1].value.tolist() == [0, 1, 2]
    sc.write_many(["s:d"], [7.0])
    assert sc.read("s:d")[1].value == 7.0
    # all of it over one connection of the shared default context
    assert len(sc.default_context()._ctx.core.circuits) == 1


def test_timeout_names_pv(served):
    with pytest.raises(Timeout, match="s:missing"):
        sc.read("s:missing", timeout=0.3)
    with pytest.raises(Timeout, match="s:missing"):
        next(sc.monitor("s:missing", timeout=0.3))


def test_context_monitor_callback_may_call_context(served):
    pv, conf = served
    out: "queue.Queue" = queue.Queue()
    with Context(conf=conf, useenv=False) as ctx:
        def cb(v):
            # a callback runs on a worker thread: calling the context is fine
            out.put((v.value, ctx.get("s:d").value, threading.current_thread().name))
        sub = ctx.monitor("s:d", cb)
        first = out.get(timeout=10)
        sub.close()
        with pytest.raises(ValueError, match="s:ai: cannot convert 'x' to int32"):
            ctx.put("s:ai", "x")
    assert first[0] == 1.5 == first[1]
    assert first[2] == "pva-client-callbacks"


def test_context_reconnect_events(p4p_server):
    from p4p.nt import NTScalar
    from p4p.server.thread import SharedPV

    from client_helpers import free_tcp_port, free_udp_port
    tcp, udp = free_tcp_port(), free_udp_port()
    srv, conf = p4p_server([{"z:d": SharedPV(nt=NTScalar("d"), initial=1.0)}],
                           tcp_port=tcp, udp_port=udp)
    with Context(conf=conf, useenv=False) as ctx:
        it = ctx.iterate("z:d", timeout=20)
        assert next(it).value == 1.0
        srv.stop()
        assert isinstance(next(it), Disconnected)
        p4p_server([{"z:d": SharedPV(nt=NTScalar("d"), initial=2.0)}], tcp_port=tcp, udp_port=udp)
        assert next(it).value == 2.0
        it.close()

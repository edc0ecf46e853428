"""PROCESS on our server, and ``record[block=false]`` for puts and process."""
from __future__ import annotations

import asyncio
import queue
import time

import pytest

from pva import nt
from pva.client import RemoteError
from pva.server import (AuthenticationError, AuthOperation, DataWrapperBase, PVAGroup,
                        pvaproperty)

from server_helpers import run_client

pytestmark = pytest.mark.timeout(60)


class Machine(PVAGroup):
    counter = pvaproperty(value=0)
    output = pvaproperty(value=2.5)
    plain = pvaproperty(value=7)
    locked = pvaproperty(value=1, read_only=True)
    faulty = pvaproperty(value=0)
    slow = pvaproperty(value=0)

    written: list = []
    requests: list = []

    @counter.processor
    async def counter(self, instance, request):
        Machine.requests.append(str(request))
        instance.value = instance.value + 1

    @output.putter
    async def output(self, instance, update):
        Machine.written.append(update.instance.value)

    @faulty.processor
    async def faulty(self, instance, request):
        raise RuntimeError("interlock open")

    @slow.processor
    async def slow(self, instance, request):
        await self.gate.wait()
        instance.value = 1

    @slow.putter
    async def slow(self, instance, update):
        await self.gate.wait()


@pytest.fixture
def machine(serve):
    Machine.written = []
    Machine.requests = []
    group = Machine("pr:")
    srv = serve(group.pvdb)
    group.gate = srv.call(asyncio.Event)
    return srv, group


def test_process_runs_the_processor(machine, p4p_client):
    srv, _ = machine
    ctxt = p4p_client(srv)
    before = time.time()

    async def twice(ctx):
        await ctx.process("pr:counter")
        await ctx.process("pr:counter", request="record[process=true]")
    run_client(srv, twice)
    v = ctxt.get("pr:counter")
    assert v.value == 2
    assert v.timeStamp.secondsPastEpoch >= int(before)     # a fresh time stamp
    assert Machine.requests == ["field()", "field()record[process=true]"]


def test_process_calls_the_putter_with_the_current_value(machine, p4p_client):
    srv, _ = machine
    run_client(srv, lambda ctx: ctx.process("pr:output"))
    assert Machine.written == [2.5]
    assert p4p_client(srv).get("pr:output").value == 2.5


def test_process_without_hooks_reposts_with_a_fresh_time_stamp(machine, p4p_client):
    srv, _ = machine
    q = queue.Queue()
    ctxt = p4p_client(srv)
    sub = ctxt.monitor("pr:plain", q.put)
    try:
        first = q.get(timeout=5)
        run_client(srv, lambda ctx: ctx.process("pr:plain"))
        update = q.get(timeout=5)
        assert update.value == 7
        assert _stamp(update) > _stamp(first)
    finally:
        sub.close()


def test_process_of_a_plain_data_wrapper(serve, p4p_client):
    data = nt.NTScalarFloat64(value=3.0)
    srv = serve({"d": data})
    served = _stamp(p4p_client(srv).get("d"))
    run_client(srv, lambda ctx: ctx.process("d"))
    assert (data.timeStamp.secondsPastEpoch, data.timeStamp.nanoseconds) > served
    assert p4p_client(srv).get("d").timeStamp.secondsPastEpoch == data.timeStamp.secondsPastEpoch


def test_process_read_only_is_refused(machine, p4p_client):
    srv, _ = machine
    before = _stamp(p4p_client(srv).get("pr:locked"))
    with pytest.raises(RemoteError, match="read-only"):
        run_client(srv, lambda ctx: ctx.process("pr:locked"))
    assert _stamp(p4p_client(srv).get("pr:locked")) == before


def _stamp(value):
    return (value.timeStamp.secondsPastEpoch, value.timeStamp.nanoseconds)


def test_process_handler_error_reaches_that_client_only(machine):
    srv, _ = machine

    async def ops(ctx):
        with pytest.raises(RemoteError, match="RuntimeError: interlock open"):
            await ctx.process("pr:faulty")
        await ctx.process("pr:counter")       # the connection goes on
        return (await ctx.get("pr:counter")).value
    assert run_client(srv, ops) == 1


def test_process_authorize_hook(serve):
    seen = []

    class Guarded(DataWrapperBase):
        async def authorize(self, operation, *, authorization, request=None):
            seen.append(operation)
            if operation is AuthOperation.write:
                raise AuthenticationError("no processing here")
            return self.data

        async def process(self, request):
            raise AssertionError("must not be called")

    srv = serve({"g": Guarded("g", nt.NTScalarInt32(value=1))})
    with pytest.raises(RemoteError, match="no processing here"):
        run_client(srv, lambda ctx: ctx.process("g"))
    assert seen == [AuthOperation.write]


def test_process_block_false_replies_before_the_handler_ends(machine):
    srv, group = machine

    async def ops(ctx):
        await ctx.process("pr:slow", request="record[block=false]", timeout=3)
        before = (await ctx.get("pr:slow")).value
        srv.loop.call_soon_threadsafe(group.gate.set)
        for _ in range(100):
            if (await ctx.get("pr:slow")).value == 1:
                return before, 1
            await asyncio.sleep(0.02)
        return before, None
    assert run_client(srv, ops) == (0, 1)


def test_process_block_true_waits_for_the_handler(machine):
    srv, group = machine
    from pva.client import Timeout
    with pytest.raises(Timeout):
        run_client(srv, lambda ctx: ctx.process("pr:slow", request="record[block=true]",
                                                timeout=0.5))


def test_put_block_false_replies_before_the_putter_ends(machine, p4p_client):
    srv, group = machine

    async def ops(ctx):
        await ctx.put("pr:slow", 5, request="record[block=false]", timeout=3)
        before = (await ctx.get("pr:slow")).value
        srv.loop.call_soon_threadsafe(group.gate.set)
        for _ in range(100):
            if (await ctx.get("pr:slow")).value == 5:
                return before, 5
            await asyncio.sleep(0.02)
        return before, None
    assert run_client(srv, ops) == (0, 5)


def test_put_blocks_by_default(machine, p4p_client):
    srv, group = machine
    from pva.client import Timeout
    with pytest.raises(Timeout):
        run_client(srv, lambda ctx: ctx.put("pr:slow", 5, timeout=0.5))
    # the client gave up and left: once the server has dropped the circuit,
    # the put's handler was cancelled and opening the gate writes nothing
    deadline = time.monotonic() + 10
    while srv.call(lambda: len(srv.ctx.circuits)) and time.monotonic() < deadline:
        time.sleep(0.01)
    srv.call(group.gate.set)
    assert p4p_client(srv).get("pr:slow").value == 0

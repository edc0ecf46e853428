"""PROCESS, PUT_GET and ARRAY of our client against the soft IOC's qsrv (pvAccessCPP).

QSRV 1 implements PROCESS (a put of nothing with ``record[process=true]``)
and answers PUT_GET and ARRAY with the error Status "Not Implemented".
"""
from __future__ import annotations

import asyncio
import time

import pytest

from pva.client import Context, RemoteError

pytestmark = pytest.mark.timeout(60)


def run(ioc, fn):
    async def main():
        async with Context(conf=ioc.conf, useenv=False, timeout=5) as ctx:
            return await fn(ctx)
    return asyncio.run(main())


def p4p_get(conf, name):
    from p4p.client.thread import Context as P4PContext
    ctx = P4PContext("pva", conf=conf, useenv=False, nt=False)
    try:
        return ctx.get(name)
    finally:
        ctx.close()


def test_process_processes_the_record(ioc):
    name = ioc.pv("count")
    before = p4p_get(ioc.conf, name)
    t0 = time.time()

    async def three(ctx):
        for _ in range(3):
            await ctx.process(name)
    run(ioc, three)
    after = p4p_get(ioc.conf, name)
    assert after.value == before.value + 3           # CALC A+1 ran three times
    assert after.timeStamp.secondsPastEpoch >= int(t0) - 1


@pytest.mark.parametrize("op", ["put_get", "array_get", "array_put", "array_length",
                                "array_set_length"])
def test_not_implemented_is_a_remote_error(ioc, op):
    name = ioc.pv("wf")
    calls = {"put_get": lambda ctx: ctx.put_get(name, [1.0]),
             "array_get": lambda ctx: ctx.array_get(name),
             "array_put": lambda ctx: ctx.array_put(name, [1.0, 2.0]),
             "array_length": lambda ctx: ctx.array_length(name),
             "array_set_length": lambda ctx: ctx.array_set_length(name, 2)}

    async def main(ctx):
        t0 = time.monotonic()
        with pytest.raises(RemoteError) as ei:
            await calls[op](ctx)
        took = time.monotonic() - t0
        # the channel is still usable afterwards
        return ei.value, took, await ctx.get(name)
    err, took, v = run(ioc, main)
    assert err.name == name and err.message == "Not Implemented"
    assert took < 4.0                                  # an answer, not our timeout
    assert v.type.type_id.startswith("epics:nt/NTScalarArray")

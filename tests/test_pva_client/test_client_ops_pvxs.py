"""PROCESS, PUT_GET and ARRAY of our client against a p4p (pvxs) server.

pvxs servers do not implement these operations and do not answer them at
all: our client must give up with a :class:`Timeout` that says so, and the
channel must stay usable.
"""
from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from pva.client import Context, Timeout

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def pvxs_server(p4p_server):
    from p4p.nt import NTScalar
    from p4p.server.thread import SharedPV
    arr = SharedPV(nt=NTScalar("ad"), initial=np.arange(4.0))
    _, conf = p4p_server([{"x:arr": arr}])
    return conf


OPS = {"put_get": lambda ctx: ctx.put_get("x:arr", [1.0], timeout=1.0),
       "process": lambda ctx: ctx.process("x:arr", timeout=1.0),
       "array_get": lambda ctx: ctx.array_get("x:arr", timeout=1.0),
       "array_put": lambda ctx: ctx.array_put("x:arr", [7.0], timeout=1.0),
       "array_length": lambda ctx: ctx.array_length("x:arr", timeout=1.0),
       "array_set_length": lambda ctx: ctx.array_set_length("x:arr", 1, timeout=1.0)}


@pytest.mark.parametrize("op", sorted(OPS))
def test_unanswered_operation_times_out_clearly(pvxs_server, op):
    async def main():
        async with Context(conf=pvxs_server, useenv=False) as ctx:
            await ctx.get("x:arr")                      # connected first
            t0 = time.monotonic()
            with pytest.raises(Timeout) as ei:
                await OPS[op](ctx)
            took = time.monotonic() - t0
            return ei.value, took, await ctx.get("x:arr")
    err, took, v = asyncio.run(main())
    kind = op if op == "put_get" else op.split("_")[0]
    assert f"no reply from the server to the {kind} request" in str(err)
    assert "x:arr" in str(err) and 0.9 <= took < 3.0
    assert v.value.tolist() == [0.0, 1.0, 2.0, 3.0]     # nothing was written

"""asyncio Context against the epicscorelibs soft IOC's qsrv (pvAccessCPP)."""
from __future__ import annotations

import asyncio

import pytest

from pva._values import _values_equal
from pva.client import Context, RemoteError

pytestmark = pytest.mark.timeout(60)


def run(coro):
    return asyncio.run(coro)


def p4p_get(conf, name, request=None):
    from p4p.client.thread import Context as P4PContext
    ctx = P4PContext("pva", conf=conf, useenv=False, nt=False)
    try:
        return ctx.get(name, request)
    finally:
        ctx.close()


@pytest.mark.parametrize("rec", ["ao", "long", "str", "bo", "wf"])
def test_get_matches_p4p(ioc, rec):
    name = ioc.pv(rec)

    async def main():
        async with Context(conf=ioc.conf, useenv=False) as ctx:
            return await ctx.get(name)
    ours = run(main())
    ref = p4p_get(ioc.conf, name)
    assert ours.type.type_id == ref.getID()
    a, b = ours.todict(), ref.todict()
    # the time stamp and the like may differ by the processing between the reads
    assert _values_equal(a["value"], b["value"])
    assert set(a) == set(b)
    if "display" in a:
        assert a["display"] == b["display"]


def test_ao_metadata(ioc):
    async def main():
        async with Context(conf=ioc.conf, useenv=False) as ctx:
            return await ctx.get(ioc.pv("ao"))
    v = run(main())
    assert v.value == 1.5
    assert v.display.units == "mm" and v.display.limitHigh == 10.0


def test_put_get_info_and_waveform(ioc):
    async def main():
        async with Context(conf=ioc.conf, useenv=False) as ctx:
            await ctx.put(ioc.pv("ao"), 2.75)
            await ctx.put(ioc.pv("wf"), [1.0, 2.0, 3.0])
            await ctx.put(ioc.pv("bo"), "On")            # enum by choice name
            await ctx.put(ioc.pv("str"), "written")
            await ctx.put(ioc.pv("long"), "0x10")
            info = await ctx.info(ioc.pv("ao"))
            return info
    info = run(main())
    assert p4p_get(ioc.conf, ioc.pv("long")).value == 16
    assert info.type_id.startswith("epics:nt/NTScalar")
    assert p4p_get(ioc.conf, ioc.pv("ao")).value == 2.75
    assert p4p_get(ioc.conf, ioc.pv("wf")).value.tolist() == [1.0, 2.0, 3.0]
    assert p4p_get(ioc.conf, ioc.pv("bo")).value.index == 1
    assert p4p_get(ioc.conf, ioc.pv("str")).value == "written"


def test_monitor_scanned_record(ioc):
    async def main():
        got = []
        async with Context(conf=ioc.conf, useenv=False) as ctx:
            async with ctx.monitor(ioc.pv("calc"), request="field(value)") as sub:
                async for v in sub:
                    got.append(v.value)
                    if len(got) == 4:
                        break
        return got
    got = run(main())
    assert len(got) == 4
    assert all((b - a) % 1000 == 1 for a, b in zip(got, got[1:]))


def test_qsrv_error_status(ioc):
    async def main():
        async with Context(conf=ioc.conf, useenv=False) as ctx:
            # QSRV 1 does not implement PUT_GET: its error Status is raised
            with pytest.raises(RemoteError, match="Not Implemented") as ei:
                await ctx.put_get(ioc.pv("long"), 5)
            # and the channel is still usable
            return ei.value, await ctx.get(ioc.pv("long"))
    err, v = run(main())
    assert err.name == ioc.pv("long") and err.message == "Not Implemented"
    assert v.value != 5


def test_monitor_pipeline_qsrv(ioc):
    """pvAccessCPP's pipeline flow control: updates keep coming as we ack."""
    async def main():
        got = []
        async with Context(conf=ioc.conf, useenv=False) as ctx:
            sub = ctx.monitor(ioc.pv("calc"), request="record[pipeline=true,queueSize=2]")
            async for v in sub:
                got.append(v.value)
                if len(got) == 8:
                    break
            sub.close()
        return got
    got = run(main())
    assert len(got) == 8 and len(set(got)) == 8

"""PUT_GET, PROCESS and ARRAY of our client (asyncio and sync) against our server."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

import pva.sync.client as sc
from pva.client import Context, RemoteError
from pva.server import PVAGroup, pvaproperty
from pva.sync import Context as SyncContext

pytestmark = pytest.mark.timeout(60)


class Plant(PVAGroup):
    doubled = pvaproperty(value=1.0)
    wave = pvaproperty(value=[1.0, 2.0, 3.0, 4.0])
    steps = pvaproperty(value=0)
    frozen = pvaproperty(value=[1, 2], read_only=True)

    @doubled.putter
    async def doubled(self, instance, update):
        instance.value = 2 * update.instance.value

    @steps.processor
    async def steps(self, instance, request):
        instance.value = instance.value + 1


@pytest.fixture
def plant(pva_server):
    group = Plant("pl:")
    return pva_server(group.pvdb), group


def test_put_get_through_name_server(plant):
    """PUT_GET to a channel found by a search over TCP (EPICS_PVA_NAME_SERVERS)."""
    srv, _ = plant
    conf = {"EPICS_PVA_AUTO_ADDR_LIST": "NO", "EPICS_PVA_ADDR_LIST": "",
            "EPICS_PVA_NAME_SERVERS": f"127.0.0.1:{srv.port}", "EPICS_PVA_BROADCAST_PORT": "0"}

    async def main():
        async with Context(conf=conf, useenv=False, timeout=5) as ctx:
            v = await ctx.put_get("pl:doubled", 21.0)
            # the name server connection carried the channel as well
            assert len(ctx.core.circuits) == 0 and len(ctx.core.name_server_circuits) == 1
            return v
    v = asyncio.run(main())
    assert v.value == 42.0 and v.type.type_id.startswith("epics:nt/NTScalar")


def test_channel_object_operations(plant):
    srv, group = plant

    async def main():
        async with Context(conf=srv.client_conf(), useenv=False, timeout=5) as ctx:
            ch = ctx.channel("pl:wave")
            await ch.wait_connected()
            await ch.array_put([9.0], offset=1)
            n = await ch.array_length()
            await ch.array_set_length(2)
            part = await ch.array_get(0, -1, 1)
            await ctx.channel("pl:steps").process()
            return n, part
    n, part = asyncio.run(main())
    assert n == 4 and part.tolist() == [1.0, 9.0]
    assert group.wave.data.value.tolist() == [1.0, 9.0] and group.steps.data.value == 1


def test_sync_context_operations(plant):
    srv, group = plant
    with SyncContext(conf=srv.client_conf(), useenv=False, timeout=5) as ctx:
        assert ctx.put_get("pl:doubled", 4).value == 8.0
        assert ctx.array_get("pl:wave", 1, 2).tolist() == [2.0, 3.0]
        ctx.array_put("pl:wave", [7, 8], offset=4)
        assert ctx.array_length("pl:wave") == 6
        ctx.array_set_length("pl:wave", 5)
        assert ctx.array_get("pl:wave", stride=2).tolist() == [1.0, 3.0, 7.0]
        ctx.process("pl:steps")
        ctx.process("pl:steps", request="record[block=true]")
        assert ctx.get("pl:steps").value == 2
        with pytest.raises(RemoteError, match="read-only"):
            ctx.array_put("pl:frozen", [0])
        with pytest.raises(ValueError, match="count must be positive"):
            ctx.array_get("pl:wave", count=-3)
        with pytest.raises(ValueError, match="stride must be at least 1"):
            ctx.array_put("pl:wave", [1.0], stride=0)
    assert group.wave.data.value.tolist() == [1.0, 2.0, 3.0, 4.0, 7.0]


def test_sync_module_functions(plant, monkeypatch):
    srv, group = plant
    for k, v in srv.client_conf().items():
        monkeypatch.setenv(k, v)
    sc._close_default()
    sc._default = None
    try:
        assert isinstance(sc.array_get("pl:wave", timeout=5), np.ndarray)
        sc.array_put("pl:wave", [0.5], offset=0, timeout=5)
        sc.array_set_length("pl:wave", 3, timeout=5)
        assert sc.array_length("pl:wave", timeout=5) == 3
        sc.process("pl:steps", timeout=5)
        assert sc.put_get("pl:doubled", 1.5, timeout=5).value == 3.0
    finally:
        sc._close_default()
        sc._default = None
    assert group.wave.data.value.tolist() == [0.5, 2.0, 3.0] and group.steps.data.value == 1

"""The CA server benchmark's PVs served by caffi.server (ours).

``python ca_server_ours.py serve prefix=bench: nchan=1000 elements=1000000``
serves what bench/_servers.write_ioc_db gives the soft IOC: ``ai0..`` (ai
records: value i, EGU mm, PREC 3, HOPR/LOPR +-100), ``wf`` (a DOUBLE
waveform of ``elements``), ``put`` and ``flood`` (DOUBLE, every write
posted), on EPICS_CA_SERVER_PORT and EPICS_CAS_INTF_ADDR_LIST; prints READY
once listening and serves until stdin ends.
"""
import asyncio
import sys
import types

from _common import main, ready


def serve(prefix, nchan=1000, elements=1000000, **_):
    import numpy as np

    from caffi.server import Context, PVGroup, pvproperty
    from caffi.server.aio import freeze_startup_objects

    attrs = {"ai%d" % i: pvproperty(value=float(i), name="ai%d" % i, record="ai", units="mm",
                                    precision=3, upper_disp_limit=100.0,
                                    lower_disp_limit=-100.0)
             for i in range(nchan)}
    attrs["wf"] = pvproperty(value=np.zeros(elements), name="wf", max_length=elements)
    attrs["put"] = pvproperty(value=0.0, name="put", precision=3)
    attrs["flood"] = pvproperty(value=0.0, name="flood", precision=3)
    group_class = types.new_class("BenchIOC", (PVGroup,), exec_body=lambda ns: ns.update(attrs))
    group = group_class(prefix=prefix)
    freeze_startup_objects()        # as caffi.server.run does

    async def run():
        loop = asyncio.get_running_loop()
        async with Context(group.pvdb):
            stdin = asyncio.StreamReader()
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin),
                                         sys.stdin)
            ready()
            while await stdin.readline():
                pass
    asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main({"serve": serve}))

"""The CA server benchmark's PVs served by caproto's asyncio server.

Same PVs and protocol as ca_server_ours.py (``serve prefix= nchan=
elements=``): READY once listening, served until stdin ends.  Runs in the
caproto anchor venv (Python 3.9).
"""
import asyncio
import os
import sys
import types

from _common import main, ready


def serve(prefix, nchan=1000, elements=1000000, **_):
    from caproto.asyncio.server import Context
    from caproto.server import PVGroup, pvproperty

    attrs = {"ai%d" % i: pvproperty(value=float(i), name="ai%d" % i, record="ai", units="mm",
                                    precision=3, upper_disp_limit=100.0,
                                    lower_disp_limit=-100.0)
             for i in range(nchan)}
    attrs["wf"] = pvproperty(value=[0.0] * elements, name="wf", max_length=elements)
    attrs["put"] = pvproperty(value=0.0, name="put", precision=3)
    attrs["flood"] = pvproperty(value=0.0, name="flood", precision=3)
    group_class = types.new_class("BenchIOC", (PVGroup,), exec_body=lambda ns: ns.update(attrs))
    group = group_class(prefix=prefix)

    async def until_stdin_ends(async_lib):
        ready()
        await asyncio.get_event_loop().run_in_executor(None, sys.stdin.read)
        os._exit(0)

    async def run():
        ctx = Context(group.pvdb, ["127.0.0.1"])
        await ctx.run(startup_hook=until_stdin_ends)
    asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main({"serve": serve}))

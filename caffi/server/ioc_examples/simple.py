"""A few PVs: a writable number, a read-only counter, a string, an enum.

    python -m caffi.server.ioc_examples.simple --prefix simple: --list-pvs
"""
from caffi.server import ChannelType, PVGroup, ioc_arg_parser, pvproperty, run


class SimpleIOC(PVGroup):
    """``A`` and ``B`` are writable; a write to ``A`` counts in ``writes``."""
    A = pvproperty(value=1, doc="An integer")
    B = pvproperty(value=2.0, precision=3, units="mm", doc="A float")
    C = pvproperty(value="hello", dtype=str, max_length=40, doc="Some text")
    mode = pvproperty(value="Idle", enum_strings=("Idle", "Busy"), dtype=ChannelType.ENUM,
                      doc="An enum")
    writes = pvproperty(value=0, read_only=True, doc="Writes to A so far")

    @A.putter
    async def A(self, instance, value):
        await self.writes.write(self.writes.value + 1)
        return value


if __name__ == "__main__":
    ioc_options, run_options = ioc_arg_parser(default_prefix="simple:",
                                              desc="A few PVs (caffi.server example)")
    ioc = SimpleIOC(**ioc_options)
    run(ioc.pvdb, **run_options)

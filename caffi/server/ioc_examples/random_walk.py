"""The server of the Channel Access tutorial (docs/ca-protocol-tutorial.rst):
``x`` takes a random step every ``dt`` seconds.

    python -m caffi.server.ioc_examples.random_walk --list-pvs
"""
import random

from caffi.server import PVGroup, ioc_arg_parser, pvproperty, run


class RandomWalk(PVGroup):
    """``dt`` (a double, 3 s) sets the time between the steps of ``x``."""
    dt = pvproperty(value=3.0, record="ao", doc="Time between steps (s)")
    x = pvproperty(value=0.0, read_only=True, record="calc", doc="The walk")

    @x.startup
    async def x(self, instance, async_lib):
        while True:
            await instance.write(instance.value + random.random() - 0.5)
            await async_lib.library.sleep(max(self.dt.value, 0.01))


if __name__ == "__main__":
    ioc_options, run_options = ioc_arg_parser(default_prefix="random_walk:",
                                              desc="A random walk (caffi.server example)")
    ioc = RandomWalk(**ioc_options)
    run(ioc.pvdb, **run_options)

#!/usr/bin/env python3
"""A PVAGroup with a startup loop, a putter, a slow putter and an RPC call."""
import pva
from pva.server import PVAGroup, ServerRPC, ioc_arg_parser, pva_dataclass, pvaproperty, run


@pva_dataclass
class MyData:
    value: int
    info: str


@pva_dataclass
class NestedData:
    my_data: MyData
    value: float


class MyIOC(PVAGroup):
    counter = pvaproperty(value=MyData(value=5, info="a string"))
    swap_a = pvaproperty(value=MyData(value=6, info="a different string"))
    swap_b = pvaproperty(value=NestedData)
    only_value = pvaproperty(value=MyData(value=1, info="info cannot be written"))
    long_write = pvaproperty(value=MyData())
    rpc = pvaproperty(value=MyData())

    @only_value.putter
    async def only_value(self, instance, update: pva.server.WriteUpdate):
        """Accept changes of ``value`` only."""
        update.accept("value")

    @counter.startup
    async def counter(self, instance, async_lib):
        """Count up twice a second (one committed update each time)."""
        self.async_lib = async_lib
        while True:
            async with self.counter as counter:
                counter.value = counter.value + 1
                counter.info = f"counting {counter.value}"
            await async_lib.library.sleep(0.5)

    @counter.shutdown
    async def counter(self, instance, async_lib):
        self.log.info("shutting down at %d", instance.data.value)

    @swap_a.startup
    async def swap_a(self, instance, async_lib):
        while True:
            async with self.swap_a as a, self.swap_b as b:
                a.value, b.value = int(b.value), float(a.value)
            await async_lib.library.sleep(2.0)

    @rpc.call
    async def rpc(self, instance, data):
        """Echo an NTURI query's ``value`` back (``pvcall P:rpc value=3``)."""
        query = getattr(data, "query", None)
        return MyData(value=int(getattr(query, "value", 1234)), info="from rpc")

    @long_write.putter
    async def long_write(self, instance, update):
        await self.async_lib.library.sleep(10)


def main():
    ioc_options, run_options = ioc_arg_parser(
        default_prefix="pva:group:", desc="A PVAGroup with a startup loop and RPC.")
    ioc = MyIOC(**ioc_options)
    server_info = ServerRPC(prefix=ioc_options["prefix"], server_instance=ioc)
    ioc.pvdb.update(server_info.pvdb)
    run(ioc.pvdb, **run_options)


if __name__ == "__main__":
    main()

"""CA workloads through aioca's API, shared by caffi.aio (ours) and aioca.

``aio_ours.py`` and ``aio_aioca.py`` run these with their module; the API
is the same, so the code is too.  Each workload runs in ``asyncio.run``:
``aget_one`` (sequential ``await caget`` of one connected PV),
``aget_many`` (``caget`` of a list of PVs: new channels, then again with
them connected) and ``amonitor`` (``camonitor(..., all_updates=True)`` of the
flood record: every update reaches the callback).
"""
import asyncio
import importlib
import time

from _common import FloodCount, Timer, main, ready, result


def workloads(module):
    def lib():
        return importlib.import_module(module)

    def aget_one(prefix, n, timeout=30, **_):
        aio = lib()
        name = prefix + "ai0"

        async def run():
            await aio.caget(name, timeout=timeout)
            with Timer() as t:
                for _i in range(n):
                    await aio.caget(name, timeout=timeout)
            return t
        t = asyncio.run(run())
        result(t.wall, t.cpu, n)

    def aget_many(prefix, nchan, timeout=30, **_):
        aio = lib()
        names = ["%sai%d" % (prefix, i) for i in range(nchan)]

        async def run():
            with Timer() as fresh:
                first = await aio.caget(names, timeout=timeout)
            with Timer() as cached:
                again = await aio.caget(names, timeout=timeout)
            assert list(first) == list(range(nchan)) and list(again) == list(first)
            return fresh, cached
        fresh, cached = asyncio.run(run())
        result(fresh.wall, fresh.cpu, nchan, wall_cached=cached.wall, cpu_cached=cached.cpu)

    def amonitor(prefix, n, base, timeout=60, **_):
        aio = lib()
        flood = FloodCount(base, n)

        async def run():
            subscribed = asyncio.Event()
            done = asyncio.Event()

            def on_update(value):
                if value <= base:
                    subscribed.set()    # the current value: the subscription is in place
                elif flood(value):
                    done.set()
            m = aio.camonitor(prefix + "flood", on_update, all_updates=True,
                              events=aio.DBE_VALUE)
            await asyncio.wait_for(subscribed.wait(), timeout)
            ready()
            c0 = time.process_time()
            try:
                await asyncio.wait_for(done.wait(), timeout)
            except asyncio.TimeoutError:
                raise SystemExit("monitor flood timed out after %d events" % flood.count)
            cpu = time.process_time() - c0
            m.close()
            return cpu
        cpu = asyncio.run(run())
        result(flood.last - flood.first, cpu, flood.count, lost=n - flood.count)

    return {f.__name__: f for f in (aget_one, aget_many, amonitor)}


def run_main(module):
    return main(workloads(module))

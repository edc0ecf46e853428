"""pvAccess workloads with our ``pva``: the asyncio client
(``pva.client.Context``; the sync layer runs the same one on a thread, so
the asyncio API is the direct one) and, with ``serve``, the asyncio server
(``pva.server.Context`` over a ``pvdb`` of plain NT dataclasses).

Server protocol (shared by every pva_*.py worker, see bench/README.md):
``serve prefix= npvs= array=`` serves ``<prefix>s0..s<npvs-1>`` (NTScalar
double, writable), ``<prefix>arr`` (NTScalarArray double, ``array``
elements) and ``<prefix>flood`` (NTScalar double), prints ``READY`` and then
reads commands on stdin: ``flood BASE N`` posts BASE+1 .. BASE+N to
``flood`` as fast as it can and prints ``FLOODED``; end of input stops the
server.

As in pva_p4p.py: the PV types are the plain NTScalar / NTScalarArray
(value, alarm, timeStamp; p4p's ``NTScalar('d')``), every flood post sets
the value and the time stamp (p4p's ``SharedPV.post`` wraps with the current
time), and the monitor uses the default pvRequest (no pipeline), with
``record[queueSize=N]`` when given ``queue=N``, on both sides.  The flood
loop yields to the event loop after each post (``await asyncio.sleep(0)``)
so the connections are served while it runs, as pvxs's worker threads serve
them while p4p's main thread posts.
"""
import asyncio
import sys
import time

from _common import Timer, main, ready, result


def _context():
    from pva.client import Context
    return Context("pva")


def get_seq(prefix, n, timeout=10, **_):
    async def run():
        async with _context() as ctxt:
            name = prefix + "s0"
            await ctxt.get(name, timeout=timeout)     # connect outside the timed section
            get = ctxt.get
            with Timer() as t:
                for _i in range(n):
                    await get(name, timeout=timeout)
        result(t.wall, t.cpu, n)
    asyncio.run(run())


def monitor(prefix, n, base, timeout=60, queue=0, **_):
    from pva.client import Value

    target = base + n
    state = {"count": 0, "first": 0.0, "last": 0.0, "c0": 0.0, "cpu": 0.0}

    async def consume(sub, first, done):
        async for item in sub:
            if not isinstance(item, Value):          # Disconnected / RemoteError
                raise RuntimeError("monitor: %r" % (item,))
            if not first.is_set():
                first.set()
                ready()
                state["c0"] = time.process_time()
            value = item.value
            if value <= base:
                continue
            now = time.perf_counter()
            if state["count"] == 0:
                state["first"] = now
            state["count"] += 1
            state["last"] = now
            if value >= target:
                state["cpu"] = time.process_time() - state["c0"]
                done.set()
                return

    async def run():
        first, done = asyncio.Event(), asyncio.Event()
        async with _context() as ctxt:
            request = "record[queueSize=%d]" % queue if queue else ""
            async with ctxt.monitor(prefix + "flood", request=request,
                                    queue_size=max(1000, queue)) as sub:
                task = asyncio.ensure_future(consume(sub, first, done))
                try:
                    # two waits with the timeout, as pva_p4p.py (no per-update timer)
                    for event, why in ((first, "no initial update: timed out"),
                                       (done, "flood timed out after {} updates")):
                        waiter = asyncio.ensure_future(event.wait())
                        await asyncio.wait({waiter, task}, timeout=timeout,
                                           return_when=asyncio.FIRST_COMPLETED)
                        if not event.is_set():
                            waiter.cancel()
                            if task.done():
                                task.result()                # re-raise its error
                            raise SystemExit(why.format(state["count"]))
                finally:
                    task.cancel()
        result(state["last"] - state["first"], state["cpu"], state["count"],
               lost=n - state["count"])
    asyncio.run(run())


def array(prefix, n, timeout=60, budget=0, **_):
    async def run():
        async with _context() as ctxt:
            name = prefix + "arr"
            await ctxt.get(name, timeout=timeout)
            nbytes = 0
            count = 0
            with Timer() as t:
                while count < n and not (budget and count
                                         and time.perf_counter() - t.w0 > budget):
                    count += 1
                    value = await ctxt.get(name, timeout=timeout)
                    nbytes += value.value.nbytes
        result(t.wall, t.cpu, count, bytes=nbytes)
    asyncio.run(run())


def connect_get(prefix, npvs, timeout=30, **_):
    names = ["%ss%d" % (prefix, i) for i in range(npvs)]

    async def run():
        with Timer() as t:
            ctxt = _context()
            values = await ctxt.get(names, timeout=timeout)
        assert len(values) == npvs
        result(t.wall, t.cpu, npvs)
        await ctxt.close()
    asyncio.run(run())


def serve(prefix, npvs, array=1000000, **_):
    import numpy
    from pva import nt
    from pva.server import Context

    scalar = nt.NTScalarFloat64Base           # value, alarm, timeStamp
    pvdb = {"%ss%d" % (prefix, i): scalar(value=float(i)) for i in range(npvs)}
    pvdb[prefix + "arr"] = nt.NTScalarArrayFloat64Base(
        value=numpy.arange(array, dtype=numpy.float64))
    pvdb[prefix + "flood"] = scalar(value=0.0)

    async def run():
        loop = asyncio.get_running_loop()
        server = Context(pvdb)          # plain dataclasses: DataWrapperBase, writable
        await server.start()
        flood = server.pvdb[prefix + "flood"]
        stdin = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
        ready()
        try:
            while True:
                line = await stdin.readline()
                if not line:
                    break
                words = line.decode().split()
                if words[:1] == ["flood"]:
                    base, count = int(words[1]), int(words[2])
                    commit = flood.commit
                    for i in range(1, count + 1):
                        now = time.time()
                        sec = int(now)
                        await commit({"value": float(base + i),
                                      "timeStamp": {"secondsPastEpoch": sec,
                                                    "nanoseconds": int((now - sec) * 1e9)}})
                        await asyncio.sleep(0)
                    sys.stdout.write("FLOODED\n")
                    sys.stdout.flush()
        finally:
            await server.close()
    asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main({f.__name__: f for f in (get_seq, monitor, array, connect_get, serve)}))

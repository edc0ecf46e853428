"""Processes of the reliability tests (run as ``python reliability_peers.py MODE``).

``server [OPTIONS]``: our pva server with a few PVs on 127.0.0.1, OS-chosen
ports; OPTIONS is JSON: ``limits`` (fields of ServerLimits; ``memory``: fields of
MemoryLimits).  Prints
``READY <tcp port> <udp port>`` once listening, logs warnings to stderr,
answers a ``stats`` line on stdin with one JSON line (live connections,
circuits and operations, the bytes of its memory budget, RSS), runs until
stdin closes.

``client ADDR_LIST SECONDS GOOD BAD``: our asyncio client; for SECONDS it
gets GOOD in a loop (timing each get) while another task keeps getting BAD
(whose server is hostile); prints one JSON line: the GOOD latencies, the
number of BAD gets that failed, and the process's RSS before and at its
peak (``VmHWM``).

Both set a 3 GiB address-space limit on themselves, so that an attack that
gets through fails the test instead of exhausting the machine.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import sys
import time


def _limit_memory() -> None:
    cap = 3 << 30
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def proc_kib(field: str, pid: str = "self") -> int:
    """A ``VmRSS``/``VmHWM`` line of /proc/PID/status, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


async def _serve(options: dict) -> None:
    from pva import nt
    from pva.server import Context, ServerLimits

    pvdb = {"rel:x": nt.NTScalarFloat64Base(value=1.5),
            "rel:s": nt.NTScalarStringBase(value="ok")}
    conf = {"EPICS_PVAS_INTF_ADDR_LIST": "127.0.0.1", "EPICS_PVAS_SERVER_PORT": "0",
            "EPICS_PVAS_BROADCAST_PORT": "0", "EPICS_PVAS_AUTO_BEACON_ADDR_LIST": "NO",
            "EPICS_PVAS_BEACON_ADDR_LIST": ""}
    limits = dict(options.get("limits", {}))
    if "memory" in limits:
        from pva.io.budget import MemoryLimits
        limits["memory"] = MemoryLimits(**limits["memory"])
    ctx = Context(pvdb, conf=conf, useenv=False, limits=ServerLimits(**limits))
    await ctx.start()
    task = asyncio.ensure_future(ctx.run())
    print("READY", ctx.port, ctx.udp_port, flush=True)
    loop = asyncio.get_running_loop()
    while True:                 # until the test closes stdin
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        if line.strip() == "stats":
            print(json.dumps(_stats(ctx)), flush=True)
    ctx.stop()
    await task


def _stats(ctx) -> dict:
    import gc

    from pva.io.driver import Connection
    from pva.server.ops.base import ServerOp
    gc.collect()
    objs = gc.get_objects()
    return {"connections": sum(1 for o in objs if type(o) is Connection),
            "circuits": len(ctx.circuits),
            "ops": sum(1 for o in objs if isinstance(o, ServerOp)),
            "budget": getattr(ctx.core.accounting, "in_use", None),
            "rss": proc_kib("VmRSS")}


async def _client(addr_list: str, seconds: float, good: str, bad: str) -> None:
    from pva.client import Context

    conf = {"EPICS_PVA_ADDR_LIST": addr_list, "EPICS_PVA_AUTO_ADDR_LIST": "NO",
            "EPICS_PVA_NAME_SERVERS": "", "EPICS_PVA_INTF_ADDR_LIST": "127.0.0.1",
            "EPICS_PVA_BROADCAST_PORT": sys.argv[6]}
    rss0 = proc_kib("VmRSS")
    latencies = []
    failed = 0
    async with Context(conf=conf, useenv=False, timeout=5.0) as ctx:
        await ctx.get(good)                                 # connected before timing
        rss0 = proc_kib("VmRSS")
        end = time.monotonic() + seconds

        async def attacked():
            nonlocal failed
            while time.monotonic() < end:
                try:
                    await ctx.get(bad, timeout=0.5)
                except Exception:
                    failed += 1

        task = asyncio.ensure_future(attacked())
        while time.monotonic() < end:
            t0 = time.perf_counter()
            await ctx.get(good)
            latencies.append(time.perf_counter() - t0)
            await asyncio.sleep(0.005)
        await task
    print(json.dumps({"latencies": latencies, "failed": failed, "rss0": rss0,
                      "peak": proc_kib("VmHWM")}), flush=True)


def main() -> None:
    _limit_memory()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    if sys.argv[1] == "server":
        asyncio.run(_serve(json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}))
    else:
        asyncio.run(_client(sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5]))


if __name__ == "__main__":
    main()

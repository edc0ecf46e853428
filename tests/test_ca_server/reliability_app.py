"""Peers of the CA server's reliability tests, each run as a child process.

    python reliability_app.py server LIMITS_JSON
        our CA server (caffi.server) for ``rel:x`` on 127.0.0.1, on
        EPICS_CA_SERVER_PORT, with ServerLimits(**LIMITS_JSON); prints
        ``READY port`` once listening, its log (warnings: refusals and their
        reasons) goes to stderr; serves until stdin ends.
    python reliability_app.py bystander PV SECONDS
        a libca client (caffi.simple.caget) getting PV for SECONDS; prints
        a JSON list of the gets' latencies in seconds (None for a failure).
"""
import asyncio
import json
import logging
import sys
import time


def server(limits_json):
    from caffi.server import PVGroup, pvproperty
    from caffi.server.aio import Context, freeze_startup_objects
    from caffi.server.core import ServerLimits

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(name)s %(levelname)s %(message)s")

    class Rel(PVGroup):
        x = pvproperty(value=1.5)

    group = Rel(prefix="rel:")
    limits = ServerLimits(**json.loads(limits_json))
    freeze_startup_objects()

    async def main():
        loop = asyncio.get_running_loop()
        async with Context(group.pvdb, ["127.0.0.1"], limits=limits, beacons=False) as ctx:
            print("READY", ctx.port, flush=True)
            stdin = asyncio.StreamReader()
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin),
                                         sys.stdin)
            while await stdin.readline():
                pass
    asyncio.run(main())


def bystander(pv, seconds):
    from caffi.simple import caget
    latencies = []
    end = time.monotonic() + float(seconds)
    caget(pv, timeout=5.0)          # connected before the clock runs
    while time.monotonic() < end:
        t0 = time.monotonic()
        try:
            caget(pv, timeout=2.0)
        except Exception:
            latencies.append(None)
        else:
            latencies.append(time.monotonic() - t0)
        time.sleep(0.005)
    print(json.dumps(latencies), flush=True)


if __name__ == "__main__":
    {"server": server, "bystander": bystander}[sys.argv[1]](*sys.argv[2:])

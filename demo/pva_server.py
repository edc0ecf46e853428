#!/usr/bin/env python
"""The pure-Python pvAccess server of the demo (``pva.server``).

``demo/demo.py`` starts it as a subprocess::

    python demo/pva_server.py [--prefix pydemo:]

It listens on 127.0.0.1 only, on a TCP port and a UDP search port that the
system picks (port 0), so it can never collide with the soft IOC's QSRV or
any other server. Once it is serving it prints one line on stdout::

    READY <tcp port> <udp port> <number of PVs>

and it stops cleanly (shutdown hooks run, sockets closed) when its stdin
reaches end-of-file or on SIGTERM/SIGINT. Log messages go to stderr.

The PVs (declared with ``PVAGroup`` / ``pvaproperty``):

``<prefix>setpoint``  NTScalar double with display and control metadata; a
                      putter refuses values outside the control limits and
                      time-stamps accepted ones
``<prefix>counter``   NTScalar int64 that a startup loop increments every
                      0.1 s, one committed (and monitored) update each time
``<prefix>spectrum``  NTScalarArray of doubles, writable
``<prefix>add``       RPC: ``{"a": x, "b": y}`` -> a structure with the sum
"""
import argparse
import asyncio
import logging
import signal
import sys
import threading
import time

from pva import nt
from pva.server import Context, PVAGroup, pva_dataclass, pvaproperty

# Control limits of the setpoint (DRVL/DRVH of the soft IOC's demo:setpoint).
LOW, HIGH = -15.0, 90.0


@pva_dataclass
class Sum:
    value: float
    a: float
    b: float
    info: str


def _stamp():
    """A ``timeStamp`` sub-structure for now."""
    now = time.time()
    return {"secondsPastEpoch": int(now), "nanoseconds": int(now % 1 * 1e9)}


def _setpoint_initial():
    return nt.NTScalarFloat64(
        value=21.5,
        display={"limitLow": -20.0, "limitHigh": 100.0, "units": "degC",
                 "description": "Temperature setpoint (Python)",
                 "format": "%.1f"},
        control={"limitLow": LOW, "limitHigh": HIGH, "minStep": 0.0},
        timeStamp=nt.NTTimestamp(**_stamp()))


class DemoServer(PVAGroup):
    setpoint = pvaproperty(value=_setpoint_initial())
    counter = pvaproperty(value=nt.NTScalarInt64Base(
        value=0, timeStamp=nt.NTTimestamp(**_stamp())))
    spectrum = pvaproperty(value=[1.0, 2.5, 4.0, 8.0, 4.0, 2.5, 1.0, 0.5])
    add = pvaproperty(value=Sum(info="call me with a and b"))

    @setpoint.putter
    async def setpoint(self, instance, update):
        value = update.instance.value
        if not LOW <= value <= HIGH:
            # Refuses the whole put: the client gets this text as the error.
            raise ValueError("setpoint %g is outside %g .. %g"
                             % (value, LOW, HIGH))
        update.accept("value")  # clients may not write the metadata
        stamp = _stamp()
        instance.timeStamp.secondsPastEpoch = stamp["secondsPastEpoch"]
        instance.timeStamp.nanoseconds = stamp["nanoseconds"]

    @counter.startup
    async def counter(self, instance, async_lib):
        while True:
            await async_lib.library.sleep(0.1)
            async with self.counter as counter:  # one commit, one update
                counter.value = counter.value + 1
                stamp = _stamp()
                counter.timeStamp.secondsPastEpoch = stamp["secondsPastEpoch"]
                counter.timeStamp.nanoseconds = stamp["nanoseconds"]

    @add.call
    async def add(self, instance, data):
        a, b = float(data.a), float(data.b)
        return Sum(value=a + b, a=a, b=b, info="%g + %g" % (a, b))


async def serve(prefix):
    group = DemoServer(prefix=prefix)
    # Explicit configuration, ignoring the EPICS_PVA* variables that the demo
    # set for the soft IOC's QSRV: loopback only, ports chosen by the system,
    # no beacons.
    ctx = Context(group.pvdb, useenv=False, conf={
        "EPICS_PVAS_INTF_ADDR_LIST": "127.0.0.1",
        "EPICS_PVAS_SERVER_PORT": "0",
        "EPICS_PVAS_BROADCAST_PORT": "0",
        "EPICS_PVAS_AUTO_BEACON_ADDR_LIST": "NO",
    })
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(signum, ctx.stop)
        except (NotImplementedError, RuntimeError):  # Windows
            pass

    def wait_for_eof():  # the parent closes our stdin to stop us
        try:
            while sys.stdin.readline():
                pass
        except (OSError, ValueError):
            pass
        try:
            loop.call_soon_threadsafe(ctx.stop)
        except RuntimeError:  # already stopped by a signal: the loop is closed
            pass

    def ready(ctx):
        threading.Thread(target=wait_for_eof, name="stdin",
                         daemon=True).start()
        print("READY %d %d %d" % (ctx.port, ctx.udp_port, len(ctx.pvdb)),
              flush=True)

    await ctx.run(startup_hook=ready)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prefix", default="pydemo:")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s "
                               "%(message)s")
    asyncio.run(serve(args.prefix))
    print("STOPPED", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

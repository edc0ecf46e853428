#!/usr/bin/env python
"""The pure-Python Channel Access server of the demo (``caffi.server``),
serving one ``PVGroup`` over Channel Access and pvAccess at once.

``demo/demo.py`` starts it as a subprocess::

    python demo/ca_server.py --prefix pycas:

It takes its ports from the environment, as an IOC does
(``EPICS_CAS_SERVER_PORT``, ``EPICS_CAS_INTF_ADDR_LIST``,
``EPICS_PVA_SERVER_PORT``, ``EPICS_PVA_BROADCAST_PORT``,
``EPICS_PVAS_INTF_ADDR_LIST``); demo.py gives it ports of its own on
127.0.0.1.  It logs to stderr; each protocol's server logs one line once it
listens ("CA server on TCP port ..." and "pva server ... listening ...").
It stops cleanly when its stdin reaches end-of-file, or on SIGINT.

The PVs (``<prefix>`` then):

``setpoint``     a float with units, precision, display/control/alarm limits;
                 a write beyond the control limits is clamped (an output
                 record's DRVH/DRVL), an accepted one counts in ``writes``
``temperature``  follows the setpoint, a tenth of the way every 0.1 s, with
                 HIGH/HIHI alarms above 60/80
``counter``      an integer incremented every 0.1 s
``mode``         an enum ("Idle", "Ramping", "Holding")
``writes``       writes to ``setpoint`` so far (read-only)
"""
import argparse
import logging
import os
import signal
import sys
import threading

from caffi.server import ChannelType, PVGroup, pvproperty, run

PERIOD = 0.1


class Thermostat(PVGroup):
    """A setpoint, a temperature following it, a counter and a mode."""

    setpoint = pvproperty(value=21.5, record="ao", units="degC", precision=2,
                          upper_disp_limit=100.0, lower_disp_limit=-20.0,
                          upper_ctrl_limit=90.0, lower_ctrl_limit=-15.0,
                          doc="Temperature setpoint")
    # not a record: its alarm limits alarm at MINOR (warning) and MAJOR
    # (alarm) severity, where an ai record would need its HSV/HHSV fields set
    # (and an alarm of its own: the PVs of a group share one by default)
    temperature = pvproperty(value=21.5, units="degC", precision=2, alarm_group="temperature",
                             read_only=True, upper_disp_limit=100.0,
                             lower_disp_limit=-20.0, upper_alarm_limit=80.0,
                             upper_warning_limit=60.0, lower_warning_limit=0.0,
                             lower_alarm_limit=-10.0, doc="Simulated temperature")
    counter = pvproperty(value=0, read_only=True, doc="Counts every 0.1 s")
    mode = pvproperty(value="Idle", dtype=ChannelType.ENUM,
                      enum_strings=("Idle", "Ramping", "Holding"), doc="Operating mode")
    writes = pvproperty(value=0, read_only=True, doc="Writes to setpoint so far")

    @setpoint.putter
    async def setpoint(self, instance, value):
        await self.writes.write(self.writes.value + 1)
        return value

    @temperature.scan(period=PERIOD)
    async def temperature(self, instance, async_lib):
        step = (self.setpoint.value - instance.value) / 10.0
        if abs(step) > 1e-3:
            await instance.write(instance.value + step)

    @counter.scan(period=PERIOD)
    async def counter(self, instance, async_lib):
        await instance.write(instance.value + 1)


def _stop_on_eof():
    """End-of-file on stdin stops the server (as Ctrl-C would)."""
    def watch():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        os.kill(os.getpid(), signal.SIGINT)
    threading.Thread(target=watch, name="stdin-eof", daemon=True).start()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefix", default="pycas:")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(name)s %(levelname)s: %(message)s")
    ioc = Thermostat(prefix=args.prefix)
    _stop_on_eof()
    run(ioc.pvdb, protocols=("ca", "pva"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

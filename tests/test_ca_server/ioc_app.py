"""The Python IOC of the CA server tests (run as a script: a child process).

Records mirroring tests/ioc/test.db (ai, ao, longin, longout, stringin,
stringout, bo, mbbi) with the same values and metadata, so that answers can
be compared with the soft IOC's, and PVs for hooks, access and arrays.
"""
import asyncio
import sys

import numpy as np

from caffi.server import (AccessRights, ChannelType, PVGroup, ioc_arg_parser, pvproperty,
                          run)

LIMITS = dict(upper_disp_limit=100.0, lower_disp_limit=-100.0, upper_alarm_limit=90.0,
              upper_warning_limit=80.0, lower_warning_limit=-80.0, lower_alarm_limit=-90.0)


class TestIOC(PVGroup):
    # ai: an input record's control limits are its display limits
    ai = pvproperty(value=1.5, record="ai", units="mm", precision=3,
                    upper_ctrl_limit=100.0, lower_ctrl_limit=-100.0, **LIMITS)
    ao = pvproperty(value=2.25, record="ao", units="V", precision=2,
                    upper_disp_limit=100.0, lower_disp_limit=-100.0,
                    upper_alarm_limit=45.0, upper_warning_limit=40.0,
                    lower_warning_limit=-40.0, lower_alarm_limit=-45.0,
                    upper_ctrl_limit=50.0, lower_ctrl_limit=-50.0)
    longin = pvproperty(value=42, record="longin", units="cnt",
                        upper_disp_limit=1000, lower_disp_limit=-1000, upper_alarm_limit=900,
                        upper_warning_limit=800, lower_warning_limit=-800,
                        lower_alarm_limit=-900, upper_ctrl_limit=1000, lower_ctrl_limit=-1000)
    stringin = pvproperty(value="hello", dtype=ChannelType.STRING, record="stringin")
    bo = pvproperty(value="Off", dtype=ChannelType.ENUM, enum_strings=("Off", "On"),
                    record="bo")
    wf = pvproperty(value=np.arange(10, dtype=float), max_length=1000, record="waveform")
    big = pvproperty(value=np.zeros(200_000), read_only=True)
    ro = pvproperty(value=5, read_only=True)
    fails = pvproperty(value=0)
    slow = pvproperty(value=0.0)
    secret = pvproperty(value=7)

    @fails.putter
    async def fails(self, instance, value):
        raise RuntimeError("this putter always fails")

    @slow.putter
    async def slow(self, instance, value):
        await asyncio.sleep(0.2)
        return value


def access(pvname, data, host, user):
    """``secret`` is readable only by user 'trusted', writable by nobody else."""
    if pvname.endswith("secret"):
        return AccessRights.READ | AccessRights.WRITE if user == "trusted" else \
            AccessRights.NO_ACCESS
    return data.check_access(host, user)


if __name__ == "__main__":
    ioc_options, run_options = ioc_arg_parser(default_prefix="t:", desc="test IOC")
    ioc = TestIOC(**ioc_options)
    run(ioc.pvdb, access=access, **run_options)

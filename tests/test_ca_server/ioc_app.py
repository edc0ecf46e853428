"""The Python IOC of the CA server tests (run as a script: a child process).

Records mirroring tests/ioc/test.db (ai, ao, longin, longout, stringin,
stringout, bo, mbbi) with the same values and metadata, so that answers can
be compared with the soft IOC's, and PVs for hooks, access and arrays.
"""
import asyncio
import os
import sys

import numpy as np

from caffi.server import (AccessRights, ChannelType, PVGroup, ioc_arg_parser, pvproperty,
                          run)

LIMITS = dict(upper_disp_limit=100.0, lower_disp_limit=-100.0, upper_alarm_limit=90.0,
              upper_warning_limit=80.0, lower_warning_limit=-80.0, lower_alarm_limit=-90.0)


class TestIOC(PVGroup):
    # the records have alarms of their own (a group shares one by default)
    # ai: an input record's control limits are its display limits
    ai = pvproperty(alarm_group="ai", value=1.5, record="ai", units="mm", precision=3,
                    **LIMITS)
    ao = pvproperty(alarm_group="ao", value=2.25, record="ao", units="V", precision=2,
                    upper_disp_limit=100.0, lower_disp_limit=-100.0,
                    upper_alarm_limit=45.0, upper_warning_limit=40.0,
                    lower_warning_limit=-40.0, lower_alarm_limit=-45.0,
                    upper_ctrl_limit=50.0, lower_ctrl_limit=-50.0)
    longin = pvproperty(alarm_group="longin", value=42, record="longin", units="cnt",
                        upper_disp_limit=1000, lower_disp_limit=-1000, upper_alarm_limit=900,
                        upper_warning_limit=800, lower_warning_limit=-800,
                        lower_alarm_limit=-900)
    longout = pvproperty(alarm_group="longout", value=7, record="longout", units="cnt",
                         upper_disp_limit=1000, lower_disp_limit=-1000,
                         upper_alarm_limit=450, upper_warning_limit=400,
                         lower_warning_limit=-400, lower_alarm_limit=-450,
                         upper_ctrl_limit=500, lower_ctrl_limit=-500)
    stringin = pvproperty(alarm_group="stringin", value="hello", dtype=ChannelType.STRING,
                          record="stringin")
    stringout = pvproperty(alarm_group="stringout", value="world", dtype=ChannelType.STRING,
                           record="stringout")
    bo = pvproperty(alarm_group="bo", value="Off", dtype=ChannelType.ENUM,
                    enum_strings=("Off", "On"), record="bo")
    bi = pvproperty(alarm_group="bi", value="High", dtype=ChannelType.ENUM,
                    enum_strings=("Low", "High"), record="bi")
    mbbo = pvproperty(alarm_group="mbbo", value="one", dtype=ChannelType.ENUM,
                      enum_strings=("zero", "one", "two", "three"), record="mbbo")
    # one PV per access security group of tests/test_ca_server/test_ca_server_rsrv.py
    acc_DEFAULT = pvproperty(value=0.0)
    acc_RO = pvproperty(value=0.0)
    acc_NONE = pvproperty(value=0.0)
    acc_OPS = pvproperty(value=0.0)
    acc_ADMIN = pvproperty(value=0.0)
    acc_HERE = pvproperty(value=0.0)
    acc_FAR = pvproperty(value=0.0)
    wf = pvproperty(value=np.arange(10, dtype=float), max_length=1000, record="waveform")
    # array records: control limits are the display limits, as for an ai
    aai = pvproperty(value=np.zeros(10), max_length=10, record="aai", units="mm", precision=2,
                     upper_disp_limit=100.0, lower_disp_limit=-100.0)
    aao = pvproperty(value=np.zeros(10), max_length=10, record="aao", units="mm", precision=2,
                     upper_disp_limit=100.0, lower_disp_limit=-100.0)
    subArray = pvproperty(value=np.zeros(10), max_length=10, record="subArray", units="mm",
                          precision=2, upper_disp_limit=100.0, lower_disp_limit=-100.0)
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


RW = AccessRights.READ | AccessRights.WRITE
R = AccessRights.READ
#: the rules of the comparison's access security file, by group: (rights
#: granted to everyone, rights of the users/hosts named, their user, their host)
OPS_USER = os.environ.get("IOC_APP_OPS_USER", "")
HOST = os.environ.get("IOC_APP_HOST", "")
GROUPS = {"DEFAULT": lambda host, user: RW,
          "RO": lambda host, user: R,
          "NONE": lambda host, user: R if user == "nobody_here" else AccessRights.NO_ACCESS,
          "OPS": lambda host, user: RW if user == OPS_USER else R,
          "ADMIN": lambda host, user: RW if user == "nobody_here" else R,
          "HERE": lambda host, user: RW if host == HOST else R,
          "FAR": lambda host, user: RW if host == "far.away" else R}


def access(pvname, data, host, user):
    """``secret`` is readable only by user 'trusted', writable by nobody else;
    ``acc_GROUP`` follows the rules of access security group GROUP."""
    if pvname.endswith("secret"):
        return RW if user == "trusted" else AccessRights.NO_ACCESS
    group = pvname.rpartition(":acc_")[2]
    if ":acc_" in pvname and group in GROUPS:
        return GROUPS[group](host, user)
    return data.check_access(host, user)


if __name__ == "__main__":
    ioc_options, run_options = ioc_arg_parser(default_prefix="t:", desc="test IOC")
    ioc = TestIOC(**ioc_options)
    run(ioc.pvdb, access=access, **run_options)

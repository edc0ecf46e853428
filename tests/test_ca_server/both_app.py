"""A Python IOC serving one PVGroup and one PVAGroup over CA and pvAccess
(run as a child process by test_ca_server_both.py).

The PVGroup's records mirror tests/ioc/test.db (ai, longin, stringin, bo,
mbbi, wf:double, subArray) so that what qsrv serves for them can be compared.
"""
import numpy as np

from pva import nt
from pva.server import PVAGroup, pvaproperty, value_instance

from caffi.server import ChannelType, PVGroup, ioc_arg_parser, pvproperty, run


class Records(PVGroup):
    # an ai: its control limits are its display limits (HOPR/LOPR)
    ai = pvproperty(value=1.5, record="ai", units="mm", precision=3,
                    upper_disp_limit=100.0, lower_disp_limit=-100.0,
                    upper_alarm_limit=90.0, upper_warning_limit=80.0,
                    lower_warning_limit=-80.0, lower_alarm_limit=-90.0)
    longin = pvproperty(value=42, record="longin", units="cnt",
                        upper_disp_limit=1000, lower_disp_limit=-1000,
                        upper_alarm_limit=900, upper_warning_limit=800,
                        lower_warning_limit=-800, lower_alarm_limit=-900)
    stringin = pvproperty(value="hello", dtype=ChannelType.STRING, record="stringin")
    bo = pvproperty(value="Off", dtype=ChannelType.ENUM, enum_strings=("Off", "On"),
                    record="bo")
    mbbi = pvproperty(value="two", dtype=ChannelType.ENUM,
                      enum_strings=("zero", "one", "two"), record="mbbi")
    wf_double = pvproperty(name="wf:double", value=np.zeros(0), max_length=16,
                           record="waveform", units="A", precision=5,
                           upper_disp_limit=1000.0, lower_disp_limit=-1000.0)
    subArray = pvproperty(value=np.zeros(0), max_length=10, record="subArray", units="mm",
                          precision=2, upper_disp_limit=100.0, lower_disp_limit=-100.0)
    # an int64in as the comparison IOC's (test_ca_server_both.INT64_DB)
    i64 = pvproperty(value=2 ** 40 + 1, record="int64in", units="cnt",
                     upper_disp_limit=1000, lower_disp_limit=-1000)
    i64o = pvproperty(value=7, record="int64out", units="cnt", upper_disp_limit=1000,
                      lower_disp_limit=-1000, upper_ctrl_limit=500, lower_ctrl_limit=-500)
    # CHAR waveforms: text (FTVL=CHAR) and bytes (FTVL=UCHAR)
    wf_char = pvproperty(name="wf:char", value="", dtype=ChannelType.CHAR, max_length=16)
    wf_uchar = pvproperty(name="wf:uchar", value=b"", max_length=16)
    # not records: control limits refuse a write beyond them, a putter may fail
    # (their own alarms: a group's pvproperties share one by default)
    setpoint = pvproperty(value=0.0, upper_ctrl_limit=10.0, lower_ctrl_limit=-10.0,
                          alarm_group="setpoint")
    fails = pvproperty(value=0, alarm_group="fails")

    ro = pvproperty(value=5, read_only=True)
    started = pvproperty(value=0)

    @fails.putter
    async def fails(self, instance, value):
        raise RuntimeError("this putter always fails")

    @started.startup
    async def started(self, instance, async_lib):
        await instance.write(1)


class Native(PVAGroup):
    """pvAccess PVs, served over CA too."""
    temp = pvaproperty(value=nt.NTScalarFloat64(
        value=21.5, display=nt.NTDisplayFloat64(limitLow=0.0, limitHigh=50.0, units="degC")))
    mode = pvaproperty(value=value_instance(nt.NTEnum().wrap(1, choices=["auto", "manual"]),
                                            nt.NTEnum().type))
    table = pvaproperty(value=[1, 2, 3])         # an NTScalarArray of int64: DOUBLE over CA
    # as an int64in record: its value DOUBLE over CA
    big = pvaproperty(value=nt.NTScalarInt64(
        value=2 ** 40 + 1, display=nt.NTDisplayInt64(limitLow=-1000, limitHigh=1000,
                                                      units="cnt"),
        control=nt.NTControlInt64(limitLow=-1000, limitHigh=1000)))
    raw = pvaproperty(value=value_instance(nt.NTScalar("ab").wrap([1, -2, 3]),
                                           nt.NTScalar("ab").type))
    words = pvaproperty(value=value_instance(nt.NTScalar("as").wrap(["a", "b"]),
                                             nt.NTScalar("as").type))
    tree = pvaproperty(value=value_instance(nt.NTTable([("a", "d")]).wrap({"a": [1.0]}),
                                            nt.NTTable([("a", "d")]).type))  # pvAccess only
    reads = pvaproperty(value=nt.NTScalarFloat64(value=0.0))
    fixed = pvaproperty(value=nt.NTScalarFloat64(value=7.0), read_only=True)

    @reads.getter
    async def reads(self, instance, request):
        instance.value = instance.value + 1     # counts the reads


if __name__ == "__main__":
    ioc_options, run_options = ioc_arg_parser(default_prefix="t:", desc="both protocols")
    pvdb = dict(Records(**ioc_options).pvdb)
    pvdb.update(Native(prefix=ioc_options["prefix"] + "pva:").pvdb)
    run(pvdb, **run_options)

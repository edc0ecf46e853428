"""A thermometer simulation: the readback relaxes toward the setpoint.

    python -m caffi.server.ioc_examples.thermo_sim --prefix thermo: --list-pvs
"""
import math
import time

from caffi.server import PVGroup, ioc_arg_parser, pvproperty, run


class Thermo(PVGroup):
    """``setpoint`` is written by clients; ``readback`` follows it every
    ``period`` seconds with an exponential relaxation and a small wobble."""
    setpoint = pvproperty(value=20.0, precision=2, units="C", upper_ctrl_limit=100.0,
                          lower_ctrl_limit=-20.0)
    readback = pvproperty(value=20.0, precision=2, units="C", read_only=True,
                          record="ai", upper_alarm_limit=90.0, upper_warning_limit=80.0,
                          lower_warning_limit=-10.0, lower_alarm_limit=-15.0)
    period = pvproperty(value=0.1, units="s", precision=2)
    tau = pvproperty(value=2.0, units="s", precision=2, doc="Relaxation time")

    @readback.scan(period=0.1)
    async def readback(self, instance, async_lib):
        dt = self.period.value
        target = self.setpoint.value
        current = instance.value
        alpha = 1.0 - math.exp(-dt / max(self.tau.value, 1e-3))
        wobble = 0.01 * math.sin(time.monotonic())
        await instance.write(current + alpha * (target - current) + wobble)


if __name__ == "__main__":
    ioc_options, run_options = ioc_arg_parser(default_prefix="thermo:",
                                              desc="Thermometer simulation")
    ioc = Thermo(**ioc_options)
    run(ioc.pvdb, **run_options)

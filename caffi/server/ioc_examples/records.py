"""PVs that answer record fields (``.DESC``, ``.EGU``, ``.HOPR``, ``.SEVR`` ...).

    python -m caffi.server.ioc_examples.records --prefix rec: --list-pvs

``rec:motor.EGU`` is the units of ``rec:motor`` (writing it changes them),
``rec:motor.DESC`` its description, ``rec:motor.RTYP`` says ``ao``.
"""
from caffi.server import PVGroup, ioc_arg_parser, pvproperty, run


class RecordsIOC(PVGroup):
    motor = pvproperty(value=0.0, record="ao", precision=3, units="mm",
                       upper_disp_limit=100.0, lower_disp_limit=-100.0,
                       upper_ctrl_limit=50.0, lower_ctrl_limit=-50.0,
                       upper_alarm_limit=45.0, upper_warning_limit=40.0,
                       lower_warning_limit=-40.0, lower_alarm_limit=-45.0)
    sensor = pvproperty(value=1.5, record="ai", read_only=True, units="V", precision=2)
    switch = pvproperty(value=False, record="bo")
    counts = pvproperty(value=7, record="longout", units="cnt")

    @motor.fields.description.startup
    async def motor(fields, instance, async_lib):
        await instance.write("a pretend motor")


if __name__ == "__main__":
    ioc_options, run_options = ioc_arg_parser(default_prefix="rec:",
                                              desc="Record fields (caffi.server example)")
    ioc = RecordsIOC(**ioc_options)
    run(ioc.pvdb, **run_options)

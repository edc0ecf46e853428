"""An array source: a waveform refreshed periodically.

    python -m caffi.server.ioc_examples.waveform --prefix wf: --list-pvs

``wf:wave`` holds ``wf:length`` doubles (up to 100,000), a sine that moves
every ``wf:period`` seconds; ``wf:count`` counts the updates.
"""
import numpy as np

from caffi.server import PVGroup, ioc_arg_parser, pvproperty, run

MAX = 100_000


class WaveformIOC(PVGroup):
    wave = pvproperty(value=np.zeros(1000), max_length=MAX, read_only=True, record="waveform")
    length = pvproperty(value=1000, upper_ctrl_limit=MAX, lower_ctrl_limit=1)
    period = pvproperty(value=0.5, units="s", precision=2)
    count = pvproperty(value=0, read_only=True)

    @wave.scan(period=0.5)
    async def wave(self, instance, async_lib):
        n = int(self.length.value)
        phase = self.count.value * 0.1
        await instance.write(np.sin(np.linspace(0, 4 * np.pi, n) + phase))
        await self.count.write(self.count.value + 1)


if __name__ == "__main__":
    ioc_options, run_options = ioc_arg_parser(default_prefix="wf:",
                                              desc="An array source (caffi.server example)")
    ioc = WaveformIOC(**ioc_options)
    run(ioc.pvdb, **run_options)

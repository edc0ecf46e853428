"""An enum state machine: Idle -> Moving -> Done, driven by ``cmd``.

    python -m caffi.server.ioc_examples.enums --prefix sm: --list-pvs

Writing ``Start`` to ``sm:cmd`` moves ``sm:state`` from Idle to Moving,
then (after ``sm:duration`` seconds) to Done; ``Reset`` goes back to Idle.
A command that makes no sense in the current state is refused (the put
fails and the client gets an error).
"""
import asyncio

from caffi.server import ChannelType, PVGroup, ioc_arg_parser, pvproperty, run

STATES = ("Idle", "Moving", "Done")
COMMANDS = ("None", "Start", "Reset")
#: (state, command) -> next state
TRANSITIONS = {("Idle", "Start"): "Moving", ("Done", "Reset"): "Idle",
               ("Moving", "Reset"): "Idle"}


class StateMachineIOC(PVGroup):
    state = pvproperty(value="Idle", enum_strings=STATES, dtype=ChannelType.ENUM,
                       read_only=True, record="mbbi")
    cmd = pvproperty(value="None", enum_strings=COMMANDS, dtype=ChannelType.ENUM,
                     record="mbbo")
    duration = pvproperty(value=1.0, units="s", precision=1)

    @cmd.putter
    async def cmd(self, instance, value):
        if value == "None":
            return value
        nxt = TRANSITIONS.get((self.state.value, value))
        if nxt is None:
            raise ValueError("%s makes no sense in state %s" % (value, self.state.value))
        await self.state.write(nxt)
        if nxt == "Moving":
            asyncio.get_running_loop().call_later(self.duration.value, self._arrive)
        return value

    def _arrive(self):
        if self.state.value == "Moving":
            asyncio.ensure_future(self.state.write("Done"))


if __name__ == "__main__":
    ioc_options, run_options = ioc_arg_parser(default_prefix="sm:",
                                              desc="An enum state machine")
    ioc = StateMachineIOC(**ioc_options)
    run(ioc.pvdb, **run_options)

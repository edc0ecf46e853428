"""PROCESS: the data wrapper's ``process`` (with ``record[block=false]``
answered at once while it runs on)."""
from __future__ import annotations

from ..._messages import ChannelProcessResponse
from ..._values import Status
from ..common import AuthOperation, error_status, log_handler_error
from .base import ServerOp, blocking, detach, error_reply, execute_open, open_request

__all__ = ["on_process"]


_OK = Status()


async def on_process(circuit, msg) -> None:
    ioid = msg.ioid
    err = error_reply(msg, ChannelProcessResponse)
    if msg.is_init:
        # processing may change the PV: it needs write access (as in qsrv)
        if await open_request(circuit, msg, AuthOperation.write, err) is not None:
            circuit.reply(ChannelProcessResponse(ioid, _OK, msg.subcommand), err)
        return
    execute_open(circuit, msg, execute, msg.subcommand, err)


async def execute(circuit, op: ServerOp, sub: int, err) -> None:
    try:
        if blocking(op.request):
            await op.entry.process(op.request)
        else:
            detach(circuit, op.entry, "process", op.entry.process(op.request))
        reply = ChannelProcessResponse(op.ioid, _OK, sub)
    except Exception as ex:
        log_handler_error(circuit, "process", op.entry.name, ex)
        reply = err(error_status(ex))
    circuit.reply(reply, err)
    circuit.finish(op, sub)

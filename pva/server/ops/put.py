"""PUT: INIT answered with the PV's type; an execution writes the put data
(``write``; with ``record[block=false]`` answered at once while the handler
runs on), or, with the GET bit, reads the current value."""
from __future__ import annotations

from ..._messages import ChannelPutResponse, Subcommand
from ..common import AuthOperation, error_status, log_handler_error
from .base import ServerOp, blocking, detach, error_reply, execute_open
from .get import init

__all__ = ["on_put"]


_INIT = int(Subcommand.INIT)
_GET = int(Subcommand.GET)


def on_put(circuit, msg):
    err = error_reply(msg, ChannelPutResponse)
    if msg.subcommand & _INIT:
        return init(circuit, msg, AuthOperation.write, err, ChannelPutResponse)
    execute_open(circuit, msg, execute, msg, err)
    return None


async def execute(circuit, op: ServerOp, msg, err) -> None:
    sub = msg.subcommand
    data = None
    try:
        if sub & _GET:
            data = await op.entry.read(op.request)
        else:
            update = msg.put_data
            if update.data is None:
                update.data = {}
            if blocking(op.request):
                await op.entry.write(update)
            else:
                detach(circuit, op.entry, "put", op.entry.write(update))
    except Exception as ex:
        log_handler_error(circuit, "put", op.entry.name, ex)
        circuit.reply(err(error_status(ex)), err)
    else:
        circuit.reply_ok(op, sub, data, ChannelPutResponse)
    circuit.finish(op, sub)

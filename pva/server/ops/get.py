"""GET: INIT answered with the PV's type; each execution reads the PV
(``read``) and sends the selected fields."""
from __future__ import annotations

from ..._messages import ChannelGetResponse, Subcommand
from ..common import AuthOperation, error_status, log_handler_error
from .base import ServerOp, error_reply, execute_open, open_request

__all__ = ["on_get", "execute"]

_INIT = int(Subcommand.INIT)


def on_get(circuit, msg):
    if msg.subcommand & _INIT:
        return init(circuit, msg, AuthOperation.read, error_reply(msg, ChannelGetResponse),
                    ChannelGetResponse)
    execute_open(circuit, msg, execute, msg.subcommand)
    return None


async def init(circuit, msg, operation, error_reply, response_cls) -> None:
    """The INIT of a GET or PUT, answered with the PV's type."""
    op = await open_request(circuit, msg, operation, error_reply)
    if op is not None:
        circuit.reply_ok(op, msg.subcommand, None, response_cls)


async def execute(circuit, op: ServerOp, sub: int) -> None:
    try:
        data = await op.entry.read(op.request)
    except Exception as ex:
        log_handler_error(circuit, "read", op.entry.name, ex)
        error = ChannelGetResponse(op.ioid, error_status(ex), sub)
        circuit.reply(error, lambda status: ChannelGetResponse(op.ioid, status, sub))
    else:
        circuit.reply_ok(op, sub, data, ChannelGetResponse)
    circuit.finish(op, sub)

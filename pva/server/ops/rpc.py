"""RPC: the data wrapper's ``call`` with the client's argument; its result
is sent back."""
from __future__ import annotations

from typing import Any

from ..._dataclass import get_pv_structure, is_pva_dataclass_instance
from ..._messages import ChannelRpcResponse
from ..._values import FieldDescAndData, Status
from ..common import AuthOperation, error_status, log_handler_error
from .base import ServerOp, error_reply, execute_open, open_request

__all__ = ["on_rpc"]


_OK = Status()


def _as_rpc_result(result: Any) -> FieldDescAndData:
    if isinstance(result, FieldDescAndData):
        return result
    if result is None:
        return FieldDescAndData()
    if is_pva_dataclass_instance(result):
        return FieldDescAndData(get_pv_structure(result), result)
    if isinstance(result, tuple) and len(result) == 2:
        return FieldDescAndData(*result)
    raise TypeError(f"an RPC result must be a pva dataclass instance, not "
                    f"{type(result).__name__}")


async def on_rpc(circuit, msg) -> None:
    ioid = msg.ioid
    err = error_reply(msg, ChannelRpcResponse)
    if msg.is_init:
        if await open_request(circuit, msg, AuthOperation.call, err) is not None:
            circuit.reply(ChannelRpcResponse(ioid, _OK, msg.subcommand), err)
        return
    execute_open(circuit, msg, execute, msg, err)


async def execute(circuit, op: ServerOp, msg, err) -> None:
    sub = msg.subcommand
    try:
        result = _as_rpc_result(await op.entry.call(op.request, msg.pv_data))
        reply = ChannelRpcResponse(op.ioid, _OK, sub, pv_response=result)
    except Exception as ex:
        log_handler_error(circuit, "RPC", op.entry.name, ex)
        reply = err(error_status(ex))
    circuit.reply(reply, err)
    circuit.finish(op, sub)

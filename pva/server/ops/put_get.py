"""PUT_GET: a write then a read in one request (``GET_PUT``: the put
structure's current value; ``GET_GET``: only the read)."""
from __future__ import annotations

from ..._bitset import BitSet
from ..._messages import ChannelPutGetResponse, Subcommand
from ..._values import DataWithBitSet, Status
from ..common import AuthOperation, error_status, log_handler_error
from .base import ServerOp, error_reply, execute_open, open_request, request_mask

__all__ = ["on_put_get"]


_OK = Status()
_GET = int(Subcommand.GET)
_GET_PUT = int(Subcommand.GET_PUT)


def _get_mask(op: ServerOp) -> BitSet:
    """What a put-get reads back: the request's ``getField(...)`` if it has one."""
    get = op.request.for_get()
    return op.mask if get is op.request else request_mask(get, op.desc)


async def on_put_get(circuit, msg) -> None:
    ioid = msg.ioid
    err = error_reply(msg, ChannelPutGetResponse)
    if msg.is_init:
        op = await open_request(circuit, msg, AuthOperation.write, err)
        if op is not None:
            # as pvAccessCPP for a plain PV: both structures are the PV's,
            # the get part marked by the request's field selection
            circuit.reply(ChannelPutGetResponse(ioid, _OK, msg.subcommand,
                                                put_structure_if=op.desc,
                                                get_structure_if=op.desc), err)
        return
    execute_open(circuit, msg, execute, msg, err)


async def execute(circuit, op: ServerOp, msg, err) -> None:
    sub = msg.subcommand
    try:
        if sub & _GET_PUT:      # the put structure's current value
            data = await op.entry.read(op.request)
            reply = ChannelPutGetResponse(op.ioid, _OK, sub, put_structure_if=op.desc,
                                          pv_data=DataWithBitSet(data, BitSet({0})))
        else:
            if not sub & _GET:  # put, then get; GET_GET only gets
                update = msg.put_data
                if update.data is None:
                    update.data = {}
                await op.entry.write(update)
            data = await op.entry.read(op.request)
            reply = ChannelPutGetResponse(op.ioid, _OK, sub, get_structure_if=op.desc,
                                          pv_data=DataWithBitSet(data, _get_mask(op)))
    except Exception as ex:
        log_handler_error(circuit, "put-get", op.entry.name, ex)
        reply = err(error_status(ex))
    circuit.reply(reply, err)
    circuit.finish(op, sub)

"""GET_FIELD: the PV's type (or one member's)."""
from __future__ import annotations

from ..._messages import ChannelFieldInfoResponse
from ..common import AuthOperation, error_status

__all__ = ["on_get_field"]


async def on_get_field(circuit, msg) -> None:
    ioid = msg.ioid
    served = circuit.served(msg.server_chid)
    try:
        if served is None:
            raise LookupError(f"unknown channel {msg.server_chid}")
        await served.entry.authorize(AuthOperation.read_interface,
                                     authorization=dict(circuit.authorization))
        desc = served.entry.structure
        name = msg.sub_field_name
        if name:
            desc = desc[name]
        reply = ChannelFieldInfoResponse(ioid, desc)
    except Exception as ex:
        reply = ChannelFieldInfoResponse(ioid, None, error_status(ex))
    circuit.send(reply)

"""RPC: INIT, then one call with the argument; the result is the server's answer."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..._errors import PVAError
from ..._introspection import FieldDesc, FieldType
from ..._messages import ChannelRpcRequest, Subcommand
from ..._values import FieldDescAndData, infer_field_desc
from ..value import Value
from .base import LAST, OneShot

__all__ = ["RpcOp", "rpc_argument"]


def rpc_argument(value: Any) -> FieldDescAndData:
    if isinstance(value, FieldDescAndData):
        return value
    if isinstance(value, Value) and value.type is not None:
        return FieldDescAndData(value.type, value.todict())
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], FieldDesc):
        return FieldDescAndData(value[0], value[1])
    if value is None:
        return FieldDescAndData(FieldDesc.struct([]), {})
    if hasattr(value, "_pva_struct_"):
        from .._dataclass import get_pv_structure
        return FieldDescAndData(get_pv_structure(value), value)
    if isinstance(value, Mapping):
        return FieldDescAndData(infer_field_desc(dict(value)), dict(value))
    raise TypeError(f"an RPC argument is a dict, Value or (FieldDesc, value), not "
                    f"{type(value).__name__}")


class RpcOp(OneShot):
    KIND = "rpc"

    def __init__(self, channel, request, argument, callback):
        super().__init__(channel, request, callback)
        self.argument = rpc_argument(argument)

    def _init_message(self):
        return ChannelRpcRequest(self._sid(), self.ioid, Subcommand.INIT, self.request)

    def _on_message(self, msg) -> None:
        if not self._check(msg):
            return
        if msg.subcommand & Subcommand.INIT:
            try:
                self._send(ChannelRpcRequest(self._sid(), self.ioid, LAST,
                                             pv_data=self.argument))
            except PVAError as ex:
                self._detach_request(destroy=True)
                self._finish(None, ValueError(f"{self.name}: {ex}"))
            return
        resp = msg.pv_response
        if resp is None or resp.interface is None:
            self._finish(None)
        elif resp.interface.field_type == FieldType.struct and not resp.interface.is_array:
            self._finish(Value(resp.data, resp.interface))
        else:
            self._finish(resp.data)

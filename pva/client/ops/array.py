"""ARRAY: element reads and writes of one array field."""
from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from ..._errors import PVAError
from ..._introspection import FieldDesc
from ..._messages import ChannelArrayRequest, Subcommand
from ..putvalue import coerce_array
from .base import LAST, OneShot

__all__ = ["ArrayOp", "array_action"]


#: ARRAY executions: subcommand and the fields of the request
_ARRAY_SUB = {"get": int(Subcommand.GET), "put": 0, "set_length": int(Subcommand.GET_PUT),
              "length": int(Subcommand.PROCESS)}


def array_action(action: str, *, offset: int = 0, count: int = -1, stride: int = 1,
                 values: Any = None, length: int = 0) -> Dict[str, Any]:
    """Check the arguments of an ARRAY execution (``get``, ``put``,
    ``set_length`` or ``length``); returns them as sent (``count`` -1 -> 0).

    Raises
    ------
    ValueError
        A negative offset or length, a stride below 1, a count below -1 or 0.
    """
    if action not in _ARRAY_SUB:
        raise ValueError(f"unknown array action {action!r}")
    for name, v in (("offset", offset), ("count", count), ("stride", stride),
                    ("length", length)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an integer, not {type(v).__name__}")
    if offset < 0:
        raise ValueError(f"offset must not be negative, not {offset}")
    if stride < 1:
        raise ValueError(f"stride must be at least 1, not {stride}")
    if count == 0 or count < -1:
        raise ValueError(f"count must be positive (or -1 for all elements), not {count}")
    if length < 0:
        raise ValueError(f"length must not be negative, not {length}")
    if action == "put" and values is None:
        raise ValueError("an array put needs values")
    return {"action": action, "offset": int(offset), "count": max(0, int(count)),
            "stride": int(stride), "values": values, "length": int(length)}


class ArrayOp(OneShot):
    """ARRAY: INIT (the request names one array field), then one execution.

    The result is the elements (``get``: numpy array or list), the length
    (``length``) or ``None`` (``put``, ``set_length``).
    """

    KIND = "array"

    def __init__(self, channel, request, action: Dict[str, Any], callback):
        super().__init__(channel, request, callback)
        self.action = action
        self.desc: Optional[FieldDesc] = None

    def _init_message(self):
        return ChannelArrayRequest(self._sid(), self.ioid, Subcommand.INIT, self.request)

    def _exec_message(self):
        a = self.action
        msg = ChannelArrayRequest(self._sid(), self.ioid, _ARRAY_SUB[a["action"]] | LAST,
                                  offset=a["offset"], count=a["count"], stride=a["stride"],
                                  length=a["length"])
        if a["action"] == "put":
            desc = self.desc
            if desc is None or not desc.is_array:
                raise ValueError(f"the server's array type is {desc!r}, not an array")
            msg.array_data = coerce_array(desc, a["values"], "array")
        return msg

    def _on_message(self, msg) -> None:
        if not self._check(msg):
            return
        if msg.subcommand & Subcommand.INIT:
            self.desc = msg.array_structure_if
            try:
                self._send(self._exec_message())
            except (PVAError, ValueError, TypeError) as ex:
                self._detach_request(destroy=True)
                self._finish(None, ValueError(f"{self.name}: {ex}"))
            return
        action = self.action["action"]
        if action == "get":
            self._finish(msg.array_data)
        elif action == "length":
            self._finish(msg.length)
        else:
            self._finish(None)

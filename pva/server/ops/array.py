"""The ARRAY request (CMD 0x0E) of the server: element access to one array field.

Theory of operation
-------------------
INIT carries a pvRequest naming one array field (``field(value)``; an empty
request means ``value``), as pvDatabase's ChannelArray does; the reply is
that field's type.  The executions, by subcommand::

    0x40 GET         offset, count, stride -> the elements (count 0: to the end)
    0x00 PUT         offset, stride, elements (the array grows as needed,
                     zero-filled: an offset past the end is allowed)
    0x80 SET_LENGTH  length (truncate, or extend with zeros)
    0x04 GET_LENGTH  -> the length

The data wrapper is not asked for elements: a GET calls ``read`` and slices
the field; a PUT or SET_LENGTH builds the whole new array and calls
``write`` with it as a put of that one field, after authorizing it as a
``write``.  So putters, read-only PVs and ``authorize`` hooks see an array
write as the put it amounts to, and monitors get one update.

The element helpers (:func:`select_array_field`, :func:`get_elements`,
:func:`put_elements`, :func:`resize`) are pure functions.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

import numpy as np

from ..._bitset import BitSet
from ..._introspection import FieldDesc, FieldType
from ..._messages import ChannelArrayRequest, ChannelArrayResponse, Subcommand
from ..._pvrequest import PVRequest
from ..._values import DataWithBitSet, Status, default_value
from ..common import AuthOperation, error_status
from .base import ServedChannel, ServerOp, error_reply, open_op

__all__ = ["select_array_field", "get_elements", "put_elements", "resize", "on_array"]

log = logging.getLogger("pva.server")

_OK = Status()
_GET = int(Subcommand.GET)
_SET_LENGTH = int(Subcommand.GET_PUT)
_GET_LENGTH = int(Subcommand.PROCESS)


# ---------------------------------------------------------------- pure helpers
def select_array_field(request: PVRequest, desc: FieldDesc) -> str:
    """The dotted name of the one array field ``request`` selects in ``desc``.

    Raises
    ------
    ValueError
        Not exactly one field, no such field, or not an array.
    """
    fields = request.fields
    if not fields:
        fields = ["value"]
    if len(fields) != 1:
        raise ValueError(f"an array request selects one array field, not {len(fields)} "
                         f"({', '.join(fields)})")
    path = fields[0]
    if path not in desc.bit_of or not path:
        raise ValueError(f"no field {path!r} in {desc.type_id or 'the structure'}")
    field = desc[path]
    if not field.is_array:
        kind = "structure" if field.field_type == FieldType.struct else field.field_type.name
        raise ValueError(f"field {path!r} is not an array (it is a {kind})")
    return path


def _check_offset(length: int, offset: int, stride: int) -> None:
    if stride < 1:
        raise ValueError(f"stride must be at least 1, not {stride}")
    if offset < 0 or offset > length:
        raise IndexError(f"offset {offset} is past the end of the array (length {length})")


def get_elements(array: Any, offset: int, count: int, stride: int) -> Any:
    """``count`` elements of ``array`` from ``offset``, every ``stride``-th
    (``count`` 0: up to the end)."""
    length = len(array)
    _check_offset(length, offset, stride)
    out = array[offset::stride]
    return out[:count] if count else out


def _numeric(desc: FieldDesc, array: Any) -> bool:
    ft = desc.field_type
    return isinstance(array, np.ndarray) or ft.is_numeric or ft == FieldType.boolean


def _dtype(desc: FieldDesc, array: Any) -> Any:
    return array.dtype if isinstance(array, np.ndarray) else np.dtype(desc.field_type.struct_char)


def put_elements(desc: FieldDesc, array: Any, values: Any, offset: int, stride: int) -> Any:
    """A new array: ``array`` with ``values`` written at ``offset``, every
    ``stride``-th element; it grows (zero-filled) if the writes pass its end,
    even if ``offset`` is past it."""
    length = len(array)
    _check_offset(max(length, offset), offset, stride)
    n = len(values)
    end = offset + (n - 1) * stride + 1 if n else 0
    if _numeric(desc, array):
        out = np.zeros(max(length, end), dtype=_dtype(desc, array))
        out[:length] = array
        if n:
            out[offset:end:stride] = values
        return out
    out = list(array) + [default_value(desc.element) for _ in range(end - length)]
    for i in range(n):
        out[offset + i * stride] = values[i]
    return out


def resize(desc: FieldDesc, array: Any, length: int) -> Any:
    """A new array: ``array`` truncated to ``length`` or extended with zeros."""
    if length < 0:
        raise ValueError(f"length must not be negative, not {length}")
    if _numeric(desc, array):
        out = np.zeros(length, dtype=_dtype(desc, array))
        keep = min(length, len(array))
        out[:keep] = array[:keep]
        return out
    return list(array[:length]) + [default_value(desc.element)
                                   for _ in range(length - len(array))]


def _lookup(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj[part] if isinstance(obj, Mapping) else getattr(obj, part)
    return obj


def _nested(path: str, value: Any) -> dict:
    out: dict = {}
    d = out
    parts = path.split(".")
    for part in parts[:-1]:
        d = d.setdefault(part, {})
    d[parts[-1]] = value
    return out


# ---------------------------------------------------------------- the handler
class ArrayRequest(ServerOp):
    """Server state of one ARRAY request: the array field it names."""

    __slots__ = ("path", "field")

    def __init__(self, ioid: int, served: ServedChannel, request: PVRequest, desc: FieldDesc,
                 path: str):
        super().__init__(ioid, served, request, desc, None)
        self.path = path
        self.field = desc[path]


async def on_array(circuit, msg: ChannelArrayRequest) -> None:
    """Handle an ARRAY request on ``circuit`` (a ``ServerCircuit``)."""
    ioid = msg.ioid
    err = error_reply(msg, ChannelArrayResponse)
    if msg.is_init:
        res = await open_op(circuit, msg, AuthOperation.read, err, select=select_array_field)
        if res is None:
            return
        served, request, desc, path, cost = res
        op = ArrayRequest(ioid, served, request, desc, path)
        circuit.register(op, cost)
        circuit.reply(ChannelArrayResponse(ioid, _OK, msg.subcommand,
                                           array_structure_if=op.field), err)
        return
    op = circuit.op(ioid)
    if not isinstance(op, ArrayRequest):
        return
    circuit.start(op, _exec_array(circuit, op, msg, err))


async def _exec_array(circuit, op: ArrayRequest, msg: ChannelArrayRequest, err) -> None:
    sub = msg.subcommand
    entry = op.entry
    try:
        writing = not sub & _GET and (sub & _SET_LENGTH or not sub & _GET_LENGTH)
        if writing:
            await entry.authorize(AuthOperation.write,
                                  authorization=dict(circuit.authorization),
                                  request=op.request)
        array = _lookup(await entry.read(op.request), op.path)
        if array is None:
            array = default_value(op.field)
        if sub & _GET:
            reply = ChannelArrayResponse(op.ioid, _OK, sub, array_structure_if=op.field,
                                         array_data=get_elements(array, msg.offset,
                                                                 msg.count, msg.stride))
        elif not writing:   # GET_LENGTH
            reply = ChannelArrayResponse(op.ioid, _OK, sub, length=len(array))
        else:               # SET_LENGTH or PUT
            if sub & _SET_LENGTH:
                new = resize(op.field, array, msg.length)
            else:
                new = put_elements(op.field, array, msg.array_data, msg.offset, msg.stride)
            bits = BitSet({op.desc.bit_of[op.path]})
            await entry.write(DataWithBitSet(_nested(op.path, new), bits))
            reply = ChannelArrayResponse(op.ioid, _OK, sub)
    except Exception as ex:
        log.debug("%s: array request on %s failed", circuit, entry.name, exc_info=True)
        reply = err(error_status(ex))
    circuit.reply(reply, err)
    circuit.finish(op, sub)

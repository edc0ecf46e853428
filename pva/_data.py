"""Value containers, :class:`Status` and what values need besides codecs.

- :class:`Status` (and :class:`StatusType`): the status of a reply;
- :class:`Variant`, :class:`FieldDescAndData`, :class:`DataWithBitSet`: a
  variant union's value, a value with its type, a partial value;
- :class:`DecodeContext`, :class:`EncodeContext`: what a compiled codec
  needs of its connection (type cache, limits);
- :func:`default_value` (the value of a type when nothing was sent) and
  :func:`infer_field_desc` (the type of a plain Python value);
- :func:`values_equal`: structural equality that understands numpy arrays.

The codecs themselves are :mod:`pva._values` (full values) and
:mod:`pva._partial` (BitSet-selected fields).
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, NamedTuple, Optional, Tuple

import numpy as np

from ._bitset import BitSet
from ._errors import DecodeError, LocalProtocolError
from ._introspection import FieldArrayType, FieldDesc, FieldType
from ._typecodec import IntrospectionCache
from ._wire import DEFAULT_LIMITS, Deserialized, Limits, deserialized, pack_string, read_string

__all__ = ["StatusType", "Status", "Variant", "FieldDescAndData", "DataWithBitSet",
           "DecodeContext", "EncodeContext", "default_value", "infer_field_desc",
           "values_equal"]


# --------------------------------------------------------------------------
# Status
class StatusType(enum.IntEnum):
    """Completion status codes (``0xFF`` on the wire is the short OK form)."""

    OK = 0
    WARNING = 1
    ERROR = 2
    FATAL = 3


class Status:
    """Completion status of a request.

    Parameters
    ----------
    status : StatusType
        OK, WARNING, ERROR or FATAL.
    message : str, optional
        Human-readable message.
    call_tree : str, optional
        Extra context (e.g. a traceback).
    """

    __slots__ = ("status", "message", "call_tree")

    def __init__(self, status: StatusType = StatusType.OK, message: str = "", call_tree: str = ""):
        self.status = StatusType(status)
        self.message = message
        self.call_tree = call_tree

    @property
    def is_successful(self) -> bool:
        """OK and WARNING count as success."""
        return self.status in (StatusType.OK, StatusType.WARNING)

    @classmethod
    def create_success(cls) -> "Status":
        """The OK status."""
        return cls(StatusType.OK)

    @classmethod
    def create_error(cls, message: str, call_tree: str = "") -> "Status":
        """An ERROR status with a message."""
        return cls(StatusType.ERROR, message, call_tree)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Status):
            return NotImplemented
        return (self.status, self.message, self.call_tree) == (other.status, other.message, other.call_tree)

    def __hash__(self) -> int:
        return hash((self.status, self.message, self.call_tree))

    def __repr__(self) -> str:
        if self.status == StatusType.OK and not self.message and not self.call_tree:
            return "Status(OK)"
        return f"Status({self.status.name}, message={self.message!r}, call_tree={self.call_tree!r})"

    def encode(self, order: str = "<") -> bytes:
        """Wire form; OK without message or call tree is the single byte 0xFF."""
        if self.status == StatusType.OK and not self.message and not self.call_tree:
            return b"\xff"
        return bytes((self.status,)) + pack_string(self.message, order) + pack_string(self.call_tree, order)

    def serialize(self, endian: str = "<") -> list:
        """caproto.pva's spelling of :meth:`encode`: a list of buffers."""
        return [self.encode(endian)]

    @classmethod
    def deserialize(cls, data: Any, *, endian: str = "<") -> Deserialized:
        """caproto.pva's spelling of :meth:`decode`: ``(status, rest, nbytes)``."""
        return deserialized(cls.decode, data, endian)

    @classmethod
    def decode(cls, buf: memoryview, offset: int = 0, order: str = "<",
               limits: Limits = DEFAULT_LIMITS) -> Tuple["Status", int]:
        """Decode; returns ``(Status, new_offset)``."""
        if not isinstance(buf, memoryview):
            buf = memoryview(buf)
        try:
            code = buf[offset]
        except IndexError:
            raise DecodeError("truncated input: expected a status", offset) from None
        if code == 0xFF:
            return cls(), offset + 1
        if code > 3:
            raise DecodeError(f"invalid status type {code}", offset)
        msg, off = read_string(buf, offset + 1, order, limits)
        tree, off = read_string(buf, off, order, limits)
        return cls(StatusType(code), msg, tree), off



# --------------------------------------------------------------------------
# containers
class Variant(NamedTuple):
    """The value of a variant union: its type and its value."""

    desc: FieldDesc
    value: Any


class FieldDescAndData:
    """A type description followed by a full value (caproto.pva name).

    Parameters
    ----------
    interface : FieldDesc or None
        The type (``None`` -> no data); a pva dataclass stands for its
        structure.
    data : object
        The value; without ``interface``, a pva dataclass instance gives the
        type.
    """

    __slots__ = ("interface", "data")

    def __init__(self, interface: Optional[FieldDesc] = None, data: Any = None):
        self.interface = _structure_of(interface, data)
        self.data = data

    def __repr__(self) -> str:
        return f"FieldDescAndData(interface={self.interface!r}, data={self.data!r})"

    # caproto.pva's codec spellings (values in its forms: pva._serialization)
    def serialize(self, endian: str = "<", cache: Optional[IntrospectionCache] = None
                  ) -> list:
        """The type and the value, as a list of buffers."""
        from ._serialization import serialize_field_desc_and_data
        return serialize_field_desc_and_data(self, endian, cache)

    @classmethod
    def deserialize(cls, data: Any, *, endian: str = "<",
                    cache: Optional[IntrospectionCache] = None) -> Deserialized:
        """``(FieldDescAndData, rest, nbytes)``; a structure's data is an
        instance of its pva dataclass."""
        from ._serialization import deserialize_field_desc_and_data
        return deserialize_field_desc_and_data(data, endian, cache)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldDescAndData):
            return NotImplemented
        return self.interface == other.interface and values_equal(self.data, other.data)


class DataWithBitSet:
    """A (partial) structure value and the BitSet telling which fields it has.

    Parameters
    ----------
    data : dict
        The structure value.
    bitset : BitSet
        The fields that are present / changed.
    interface : FieldDesc, optional
        The structure's type (a pva dataclass instance as ``data`` gives it).
    """

    __slots__ = ("data", "bitset", "interface")

    def __init__(self, data: Any = None, bitset: Optional[BitSet] = None,
                 interface: Optional[FieldDesc] = None):
        self.data = data
        self.bitset = BitSet() if bitset is None else bitset
        self.interface = (interface if type(interface) is FieldDesc
                          else _structure_of(interface, data))

    def __repr__(self) -> str:
        return f"DataWithBitSet(data={self.data!r}, bitset={self.bitset!r})"

    # caproto.pva's codec spellings (values in its forms: pva._serialization)
    def serialize(self, endian: str = "<", cache: Optional[IntrospectionCache] = None
                  ) -> list:
        """The BitSet and the fields it selects, as a list of buffers."""
        from ._serialization import serialize_data_with_bitset
        return serialize_data_with_bitset(self, endian, cache)

    def deserialize(self, data: Any, *, endian: str = "<",
                    cache: Optional[IntrospectionCache] = None) -> Deserialized:
        """Fill this object (``interface`` gives the type) from the start of
        ``data``: ``(self, rest, nbytes)``."""
        from ._serialization import deserialize_data_with_bitset
        return deserialize_data_with_bitset(self, data, endian, cache)


def _structure_of(interface: Any, data: Any) -> Optional[FieldDesc]:
    """``interface``, or the structure of the pva dataclass it is (or that
    ``data`` is an instance of); see :mod:`pva._dataclass`."""
    if interface is None:
        return getattr(data, "_pva_struct_", None)
    if isinstance(interface, FieldDesc):
        return interface
    return getattr(interface, "_pva_struct_", interface)


class DecodeContext:
    """Per-connection state a decoder needs: type cache, limits, nesting depth.

    ``nodes`` is the running node budget of the message being decoded (see
    :attr:`~pva.Limits.max_message_nodes`): type descriptions read inside
    values (variants) and the elements of arrays of structures, unions and
    variants are taken from it before they are decoded.  It starts at
    ``max_message_nodes`` plus the length of the input, and
    :func:`~pva._messages.decode_message` starts it anew for every message.
    """

    __slots__ = ("cache", "limits", "depth", "nodes")

    def __init__(self, cache: Optional[IntrospectionCache] = None, limits: Limits = DEFAULT_LIMITS):
        self.cache = cache
        self.limits = limits
        self.depth = 0
        self.nodes = limits.max_message_nodes


_OVER_BUDGET = ("message expands to more nodes than its budget (limit max_message_nodes "
                "{} plus one per byte)")


def charge(ctx: DecodeContext, nodes: int, off: int) -> None:
    """Take ``nodes`` from the message's budget (DecodeError past it)."""
    ctx.nodes -= nodes
    if ctx.nodes < 0:
        raise DecodeError(_OVER_BUDGET.format(ctx.limits.max_message_nodes), off)


class EncodeContext:
    """Per-connection state an encoder needs: the type cache."""

    __slots__ = ("cache",)

    def __init__(self, cache: Optional[IntrospectionCache] = None):
        self.cache = cache


_INFER_DTYPE = {
    "b": FieldType.int8, "h": FieldType.int16, "i": FieldType.int32, "q": FieldType.int64,
    "B": FieldType.uint8, "H": FieldType.uint16, "I": FieldType.uint32, "Q": FieldType.uint64,
    "f": FieldType.float32, "d": FieldType.float64, "?": FieldType.boolean,
    "l": FieldType.int64, "L": FieldType.uint64,
}


def _dtype_field_type(dtype: np.dtype) -> FieldType:
    ft = _INFER_DTYPE.get(dtype.char)
    if ft is None:
        # platform aliases (e.g. 'l' vs 'q'): map by kind and size
        kind, size = dtype.kind, dtype.itemsize
        for cand in _INFER_DTYPE.values():
            if cand == FieldType.boolean:
                continue
            cd = np.dtype(cand.struct_char)
            if cd.kind == kind and cd.itemsize == size:
                return cand
        raise LocalProtocolError(f"no pvAccess type for numpy dtype {dtype}")
    return ft


def infer_field_desc(value: Any) -> Optional[FieldDesc]:
    """Guess a FieldDesc for a plain Python value (for variant unions).

    ``bool`` -> boolean, ``int`` -> int64, ``float`` -> float64, ``str`` ->
    string, numpy arrays by dtype, ``bytes`` -> uint8[], sequences of str ->
    string[], other sequences via numpy, dicts -> structures, ``None`` -> null.
    """
    if value is None:
        return None
    if isinstance(value, Variant):
        return value.desc
    if hasattr(value, "_pva_struct_"):
        return value._pva_struct_
    if isinstance(value, (bool, np.bool_)):
        return FieldDesc(FieldType.boolean)
    if isinstance(value, np.generic):
        return FieldDesc(_dtype_field_type(value.dtype))
    if isinstance(value, int):
        return FieldDesc(FieldType.int64)
    if isinstance(value, float):
        return FieldDesc(FieldType.float64)
    if isinstance(value, str):
        return FieldDesc(FieldType.string)
    if isinstance(value, (bytes, bytearray)):
        return FieldDesc(FieldType.uint8, FieldArrayType.variable_array)
    if isinstance(value, Mapping):
        return FieldDesc.struct([(str(k), _infer_required(v)) for k, v in value.items()])
    if isinstance(value, np.ndarray):
        return FieldDesc(_dtype_field_type(value.dtype), FieldArrayType.variable_array)
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, str) for v in value):
            return FieldDesc(FieldType.string, FieldArrayType.variable_array)
        arr = np.asarray(value)
        if arr.dtype.kind in "biuf" and arr.ndim == 1:
            return FieldDesc(_dtype_field_type(arr.dtype), FieldArrayType.variable_array)
        if not value:
            return FieldDesc(FieldType.float64, FieldArrayType.variable_array)
    raise LocalProtocolError(f"cannot infer a pvAccess type for {type(value).__name__}")


def _infer_required(value: Any) -> FieldDesc:
    desc = infer_field_desc(value)
    return FieldDesc(FieldType.any) if desc is None else desc


_EMPTY = {ft: np.zeros(0, dtype=np.dtype(ft.struct_char)) for ft in _INFER_DTYPE.values()}


def default_value(desc: FieldDesc) -> Any:
    """The zero value of a type (0, '', empty array, dict of defaults, None)."""
    ft = desc.field_type
    if desc.array_type == FieldArrayType.fixed_array and (ft.is_numeric or ft == FieldType.boolean):
        return np.zeros(desc.size, dtype=np.dtype(ft.struct_char))
    if desc.array_type == FieldArrayType.fixed_array and ft == FieldType.string:
        return [""] * desc.size
    if desc.is_array:
        if ft.is_numeric or ft == FieldType.boolean:
            return _EMPTY[ft]
        return []
    if ft == FieldType.struct:
        return {n: default_value(d) for n, d in desc.fields}
    if ft in (FieldType.union, FieldType.any):
        return None
    if ft.is_string:
        return ""
    if ft == FieldType.boolean:
        return False
    if ft.is_floating:
        return 0.0
    return 0


def values_equal(a: Any, b: Any) -> bool:
    """Structural equality that understands numpy arrays (for tests/containers)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a_arr, b_arr = np.asarray(a), np.asarray(b)
        return a_arr.shape == b_arr.shape and bool(np.array_equal(a_arr, b_arr, equal_nan=a_arr.dtype.kind == "f"))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    return a == b

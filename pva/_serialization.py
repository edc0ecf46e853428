"""caproto.pva's generic codec entry points, ``to_wire`` and ``from_wire``, over ours.

Code written for caproto.pva serializes with::

    buffers = pva.to_wire(category, value, endian=pva.BIG_ENDIAN, cache=cache)
    value, rest, nbytes = pva.from_wire(category, data, endian=..., cache=cache)

``category`` is a :class:`FieldDesc` (``value`` is a value of that type; with
``bitset``, the fields it selects, without the BitSet itself), a class with
``serialize``/``deserialize`` (:class:`BitSet`, :class:`Status`,
:class:`FieldDesc`, :class:`FieldDescAndData`, :class:`~pva._wire.Size`) or,
for ``from_wire``, a :class:`DataWithBitSet` whose ``interface`` tells the
type (it is filled in and returned, as caproto.pva does).

Values take caproto.pva's forms here, converted from and to the codec's
(see :mod:`pva._values`): a union is a dict of its options, every one
``None`` but the selected one; a variant is its plain value; a decoded numeric
array is an :class:`array.array`.  These entry points copy (the conversions,
the joined input): they are for code ported from caproto.pva, not for the
client and server, which call :func:`encode_value` / :func:`decode_value`
and the partial codec directly.
"""
from __future__ import annotations

import array
import inspect
from typing import Any, Dict, List, Optional

import numpy as np

from ._bitset import BitSet, decode_bitset
from ._data import DataWithBitSet, FieldDescAndData, Variant
from ._dataclass import get_pv_structure, is_pva_dataclass, is_pva_dataclass_instance
from ._introspection import FieldDesc, FieldType
from ._typecodec import IntrospectionCache
from ._partial import decode_partial, encode_partial
from ._values import (decode_field_desc_and_data, decode_value, encode_field_desc_and_data,
                      encode_value)
from ._wire import Deserialized

__all__ = ["to_wire", "from_wire", "to_caproto_form", "from_caproto_form"]

#: numpy dtype kind+size -> array.array typecode (decoded numeric arrays)
_TYPECODES = {np.dtype(c): c for c in "bBhHiIqQfd"}


def to_wire(category: Any, value: Any = None, endian: str = "<",
            bitset: Optional[BitSet] = None, cache: Optional[IntrospectionCache] = None
            ) -> List[bytes]:
    """Serialize ``value`` (of type ``category``, see the module doc): a list of buffers."""
    if isinstance(value, (FieldDescAndData, DataWithBitSet)):
        return value.serialize(endian, cache)
    if isinstance(category, FieldDesc):
        ours = from_caproto_form(category, value)
        if bitset is None:
            return [encode_value(category, ours, endian, cache)]
        data = encode_partial(category, ours, bitset, endian, cache)
        _, start = decode_bitset(memoryview(data), 0, endian)
        return [data[start:]]
    if category is FieldDesc or isinstance(value, FieldDesc):
        desc = get_pv_structure(value) if is_pva_dataclass(value) or \
            is_pva_dataclass_instance(value) else value
        return desc.serialize(endian, cache)
    if hasattr(value, "serialize"):
        return value.serialize(endian=endian)
    if isinstance(category, type) and hasattr(category, "serialize"):
        return category.serialize(value, endian)       # Size: a value of the class
    raise TypeError(f"cannot serialize {value!r} as {category!r}")


def from_wire(category: Any, data: Any, *, endian: str = "<",
              bitset: Optional[BitSet] = None, cache: Optional[IntrospectionCache] = None
              ) -> Deserialized:
    """Deserialize from the start of ``data``: ``(item, rest, nbytes)``."""
    if isinstance(category, DataWithBitSet):
        return category.deserialize(data, endian=endian, cache=cache)
    if isinstance(category, FieldDesc):
        buf = data if isinstance(data, memoryview) else memoryview(data)
        if bitset is None:
            value, offset = decode_value(category, buf, 0, endian, cache)
            return Deserialized(to_caproto_form(category, value), buf[offset:], offset)
        prefix = bitset.encode(endian)
        value, _, offset = decode_partial(category, prefix + bytes(buf), 0, endian, cache=cache)
        offset -= len(prefix)
        return Deserialized(to_caproto_form(category, value), buf[offset:], offset)
    if isinstance(category, type) and hasattr(category, "deserialize"):
        if "cache" in inspect.signature(category.deserialize).parameters:
            return category.deserialize(data, endian=endian, cache=cache)
        return category.deserialize(data, endian=endian)
    raise TypeError(f"cannot deserialize {category!r}")


# ----------------------------------------------- FieldDescAndData / DataWithBitSet
def serialize_field_desc_and_data(item: FieldDescAndData, endian: str,
                                  cache: Optional[IntrospectionCache]) -> List[bytes]:
    desc = item.interface
    value = None if desc is None else from_caproto_form(desc, item.data)
    return [encode_field_desc_and_data(desc, value, endian, cache)]


def deserialize_field_desc_and_data(data: Any, endian: str,
                                    cache: Optional[IntrospectionCache]) -> Deserialized:
    """caproto.pva's form: the data is an instance of the type's pva dataclass."""
    from ._dataclass import dataclass_from_field_desc, fill_dataclass
    buf = data if isinstance(data, memoryview) else memoryview(data)
    item, offset = decode_field_desc_and_data(buf, 0, endian, cache)
    if item.interface is not None and item.interface.field_type == FieldType.struct:
        instance = dataclass_from_field_desc(item.interface)()
        fill_dataclass(instance, to_caproto_form(item.interface, item.data))
        item = FieldDescAndData(item.interface, instance)
    return Deserialized(item, buf[offset:], offset)


def serialize_data_with_bitset(item: DataWithBitSet, endian: str,
                               cache: Optional[IntrospectionCache]) -> List[bytes]:
    if item.interface is None:
        raise TypeError("a DataWithBitSet needs its interface to be serialized")
    return [encode_partial(item.interface, from_caproto_form(item.interface, item.data),
                           item.bitset, endian, cache)]


def deserialize_data_with_bitset(item: DataWithBitSet, data: Any, endian: str,
                                 cache: Optional[IntrospectionCache]) -> Deserialized:
    """Fill ``item`` (its interface tells the type) and return it, as caproto.pva."""
    if item.interface is None:
        raise TypeError("a DataWithBitSet needs its interface to be deserialized")
    buf = data if isinstance(data, memoryview) else memoryview(data)
    value, bits, offset = decode_partial(item.interface, buf, 0, endian, cache=cache)
    item.bitset = bits
    item.data = to_caproto_form(item.interface, value)
    return Deserialized(item, buf[offset:], offset)


# ------------------------------------------------------------ value forms
def from_caproto_form(desc: FieldDesc, value: Any) -> Any:
    """A value in caproto.pva's form as the codec takes it."""
    if value is None:
        return None
    ft = desc.field_type
    if desc.is_array and ft in (FieldType.struct, FieldType.union, FieldType.any):
        element = desc.element
        return [from_caproto_form(element, v) for v in value]
    if ft == FieldType.struct:
        if isinstance(value, dict):
            return {k: from_caproto_form(desc.children[k], v) if k in desc.children else v
                    for k, v in value.items()}
        return {name: from_caproto_form(child, getattr(value, name))
                for name, child in desc.fields if hasattr(value, name)}
    if ft == FieldType.union:
        return _selected(desc, value)
    if ft == FieldType.any:
        if isinstance(value, Variant):
            return value
        if is_pva_dataclass_instance(value):
            return Variant(get_pv_structure(value), value)
    if isinstance(value, array.array):
        return np.asarray(value)
    return value


def _selected(desc: FieldDesc, value: Any) -> Any:
    """``(option, value)`` of a union given as caproto.pva's dict (or instance)."""
    if isinstance(value, tuple):
        return value
    options = value if isinstance(value, dict) else {
        name: getattr(value, name, None) for name, _ in desc.fields}
    chosen = [(k, v) for k, v in options.items() if v is not None]
    if not chosen:
        return None
    if len(chosen) > 1:
        raise ValueError(f"a union value selects one option, not {[k for k, _ in chosen]}")
    name, v = chosen[0]
    if name not in desc.children:
        raise KeyError(f"{name!r} is not an option of the union")
    return name, from_caproto_form(desc.children[name], v)


def to_caproto_form(desc: FieldDesc, value: Any) -> Any:
    """A decoded value in caproto.pva's form (see the module doc)."""
    if value is None:
        return None
    ft = desc.field_type
    if desc.is_array and ft in (FieldType.struct, FieldType.union, FieldType.any):
        element = desc.element
        return [to_caproto_form(element, v) for v in value]
    if ft == FieldType.struct:
        return {name: to_caproto_form(child, value[name])
                for name, child in desc.fields if name in value}
    if ft == FieldType.union:
        options: Dict[str, Any] = {name: None for name, _ in desc.fields}
        name, v = value
        options[name] = to_caproto_form(desc.children[name], v)
        return options
    if ft == FieldType.any:
        return to_caproto_form(value.desc, value.value) if isinstance(value, Variant) else value
    if isinstance(value, np.ndarray):
        code = _TYPECODES.get(value.dtype.newbyteorder("="))
        return array.array(code, value.tobytes() if value.dtype.isnative
                           else value.astype(value.dtype.newbyteorder("=")).tobytes()) \
            if code else value.tolist()
    return value

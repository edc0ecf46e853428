"""``@pva_dataclass``: pvData structures declared as annotated Python classes.

Theory of operation
-------------------
The decorator reads the class annotations, maps each to a :class:`FieldDesc`
and stores the structure on the class as ``_pva_struct_``; the class itself
becomes a regular :mod:`dataclasses` dataclass with zero defaults.  Mapping:

==============================  ============================================
annotation                      pvData type
==============================  ============================================
``Int8`` ... ``UInt64``         integers (``int`` -> int64)
``Float32``, ``Float64``        floats (``float`` -> float64)
``String``, ``str``             string
``Boolean``, ``bool``           boolean
``Any``                         variant union (``any``)
``List[X]``                     variable array of X (scalars, dataclasses)
``Union[X, Y]``                 union, members named after the types
a ``@pva_dataclass``            sub-structure (or union if ``union=True``)
a ``FieldDesc`` / ``FieldType`` used as is
==============================  ============================================

Instances encode directly (encoders read attributes); decoded dicts turn back
into instances with :func:`from_value`.  Names follow caproto.pva.
"""
from __future__ import annotations

import collections
import dataclasses
import inspect
import sys
import typing
from typing import Dict, Optional

import numpy as np

from ._bitset import BitSet, _bits_of, _trusted
from ._introspection import FieldArrayType, FieldDesc, FieldType
from ._typecache import type_cache
from ._values import default_value

__all__ = [
    "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64",
    "Float32", "Float64", "String", "Boolean", "Any",
    "annotation_type_map",
    "pva_dataclass",
    "is_pva_dataclass",
    "is_pva_dataclass_instance",
    "get_pv_structure",
    "dataclass_from_field_desc",
    "from_value",
    "fill_dataclass",
    "fill_mask",
    "fill_bits",
    "fields_to_bitset",
    "array_of",
    "as_array",
    "convert_arrays",
]

Int8 = typing.NewType("Int8", int)
Int16 = typing.NewType("Int16", int)
Int32 = typing.NewType("Int32", int)
Int64 = typing.NewType("Int64", int)
UInt8 = typing.NewType("UInt8", int)
UInt16 = typing.NewType("UInt16", int)
UInt32 = typing.NewType("UInt32", int)
UInt64 = typing.NewType("UInt64", int)
Float32 = typing.NewType("Float32", float)
Float64 = typing.NewType("Float64", float)
String = typing.NewType("String", str)
Boolean = typing.NewType("Boolean", bool)
Any = typing.Any

#: annotation -> FieldType
annotation_type_map: Dict[Any, FieldType] = {
    Int8: FieldType.int8, Int16: FieldType.int16, Int32: FieldType.int32,
    Int64: FieldType.int64, UInt8: FieldType.uint8, UInt16: FieldType.uint16,
    UInt32: FieldType.uint32, UInt64: FieldType.uint64,
    Float32: FieldType.float32, Float64: FieldType.float64,
    String: FieldType.string, Boolean: FieldType.boolean, Any: FieldType.any,
    int: FieldType.int64, float: FieldType.float64, str: FieldType.string,
    bool: FieldType.boolean,
}

_type_to_annotation = {ft: ann for ann, ft in annotation_type_map.items()
                       if ann not in (int, float, str, bool)}


def _annotation_name(ann: Any) -> str:
    if isinstance(ann, FieldDesc):
        return ann.type_id or ann.field_type.name
    return getattr(ann, "__name__", None) or str(ann)


def field_desc_from_annotation(ann: Any) -> FieldDesc:
    """The FieldDesc an annotation stands for (see the module docstring)."""
    if isinstance(ann, FieldDesc):
        return ann
    if isinstance(ann, FieldType):
        return FieldDesc(ann)
    if hasattr(ann, "_pva_struct_"):
        return ann._pva_struct_
    try:
        return FieldDesc(annotation_type_map[ann])
    except (KeyError, TypeError):
        pass
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if origin in (list, typing.List) and len(args) == 1:
        return FieldDesc.array(field_desc_from_annotation(args[0]).element)
    if origin is typing.Union:
        members = [a for a in args if a is not type(None)]
        return FieldDesc.union([(_annotation_name(a), field_desc_from_annotation(a)) for a in members])
    raise TypeError(f"no pvAccess type for annotation {ann!r}")


def _resolve(cls: type, ann: Any) -> Any:
    """Evaluate a string annotation (``from __future__ import annotations``)."""
    if not isinstance(ann, str):
        return ann
    module = sys.modules.get(cls.__module__)
    namespace: Dict[str, Any] = dict(vars(typing))
    namespace.update(globals())
    if module is not None:
        namespace.update(vars(module))
    namespace.update(vars(cls))
    try:
        return eval(ann, namespace)  # noqa: S307 - annotations are the user's own code
    except NameError as ex:
        raise TypeError(f"cannot resolve annotation {ann!r} of {cls.__name__}: {ex}") from None


def _default_factory(desc: FieldDesc) -> Any:
    if desc.is_array and (desc.field_type.is_numeric or desc.field_type == FieldType.boolean):
        return lambda: np.zeros(desc.size if desc.array_type == FieldArrayType.fixed_array else 0,
                                dtype=np.dtype(desc.field_type.struct_char))
    if desc.is_array:
        return list
    if desc.field_type == FieldType.struct:
        # a sub-structure is an instance too (attribute access, as its
        # decoded values), of the dataclass registered for its type or of
        # one made for it on first use
        cls = _dataclass_cache.get(desc) or _generated.get(desc)
        return cls if cls is not None else (lambda: dataclass_from_field_desc(desc)())
    return None


def pva_dataclass(
    _cls: Optional[type] = None,
    *,
    name: Optional[str] = None,
    union: bool = False,
    add_defaults: bool = True,
    repr: bool = True,
    eq: bool = True,
    _register: bool = True,
) -> Any:
    """Turn an annotated class into a dataclass carrying a pvData structure.

    Parameters
    ----------
    name : str, optional
        Structure type id (defaults to the class name).
    union : bool, optional
        Describe a union instead of a structure.
    add_defaults : bool, optional
        Give every field a zero default.

    Examples
    --------
    >>> @pva_dataclass
    ... class Point:
    ...     x: Float64
    ...     y: Float64
    ...     tags: typing.List[String]
    >>> Point._pva_struct_.fields[0][0]
    'x'
    """

    def wrap(cls: type) -> type:
        own = cls.__dict__.get("__annotations__", {})
        hints = {attr: _resolve(cls, ann) for attr, ann in own.items()}
        fields = []
        for base in reversed(cls.__mro__[1:]):
            base_struct = getattr(base, "_pva_struct_", None)
            if base_struct is not None:
                for n, d in base_struct.fields:
                    if n not in own:
                        fields.append((n, d))
        for attr in own:
            fields.append((attr, field_desc_from_annotation(hints[attr])))
        if add_defaults:
            for attr, desc in fields:
                if attr in own and attr not in cls.__dict__:
                    factory = _default_factory(desc)
                    if factory is not None:
                        setattr(cls, attr, dataclasses.field(default_factory=factory))
                    else:
                        setattr(cls, attr, default_value(desc))
        dcls = dataclasses.dataclass(cls, repr=repr, eq=eq)
        ctor = FieldDesc.union if union else FieldDesc.struct
        dcls._pva_struct_ = ctor(fields, type_id=cls.__name__ if name is None else name)
        if _register:
            _dataclass_cache.setdefault(dcls._pva_struct_, dcls)
        return dcls

    if _cls is None:
        return wrap
    return wrap(_cls)


#: FieldDesc -> the class declared with pva_dataclass for it (kept for good)
_dataclass_cache: Dict[FieldDesc, type] = {}
#: FieldDesc -> a class made by dataclass_from_field_desc; types come from
#: peers too (RPC arguments, authorization data), so this one is bounded:
#: past _GENERATED_MAX classes the least recently used is dropped
_generated: "collections.OrderedDict[FieldDesc, type]" = collections.OrderedDict()
_GENERATED_MAX = 1024


def is_pva_dataclass(obj: Any) -> bool:
    """Is ``obj`` a class made by :func:`pva_dataclass`?"""
    return inspect.isclass(obj) and hasattr(obj, "_pva_struct_")


def is_pva_dataclass_instance(obj: Any) -> bool:
    """Is ``obj`` an instance of a :func:`pva_dataclass` class?"""
    return not inspect.isclass(obj) and hasattr(obj, "_pva_struct_")


def get_pv_structure(obj: Any) -> FieldDesc:
    """The FieldDesc of a pva dataclass or instance."""
    try:
        return obj._pva_struct_
    except AttributeError:
        raise ValueError(f"{obj!r} is not a pva_dataclass class or instance") from None


def dataclass_from_field_desc(desc: FieldDesc) -> type:
    """A pva dataclass for a structure FieldDesc (cached per FieldDesc)."""
    desc = desc.element
    try:
        return _dataclass_cache[desc]
    except KeyError:
        pass
    try:
        _generated.move_to_end(desc)
        return _generated[desc]
    except KeyError:
        pass
    annotations: Dict[str, Any] = {}
    for attr, child in desc.fields:
        if child.field_type == FieldType.struct:
            sub = dataclass_from_field_desc(child)
            annotations[attr] = typing.List[sub] if child.is_array else sub
        else:
            annotations[attr] = child
    ident = desc.type_id.replace(":", "_").replace("/", "_").replace(".", "_") or "structure"
    if not ident.isidentifier():
        ident = "structure"
    cls = type(ident, (), {"__annotations__": annotations})
    dcls = pva_dataclass(cls, name=desc.type_id, union=desc.field_type == FieldType.union,
                         _register=False)
    _generated[desc] = dcls
    if len(_generated) > _GENERATED_MAX:
        _generated.popitem(last=False)
    return dcls


def from_value(cls: type, value: Any) -> Any:
    """Build an instance of pva dataclass ``cls`` from a decoded dict."""
    if value is None or is_pva_dataclass_instance(value):
        return value
    desc = get_pv_structure(cls)
    kwargs = {}
    for name, child in desc.fields:
        if name not in value:
            continue
        v = value[name]
        if child.field_type == FieldType.struct:
            sub = dataclass_from_field_desc(child)
            v = [from_value(sub, x) for x in v] if child.is_array else from_value(sub, v)
        kwargs[name] = v
    return cls(**kwargs)


def fill_dataclass(instance: Any, value: Dict[str, Any]) -> BitSet:
    """Update ``instance`` from a (nested, partial) dict; returns the changed bits."""
    return fill_bits(type_cache.plans(get_pv_structure(instance)), instance, value)


def fill_bits(plans: Any, instance: Any, value: Dict[str, Any]) -> BitSet:
    """:func:`fill_dataclass` with the TypePlans of ``instance``'s type."""
    mask = _fill(instance, value, plans.fill or _fill_plan_of(plans))
    bits = plans.bit_lists.get(mask)
    if bits is None:
        bits = plans.bit_lists[mask] = tuple(_bits_of(mask))
    else:
        plans.bit_lists.move_to_end(mask)
    return _trusted(bits)


def fill_mask(instance: Any, value: Dict[str, Any]) -> int:
    """:func:`fill_dataclass` returning the changed bits as an integer mask."""
    plans = type_cache.plans(get_pv_structure(instance))
    return _fill(instance, value, plans.fill or _fill_plan_of(plans))


def _fill_plan_of(plans: Any) -> tuple:
    plan = plans.fill = _fill_plan(plans.desc, plans.desc.bit_of, "")
    return plan


def _fill_plan(desc: FieldDesc, bit_of: Dict[str, int], prefix: str) -> tuple:
    """``(member name -> (mask of its bit, array FieldDesc to convert to or None, plan of a
    structure member or None), the type's name)``; the bits are those of the
    outermost structure (a member structure's plan is its own)."""
    members = {}
    for name, child in desc.fields:
        path = f"{prefix}.{name}" if prefix else name
        sub = _fill_plan(child, bit_of, path) \
            if child.field_type == FieldType.struct and not child.is_array else None
        array = child if child.is_array and child.field_type in _ARRAY_DTYPES else None
        members[name] = (1 << bit_of[path], array, sub)
    return members, desc.type_id or "structure"


def _fill(obj: Any, value: Dict[str, Any], plan: tuple) -> int:
    members, type_name = plan
    mask = 0
    is_dict = isinstance(obj, dict)
    for key, v in value.items():
        entry = members.get(key)
        if entry is None:
            raise KeyError(f"{key!r} is not a member of {type_name}")
        bit_mask, array, sub = entry
        if sub is not None and isinstance(v, dict):
            mask |= _fill(obj[key] if is_dict else getattr(obj, key), v, sub)
            continue
        if array is not None:
            v = as_array(array, v)
        if is_dict:
            obj[key] = v
        else:
            setattr(obj, key, v)
        mask |= bit_mask
    return mask


#: numeric and boolean array fields: the numpy dtype their values are kept in
_ARRAY_DTYPES = {ft: np.dtype(ft.struct_char) for ft in FieldType
                 if ft.is_numeric or ft == FieldType.boolean}


def as_array(desc: FieldDesc, value: Any) -> Any:
    """A numeric or boolean array field's value as a numpy array of its type.

    Lists (and arrays of another dtype) are converted here, once, when they
    are assigned, so that every later encoding sends the array as it is; a
    contiguous array of the right dtype is kept without a copy.  Values that
    do not fit the type raise (``OverflowError``, ``ValueError``).
    """
    dtype = _ARRAY_DTYPES[desc.field_type]
    if isinstance(value, np.ndarray) and value.dtype == dtype and value.ndim == 1 and \
            value.flags.c_contiguous:
        return value
    arr = np.ascontiguousarray(value, dtype=dtype)
    if arr.ndim != 1:
        raise ValueError(f"an array field holds one dimension, not the shape {arr.shape}")
    return arr


def convert_arrays(instance: Any) -> Any:
    """Convert the list values of ``instance``'s numeric and boolean array fields
    (sub-structures included) to numpy arrays with :func:`as_array`; returns it."""
    _convert(instance, get_pv_structure(instance))
    return instance


def _convert(obj: Any, desc: FieldDesc) -> None:
    for name, child in desc.fields:
        v = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        if v is None:
            continue
        if child.is_array and child.field_type in _ARRAY_DTYPES:
            arr = as_array(child, v)
            if arr is not v:
                if isinstance(obj, dict):
                    obj[name] = arr
                else:
                    setattr(obj, name, arr)
        elif child.field_type == FieldType.struct and not child.is_array:
            _convert(v, child)


def fields_to_bitset(instance: Any, field_dict: Dict[str, Any]) -> BitSet:
    """BitSet of the (nested) keys named in ``field_dict``.

    ``field_dict`` is nested like the structure (a sub-structure's dict names
    its members; a member's value may be anything, or a dict whose
    ``"_options"`` are that member's options, as in a pvRequest).  The
    BitSet's ``options`` attribute holds those options, nested the same way
    (caproto.pva's ``bitset.options``).
    """
    desc = get_pv_structure(instance)
    bit_of = desc.bit_of
    bits = BitSet()

    def walk(d: Dict[str, Any], prefix: str) -> Dict[str, Any]:
        options: Dict[str, Any] = {}
        for key, v in d.items():
            path = f"{prefix}.{key}" if prefix else key
            if path not in bit_of:
                raise KeyError(f"{path!r} is not a member of the structure")
            if isinstance(v, dict) and desc[path].field_type == FieldType.struct:
                options[key] = walk(v, path)
            else:
                bits.add(bit_of[path])
                if isinstance(v, dict) and "_options" in v:
                    options[key] = v["_options"]
        return options
    bits.options = walk(field_dict, "")
    return bits


def array_of(item: typing.Any, *, array_type: FieldArrayType = FieldArrayType.variable_array,
             size: Optional[int] = None, name: Optional[str] = None) -> FieldDesc:
    """caproto.pva's annotation of a bounded or fixed-size array member.

    ``item`` is an annotation type (``pva.Int8``, ``str`` ...), a
    :class:`FieldType`, a :class:`FieldDesc` or a pva dataclass; the result is
    the array's :class:`FieldDesc` (``FieldDesc.array(element, array_type,
    size)``), which a pva dataclass takes as an annotation.  ``name`` is
    accepted and ignored: a member's name is its attribute's.
    """
    if is_pva_dataclass(item):
        item = get_pv_structure(item)
    elif not isinstance(item, (FieldDesc, FieldType)):
        try:
            item = annotation_type_map[item]
        except (KeyError, TypeError):
            raise TypeError(f"cannot make an array of {item!r}") from None
    return FieldDesc.array(item, FieldArrayType(array_type), size or 0)


"""Hypothesis strategies for pva type descriptions and matching values."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from pva import FieldArrayType, FieldDesc, FieldType, Variant

SCALAR_TYPES = [
    FieldType.boolean, FieldType.int8, FieldType.int16, FieldType.int32, FieldType.int64,
    FieldType.uint8, FieldType.uint16, FieldType.uint32, FieldType.uint64,
    FieldType.float32, FieldType.float64, FieldType.string,
]

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCXYZ_0123456789", min_size=1, max_size=12)
type_ids = st.one_of(st.just(""), st.text(min_size=0, max_size=20))


@st.composite
def scalar_descs(draw):
    ft = draw(st.sampled_from(SCALAR_TYPES + [FieldType.bounded_string]))
    if ft == FieldType.bounded_string:
        return FieldDesc(ft, size=draw(st.integers(0, 300)))
    at = draw(st.sampled_from(list(FieldArrayType)))
    size = draw(st.integers(0, 6)) if at.has_field_desc_size else 0
    return FieldDesc(ft, at, size)


def _members(children):
    return st.lists(st.tuples(names, children), min_size=0, max_size=5,
                    unique_by=lambda t: t[0])


def field_descs(max_leaves: int = 12):
    """Any FieldDesc: scalars, arrays, structs, unions, variants and their arrays."""
    def extend(children):
        struct = st.builds(lambda m, i: FieldDesc.struct(m, i), _members(children), type_ids)
        union = st.builds(lambda m, i: FieldDesc.union(m, i), _members(children), type_ids)
        compound = st.one_of(struct, union)
        return st.one_of(compound, compound.map(FieldDesc.array))
    leaves = st.one_of(scalar_descs(), st.just(FieldDesc.variant()),
                       st.just(FieldDesc.array(FieldDesc.variant())))
    return st.recursive(leaves, extend, max_leaves=max_leaves)


def struct_descs(max_leaves: int = 12):
    return st.builds(lambda m, i: FieldDesc.struct(m, i), _members(field_descs(max_leaves)), type_ids)


_INT_RANGES = {
    FieldType.int8: (-2 ** 7, 2 ** 7 - 1), FieldType.int16: (-2 ** 15, 2 ** 15 - 1),
    FieldType.int32: (-2 ** 31, 2 ** 31 - 1), FieldType.int64: (-2 ** 63, 2 ** 63 - 1),
    FieldType.uint8: (0, 2 ** 8 - 1), FieldType.uint16: (0, 2 ** 16 - 1),
    FieldType.uint32: (0, 2 ** 32 - 1), FieldType.uint64: (0, 2 ** 64 - 1),
}


def scalar_values(ft: FieldType):
    if ft == FieldType.boolean:
        return st.booleans()
    if ft in _INT_RANGES:
        lo, hi = _INT_RANGES[ft]
        return st.integers(lo, hi)
    if ft == FieldType.float32:
        return st.floats(width=32, allow_nan=False)
    if ft == FieldType.float64:
        return st.floats(allow_nan=False)
    return st.text(max_size=300)


def values_for(desc: FieldDesc, depth: int = 0):
    """A strategy of values of type ``desc``."""
    ft, at = desc.field_type, desc.array_type
    if ft == FieldType.bounded_string:
        return st.text(max_size=desc.size).filter(lambda s: len(s.encode("utf-8")) <= desc.size)
    if at != FieldArrayType.scalar:
        if at == FieldArrayType.fixed_array:
            sizes = dict(min_size=desc.size, max_size=desc.size)
        elif at == FieldArrayType.bounded_array:
            sizes = dict(min_size=0, max_size=desc.size)
        else:
            sizes = dict(min_size=0, max_size=8)
        if ft.is_numeric or ft == FieldType.boolean:
            dtype = np.dtype(ft.struct_char)
            return st.lists(scalar_values(ft), **sizes).map(lambda v: np.array(v, dtype=dtype))
        if ft == FieldType.string:
            return st.lists(st.text(max_size=20), **sizes)
        elem = values_for(desc.element, depth + 1)
        return st.lists(st.one_of(st.none(), elem), **sizes)
    if ft == FieldType.struct:
        if not desc.fields:
            return st.just({})
        return st.fixed_dictionaries({n: values_for(d, depth + 1) for n, d in desc.fields})
    if ft == FieldType.union:
        options = [st.none()] + [values_for(d, depth + 1).map(lambda v, n=n: (n, v))
                                 for n, d in desc.fields]
        return st.one_of(options)
    if ft == FieldType.any:
        if depth > 3:
            return st.none()
        inner = st.one_of(scalar_descs(), st.just(FieldDesc.struct([("x", FieldDesc(FieldType.int32))], "t")))
        return st.one_of(st.none(), inner.flatmap(
            lambda d: values_for(d, depth + 1).map(lambda v: Variant(d, v))))
    return scalar_values(ft)


@st.composite
def descs_and_values(draw, max_leaves: int = 12):
    desc = draw(field_descs(max_leaves))
    return desc, draw(values_for(desc))


@st.composite
def structs_and_values(draw, max_leaves: int = 12):
    desc = draw(struct_descs(max_leaves))
    return desc, draw(values_for(desc))


def values_equal(a, b) -> bool:
    """Deep equality understanding numpy arrays, Variants and NaN."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and (a.size == 0 or bool(np.array_equal(a, b)))
    if isinstance(a, Variant) and isinstance(b, Variant):
        return a.desc == b.desc and values_equal(a.value, b.value)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (a != a and b != b)
    return a == b

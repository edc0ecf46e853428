"""Compiled full-value encoders: :func:`get_encoder` and the compiler of each kind
of type (scalar, string, array, structure, union, variant), with
:func:`fixed_char`, the :mod:`struct` character by which the encoders and
:mod:`pva._values`' decoders fuse runs of fixed-size scalars.

The theory of operation (compiled once per type and byte order, kept in the
type's plans, reused per update) is in :mod:`pva._values`, which re-exports
these names.
"""
from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any, Callable, List, Optional, Tuple

import numpy as np

from ._data import EncodeContext, Variant, default_value, infer_field_desc
from ._errors import LocalProtocolError
from ._introspection import FieldArrayType, FieldDesc, FieldType
from ._typecodec import write_field_desc
from ._typecache import type_cache
from ._wire import SCALAR_STRUCTS, Writer, pack_selector, pack_size, pack_string

__all__ = ["Encoder", "get_encoder", "fixed_char"]

Encoder = Callable[[Any, Writer, EncodeContext], None]


def fixed_char(desc: FieldDesc) -> Optional[str]:
    """The :mod:`struct` character of a fixed-size scalar type (None: not one)."""
    if desc.array_type == FieldArrayType.scalar and (
        desc.field_type.is_numeric or desc.field_type == FieldType.boolean
    ):
        return desc.field_type.struct_char
    return None



def get_encoder(desc: FieldDesc, order: str) -> Encoder:
    """The compiled encoder of ``desc`` in byte order ``order`` (kept in the
    type's plans, :mod:`pva._typecache`)."""
    encoders = type_cache.plans(desc).encoders
    enc = encoders.get(order)
    if enc is None:
        enc = encoders[order] = _compile_encoder(desc, order)
    return enc


def _compile_encoder(desc: FieldDesc, order: str) -> Encoder:
    ft, at = desc.field_type, desc.array_type
    if at == FieldArrayType.scalar:
        if ft == FieldType.struct:
            return _struct_encoder(desc, order)
        if ft == FieldType.union:
            return _union_encoder(desc, order)
        if ft == FieldType.any:
            return _any_encoder(order)
        if ft == FieldType.string:
            def enc_str(value, w, ctx):
                w.buf += pack_string(value, order)
            return enc_str
        if ft == FieldType.bounded_string:
            bound = desc.size

            def enc_bstr(value, w, ctx):
                data = pack_string(value, order)
                if len(value.encode("utf-8", "surrogateescape")) > bound:
                    raise LocalProtocolError(f"string {value!r} exceeds its bound {bound}")
                w.buf += data
            return enc_bstr
        pack = SCALAR_STRUCTS[order][ft.struct_char].pack

        def enc_scalar(value, w, ctx):
            w.buf += pack(value)
        return enc_scalar

    fixed = desc.size if at == FieldArrayType.fixed_array else None
    bound = desc.size if at == FieldArrayType.bounded_array else None

    def write_count(n, w):
        if fixed is not None:
            if n != fixed:
                raise LocalProtocolError(f"fixed-size array needs {fixed} elements, got {n}")
            return
        if bound is not None and n > bound:
            raise LocalProtocolError(f"array of {n} elements exceeds its bound {bound}")
        w.buf += pack_size(n, order)

    if ft.is_numeric or ft == FieldType.boolean:
        dtype = np.dtype(order + ft.struct_char) if ft != FieldType.boolean else np.dtype("?")
        asarray = np.ascontiguousarray

        def enc_array(value, w, ctx):
            arr = asarray(value, dtype)
            if arr.ndim != 1:
                arr = arr.reshape(-1)
            write_count(arr.shape[0], w)
            if arr.shape[0]:
                w.add_buffer(memoryview(arr).cast("B"))
        return enc_array
    if ft == FieldType.string:
        def enc_strarray(value, w, ctx):
            if isinstance(value, str):
                raise LocalProtocolError("a string array needs a sequence of str, not a str")
            write_count(len(value), w)
            for s in value:
                w.buf += pack_string(s, order)
        return enc_strarray

    elem = desc.element
    if ft == FieldType.struct:
        return _optional_elements(get_encoder(elem, order), write_count)
    if ft == FieldType.union:
        return _optional_elements(_union_encoder(elem, order), write_count)
    return _optional_elements(_any_encoder(order), write_count)


def _optional_elements(eenc: Encoder, write_count) -> Encoder:
    """The encoder of an array of structures, unions or anys (``eenc`` the
    element's, ``write_count`` the array's count): the count, then per
    element 0 for None, else 1 and it."""
    def enc_elements(value, w, ctx):
        write_count(len(value), w)
        for v in value:
            if v is None:
                w.buf.append(0)
            else:
                w.buf.append(1)
                eenc(v, w, ctx)
    return enc_elements


def _struct_encoder(desc: FieldDesc, order: str) -> Encoder:
    steps: List[Tuple[Any, Any, Any, bool]] = []
    run: List[Tuple[str, str, Any]] = []

    def flush():
        if run:
            st = struct.Struct(order + "".join(c for _, c, _ in run))
            steps.append((tuple(n for n, _, _ in run), st.pack, tuple(d for _, _, d in run), True))
            run.clear()

    for name, child in desc.fields:
        c = fixed_char(child)
        if c is not None:
            run.append((name, c, default_value(child)))
        else:
            flush()
            steps.append((name, get_encoder(child, order), child, False))
    flush()
    plan = tuple(steps)

    def enc_struct(value, w, ctx):
        # a pva dataclass instance skips the Mapping check (an ABC check is
        # a Python-level call)
        if type(value) is dict or (not hasattr(value, "_pva_struct_")
                                   and isinstance(value, Mapping)):
            get = value.get
            for a, b, c, fused in plan:
                if fused:
                    w.buf += b(*[get(n, d) for n, d in zip(a, c)])
                else:
                    v = get(a)
                    if v is None and c.field_type not in _NULLABLE:
                        v = default_value(c)
                    b(v, w, ctx)
            return
        # a dataclass instance (or any object with attributes)
        for a, b, c, fused in plan:
            if fused:
                w.buf += b(*[getattr(value, n, d) for n, d in zip(a, c)])
            else:
                v = getattr(value, a, None)
                if v is None and c.field_type not in _NULLABLE:
                    v = default_value(c)
                b(v, w, ctx)
    return enc_struct


_NULLABLE = frozenset({FieldType.union, FieldType.any})


def _union_encoder(desc: FieldDesc, order: str) -> Encoder:
    index = {n: i for i, (n, _) in enumerate(desc.fields)}
    encs = [get_encoder(d, order) for _, d in desc.fields]

    def enc_union(value, w, ctx):
        if value is None:
            w.buf.append(0xFF)
            return
        if isinstance(value, Mapping) and len(value) == 1:
            ((name, v),) = value.items()
        else:
            name, v = value
        try:
            i = index[name]
        except KeyError:
            raise LocalProtocolError(f"{name!r} is not a member of the union") from None
        w.buf += pack_selector(i, order)
        encs[i](v, w, ctx)
    return enc_union


def _any_encoder(order: str) -> Encoder:
    def enc_any(value, w, ctx):
        if value is None:
            w.buf.append(0xFF)
            return
        if isinstance(value, Variant):
            desc, v = value
        else:
            desc, v = infer_field_desc(value), value
        if desc is None:
            w.buf.append(0xFF)
            return
        write_field_desc(w.buf, desc, order, ctx.cache)
        get_encoder(desc, order)(v, w, ctx)
    return enc_any

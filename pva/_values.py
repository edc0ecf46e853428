"""Value serialization: full and BitSet-selected (partial), plus Status.

Theory of operation
-------------------
For every ``(FieldDesc, byte order)`` one decoder and one encoder are compiled
on first use and kept in the type's plans (:func:`get_decoder`,
:func:`get_encoder`; :mod:`pva._typecache`); each
monitor update then reuses the same closures.  A compiled decoder has the
signature ``dec(buf, offset, ctx) -> (value, offset)`` and reads straight
from a memoryview; a compiled encoder ``enc(value, writer, ctx)`` appends to a
:class:`~pva._wire.Writer`.  Runs of consecutive fixed-size scalar members of
a structure are fused into one :class:`struct.Struct` so e.g. ``time_t`` is a
single ``unpack_from``.  ``ctx`` carries what varies per connection: the
introspection cache (needed by variant unions) and the decoding limits.

Python representation of values:

=====================  =======================================================
type                   value
=====================  =======================================================
bool / ints / floats   ``bool`` / ``int`` / ``float``
string                 ``str``
numeric / bool array   numpy array; on decode a read-only *view* of the input
string array           ``list`` of ``str``
structure              ``dict`` (member name -> value); on encode any mapping
                       or object with the member attributes (pva dataclasses)
union                  ``None`` or ``(member name, value)``
variant (``any``)      ``None`` or :class:`Variant` ``(desc, value)``; on
                       encode a plain value is accepted and its type inferred
structure/union/any[]  ``list`` of the above (``None`` = null element)
=====================  =======================================================

Public entry points catch low-level failures (``struct.error`` on truncation,
numpy errors) and re-raise them as :class:`~pva.DecodeError` with the offset
where decoding of that value started; sizes are checked against the remaining
input and the :class:`~pva._wire.Limits` before anything is allocated.

The decoders are here, the encoders in :mod:`pva._encoders` (re-exported);
partial values (a BitSet and the fields it selects) are :mod:`pva._partial`'s.
"""
from __future__ import annotations

import struct
from typing import Any, Callable, List, Optional, Tuple

import numpy as np

from ._data import (DataWithBitSet, DecodeContext, EncodeContext, FieldDescAndData, Status, charge,
                    StatusType, Variant, default_value, infer_field_desc,
                    values_equal)
from ._encoders import Encoder, fixed_char, get_encoder  # noqa: F401  (re-exported)
from ._errors import DecodeError, LocalProtocolError
from ._introspection import FieldArrayType, FieldDesc, FieldType
from ._typecodec import IntrospectionCache, decode_field_desc, write_field_desc
from ._typecache import type_cache
from ._wire import (DEFAULT_LIMITS, SCALAR_STRUCTS, Limits, Writer, check_count,
                    read_selector, read_size, read_string)

__all__ = [
    "StatusType",
    "Status",
    "Variant",
    "FieldDescAndData",
    "DataWithBitSet",
    "DecodeContext",
    "EncodeContext",
    "get_decoder",
    "get_encoder",
    "fixed_char",
    "LOW_LEVEL_ERRORS",
    "encode_value",
    "decode_value",
    "write_value",
    "encode_field_desc_and_data",
    "decode_field_desc_and_data",
    "default_value",
    "infer_field_desc",
]


Decoder = Callable[[memoryview, int, DecodeContext], Tuple[Any, int]]


# --------------------------------------------------------------------------
# decoders
def get_decoder(desc: FieldDesc, order: str) -> Decoder:
    """The compiled decoder of ``desc`` in byte order ``order`` (kept in the
    type's plans, :mod:`pva._typecache`)."""
    decoders = type_cache.plans(desc).decoders
    dec = decoders.get(order)
    if dec is None:
        dec = decoders[order] = _compile_decoder(desc, order)
    return dec


def _compile_decoder(desc: FieldDesc, order: str) -> Decoder:
    ft, at = desc.field_type, desc.array_type
    if at == FieldArrayType.scalar:
        if ft == FieldType.struct:
            return _struct_decoder(desc, order)
        if ft == FieldType.union:
            return _union_decoder(desc, order)
        if ft == FieldType.any:
            return _any_decoder(order)
        if ft == FieldType.string:
            def dec_str(buf, off, ctx, _o=order):
                return read_string(buf, off, _o, ctx.limits)
            return dec_str
        if ft == FieldType.bounded_string:
            bound = desc.size

            def dec_bstr(buf, off, ctx, _o=order):
                s, end = read_string(buf, off, _o, ctx.limits)
                nbytes = end - off - (1 if buf[off] < 254 else 5)
                if nbytes > bound:
                    raise DecodeError(f"string of {nbytes} bytes exceeds its bound {bound}", off)
                return s, end
            return dec_bstr
        st = SCALAR_STRUCTS[order][ft.struct_char]
        unpack, size = st.unpack_from, st.size

        def dec_scalar(buf, off, ctx):
            return unpack(buf, off)[0], off + size
        return dec_scalar

    # arrays
    fixed = desc.size if at == FieldArrayType.fixed_array else None
    bound = desc.size if at == FieldArrayType.bounded_array else None

    def read_count(buf, off, ctx, min_each, what):
        start = off
        if fixed is not None:
            n = fixed
        else:
            n, off = read_size(buf, off, order)
            if bound is not None and n > bound:
                raise DecodeError(f"{what} length {n} exceeds its bound {bound}", start)
        check_count(n, min_each, buf, off, ctx.limits.max_array_length, what, start)
        return n, off

    if ft.is_numeric or ft == FieldType.boolean:
        dtype = np.dtype(order + ft.struct_char) if ft != FieldType.boolean else np.dtype("?")
        itemsize = dtype.itemsize
        frombuffer = np.frombuffer

        def dec_array(buf, off, ctx):
            n, off = read_count(buf, off, ctx, itemsize, "array")
            return frombuffer(buf, dtype, n, off), off + n * itemsize
        return dec_array
    if ft == FieldType.string:
        def dec_strarray(buf, off, ctx):
            n, off = read_count(buf, off, ctx, 1, "string array")
            out = []
            limits = ctx.limits
            for _ in range(n):
                s, off = read_string(buf, off, order, limits)
                out.append(s)
            return out, off
        return dec_strarray

    elem = desc.element
    # arrays of structures, unions and variants: every element is taken from
    # the message's node budget before any is decoded (an element costs one
    # byte but may be a large structure; a variant's type is charged as read)
    enodes = elem._nodes
    if ft == FieldType.struct:
        edec = get_decoder(elem, order)

        def dec_structarray(buf, off, ctx):
            start = off
            n, off = read_count(buf, off, ctx, 1, "structure array")
            charge(ctx, n * enodes, start)
            out: List[Any] = []
            for _ in range(n):
                flag = buf[off]
                off += 1
                if flag:
                    v, off = edec(buf, off, ctx)
                    out.append(v)
                else:
                    out.append(None)
            return out, off
        return dec_structarray
    if ft == FieldType.union:
        names = [n for n, _ in elem.fields]
        decs = [get_decoder(d, order) for _, d in elem.fields]
        costs = [d._nodes for _, d in elem.fields]
        nmemb = len(names)

        def dec_unionarray(buf, off, ctx):
            start = off
            n, off = read_count(buf, off, ctx, 1, "union array")
            charge(ctx, n, start)
            out: List[Any] = []
            for _ in range(n):
                flag = buf[off]
                off += 1
                if not flag:
                    out.append(None)
                    continue
                sel, off2 = read_selector(buf, off, order)
                if sel < 0:
                    out.append(None)
                    off = off2
                    continue
                if sel >= nmemb:
                    raise DecodeError(f"union selector {sel} out of range ({nmemb} members)", off)
                charge(ctx, costs[sel], off)
                v, off = decs[sel](buf, off2, ctx)
                out.append((names[sel], v))
            return out, off
        return dec_unionarray
    # any[]
    anydec = _any_decoder(order)

    def dec_anyarray(buf, off, ctx):
        start = off
        n, off = read_count(buf, off, ctx, 1, "variant array")
        charge(ctx, n, start)
        out: List[Any] = []
        for _ in range(n):
            flag = buf[off]
            off += 1
            if flag:
                v, off = anydec(buf, off, ctx)
                out.append(v)
            else:
                out.append(None)
        return out, off
    return dec_anyarray


def _struct_decoder(desc: FieldDesc, order: str) -> Decoder:
    # steps: (names, Struct) for fused fixed-size runs, (name, decoder) otherwise
    steps: List[Tuple[Any, Any, bool]] = []
    run: List[Tuple[str, str]] = []

    def flush():
        if run:
            st = struct.Struct(order + "".join(c for _, c in run))
            steps.append((tuple(n for n, _ in run), st, True))
            run.clear()

    for name, child in desc.fields:
        c = fixed_char(child)
        if c is not None:
            run.append((name, c))
        else:
            flush()
            steps.append((name, get_decoder(child, order), False))
    flush()

    if len(steps) == 1 and steps[0][2]:
        names, st, _ = steps[0]
        unpack, size = st.unpack_from, st.size

        def dec_flat(buf, off, ctx):
            return dict(zip(names, unpack(buf, off))), off + size
        return dec_flat

    plan = tuple((a, (b.unpack_from, b.size) if fused else b, fused) for a, b, fused in steps)

    def dec_struct(buf, off, ctx):
        d = {}
        for a, b, fused in plan:
            if fused:
                d.update(zip(a, b[0](buf, off)))
                off += b[1]
            else:
                d[a], off = b(buf, off, ctx)
        return d, off
    return dec_struct


def _union_decoder(desc: FieldDesc, order: str) -> Decoder:
    names = [n for n, _ in desc.fields]
    decs = [get_decoder(d, order) for _, d in desc.fields]
    nmemb = len(names)

    def dec_union(buf, off, ctx):
        sel, off2 = read_selector(buf, off, order)
        if sel < 0:
            return None, off2
        if sel >= nmemb:
            raise DecodeError(f"union selector {sel} out of range ({nmemb} members)", off)
        v, off2 = decs[sel](buf, off2, ctx)
        return (names[sel], v), off2
    return dec_union


def _any_decoder(order: str) -> Decoder:
    def dec_any(buf, off, ctx):
        limits = ctx.limits
        if ctx.depth >= limits.max_depth:
            raise DecodeError(f"variant values nested deeper than {limits.max_depth}", off)
        desc, off = decode_field_desc(buf, off, order, ctx.cache, limits, ctx)
        if desc is None:
            return None, off
        ctx.depth += 1
        try:
            v, off = get_decoder(desc, order)(buf, off, ctx)
        finally:
            ctx.depth -= 1
        return Variant(desc, v), off
    return dec_any


# --------------------------------------------------------------------------
# public entry points
LOW_LEVEL_ERRORS = (struct.error, IndexError, ValueError, OverflowError, UnicodeError, RecursionError)


def _as_view(buf: Any) -> memoryview:
    mv = buf if isinstance(buf, memoryview) else memoryview(buf)
    if mv.format != "B" or mv.ndim != 1:
        mv = mv.cast("B")
    return mv


def decode_value(
    desc: FieldDesc,
    buf: Any,
    offset: int = 0,
    order: str = "<",
    cache: Optional[IntrospectionCache] = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Tuple[Any, int]:
    """Decode a full value of type ``desc``.

    Returns
    -------
    value : object
        See the module docstring for the Python representation.
    offset : int
        Offset just past the value.

    Raises
    ------
    DecodeError
        For any malformed, truncated or oversized input.
    """
    buf = _as_view(buf)
    ctx = DecodeContext(cache, limits)
    ctx.nodes += len(buf) - offset
    try:
        return get_decoder(desc, order)(buf, offset, ctx)
    except DecodeError:
        raise
    except LOW_LEVEL_ERRORS as ex:
        raise DecodeError(f"cannot decode {desc.field_type.name} value: {ex}", offset) from None


def write_value(
    w: Writer, desc: FieldDesc, value: Any, cache: Optional[IntrospectionCache] = None
) -> None:
    """Append the full encoding of ``value`` (of type ``desc``) to writer ``w``."""
    try:
        get_encoder(desc, w.order)(value, w, EncodeContext(cache))
    except LocalProtocolError:
        raise
    except (struct.error, TypeError, ValueError, KeyError, AttributeError, OverflowError) as ex:
        raise LocalProtocolError(f"cannot encode {value!r} as {desc.field_type.name}: {ex}") from None


def encode_value(
    desc: FieldDesc, value: Any, order: str = "<", cache: Optional[IntrospectionCache] = None
) -> bytes:
    """Encode a full value of type ``desc`` to bytes."""
    w = Writer(order)
    write_value(w, desc, value, cache)
    return w.getvalue()


def encode_field_desc_and_data(
    desc: Optional[FieldDesc], value: Any, order: str = "<",
    cache: Optional[IntrospectionCache] = None,
) -> bytes:
    """Type description followed by the full value (variant-style payload)."""
    w = Writer(order)
    write_field_desc(w.buf, desc, order, cache)
    if desc is not None:
        write_value(w, desc, value, cache)
    return w.getvalue()


def decode_field_desc_and_data(
    buf: Any, offset: int = 0, order: str = "<",
    cache: Optional[IntrospectionCache] = None, limits: Limits = DEFAULT_LIMITS,
) -> Tuple[FieldDescAndData, int]:
    """Decode a type description followed by a full value."""
    buf = _as_view(buf)
    desc, offset = decode_field_desc(buf, offset, order, cache, limits)
    if desc is None:
        return FieldDescAndData(None, None), offset
    value, offset = decode_value(desc, buf, offset, order, cache, limits)
    return FieldDescAndData(desc, value), offset




#: the former name (tests and tools compare values with it)
_values_equal = values_equal

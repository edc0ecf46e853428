"""Partial values: a BitSet and the fields it selects -- the one codec of them.

Theory of operation
-------------------
A GET reply, a PUT request, a monitor update carries a structure value as a
BitSet followed by the selected fields, depth first.  Bit 0 is the whole
structure, bit ``i`` the ``i``-th member of :attr:`FieldDesc.descendants`.
The rules follow pvxs: the sender drops every bit already covered by a set
parent structure (:func:`normalize_mask`), and the receiver, after a
structure bit, skips that structure's member bits; bits beyond the
structure are dropped, and a BitSet much longer than the structure needs is
refused before anything is built.

Per type and byte order, :func:`rows` is the table of every bit: the field's
parents, name, compiled codec (:mod:`pva._values`) and span.  Per BitSet
*mask*, a reader and a writer are planned once from those rows and reused
for every message with that mask: which rows are on the wire, and, when
they are all fixed-size scalars, one :class:`struct.Struct` that reads or
writes them all at once (a monitor update of ``value`` + ``timeStamp`` is one
``unpack_from`` or one ``pack``: the bytes each field's own encoder writes).
The plans live in the type's :class:`~pva._typecache.TypePlans` (bounded,
least recently used evicted).

:func:`read_partial` (the message codec's, a fresh dict) and
:func:`decode_partial` (the public one, which updates a dict in place) read
through the same reader; :func:`write_bits` and :func:`write_partial` write
through the same writer.
"""
from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any, Dict, List, Optional, Tuple, Union

from ._bitset import BitSet, _bits_of, _trusted, decode_bitset, encode_bitset
from ._errors import DecodeError, LocalProtocolError
from ._introspection import FieldDesc, FieldType
from ._typecodec import IntrospectionCache
from ._typecache import TypePlans, type_cache
from ._values import (LOW_LEVEL_ERRORS, DataWithBitSet, DecodeContext, EncodeContext,
                      fixed_char, get_decoder, get_encoder)
from ._wire import DEFAULT_LIMITS, Limits, Writer

__all__ = ["rows", "normalize_mask", "read_mask", "read_partial", "write_bits",
           "decode_partial", "encode_partial", "write_partial"]

Row = Tuple[Tuple[str, ...], str, Any, int]
_new_data = DataWithBitSet.__new__
_ENCODE_ERRORS = (struct.error, TypeError, ValueError, KeyError, AttributeError,
                  OverflowError, IndexError)


def rows(desc: FieldDesc, order: str, which: str) -> Tuple[Row, ...]:
    """Per bit, ``(parents, name, codec, span)`` (``which``: ``'d'`` decoders,
    ``'e'`` encoders), kept in the type's plans."""
    plans = type_cache.plans(desc)
    key = (which, order)
    res = plans.rows.get(key)
    if res is None:
        get = get_decoder if which == "d" else get_encoder
        out: List[Row] = [((), "", get(desc, order), desc.num_bits)]
        for path, d in desc.descendants:
            parts = tuple(path.split("."))
            out.append((parts[:-1], parts[-1], get(d, order), d.num_bits))
        res = plans.rows[key] = tuple(out)
    return res


def normalize_mask(mask: int, desc: FieldDesc) -> int:
    """Drop bits covered by a set parent structure (as pvxs does when sending)."""
    out = 0
    spans = desc.spans
    nbits = len(spans)
    m = mask
    while m:
        low = m & -m
        b = low.bit_length() - 1
        if b >= nbits:
            break
        out |= low
        m &= ~((1 << (b + spans[b])) - 1)
    return out


def read_mask(buf: memoryview, off: int, order: str, max_bytes: int) -> Tuple[int, int]:
    """A wire BitSet as an integer mask (fast path for short little-endian words)."""
    try:
        n = buf[off]
    except IndexError:
        raise DecodeError("truncated input: expected a BitSet", off) from None
    if n < 8:
        end = off + 1 + n
        if end > len(buf):
            raise DecodeError(f"BitSet of {n} bytes exceeds the input", off)
        return int.from_bytes(buf[off + 1:end], "little"), end
    return decode_bitset(buf, off, order, max_bytes=max_bytes)


def _fixed_format(subs, bits: List[int]) -> Optional[str]:
    """The :mod:`struct` format of the fields at ``bits`` (descendant bits,
    in wire order) when every one is a fixed-size scalar, else None (bit 0,
    the whole value, is never one)."""
    chars = []
    for b in bits:
        c = fixed_char(subs[b - 1][1]) if b else None
        if c is None:
            return None
        chars.append(c)
    return "".join(chars)


# ---------------------------------------------------------------- reading
def _reader(desc: FieldDesc, mask: int, order: str, readers) -> tuple:
    """How a BitSet of ``mask`` is read (kept in ``readers``, the type's for
    ``order``).

    ``(bits, rows, unpack, size, names)``: the set bits (for the BitSet);
    the ``(parents, name, decoder)`` of the fields on the wire, in order (a
    set structure bit covers its children, bit 0 the whole value); when
    every row is a fixed-size scalar field, ``unpack`` reads them all at
    once (``size`` bytes) and ``names`` are their names if none is nested;
    else ``unpack`` is None.
    """
    plan = rows(desc, order, "d")
    subs = desc.descendants
    bits = tuple(_bits_of(mask))
    out = []
    wire_bits = []
    m = mask
    while m:
        low = m & -m
        b = low.bit_length() - 1
        parents, name, dec, span = plan[b]
        out.append((parents, name, dec))
        wire_bits.append(b)
        if not name:
            break
        m &= ~((1 << (b + span)) - 1)
    unpack = size = names = None
    fmt = _fixed_format(subs, wire_bits)
    if fmt is not None:
        st = struct.Struct(order + fmt)
        unpack, size = st.unpack_from, st.size
        if not any(parents for parents, _, _ in out):
            names = tuple(name for _, name, _ in out)
    hit = readers[mask] = (bits, tuple(out), unpack, size, names)
    return hit


def _place(target: dict, parents: Tuple[str, ...], name: str, v: Any) -> None:
    """``target[parents...][name] = v``, creating (or replacing by) dicts on the way."""
    d = target
    for p in parents:
        nxt = d.get(p)
        if not isinstance(nxt, dict):
            nxt = d[p] = {}
        d = nxt
    d[name] = v


def read_partial(buf: memoryview, off: int, order: str, plans: TypePlans,
                 dctx: DecodeContext) -> Tuple[DataWithBitSet, int]:
    """BitSet + the fields it selects, into a fresh dict (the hot path of a
    client's monitor); ``plans`` are the structure type's
    (``type_cache.plans(desc)``: a request keeps them).

    The fields are read as the mask's reader planned them: fixed-size
    scalars with one ``unpack``; when that fails (truncated input), field by
    field, which raises the precise error.  Low-level errors (``struct.error``
    and the like) are the caller's to turn into :class:`DecodeError`.
    """
    nbits = plans.nbits
    end = len(buf)
    n = buf[off] if off < end else 8
    if n < 8 and off + 1 + n <= end:        # the short form of read_mask
        mask = buf[off + 1] if n == 1 else int.from_bytes(buf[off + 1:off + 1 + n], "little")
        off += 1 + n
    else:
        # a BitSet much longer than the structure needs is refused
        mask, off = read_mask(buf, off, order, (nbits + 7) // 8 + 64)
    mask &= (1 << nbits) - 1                # extra bits are dropped
    readers = plans.readers[order]
    hit = readers.get(mask)
    if hit is None:
        hit = _reader(plans.desc, mask, order, readers)
    else:
        readers.move_to_end(mask)
    bits, fields, unpack, size, names = hit
    target: Any = None
    if unpack is not None:
        try:
            values = unpack(buf, off)
        except struct.error:
            pass            # read field by field below, for the precise error
        else:
            off += size
            if names is not None:
                target = dict(zip(names, values))
            else:
                target = {}
                for (parents, name, _), v in zip(fields, values):
                    _place(target, parents, name, v)
    if target is None:
        dctx.depth = 0
        target = {}
        for parents, name, dec in fields:
            v, off = dec(buf, off, dctx)
            if not name:
                target = v
                break
            _place(target, parents, name, v)
    data = _new_data(DataWithBitSet)
    data.data, data.bitset, data.interface = target, _trusted(bits), plans.desc
    return data, off


def decode_partial(
    desc: FieldDesc,
    buf: Any,
    offset: int = 0,
    order: str = "<",
    target: Optional[Dict[str, Any]] = None,
    cache: Optional[IntrospectionCache] = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Tuple[Dict[str, Any], BitSet, int]:
    """Decode a BitSet and the fields it selects, updating ``target`` in place.

    Parameters
    ----------
    target : dict, optional
        The previous value to update (a fresh dict if omitted; missing
        intermediate structures are created).

    Returns
    -------
    target : dict
        The updated value.
    bitset : BitSet
        The bits as received (trimmed to the structure's size).
    offset : int
        Offset just past the data.

    Raises
    ------
    DecodeError
        Truncated or malformed input (nothing of it is applied to ``target``).
    """
    if desc.field_type != FieldType.struct or desc.is_array:
        raise TypeError("partial decoding needs a structure type")
    view = buf if isinstance(buf, memoryview) else memoryview(buf)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    plans = type_cache.plans(desc)
    ctx = DecodeContext(cache, limits)
    ctx.nodes += len(view) - offset     # a fixed allowance plus one per byte
    try:
        data, end = read_partial(view, offset, order, plans, ctx)
    except DecodeError:
        raise
    except LOW_LEVEL_ERRORS as ex:
        raise DecodeError(f"cannot decode partial value: {ex}", offset) from None
    fresh = data.data
    if target is None:
        return fresh, BitSet(data.bitset), end
    mask = 0
    for b in data.bitset:
        mask |= 1 << b
    for parents, name, _ in plans.readers[order].lookup(mask)[1]:
        if not name:
            target.clear()
            target.update(fresh)
            break
        v = fresh
        for p in parents:
            v = v[p]
        _place(target, parents, name, v[name])
    return target, BitSet(data.bitset), end


# ---------------------------------------------------------------- writing
def _writer(desc: FieldDesc, mask: int, order: str, writers) -> tuple:
    """The BitSet bytes, the ``(parents, name, encoder)`` rows for ``mask`` and,
    when those rows are all fixed-size scalars, the ``pack`` of one
    :class:`struct.Struct` that writes them all at once (else None); kept in
    ``writers``."""
    norm = normalize_mask(mask, desc)
    plan = rows(desc, order, "e")
    subs = desc.descendants
    out = []
    wire_bits = []
    m = norm
    while m:
        low = m & -m
        b = low.bit_length() - 1
        m ^= low
        parents, name, enc, _ = plan[b]
        out.append((parents, name, enc))
        wire_bits.append(b)
    fmt = _fixed_format(subs, wire_bits)
    pack = struct.Struct(order + fmt).pack if fmt else None
    hit = writers[mask] = (encode_bitset(norm, order), tuple(out), pack)
    return hit


def _getitem(v: Any, name: str) -> Any:
    return v[name] if isinstance(v, Mapping) else getattr(v, name)


def write_bits(w: Writer, plans: TypePlans, value: Any, bits: Union[BitSet, int],
               ectx: EncodeContext) -> None:
    """Append BitSet + the selected fields of ``value`` (a mapping, or an
    object with the member attributes) to ``w``; bits under a set parent are
    dropped, as pvxs does (the message codec's entry; ``plans`` are the
    structure type's, ``type_cache.plans(desc)``)."""
    mask = bits if isinstance(bits, int) else bits.to_int()
    writers = plans.writers[w.order]
    hit = writers.get(mask)
    if hit is None:
        desc = plans.desc
        if desc.field_type != FieldType.struct or desc.is_array:
            raise LocalProtocolError("partial encoding needs a structure type")
        hit = _writer(desc, mask, w.order, writers)
    else:
        writers.move_to_end(mask)
    head, fields, pack = hit
    try:
        if pack is not None:            # fixed-size scalars: one struct
            values = []
            for parents, name, _ in fields:
                v = value
                for p in parents:
                    v = v[p] if type(v) is dict else _getitem(v, p)
                values.append(v[name] if type(v) is dict else _getitem(v, name))
            w.buf += head
            w.buf += pack(*values)
            return
        w.buf += head
        for parents, name, enc in fields:
            v = value
            for p in parents:
                v = v[p] if type(v) is dict else _getitem(v, p)
            if name:
                v = v[name] if type(v) is dict else _getitem(v, name)
            enc(v, w, ectx)
    except LocalProtocolError:
        raise
    except _ENCODE_ERRORS as ex:
        raise LocalProtocolError(f"cannot encode partial value: {ex!r}") from None


def write_partial(
    w: Writer, desc: FieldDesc, value: Any, bitset: Union[BitSet, int],
    cache: Optional[IntrospectionCache] = None,
) -> None:
    """Append BitSet + selected fields of ``value`` to writer ``w``."""
    write_bits(w, type_cache.plans(desc), value, bitset, EncodeContext(cache))


def encode_partial(
    desc: FieldDesc, value: Any, bitset: Union[BitSet, int], order: str = "<",
    cache: Optional[IntrospectionCache] = None,
) -> bytes:
    """Encode the BitSet followed by the selected fields of a structure value.

    Bits covered by a set parent are dropped first, so every field is sent
    once (pvxs ``to_wire_valid``).
    """
    w = Writer(order)
    write_bits(w, type_cache.plans(desc), value, bitset, EncodeContext(cache))
    return w.getvalue()

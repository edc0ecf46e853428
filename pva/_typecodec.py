"""Encoding and decoding of type descriptions, and the per-connection type cache.

A description (:class:`~pva._introspection.FieldDesc`) goes on the wire as
one type-code byte (bits 7-5 the kind, bits 4-3 the array flavour, bits 2-0
kind specific), then what its kind needs: the size of a bounded or fixed
array, a structure's type id and members (name, description) ...

Descriptions may be cached per connection and direction
(:class:`IntrospectionCache`): ``0xFD id desc`` defines id and uses it,
``0xFE id`` reuses a definition, ``0xFF`` is "no type".  The id is a 16-bit
integer in the message byte order.  pvxs never sends cache references but
accepts them at any nesting level; so does this decoder, which counts the
expanded size of what it reads against ``max_type_nodes`` before building
anything.  When given a cache, our encoder defines and reuses ids for every
structure and union.
"""
from __future__ import annotations

import dataclasses
import struct
from typing import Any, Dict, Optional, Tuple

from ._errors import DecodeError
from ._introspection import _VALID_CODES, NAME_BYTES_PER_NODE, FieldArrayType, FieldDesc, FieldType
from ._wire import (DEFAULT_LIMITS, Limits, check_count, pack_size, pack_string, read_size,
                    read_string)

__all__ = [
    "IntrospectionCache",
    "CacheContext",
    "encode_field_desc",
    "write_field_desc",
    "decode_field_desc",
    "NODE_BYTES",
]


#: about what one node of a decoded type description keeps on the heap
#: (measured with tracemalloc: 130 bytes for structures of doubles with
#: 16-character names), what a memory budget charges per cached node
NODE_BYTES = 160


class IntrospectionCache:
    """Per-connection type registries, one for each direction.

    Parameters
    ----------
    max_entries : int
        Largest number of ids remembered from the peer (entries beyond it are
        refused with :class:`DecodeError`).

    Attributes
    ----------
    received : dict
        id -> FieldDesc defined by the peer (``0xFD``), consulted on ``0xFE``.
    sent : dict
        FieldDesc -> id we defined towards the peer.
    """

    def __init__(self, max_entries: int = 65536):
        self.received: Dict[int, FieldDesc] = {}
        self.sent: Dict[FieldDesc, int] = {}
        self.max_entries = max_entries
        #: the node counts (:attr:`FieldDesc.node_count`) of the entries of
        #: ``received`` added up: what the peer made us keep (about
        #: :data:`NODE_BYTES` each), for a memory budget to charge
        self.nodes = 0
        self._next_id = 1

    def clear(self) -> None:
        """Forget everything (e.g. on reconnect)."""
        self.received.clear()
        self.sent.clear()
        self.nodes = 0
        self._next_id = 1

    def assign(self, desc: FieldDesc) -> Tuple[bool, int]:
        """Return ``(known, id)`` for sending ``desc``; assigns a new id if needed."""
        try:
            return True, self.sent[desc]
        except KeyError:
            pass
        if self._next_id > 0xFFFF:
            # Ids are 16 bits; start over (the peer lets us override ids).
            self.sent.clear()
            self._next_id = 1
        ident = self._next_id
        self._next_id += 1
        self.sent[desc] = ident
        return False, ident


#: caproto.pva name for the per-connection cache.
CacheContext = IntrospectionCache

_ID = {o: struct.Struct(o + "H") for o in "<>"}
_full_cache: Dict[Tuple[FieldDesc, str], bytes] = {}


def write_field_desc(
    out: bytearray, desc: Optional[FieldDesc], order: str, cache: Optional[IntrospectionCache] = None
) -> None:
    """Append the introspection data for ``desc`` (``None`` -> ``0xFF``)."""
    if desc is None:
        out.append(0xFF)
        return
    if cache is None:
        key = (desc, order)
        data = _full_cache.get(key)
        if data is None:
            tmp = bytearray()
            _write_full(tmp, desc, order, None)
            data = bytes(tmp)
            if len(_full_cache) > 4096:
                _full_cache.clear()
            _full_cache[key] = data
        out += data
        return
    _write_cached(out, desc, order, cache)


def _write_cached(out: bytearray, desc: FieldDesc, order: str, cache: IntrospectionCache) -> None:
    if desc.field_type in (FieldType.struct, FieldType.union) and not desc.is_array:
        known, ident = cache.assign(desc)
        if known:
            out.append(0xFE)
            out += _ID[order].pack(ident)
            return
        out.append(0xFD)
        out += _ID[order].pack(ident)
    _write_full(out, desc, order, cache)


def _write_full(out: bytearray, desc: FieldDesc, order: str, cache: Optional[IntrospectionCache]) -> None:
    ft = desc.field_type
    out.append(desc.code)
    if ft in (FieldType.struct, FieldType.union):
        if desc.is_array:
            elem = desc.element
            if cache is None:
                _write_full(out, elem, order, None)
            else:
                _write_cached(out, elem, order, cache)
            return
        out += pack_string(desc.type_id, order)
        out += pack_size(len(desc.fields), order)
        for name, child in desc.fields:
            out += pack_string(name, order)
            if cache is None:
                _write_full(out, child, order, None)
            else:
                _write_cached(out, child, order, cache)
    elif ft == FieldType.bounded_string or desc.array_type.has_field_desc_size:
        out += pack_size(desc.size, order)


def encode_field_desc(
    desc: Optional[FieldDesc], order: str = "<", cache: Optional[IntrospectionCache] = None
) -> bytes:
    """Encode introspection data for ``desc``.

    Parameters
    ----------
    desc : FieldDesc or None
        The type; ``None`` encodes NULL_TYPE_CODE.
    order : {'<', '>'}
        Byte order (used by sizes and cache ids).
    cache : IntrospectionCache, optional
        If given, structures and unions are sent as ``0xFD id ...`` the first
        time and ``0xFE id`` afterwards.
    """
    out = bytearray()
    write_field_desc(out, desc, order, cache)
    return bytes(out)


def decode_field_desc(
    buf: memoryview,
    offset: int = 0,
    order: str = "<",
    cache: Optional[IntrospectionCache] = None,
    limits: Limits = DEFAULT_LIMITS,
    budget: Any = None,
) -> Tuple[Optional[FieldDesc], int]:
    """Decode introspection data.

    Parameters
    ----------
    budget : object, optional
        The running node budget of the message being decoded: an object
        whose ``nodes`` attribute is how many nodes the message may still
        expand to (a :class:`~pva._values.DecodeContext`).  The description's
        :attr:`~FieldDesc.node_count` is taken from it.

    Returns
    -------
    desc : FieldDesc or None
        ``None`` for NULL_TYPE_CODE.
    offset : int
        Offset just past the description.

    Raises
    ------
    DecodeError
        Truncated or malformed data, unknown cache id, nesting deeper than
        ``limits.max_depth``, a description larger than
        ``limits.max_type_nodes`` or than what is left of the budget.  The
        size is counted as the bytes are read, a type-cache reference by the
        size of the type it names, so nothing is built past the limit.
    """
    if not isinstance(buf, memoryview):
        buf = memoryview(buf)
    cap = limits.max_type_nodes
    if budget is not None and budget.nodes < cap:
        left = [budget.nodes, "message expands to more nodes than its budget (limit "
                              f"max_message_nodes {limits.max_message_nodes} plus one per byte)"]
    else:
        left = [cap, f"type description expands to more than {cap} nodes "
                     f"(limit max_type_nodes)"]
    start = left[0]
    desc, offset = _read_desc(buf, offset, order, cache, limits, 0, left)
    if budget is not None:
        budget.nodes -= start - left[0]
    return desc, offset


def _scalar_descs() -> Dict[int, FieldDesc]:
    out = {}
    for kind in _VALID_CODES:
        for arr in (FieldArrayType.scalar, FieldArrayType.variable_array):
            out[kind | arr << 3] = FieldDesc(FieldType(kind), arr)
    out[0x82] = FieldDesc(FieldType.any)
    out[0x8A] = FieldDesc(FieldType.any, FieldArrayType.variable_array)
    return out


#: type code -> the (immutable, shared) description of a scalar, scalar array or variant
_SCALAR_DESCS = _scalar_descs()


def _read_desc(buf: memoryview, offset: int, order: str, cache: Optional[IntrospectionCache],
               limits: Limits, depth: int, left: list) -> Tuple[Optional[FieldDesc], int]:
    """decode_field_desc's recursion; ``left[0]`` is the node budget, ``left[1]`` its error."""
    if depth > limits.max_depth:
        raise DecodeError(f"type description nested deeper than {limits.max_depth}", offset)
    try:
        code = buf[offset]
    except IndexError:
        raise DecodeError("truncated input: expected a type code", offset) from None
    start = offset
    offset += 1
    if code == 0xFF:
        return None, offset
    desc = _SCALAR_DESCS.get(code)
    if desc is not None:
        left[0] -= 1
        if left[0] < 0:
            raise DecodeError(left[1], start)
        return desc, offset
    if code == 0xFE or code == 0xFD:
        if offset + 2 > len(buf):
            raise DecodeError("truncated input: expected a type cache id", offset)
        ident = _ID[order].unpack_from(buf, offset)[0]
        offset += 2
        if code == 0xFE:
            desc = None if cache is None else cache.received.get(ident)
            if desc is None:
                raise DecodeError(f"unknown type cache id {ident}", start)
            left[0] -= desc._nodes          # what it stands for, not its 3 bytes
            if left[0] < 0:
                raise DecodeError(left[1], start)
            return desc, offset
        desc, offset = _read_desc(buf, offset, order, cache, limits, depth + 1, left)
        if desc is None:
            raise DecodeError("type cache definition of a null type", start)
        if cache is not None:
            received = cache.received
            old = received.get(ident)
            if old is None:
                if len(received) >= cache.max_entries:
                    raise DecodeError("type cache full", start)
            else:
                cache.nodes -= old._nodes
            received[ident] = desc
            cache.nodes += desc._nodes
        return desc, offset
    kind = code & 0xE7
    arr = (code >> 3) & 3
    if kind in _VALID_CODES and (arr == 2 or arr == 3):
        left[0] -= 1
        if left[0] < 0:
            raise DecodeError(left[1], start)
        size, offset = read_size(buf, offset, order)
        return FieldDesc(FieldType(kind), FieldArrayType(arr), size), offset
    if kind == 0x86 and arr == 0:
        left[0] -= 1
        if left[0] < 0:
            raise DecodeError(left[1], start)
        size, offset = read_size(buf, offset, order)
        return FieldDesc(FieldType.bounded_string, size=size), offset
    if kind in (0x80, 0x81) and arr == 1:
        elem, offset = _read_desc(buf, offset, order, cache, limits, depth + 1, left)
        if elem is None or elem.code != kind:
            raise DecodeError(f"array element type does not match type code 0x{code:02x}", start)
        return dataclasses.replace(elem, array_type=FieldArrayType.variable_array), offset
    if kind in (0x80, 0x81) and arr == 0:
        type_id, offset = read_string(buf, offset, order, limits)
        nfields, noff = read_size(buf, offset, order)
        check_count(nfields, 2, buf, noff, limits.max_fields, "member list", offset)
        left[0] -= 1 + len(type_id) // NAME_BYTES_PER_NODE + nfields
        if left[0] < 0:
            raise DecodeError(left[1], start)
        left[0] += nfields      # each member is charged its own size below
        offset = noff
        fields = []
        for _ in range(nfields):
            name, offset = read_string(buf, offset, order, limits)
            left[0] -= len(name) // NAME_BYTES_PER_NODE
            child, coff = _read_desc(buf, offset, order, cache, limits, depth + 1, left)
            if child is None:
                raise DecodeError(f"member {name!r} has a null type", offset)
            offset = coff
            fields.append((name, child))
        if left[0] < 0:
            raise DecodeError(left[1], start)
        try:
            return FieldDesc(FieldType(kind), type_id=type_id, fields=tuple(fields)), offset
        except ValueError as ex:
            raise DecodeError(f"invalid type description: {ex}", start) from None
    raise DecodeError(f"invalid type code 0x{code:02x}", start)

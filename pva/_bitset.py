"""BitSet: which fields of a structure a (partial) value carries.

Theory of operation
-------------------
Bits number the nodes of a structure depth first: bit 0 is the whole
structure, then each member in order, descending into sub-structures (but not
into unions or arrays); see :attr:`pva.FieldDesc.descendants`.  A set bit on a
sub-structure means *all* of its members.  :meth:`BitSet.expand` makes that
explicit (parent bit -> every child bit) and :meth:`BitSet.compact` undoes it
(redundant children dropped; a structure whose members are all set is
replaced by its own bit), so encoders never send a field twice.

On the wire (spec "BitSets", pvxs ``bitmask.cpp``) a BitSet is a size giving a
byte count, then as many whole 64-bit words as fit (each in the message byte
order), then 0-7 trailing bytes, least significant first.  Trailing zero bytes
are not sent.  In little-endian the result is simply the integer's
little-endian bytes.
"""
from __future__ import annotations

from typing import Iterable, Optional, Tuple

from ._errors import DecodeError
from ._introspection import FieldDesc, FieldType
from ._wire import pack_size, read_size

__all__ = ["BitSet", "encode_bitset", "decode_bitset"]


def _bits_of(x: int) -> Iterable[int]:
    while x:
        low = x & -x
        yield low.bit_length() - 1
        x ^= low


def _trusted(bits: Iterable[int]) -> "BitSet":
    """A BitSet of indices known to be valid (from other BitSets, ranges): no
    per-bit check."""
    out = set.__new__(BitSet)
    set.update(out, bits)
    return out


class BitSet(set):
    """A set of bit indices with the pvAccess wire form.

    Parameters
    ----------
    bits : iterable of int, optional
        Initially set bits (non-negative).
    """

    def __init__(self, bits: Iterable[int] = ()):
        super().__init__(bits)
        for b in self:
            if not isinstance(b, int) or b < 0:
                raise ValueError(f"invalid bit index {b!r}")

    @classmethod
    def from_int(cls, value: int) -> "BitSet":
        """BitSet whose bit ``i`` is bit ``i`` of ``value``."""
        return cls(_bits_of(value))

    def to_int(self) -> int:
        """The bits as an integer mask."""
        out = 0
        for b in self:
            out |= 1 << b
        return out

    def __or__(self, other: Iterable[int]) -> "BitSet":
        return BitSet(set.__or__(self, set(other)))

    def __and__(self, other: Iterable[int]) -> "BitSet":
        return _trusted(set.__and__(self, set(other)))     # a subset of self

    def __sub__(self, other: Iterable[int]) -> "BitSet":
        return _trusted(set.__sub__(self, set(other)))

    def __xor__(self, other: Iterable[int]) -> "BitSet":
        return BitSet(set.__xor__(self, set(other)))

    def __repr__(self) -> str:
        return f"BitSet({sorted(self)})"

    def offset_by(self, offset: int) -> "BitSet":
        """A copy with every bit shifted by ``offset``."""
        return BitSet(b + offset for b in self)

    def expand(self, desc: FieldDesc) -> "BitSet":
        """Every bit implied by the set ones (structure bit -> all its members)."""
        out = set()
        nbits = desc.num_bits
        spans = desc.spans
        for b in self:
            if b < nbits:
                out.update(range(b, b + spans[b]))
        return _trusted(out)

    def compact(self, desc: FieldDesc) -> "BitSet":
        """Minimal equivalent set: members covered by a set parent removed and
        structures whose members are all set replaced by their own bit."""
        spans = desc.spans
        full = set(self.expand(desc))
        # a structure whose members are all set is itself fully set
        for b in range(len(spans) - 1, -1, -1):
            if spans[b] > 1 and all(i in full for i in range(b + 1, b + spans[b])):
                full.add(b)
        out = set()
        b = 0
        n = desc.num_bits
        while b < n:
            span = spans[b]
            if all(i in full for i in range(b, b + span)):
                out.add(b)
                b += span
            else:
                b += 1
        return BitSet(out)

    def marked(self, desc: FieldDesc) -> "BitSet":
        """The fields a receiver marks as carried, as pvxs marks them.

        Each set bit (in order) marks its field and, for a structure, the
        members that are not structures themselves; set bits inside a
        structure already taken are passed over.  (The text of pvxs's
        delta format, and p4p's ``changedSet()``, list these.)
        """
        spans = desc.spans
        members = desc.descendants      # bit i is members[i - 1]
        out = set()
        skip_to = 0
        for b in sorted(self):
            if b < skip_to or b >= len(spans):
                continue
            out.add(b)
            span = spans[b]
            out.update(i for i in range(b + 1, b + span)
                       if not _plain_struct(members[i - 1][1]))
            skip_to = b + span
        return _trusted(out)

    def covers(self, bit: int, desc: FieldDesc) -> bool:
        """Is ``bit`` set, directly or through one of its parent structures?"""
        return bit in self.expand(desc)

    def encode(self, order: str = "<") -> bytes:
        """Wire form (size + bytes)."""
        return encode_bitset(self.to_int(), order)

    @classmethod
    def decode(cls, buf: memoryview, offset: int = 0, order: str = "<") -> Tuple["BitSet", int]:
        """Decode from ``buf`` at ``offset``; returns ``(BitSet, new_offset)``."""
        value, offset = decode_bitset(buf, offset, order)
        return cls.from_int(value), offset

    # caproto.pva spelling
    def serialize(self, endian: str = "<") -> bytes:
        """Alias of :meth:`encode`."""
        return self.encode(endian)


def _plain_struct(desc: FieldDesc) -> bool:
    return desc.field_type == FieldType.struct and not desc.is_array


def encode_bitset(value: int, order: str = "<") -> bytes:
    """Encode an integer bit mask in wire form."""
    nbytes = (value.bit_length() + 7) >> 3
    data = value.to_bytes(nbytes, "little")
    if order == ">" and nbytes >= 8:
        nwords = nbytes >> 3
        words = b"".join(data[i * 8:(i + 1) * 8][::-1] for i in range(nwords))
        data = words + data[nwords * 8:]
    return pack_size(nbytes, order) + data


def decode_bitset(buf: memoryview, offset: int = 0, order: str = "<", max_bytes: Optional[int] = None) -> Tuple[int, int]:
    """Decode a wire BitSet to an integer mask; returns ``(mask, new_offset)``."""
    nbytes, start = read_size(buf, offset, order)
    if max_bytes is not None and nbytes > max_bytes:
        raise DecodeError(f"BitSet of {nbytes} bytes exceeds the limit of {max_bytes}", offset)
    end = start + nbytes
    if end > len(buf):
        raise DecodeError(f"BitSet of {nbytes} bytes exceeds the {len(buf) - start} bytes remaining", offset)
    data = bytes(buf[start:end])
    if order == ">" and nbytes >= 8:
        nwords = nbytes >> 3
        data = b"".join(data[i * 8:(i + 1) * 8][::-1] for i in range(nwords)) + data[nwords * 8:]
    return int.from_bytes(data, "little"), end

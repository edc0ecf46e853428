"""Primitive wire encoding: sizes, strings, scalars, limits and output buffers.

Theory of operation
-------------------
Readers take a :class:`memoryview` (format ``'B'``) and an explicit integer
offset and return ``(value, new_offset)``; nothing is sliced off the front of
the buffer, so decoding a message never copies it.  The byte order (``'<'`` or
``'>'``) is an argument, never a subclass.  Every read that would allocate
(a string, an array) first checks the declared size against what remains in
the buffer *and* against the configured :class:`Limits`, raising
:class:`~pva.DecodeError` before allocating anything.

Writers append to a :class:`Writer`, which accumulates small items in a
``bytearray`` and keeps large array payloads as separate buffers (numpy
memory, no copy) so an encoder can hand a list of buffers to the transport.

The "size" encoding of the specification: one byte below 254; ``0xFE``
followed by a 32-bit count; ``0xFF`` means null (-1), allowed only where noted
(strings from pvAccessJava, union selectors).  As in pvxs, the 32-bit count is
read as unsigned; limits refuse absurd values.
"""
from __future__ import annotations

import dataclasses
import enum
import struct
import sys
from typing import Dict, List, Optional, Tuple, Union

from ._errors import DecodeError, LocalProtocolError

__all__ = [
    "UserFacingEndian",
    "LITTLE_ENDIAN",
    "BIG_ENDIAN",
    "SYS_ENDIAN",
    "Limits",
    "DEFAULT_LIMITS",
    "Writer",
    "SCALAR_STRUCTS",
    "read_size",
    "read_selector",
    "read_string",
    "read_scalar",
    "check_count",
    "pack_size",
    "pack_selector",
    "pack_string",
    "write_size",
    "write_string",
]

Buffer = Union[bytes, bytearray, memoryview]


class UserFacingEndian(str, enum.Enum):
    """Byte order; members compare equal to ``'<'`` and ``'>'``."""

    LITTLE_ENDIAN = "<"
    BIG_ENDIAN = ">"

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    __str__ = str.__str__


LITTLE_ENDIAN = UserFacingEndian.LITTLE_ENDIAN
BIG_ENDIAN = UserFacingEndian.BIG_ENDIAN
#: byte order of this host
SYS_ENDIAN = LITTLE_ENDIAN if sys.byteorder == "little" else BIG_ENDIAN


@dataclasses.dataclass(frozen=True)
class Limits:
    """Upper bounds enforced while decoding untrusted input.

    Parameters
    ----------
    max_array_length : int
        Largest element count accepted for any array (scalar, string,
        structure, union or variant arrays).
    max_string_length : int
        Largest string, in bytes.
    max_depth : int
        Deepest nesting of type descriptions and variant values (pvxs uses 20).
    max_fields : int
        Most members accepted in one structure or union description.
    max_type_nodes : int
        Largest size of one type description *after* expanding its type-cache
        references (``0xFE``): every field counts one node, plus one per 32
        bytes of its member name and type id (so that what is built per field
        of the expanded type, e.g. dotted member names, stays bounded too).
    max_message_nodes : int
        How many nodes one message may expand to, plus one per byte of the
        message: every type description decoded in it (variant values
        included) and every element of an array of structures, unions or
        variants counts its type's nodes.  Counted as the message is decoded,
        before anything is built.  Data whose fields take a byte or more each
        is not held back; what a few bytes could blow up is.

    Notes
    -----
    pvxs limits the nesting depth to 20 and nothing else; a type-cache
    reference costs 3 bytes on the wire but may stand for a large type, so
    without the node limits a few kilobytes could describe 10**8 fields.
    """

    max_array_length: int = 1 << 28
    max_string_length: int = 1 << 24
    max_depth: int = 20
    max_fields: int = 1 << 16
    max_type_nodes: int = 1 << 16
    max_message_nodes: int = 1 << 16


DEFAULT_LIMITS = Limits()

#: ``SCALAR_STRUCTS[order][char]`` -> precompiled :class:`struct.Struct`.
SCALAR_STRUCTS: Dict[str, Dict[str, struct.Struct]] = {
    order: {c: struct.Struct(order + c) for c in "?bBhHiIqQfdlL"}
    for order in "<>"
}
_U32 = {order: struct.Struct(order + "I") for order in "<>"}
_SMALL = [bytes((i,)) for i in range(256)]


def read_size(buf: memoryview, offset: int, order: str) -> Tuple[int, int]:
    """Read a non-null size; returns ``(size, new_offset)``."""
    try:
        n = buf[offset]
    except IndexError:
        raise DecodeError("truncated input: expected a size", offset) from None
    if n < 254:
        return n, offset + 1
    if n == 254:
        if offset + 5 > len(buf):
            raise DecodeError("truncated input: expected a 32-bit size", offset)
        return _U32[order].unpack_from(buf, offset + 1)[0], offset + 5
    raise DecodeError("null size (0xFF) where a size is required", offset)


def read_selector(buf: memoryview, offset: int, order: str) -> Tuple[int, int]:
    """Read a size that may be null; null is returned as -1."""
    try:
        n = buf[offset]
    except IndexError:
        raise DecodeError("truncated input: expected a size", offset) from None
    if n < 254:
        return n, offset + 1
    if n == 255:
        return -1, offset + 1
    if offset + 5 > len(buf):
        raise DecodeError("truncated input: expected a 32-bit size", offset)
    return _U32[order].unpack_from(buf, offset + 1)[0], offset + 5


def check_count(
    count: int, min_bytes_each: int, buf: memoryview, offset: int, limit: int, what: str,
    at: Optional[int] = None,
) -> None:
    """Refuse ``count`` items needing at least ``min_bytes_each`` bytes each.

    ``offset`` is where the items start; ``at`` (default ``offset``) is the
    offset reported in the error, normally that of the size field.

    Raises
    ------
    DecodeError
        If ``count`` exceeds ``limit`` or cannot fit in what remains of ``buf``.
    """
    if at is None:
        at = offset
    if count > limit:
        raise DecodeError(f"{what} length {count} exceeds the limit of {limit}", at)
    if count * min_bytes_each > len(buf) - offset:
        raise DecodeError(
            f"{what} length {count} exceeds the {len(buf) - offset} bytes remaining", at
        )


def read_string(
    buf: memoryview, offset: int, order: str, limits: Limits = DEFAULT_LIMITS
) -> Tuple[str, int]:
    """Read a size-prefixed UTF-8 string.

    A null size (``0xFF``, sent by pvAccessJava) reads as ``''`` as in pvxs.
    Bytes that are not valid UTF-8 are kept with ``surrogateescape`` so that
    re-encoding reproduces them exactly.
    """
    try:
        n = buf[offset]
    except IndexError:
        raise DecodeError("truncated input: expected a string", offset) from None
    if n < 254:
        start = offset + 1
    elif n == 255:
        return "", offset + 1
    else:
        if offset + 5 > len(buf):
            raise DecodeError("truncated input: expected a 32-bit size", offset)
        n = _U32[order].unpack_from(buf, offset + 1)[0]
        start = offset + 5
        if n > limits.max_string_length:
            raise DecodeError(
                f"string length {n} exceeds the limit of {limits.max_string_length}",
                offset,
            )
    end = start + n
    if end > len(buf):
        raise DecodeError(
            f"string length {n} exceeds the {len(buf) - start} bytes remaining", offset
        )
    return str(buf[start:end], "utf-8", "surrogateescape"), end


def read_scalar(buf: memoryview, offset: int, order: str, char: str) -> Tuple[object, int]:
    """Read one scalar given its :mod:`struct` format character."""
    st = SCALAR_STRUCTS[order][char]
    if offset + st.size > len(buf):
        raise DecodeError(f"truncated input: expected {st.size} bytes", offset)
    return st.unpack_from(buf, offset)[0], offset + st.size


def pack_size(n: int, order: str) -> bytes:
    """Encode a size (``n >= 0``)."""
    if 0 <= n < 254:
        return _SMALL[n]
    if n < 0 or n > 0xFFFFFFFF:
        raise LocalProtocolError(f"size {n} cannot be encoded")
    return b"\xfe" + _U32[order].pack(n)


def pack_selector(n: int, order: str) -> bytes:
    """Encode a size that may be null (``-1`` -> ``0xFF``)."""
    if n < 0:
        return b"\xff"
    return pack_size(n, order)


def pack_string(s: str, order: str) -> bytes:
    """Encode a string as size + UTF-8 bytes."""
    data = s.encode("utf-8", "surrogateescape")
    n = len(data)
    if n < 254:
        return _SMALL[n] + data
    return pack_size(n, order) + data


def write_size(out: bytearray, n: int, order: str) -> None:
    """Append a size to ``out``."""
    out += pack_size(n, order)


def write_string(out: bytearray, s: str, order: str) -> None:
    """Append a string to ``out``."""
    out += pack_string(s, order)


class Writer:
    """Output accumulator: small items in a bytearray, big arrays by reference.

    Parameters
    ----------
    order : str
        Byte order of everything written through this writer.
    big : int
        Array payloads of at least this many bytes are kept as separate
        buffers instead of being copied into the bytearray.
    """

    __slots__ = ("buf", "chunks", "order", "big")

    def __init__(self, order: str = "<", big: int = 4096):
        self.buf = bytearray()
        self.chunks: List[Buffer] = []
        self.order = order
        self.big = big

    def add_buffer(self, data: Buffer) -> None:
        """Append a buffer; large ones are referenced, not copied."""
        if len(data) >= self.big:
            if self.buf:
                self.chunks.append(self.buf)
                self.buf = bytearray()
            self.chunks.append(data)
        else:
            self.buf += data

    def buffers(self) -> List[Buffer]:
        """The written data as a list of buffers (no joining)."""
        out = list(self.chunks)
        if self.buf:
            out.append(self.buf)
        return out

    def getvalue(self) -> bytes:
        """The written data joined into one ``bytes`` (copies)."""
        if not self.chunks:
            return bytes(self.buf)
        return b"".join(self.buffers())

    def __len__(self) -> int:
        return len(self.buf) + sum(memoryview(c).nbytes for c in self.chunks)

"""The 16-byte CA message header and its extended (24-byte) form.

Every CA message starts with ``command, payload_size, data_type, data_count``
(uint16 each) and ``parameter1, parameter2`` (uint32), big endian.  A payload
of 0xFFFF bytes or more, or a count of 0xFFFF or more, needs the extended
header (CA 4.9): ``payload_size`` is then 0xFFFF, ``data_count`` 0, and two
uint32 words with the real size and count follow (a receiver, like libca
and rsrv, takes ``payload_size == 0xFFFF`` alone as the marker).  Both libca and rsrv use
the extended form exactly when it is needed, so :func:`pack_header` does too.
"""
import struct
from typing import NamedTuple

__all__ = ["MessageHeader", "ExtendedMessageHeader", "HEADER", "EXTENDED", "pack_header",
           "unpack_header", "HEADER_SIZE", "EXTENDED_HEADER_SIZE"]

HEADER = struct.Struct(">HHHHII")
EXTENDED = struct.Struct(">HHHHIIII")
HEADER_SIZE = HEADER.size
EXTENDED_HEADER_SIZE = EXTENDED.size
_pack = HEADER.pack
_pack_ext = EXTENDED.pack


class MessageHeader(NamedTuple):
    """The fields of a header with the real (possibly 32-bit) size and count."""
    command: int
    payload_size: int
    data_type: int
    data_count: int
    parameter1: int
    parameter2: int

    @property
    def extended(self) -> bool:
        """True if this header needs the 24-byte form."""
        return self.payload_size >= 0xFFFF or self.data_count >= 0xFFFF


#: caproto's name for a header that is sent in the extended form
ExtendedMessageHeader = MessageHeader


def pack_header(command: int, payload_size: int, data_type: int, data_count: int,
                parameter1: int, parameter2: int) -> bytes:
    """Header bytes, in the extended form when the size or count needs it."""
    if payload_size < 0xFFFF and data_count < 0xFFFF:
        return _pack(command, payload_size, data_type, data_count, parameter1, parameter2)
    return _pack_ext(command, 0xFFFF, data_type, 0, parameter1, parameter2,
                     payload_size, data_count)


def unpack_header(buf, offset: int = 0):
    """``(MessageHeader, header length)`` or ``(None, bytes needed)`` if
    ``buf`` holds only part of the header."""
    avail = len(buf) - offset
    if avail < 16:
        return None, 16 - avail
    command, size, data_type, count, p1, p2 = HEADER.unpack_from(buf, offset)
    if size == 0xFFFF:
        if avail < 24:
            return None, 24 - avail
        size, count = struct.unpack_from(">II", buf, offset + 16)
        return MessageHeader(command, size, data_type, count, p1, p2), 24
    return MessageHeader(command, size, data_type, count, p1, p2), 16

"""pvAccess message header, control messages and stream (de)framing.

Theory of operation
-------------------
Every pvAccess message starts with an 8-byte header::

    0      1        2       3         4 .. 7
    0xCA | version | flags | command | payload size (uint32)

The flags byte says whether the message is an *application* message (a
request or response with a payload of ``payload size`` bytes) or a
*control* message (no payload; the size field carries a control-specific
value), whether it is one segment of a longer message, which peer sent it,
and the byte order of the size field and of the payload.  Byte order is
therefore never a property of a class here: it is read from the flags of
each header and passed on as a parameter (``'<'`` little or ``'>'`` big
endian, the :mod:`struct` prefixes).

Splitting a stream into messages and framing messages is :mod:`pva._framing`'s.
"""
from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import ClassVar, List, NamedTuple, Optional, Union

from ._errors import DecodeError, LocalProtocolError

__all__ = [
    "MAGIC",
    "PROTOCOL_VERSION",
    "HEADER_SIZE",
    "MAX_PAYLOAD_SIZE",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "LITTLE_ENDIAN",
    "BIG_ENDIAN",
    "Flags",
    "Segment",
    "Direction",
    "ApplicationCommand",
    "ControlCommand",
    "FramingError",
    "Header",
    "Frame",
    "ControlMessage",
    "SetMarker",
    "AcknowledgeMarker",
    "SetByteOrder",
    "EchoRequest",
    "EchoResponse",
    "UnknownControlMessage",
    "encode_header",
    "decode_header",
    "normalize_byte_order",
    "byte_order_from_flags",
]

MAGIC = 0xCA
#: Version byte sent by pvxs (both directions).  Any non-zero value is accepted.
PROTOCOL_VERSION = 2
HEADER_SIZE = 8
#: Largest payload size a header can announce.
MAX_PAYLOAD_SIZE = 0xFFFFFFFF
#: Default limit on the payload of one (reassembled) application message.
DEFAULT_MAX_MESSAGE_SIZE = 128 * 1024 * 1024

LITTLE_ENDIAN = "<"
BIG_ENDIAN = ">"

ByteOrder = str
Buffer = Union[bytes, bytearray, memoryview]


class Flags(enum.IntFlag):
    """Bits of the header flags byte."""

    CONTROL = 0x01
    SEGMENT_FIRST = 0x10
    SEGMENT_LAST = 0x20
    SEGMENT_MIDDLE = 0x30
    SEGMENT_MASK = 0x30
    SERVER = 0x40
    BIG_ENDIAN = 0x80


class Segment(enum.IntEnum):
    """Value of the segmentation bits (``flags & 0x30``)."""

    NONE = 0x00
    FIRST = 0x10
    LAST = 0x20
    MIDDLE = 0x30


class Direction(enum.IntEnum):
    """Which peer sent a message (flags bit 6)."""

    CLIENT = 0
    SERVER = 1


class ApplicationCommand(enum.IntEnum):
    """Command byte of application messages."""

    BEACON = 0
    CONNECTION_VALIDATION = 1
    ECHO = 2
    SEARCH = 3
    SEARCH_RESPONSE = 4
    AUTHNZ = 5
    ACL_CHANGE = 6
    CREATE_CHANNEL = 7
    DESTROY_CHANNEL = 8
    CONNECTION_VALIDATED = 9
    GET = 10
    PUT = 11
    PUT_GET = 12
    MONITOR = 13
    ARRAY = 14
    DESTROY_REQUEST = 15
    PROCESS = 16
    GET_FIELD = 17
    MESSAGE = 18
    MULTIPLE_DATA = 19
    RPC = 20
    CANCEL_REQUEST = 21
    ORIGIN_TAG = 22


class ControlCommand(enum.IntEnum):
    """Command byte of control messages."""

    SET_MARKER = 0
    ACK_MARKER = 1
    SET_BYTE_ORDER = 2
    ECHO_REQUEST = 3
    ECHO_RESPONSE = 4


class FramingError(DecodeError):
    """The byte stream violates pvAccess framing (header or segmentation).

    A :class:`~pva._errors.DecodeError` (so a :class:`RemoteProtocolError`);
    ``offset`` counts bytes fed to the deframer since it was created.

    Parameters
    ----------
    message : str
        What went wrong.
    offset : int, optional
        Stream offset of the offending header.
    """

    def __init__(self, message: str, offset: Optional[int] = None):
        super().__init__(message, offset)
        #: messages completed by the failing chunk before the fault
        self.messages: list = []


_U32 = {"<": struct.Struct("<I"), ">": struct.Struct(">I")}
_HEAD = {"<": struct.Struct("<BBBBI"), ">": struct.Struct(">BBBBI")}
_HEAD_LE_UNPACK = _HEAD["<"].unpack_from
_U32_BE_UNPACK = _U32[">"].unpack_from


def normalize_byte_order(byte_order: str) -> ByteOrder:
    """Return ``'<'`` or ``'>'`` for any of ``'<' '>' 'little' 'big'``."""
    if byte_order == "<" or byte_order == "little":
        return "<"
    if byte_order == ">" or byte_order == "big":
        return ">"
    raise ValueError(f"byte order must be '<', '>', 'little' or 'big', not {byte_order!r}")


def byte_order_from_flags(flags: int) -> ByteOrder:
    """Byte order announced by a header's flags byte."""
    return ">" if flags & 0x80 else "<"


def _make_flags(direction: int, byte_order: str, extra: int = 0) -> int:
    flags = extra
    if direction:
        flags |= 0x40
    if normalize_byte_order(byte_order) == ">":
        flags |= 0x80
    return flags


class Header(NamedTuple):
    """A decoded 8-byte message header.

    ``payload_size`` is the raw size field: a payload length for
    application messages, a control-specific value for control messages.
    """

    version: int
    flags: int
    command: int
    payload_size: int

    @property
    def byte_order(self) -> ByteOrder:
        return ">" if self.flags & 0x80 else "<"

    @property
    def is_control(self) -> bool:
        return bool(self.flags & 0x01)

    @property
    def segment(self) -> Segment:
        return Segment(self.flags & 0x30)

    @property
    def direction(self) -> Direction:
        return Direction.SERVER if self.flags & 0x40 else Direction.CLIENT

    def encode(self) -> bytes:
        """The 8 header bytes (size field in the byte order of ``flags``)."""
        return _HEAD[self.byte_order].pack(
            MAGIC, self.version, self.flags, self.command, self.payload_size)

    @classmethod
    def decode(cls, buf: Buffer, offset: int = 0) -> "Header":
        """Decode the header at ``buf[offset:offset+8]``.

        Raises :class:`FramingError` on a short buffer or a bad magic byte.
        """
        return decode_header(buf, offset)


def encode_header(command: int, payload_size: int, *, flags: int = 0,
                  direction: int = Direction.CLIENT, byte_order: str = "<",
                  version: int = PROTOCOL_VERSION) -> bytes:
    """Encode a header.

    ``direction`` and ``byte_order`` set bits 6 and 7 of ``flags`` (bits
    already set in ``flags`` are kept).
    """
    if not 0 <= payload_size <= MAX_PAYLOAD_SIZE:
        raise LocalProtocolError(f"payload size {payload_size} does not fit a header")
    if not (0 <= command <= 0xFF and 0 <= flags <= 0xFF and 0 < version <= 0xFF):
        raise LocalProtocolError("command, flags and version must be bytes (version > 0)")
    bo = normalize_byte_order(byte_order)
    flags = _make_flags(direction, bo, flags)
    return _HEAD[bo].pack(MAGIC, version, flags, command, payload_size)


def decode_header(buf: Buffer, offset: int = 0) -> Header:
    """Decode the 8-byte header at ``offset`` of ``buf``."""
    if len(buf) - offset < HEADER_SIZE or offset < 0:
        raise FramingError("truncated header", offset)
    magic, version, flags, command, size = _HEAD_LE_UNPACK(buf, offset)
    if magic != MAGIC:
        raise FramingError(f"bad magic byte 0x{magic:02x}", offset)
    if flags & 0x80:
        size = _U32_BE_UNPACK(buf, offset + 4)[0]
    return Header(version, flags, command, size)


class Frame(NamedTuple):
    """One complete application message (segments already reassembled).

    ``payload`` is a memoryview; it stays valid as long as it is referenced
    (it keeps the underlying chunk alive), and is never written to.  For a
    reassembled message ``flags`` are those of the first segment with the
    segmentation bits cleared.
    """

    version: int
    flags: int
    command: int
    payload: memoryview

    @property
    def byte_order(self) -> ByteOrder:
        return ">" if self.flags & 0x80 else "<"

    @property
    def direction(self) -> Direction:
        return Direction.SERVER if self.flags & 0x40 else Direction.CLIENT

    @property
    def segment(self) -> Segment:
        return Segment(self.flags & 0x30)

    @property
    def header(self) -> Header:
        return Header(self.version, self.flags, self.command, len(self.payload))

    def __repr__(self) -> str:
        data = bytes(self.payload[:32]).hex()
        more = "..." if len(self.payload) > 32 else ""
        return (f"Frame(version={self.version}, flags=0x{self.flags:02x}, "
                f"command={self.command}, payload[{len(self.payload)}]={data}{more})")

    def encode(self) -> List[Buffer]:
        """Header plus payload as a list of buffers (no payload copy)."""
        return [self.header.encode(), self.payload]


# ---------------------------------------------------------------- control


@dataclass(frozen=True)
class ControlMessage:
    """Base of the control messages (8 bytes: a header without payload).

    ``value`` is the header's size field, whose meaning depends on the
    command.  ``direction`` and ``byte_order`` are the header flag bits.
    pvxs sends only :class:`SetByteOrder` and ignores every control message
    except that one; the others exist for older peers (pvAccessCPP/Java).
    """

    command: ClassVar[int] = -1

    value: int = 0
    direction: Direction = Direction.CLIENT
    byte_order: ByteOrder = "<"
    version: int = PROTOCOL_VERSION
    #: flag bits other than control, direction and byte order (reserved and
    #: segmentation bits, meaningless here and normally 0), kept so that a
    #: decoded message re-encodes to the identical bytes
    other_flags: int = 0

    def _command_code(self) -> int:
        return self.command

    def encode(self) -> bytes:
        """The 8 bytes of this control message."""
        bo = normalize_byte_order(self.byte_order)
        if not 0 <= self.value <= MAX_PAYLOAD_SIZE:
            raise LocalProtocolError(f"control value {self.value} does not fit 32 bits")
        flags = _make_flags(self.direction, bo, 0x01 | (self.other_flags & 0x3E))
        return _HEAD[bo].pack(MAGIC, self.version, flags, self._command_code(), self.value)

    @staticmethod
    def decode(buf: Buffer, offset: int = 0) -> "ControlMessage":
        """Decode the control message at ``offset`` of ``buf``."""
        head = decode_header(buf, offset)
        if not head.flags & 0x01:
            raise FramingError("not a control message", offset)
        return ControlMessage.from_header(head)

    @staticmethod
    def from_header(head: Header) -> "ControlMessage":
        """Build the control message object described by a decoded header."""
        direction = Direction.SERVER if head.flags & 0x40 else Direction.CLIENT
        bo = ">" if head.flags & 0x80 else "<"
        other = head.flags & 0x3E
        cls = _CONTROL_CLASSES.get(head.command)
        if cls is None:
            return UnknownControlMessage(head.payload_size, direction, bo, head.version,
                                         other, code=head.command)
        return cls(head.payload_size, direction, bo, head.version, other)


@dataclass(frozen=True)
class SetMarker(ControlMessage):
    """Mark total bytes sent (``value``); unused by known implementations."""

    command: ClassVar[int] = ControlCommand.SET_MARKER


@dataclass(frozen=True)
class AcknowledgeMarker(ControlMessage):
    """Acknowledge total bytes received (``value``); unused in practice."""

    command: ClassVar[int] = ControlCommand.ACK_MARKER


@dataclass(frozen=True)
class SetByteOrder(ControlMessage):
    """Set byte order: the sender's ``byte_order`` flag is the selected order.

    The first message a server sends.  ``value`` 0 means "decode with this
    order", 0xFFFFFFFF "look at each header"; pvxs sends 0, ignores the
    value, always decodes per header, and latches its *sending* byte order
    from this message (from either peer, at any time).
    """

    command: ClassVar[int] = ControlCommand.SET_BYTE_ORDER


@dataclass(frozen=True)
class EchoRequest(ControlMessage):
    """Control echo request (pvAccessCPP); pvxs uses application ECHO instead."""

    command: ClassVar[int] = ControlCommand.ECHO_REQUEST


@dataclass(frozen=True)
class EchoResponse(ControlMessage):
    """Control echo response, ``value`` copied from the request."""

    command: ClassVar[int] = ControlCommand.ECHO_RESPONSE


@dataclass(frozen=True)
class UnknownControlMessage(ControlMessage):
    """A control message with a command code this module does not know."""

    code: int = 0xFF

    def _command_code(self) -> int:
        return self.code


_CONTROL_CLASSES = {
    cls.command: cls
    for cls in (SetMarker, AcknowledgeMarker, SetByteOrder, EchoRequest, EchoResponse)
}

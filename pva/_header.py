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

:class:`Deframer` turns a TCP byte stream into messages.  It is sans-I/O:
the caller feeds it whatever chunks the socket produced and gets back a list
of complete :class:`Frame` (application message) and :class:`ControlMessage`
objects.  Payloads are :class:`memoryview` slices of the fed chunks, so a
message that arrived inside one chunk is never copied; only a message that
straddles chunk boundaries is assembled in a small pending buffer, and each
received byte is copied into it at most once.  Nothing is ever re-joined or
shifted per message, so pipelined input is processed in amortized O(n).
The announced payload size is checked against ``max_message_size`` before a
single payload byte is buffered, and nothing is allocated from an announced
size: buffers only grow as bytes actually arrive.

Segmented messages (first, middle..., last segment of the same command) are
reassembled into one payload.  The rules follow pvxs (``ConnBase::bevRead``):
a continuation (middle or last) segment is only legal after a first or
middle segment of the same command, and no unsegmented or first segment may
start while a segmented message is open.  Control messages are handled
before the segmentation check and so may be interleaved anywhere, including
inside a segmented sequence (the specification explicitly allows this).
Like pvxs, the deframer rejects a zero version byte and, when told which
peer it listens to, a message whose direction bit names the wrong sender.
The flag bits 1-3 that the specification reserves are ignored, as pvxs does.

:class:`Framer` does the reverse: it prefixes payload buffers with a header
and, given a maximum segment size, splits a large payload into segments by
slicing memoryviews of the caller's buffers (no payload bytes are copied).

The specification's rule that segments preserve 8-byte alignment padding
is a relic of pvData alignment; neither pvxs nor pvAccessCPP aligns, and
neither does this module.
"""
from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import ClassVar, Iterable, List, NamedTuple, Optional, Sequence, Union

from ._errors import DecodeError, LocalProtocolError
from ._stream import ReceiveBuffer

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
    "framing_error",
    "frame",
    "Header",
    "Frame",
    "ControlMessage",
    "SetMarker",
    "AcknowledgeMarker",
    "SetByteOrder",
    "EchoRequest",
    "EchoResponse",
    "UnknownControlMessage",
    "Deframer",
    "Framer",
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


# ---------------------------------------------------------------- deframer
def framing_error(ex: FramingError, messages: list) -> FramingError:
    """``ex`` raised by :meth:`Deframer.message_length` inside a
    :class:`~pva._stream.ReceiveBuffer`, with the stream offset it noted and
    the ``messages`` decoded before the fault."""
    err = FramingError(ex.message, getattr(ex, "stream_offset", None))
    err.messages = messages
    return err



class Deframer:
    """Split a pvAccess TCP byte stream into messages.

    The buffering is :class:`pva._stream.ReceiveBuffer`'s (given
    :meth:`message_length`, the header checks); this class adds what is
    pvAccess's own: control messages, and segmented messages reassembled
    (:meth:`frames`).

    Parameters
    ----------
    max_message_size : int
        Largest accepted application payload (after reassembly of segments).
        Checked from the header, before the payload is buffered.
    direction : Direction, optional
        The sender we expect (``Direction.SERVER`` on a client's socket).
        When given, a header with the other direction bit is an error, as in
        pvxs.  ``None`` accepts both (for recordings and tools).
    reassemble : bool
        ``True`` (default) joins segmented messages into one :class:`Frame`.
        ``False`` returns each segment as its own frame (flags intact) while
        still validating the segment sequence.

    Notes
    -----
    Chunks given to :meth:`feed` are referenced by the returned payload
    views.  ``bytes`` are used as they are; other buffer types are copied
    once (the caller may reuse a ``recv_into`` buffer).  A payload view
    keeps its whole chunk alive; copy (``bytes(frame.payload)``) anything
    kept long-term from a large chunk.
    After a :class:`FramingError` the deframer is dead: every later call
    raises the same error (the connection must be closed).
    """

    def __init__(self, *, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
                 direction: Optional[int] = None, reassemble: bool = True):
        if max_message_size < 0:
            raise ValueError("max_message_size must be >= 0")
        self.max_message_size = max_message_size
        self.direction = None if direction is None else Direction(direction)
        self.reassemble = reassemble
        self._dir_bit = None if direction is None else (0x40 if direction else 0)
        self._rx = ReceiveBuffer(HEADER_SIZE, self.message_length)
        self._error: Optional[FramingError] = None
        #: the command of the open segmented message (None: none open)
        self.segment_command: Optional[int] = None
        self._seg_flags = 0
        self._seg_version = 0
        self._seg_parts: List[memoryview] = []
        self._seg_size = 0

    # -- state inspection
    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete message or an open segmented message."""
        return self._rx.buffered + self._seg_size

    @property
    def in_segmented_message(self) -> bool:
        """True between the first and the last segment of a message."""
        return self.segment_command is not None

    @property
    def error(self) -> Optional[FramingError]:
        return self._error

    def at_boundary(self) -> bool:
        """True if the stream so far ends exactly after a complete message."""
        return self._rx.at_boundary() and self.segment_command is None

    def close(self) -> None:
        """Declare end of stream; raise :class:`FramingError` if a message is cut."""
        if self._error is not None:
            raise self._error
        if not self.at_boundary():
            self._fail("stream ended inside a message", self._rx.consumed)

    # -- the framing function
    def message_length(self, buf: Buffer, pos: int, avail: int) -> int:
        """Length of the message whose header is at ``pos`` (header checks:
        magic, version, direction, size limit; see :mod:`pva._stream`)."""
        magic, version, flags, command, size = _HEAD_LE_UNPACK(buf, pos)
        if magic != MAGIC:
            raise FramingError(f"bad magic byte 0x{magic:02x}")
        if not version:
            raise FramingError("version 0 in header")
        if self._dir_bit is not None and flags & 0x40 != self._dir_bit:
            raise FramingError(f"message with the wrong direction bit (flags 0x{flags:02x})")
        if flags & 0x01:
            return HEADER_SIZE  # control message: no payload, size field is a value
        if flags & 0x80:
            size = _U32_BE_UNPACK(buf, pos + 4)[0]
        if size > self.max_message_size:
            raise FramingError(f"payload of {size} bytes exceeds the limit of "
                               f"{self.max_message_size}")
        if self._seg_size and self._seg_size + size > self.max_message_size:
            # an open segmented message plus the next segment never hold more
            # than the limit
            raise FramingError(f"segmented message exceeds the limit of "
                               f"{self.max_message_size}")
        return HEADER_SIZE + size

    # -- feeding
    def feed(self, data: Buffer) -> List[Union[Frame, ControlMessage]]:
        """Consume a chunk of the stream; return the messages it completes.

        On a violation, :class:`FramingError` is raised; its ``messages``
        attribute holds the messages this chunk completed before the fault
        (pvxs processes those before it disconnects).
        """
        if self._error is not None:
            raise self._error
        return self._framed(self._rx.feed, data)

    # Receiving straight into the buffer (``asyncio.BufferedProtocol``): the
    # bytes of a large message go from the socket to their final place, the
    # buffer its payload view will reference.
    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """Where to receive the next bytes; then call :meth:`buffer_updated`."""
        if self._error is not None:
            raise self._error
        return self._rx.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> List[Union[Frame, ControlMessage]]:
        """``nbytes`` were received into the last :meth:`get_buffer`; as :meth:`feed`."""
        if self._error is not None:
            raise self._error
        return self._framed(self._rx.buffer_updated, nbytes)

    def _framed(self, source, arg) -> List[Union[Frame, ControlMessage]]:
        out: List[Union[Frame, ControlMessage]] = []
        try:
            views = source(arg)
        except FramingError as ex:
            try:
                self.frames(getattr(ex, "frames", ()), out)
            except FramingError:
                pass
            err = self._error = framing_error(ex, out)
            raise err from None
        try:
            self.frames(views, out)
        except FramingError as exc:
            exc.messages = out
            raise
        return out

    def feed_all(self, chunks: Iterable[Buffer]) -> List[Union[Frame, ControlMessage]]:
        """Feed several chunks; return all completed messages."""
        out: List[Union[Frame, ControlMessage]] = []
        for chunk in chunks:
            out.extend(self.feed(chunk))
        return out

    # -- frames
    def frames(self, views: Iterable[memoryview], out: list) -> None:
        """Complete messages (views from :meth:`message_length`'s framing,
        header included) to :class:`Frame` and :class:`ControlMessage`
        objects appended to ``out``; segments are reassembled."""
        new_frame = tuple.__new__      # Frame(...) without its Python-level __new__
        for mv in views:
            flags = mv[2]
            if not flags & 0x31 and self.segment_command is None:     # the common case
                out.append(new_frame(Frame, (mv[1], flags, mv[3], mv[HEADER_SIZE:])))
            else:
                self.frame(mv, out)

    def frame(self, mv: memoryview, out: list) -> None:
        """One complete message (header included) to ``out``: a control
        message, a frame, or nothing (a segment of an open message)."""
        magic, version, flags, command, size = _HEAD_LE_UNPACK(mv, 0)
        if flags & 0x01:
            if flags & 0x80:
                size = _U32_BE_UNPACK(mv, 4)[0]
            out.append(ControlMessage.from_header(Header(version, flags, command, size)))
            return
        payload = mv[HEADER_SIZE:]
        seg = flags & 0x30
        if self.segment_command is None:
            if seg & 0x20:  # middle or last without first
                self._fail(f"continuation segment of command {command} without a "
                           "first segment", None)
            if not seg:
                out.append(Frame(version, flags, command, payload))
                return
            # first segment
            self.segment_command = command
            self._seg_flags = flags & ~0x30
            self._seg_version = version
            if self.reassemble:
                self._seg_parts = [payload]
                self._seg_size = len(payload)
            else:
                out.append(Frame(version, flags, command, payload))
            return
        if not seg & 0x20:
            self._fail(f"command {command} starts while segmented command "
                       f"{self.segment_command} is incomplete", None)
        if command != self.segment_command:
            self._fail(f"segment of command {command} inside segmented command "
                       f"{self.segment_command}", None)
        if not self.reassemble:
            out.append(Frame(version, flags, command, payload))
            if seg == 0x20:
                self.segment_command = None
            return
        self._seg_size += len(payload)
        if self._seg_size > self.max_message_size:
            self._fail(f"segmented message exceeds the limit of {self.max_message_size}",
                       None)
        self._seg_parts.append(payload)
        if seg == 0x20:  # last
            joined = memoryview(b"".join(self._seg_parts))
            out.append(Frame(self._seg_version, self._seg_flags, command, joined))
            self.segment_command = None
            self._seg_parts = []
            self._seg_size = 0

    # -- internals
    def _fail(self, message: str, offset: Optional[int]) -> None:
        self._error = FramingError(message, offset)
        self._seg_parts = []
        raise self._error


# ---------------------------------------------------------------- framer


#: the flags of an unsegmented application message: [sender][byte order]
_APP_FLAGS = {d: {o: _make_flags(d, o) for o in "<>"} for d in (Direction.CLIENT,
                                                                 Direction.SERVER)}


def frame(command: int, direction: int, byte_order: str,
          payload: Union[Buffer, Sequence[Buffer]],
          max_segment_size: Optional[int] = None) -> List[Buffer]:
    """Header and payload of one application message from ``direction``
    (``byte_order`` is ``'<'`` or ``'>'``), segmented above
    ``max_segment_size``: what :meth:`Framer.encode` returns, with a fast
    path for one contiguous payload."""
    if max_segment_size is None and type(payload) is bytearray:
        return [_HEAD[byte_order].pack(MAGIC, PROTOCOL_VERSION,
                                       _APP_FLAGS[direction][byte_order], command,
                                       len(payload)), payload]
    return Framer(direction, byte_order).encode(command, payload,
                                                max_segment_size=max_segment_size)


class Framer:
    """Encode application messages, splitting large payloads into segments.

    Parameters
    ----------
    direction : Direction
        The sender (``Direction.CLIENT`` or ``Direction.SERVER``).
    byte_order : str
        Default byte order (``'<'``/``'>'``/``'little'``/``'big'``).
    max_segment_size : int, optional
        Default largest payload per segment; ``None`` never segments.
    version : int
        Version byte to send.
    """

    def __init__(self, direction: int = Direction.CLIENT, byte_order: str = "<",
                 max_segment_size: Optional[int] = None, version: int = PROTOCOL_VERSION):
        self.direction = Direction(direction)
        self.byte_order = normalize_byte_order(byte_order)
        if max_segment_size is not None and max_segment_size < 1:
            raise ValueError("max_segment_size must be >= 1")
        self.max_segment_size = max_segment_size
        self.version = version

    def encode(self, command: int, payload: Union[Buffer, Sequence[Buffer]] = b"",
               byte_order: Optional[str] = None, direction: Optional[int] = None,
               max_segment_size: Optional[int] = None) -> List[Buffer]:
        """Return header(s) and payload pieces, ready for ``writelines``.

        ``payload`` is one bytes-like object or a sequence of them.  The
        returned list references the caller's buffers (or memoryview slices
        of them); do not modify them until they are sent.
        """
        bo = normalize_byte_order(self.byte_order if byte_order is None else byte_order)
        direc = self.direction if direction is None else direction
        limit = self.max_segment_size if max_segment_size is None else max_segment_size
        if isinstance(payload, (bytes, bytearray, memoryview)):
            pieces: Sequence[Buffer] = (payload,)
        else:
            pieces = payload
        sizes = [_nbytes(p) for p in pieces]
        total = sum(sizes)
        base_flags = _make_flags(direc, bo)
        pack = _HEAD[bo].pack
        version = self.version
        if not 0 <= command <= 0xFF:
            raise LocalProtocolError(f"command {command} is not a byte")
        if limit is None or total <= limit:
            if total > MAX_PAYLOAD_SIZE:
                raise LocalProtocolError(f"payload of {total} bytes needs segmentation")
            out: List[Buffer] = [pack(MAGIC, version, base_flags, command, total)]
            out.extend(p for p, s in zip(pieces, sizes) if s)
            return out
        if limit < 1:
            raise ValueError("max_segment_size must be >= 1")
        # split: walk the pieces, cutting memoryview slices of at most ``limit``
        segments: List[List[Buffer]] = []
        current: List[Buffer] = []
        room = limit
        for piece, size in zip(pieces, sizes):
            if not size:
                continue
            if size <= room:
                current.append(piece)
                room -= size
            else:
                view = memoryview(piece).cast("B") if _needs_cast(piece) else memoryview(piece)
                start = 0
                while start < size:
                    if not room:
                        segments.append(current)
                        current, room = [], limit
                    step = min(room, size - start)
                    current.append(view[start:start + step])
                    start += step
                    room -= step
            if not room:
                segments.append(current)
                current, room = [], limit
        if current:
            segments.append(current)
        out = []
        last = len(segments) - 1
        for i, seg in enumerate(segments):
            flag = 0x10 if i == 0 else (0x20 if i == last else 0x30)
            out.append(pack(MAGIC, version, base_flags | flag, command,
                            sum(_nbytes(p) for p in seg)))
            out.extend(seg)
        return out

    def encode_control(self, message: ControlMessage) -> bytes:
        """Encode a control message (its own direction/byte order are used)."""
        return message.encode()


def _needs_cast(buf: Buffer) -> bool:
    return isinstance(buf, memoryview) and (buf.format != "B" or buf.ndim != 1)


def _nbytes(buf: Buffer) -> int:
    if isinstance(buf, memoryview):
        return buf.nbytes
    return len(buf) if isinstance(buf, (bytes, bytearray)) else memoryview(buf).nbytes

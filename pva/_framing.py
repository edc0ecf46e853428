"""pvAccess stream framing: :class:`Deframer` (bytes to messages) and
:class:`Framer` / :func:`frame` (messages to bytes), sans-I/O.

Theory of operation
-------------------
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

from typing import Iterable, List, Optional, Sequence, Union

from ._errors import LocalProtocolError
from ._header import (_HEAD, _HEAD_LE_UNPACK, _U32_BE_UNPACK, DEFAULT_MAX_MESSAGE_SIZE,
                      HEADER_SIZE, MAGIC, MAX_PAYLOAD_SIZE, PROTOCOL_VERSION, ControlMessage,
                      Direction, Frame, FramingError, Header, _make_flags, normalize_byte_order)
from ._stream import ReceiveBuffer

__all__ = ["Deframer", "Framer", "frame", "framing_error"]

Buffer = Union[bytes, bytearray, memoryview]


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

"""Splitting a byte stream into messages, for any protocol (sans-I/O).

Theory of operation
-------------------
A stream protocol (pvAccess, Channel Access) frames its messages with a
header that tells how long the message is.  :class:`ReceiveBuffer` knows
nothing else about the protocol: it is given the header size and a
*framing function*::

    message_length(buf, pos, avail) -> int

called with ``avail >= header_size`` bytes of ``buf`` at ``pos``.  It returns
the total length of the message starting there (header included, at least
``header_size``), or, when the bytes so far cannot tell, a larger number of
bytes to wait for: it is called again once that many are buffered (Channel
Access's extended header: 16 bytes say that the real size is in 8 more).
It raises for a header that is not acceptable -- before a byte of its
payload is buffered, so an announced size is checked against the limits
before anything is allocated for it.

Complete messages come out as :class:`memoryview` slices of the received
chunks, header included: a message that arrived inside one chunk is never
copied; one that straddles chunks is assembled once in a buffer of its own
size.  Nothing is re-joined or shifted per message, so pipelined input costs
amortized O(n).

Reading from a socket (``asyncio.BufferedProtocol``): :meth:`get_buffer`
gives where the next bytes go, :meth:`buffer_updated` what arrived.  Small
reads go through a scratch buffer (and are copied once out of it); the rest
of a large message (at least ``direct_min`` bytes still to come) is received
straight into the buffer its view will reference.

After a framing error the buffer is dead: every later call raises the same
error.  The exception gets two attributes: ``frames``, the complete messages
before the fault (a protocol may handle them before it disconnects, as pvxs
does), and ``stream_offset``, the stream position of the offending header.
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional, Union

__all__ = ["ReceiveBuffer", "message_buffer", "SCRATCH_SIZE", "DIRECT_MIN"]

Buffer = Union[bytes, bytearray, memoryview]

#: receive the rest of a message directly into its own buffer when this big
DIRECT_MIN = 0x10000
#: The size of a read into the scratch buffer.  All the messages of one read
#: are handled before anything else runs: a larger read would hand a
#: subscriber more updates at once than it consumes between reads (a 256 KiB
#: read holds 6,000 small pvAccess updates).  Data left in the socket is
#: instead held back by TCP flow control.
SCRATCH_SIZE = 0x10000

_EMPTY = bytearray()


def message_buffer(size: int) -> Any:
    """A writable byte buffer for one incoming message.

    A large one is not zero-filled first (numpy's ``empty``: the allocator
    hands back the memory of a freed message, no page is touched twice);
    its payload view may become a user's array, so it is never reused.
    """
    if size < DIRECT_MIN:
        return bytearray(size)
    import numpy
    return memoryview(numpy.empty(size, numpy.uint8))


class ReceiveBuffer:
    """Complete messages out of stream chunks (see the module doc).

    Parameters
    ----------
    header_size : int
        Bytes needed before ``message_length`` can be asked.
    message_length : callable
        The framing function ``message_length(buf, pos, avail) -> int``.
    reserve : callable, optional
        ``reserve(nbytes)`` is called before a buffer is allocated for an
        incomplete message (the accounting hook of the memory budgets); it
        may raise to refuse, which fails the stream like a framing error.
    scratch : bytearray, optional
        The buffer small reads go to, shared with other receive buffers of
        the same thread (what a read brings is copied out of it before
        :meth:`buffer_updated` returns); by default one of ``scratch_size``
        is made at the first read.
    """

    def __init__(self, header_size: int, message_length: Callable[[Buffer, int, int], int],
                 *, reserve: Optional[Callable[[int], None]] = None,
                 direct_min: int = DIRECT_MIN, scratch_size: int = SCRATCH_SIZE,
                 scratch: Optional[bytearray] = None):
        if header_size < 1:
            raise ValueError("header_size must be at least 1")
        self.header_size = header_size
        self.message_length = message_length
        self.reserve = reserve
        self.direct_min = direct_min
        self.scratch_size = scratch_size
        self._pending: Any = _EMPTY     # a partial message, sized to _need
        self._fill = 0                  # bytes of _pending received so far
        self._need = header_size        # bytes of the pending message, once known
        self._scratch: Optional[bytearray] = scratch
        self._direct = False            # the last get_buffer() was into _pending
        self._consumed = 0              # stream offset of the end of the last chunk
        self.error: Optional[BaseException] = None

    # ---------------------------------------------------------------- state
    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete message."""
        return self._fill

    @property
    def consumed(self) -> int:
        """Bytes received since the start of the stream."""
        return self._consumed

    def at_boundary(self) -> bool:
        """True if the stream so far ends exactly after a complete message."""
        return not self._fill

    @property
    def missing(self) -> int:
        """Bytes still to come before the next message (or what it needs of
        its header to tell its length) is complete: ``header_size`` at a
        message boundary."""
        return self._need - self._fill

    def discard(self) -> None:
        """Drop the incomplete message buffered (the stream is over)."""
        self._pending = _EMPTY
        self._fill = 0
        self._need = self.header_size
        self._scratch = None

    # ---------------------------------------------------------------- input
    def feed(self, data: Buffer) -> List[memoryview]:
        """Consume a chunk of the stream; return the messages it completes.

        ``bytes`` are referenced as they are; other buffers are copied once
        (the caller may reuse a ``recv_into`` buffer).
        """
        if self.error is not None:
            raise self.error
        out: List[memoryview] = []
        self._feed(data, out)
        return out

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """Where to receive the next bytes; then call :meth:`buffer_updated`."""
        if self.error is not None:
            raise self.error
        fill, need = self._fill, self._need
        if fill and need - fill >= self.direct_min:
            self._direct = True
            return memoryview(self._pending)[fill:need]
        self._direct = False
        if self._scratch is None:
            self._scratch = bytearray(self.scratch_size)
        return memoryview(self._scratch)

    def buffer_updated(self, nbytes: int) -> List[memoryview]:
        """``nbytes`` were received into the last :meth:`get_buffer`; as :meth:`feed`."""
        if not self._direct:
            return self.feed(bytes(memoryview(self._scratch)[:nbytes]))
        if self.error is not None:
            raise self.error
        out: List[memoryview] = []
        self._fill += nbytes
        self._consumed += nbytes
        if self._fill == self._need:
            self._feed(b"", out)        # completes (or grows) the pending message
        return out

    # ---------------------------------------------------------------- internals
    def _fail(self, ex: BaseException, offset: int, out: List[memoryview]) -> None:
        ex.frames = out                 # type: ignore[attr-defined]
        ex.stream_offset = offset       # type: ignore[attr-defined]
        self.error = ex
        self._pending = _EMPTY
        self._fill = 0

    def _allocate(self, size: int) -> Any:
        if self.reserve is not None:
            self.reserve(size)
        return message_buffer(size)

    def _feed(self, data: Buffer, out: List[memoryview]) -> None:
        if type(data) is not bytes:
            data = bytes(data)
        n = len(data)
        pos = 0
        mv = memoryview(data)
        hs = self.header_size
        length = self.message_length
        fill = self._fill
        if fill:
            # complete the message straddling the previous chunk boundary
            pending = self._pending
            start = self._consumed - fill       # its stream offset
            try:
                while True:
                    need = self._need
                    take = need - fill
                    if take > n - pos:
                        take = n - pos
                    if take:
                        pending[fill:fill + take] = mv[pos:pos + take]
                        fill += take
                        pos += take
                    if fill < need:
                        self._fill = fill
                        self._consumed += n
                        return
                    m = length(pending, 0, fill)
                    if m < fill:
                        raise ValueError(f"framing function returned {m} for a message "
                                         f"of at least {fill} bytes")
                    if m == fill:
                        break
                    # now the size is known: one buffer for the whole message
                    grown = self._allocate(m)
                    grown[:fill] = pending[:fill]
                    pending = self._pending = grown
                    self._need = m
            except Exception as ex:
                self._fail(ex, start, out)
                raise
            self._pending = _EMPTY
            self._fill = 0
            self._need = hs
            out.append(memoryview(pending)[:fill])
        # the rest of the chunk: complete messages are views into ``data``
        m = hs
        try:
            while n - pos >= hs:
                m = length(data, pos, n - pos)
                end = pos + m
                if end > n:
                    break
                if m < hs:
                    raise ValueError(f"framing function returned {m} bytes, less than "
                                     f"the header ({hs})")
                out.append(mv[pos:end])
                pos = end
                m = hs
            if pos < n:
                # keep the tail (at most one partial message) for the next
                # chunk, in a buffer of the message's size (or its header's)
                rest = n - pos
                pending = self._pending = self._allocate(m)
                pending[:rest] = mv[pos:]
                self._fill = rest
                self._need = m
        except Exception as ex:
            self._fail(ex, self._consumed + pos, out)
            raise
        self._consumed += n

"""Exception hierarchy of the pva package.

Theory of operation: every error raised by the sans-I/O core derives from
:class:`PVAError`.  Protocol violations are split by who committed them:
:class:`LocalProtocolError` is raised when *we* are asked to send something
invalid, :class:`RemoteProtocolError` when the *peer* sent something invalid.
:class:`DecodeError` is the remote error raised by every decoder for bytes that
cannot be decoded (truncated, oversized, malformed); it carries the offset at
which decoding failed.
"""
from __future__ import annotations

from typing import Optional

__all__ = [
    "PVAError",
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "DecodeError",
    "PVRequestError",
]


class PVAError(Exception):
    """Base class of all pva errors."""


class ProtocolError(PVAError):
    """A violation of the pvAccess protocol."""


class LocalProtocolError(ProtocolError):
    """We were asked to send something the protocol does not allow."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow."""


class DecodeError(RemoteProtocolError):
    """Bytes received from the peer cannot be decoded.

    Parameters
    ----------
    message : str
        What went wrong.
    offset : int, optional
        Byte offset (in the buffer being decoded) at which it went wrong.
    """

    def __init__(self, message: str, offset: Optional[int] = None):
        self.message = message
        self.offset = offset
        if offset is not None:
            message = f"{message} (at offset {offset})"
        super().__init__(message)


class PVRequestError(LocalProtocolError, ValueError):
    """A pvRequest string that cannot be parsed.

    Parameters
    ----------
    message : str
        What went wrong.
    text : str
        The request being parsed.
    position : int
        Index in ``text`` where parsing failed.
    """

    def __init__(self, message: str, text: str, position: int):
        self.message = message
        self.text = text
        self.position = position
        super().__init__(f"{message} at position {position}: {text[:position]!r} <-- {text[position:]!r}")

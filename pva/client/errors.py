"""Errors of the pvAccess client (also delivered as monitor events)."""
from __future__ import annotations

from typing import Any, Optional

from .._errors import PVAError
from .._values import Status

__all__ = ["Disconnected", "RemoteError", "Finished", "Timeout", "Cancelled"]


class Disconnected(PVAError):
    """The channel's server went away (a monitor event, or a failed operation)."""

    def __init__(self, name: str = ""):
        super().__init__(f"{name}: disconnected" if name else "disconnected")
        self.name = name


class RemoteError(PVAError):
    """The server answered with an error :class:`~pva.Status`."""

    def __init__(self, name: str, status: Any):
        msg = status.message if isinstance(status, Status) else str(status)
        super().__init__(f"{name}: {msg}" if name else msg)
        self.name = name
        self.status = status
        self.message = msg


class Finished(PVAError):
    """A monitor ended: the server finished it or it was closed."""

    def __init__(self, name: str = ""):
        super().__init__(f"{name}: subscription finished" if name else "subscription finished")
        self.name = name


class Timeout(PVAError, TimeoutError):
    """An operation did not complete in time."""

    def __init__(self, name: str, timeout: Optional[float], why: str = ""):
        what = f"{name}: timeout" + (f" after {timeout:g} s" if timeout is not None else "")
        super().__init__(what + (f" ({why})" if why else ""))
        self.name = name
        self.timeout = timeout


class Cancelled(PVAError):
    """The operation was cancelled (or its context closed)."""
